"""Titles said in a message: which of several same-named entries is meant, whether a name is an ordinary word,
and titles no item carries."""

from __future__ import annotations

import re

from agent.context import Context
from agent.mentions import ordinary_word
from retrieval.items import Item
from retrieval.search import title_key
from retrieval.vocabulary import FUNCTION_WORDS

_TITLE = re.compile(r"(?<!^)(?<![.!?] )\b((?:[A-Z][\w'’-]+|[A-Z]\d*)(?:\s+(?:of|the|and|in|on|for|a)?\s*[A-Z][\w'’-]+)+)")


def likeliest_entries(ctx: Context, items: list[Item], text: str) -> list[Item]:
    """One film per name said: of entries sharing a name but not a year ("Frozen (2007)", "Frozen (2013)"), the one
    the interest model expects most from the message itself ("my kids loved Frozen": the animated one), with an
    entry of that name that has no year; others are kept as they are."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(title_key(item.title)[0], []).append(item)
    if all(len({title_key(i.title)[1] for i in g} - {""}) <= 1 for g in groups.values()):
        return items
    scores = ctx.interest.scores([i.item_id for i in items], [], said=text)
    if scores is None:
        return items
    score = dict(zip([i.item_id for i in items], scores))
    keep: set[str] = set()
    for group in groups.values():
        years = {title_key(i.title)[1] for i in group} - {""}
        if len(years) <= 1:
            keep |= {i.item_id for i in group}
            continue
        best = max((i for i in group if title_key(i.title)[1]), key=lambda i: score[i.item_id])
        keep |= {i.item_id for i in group if title_key(i.title)[1] in ("", title_key(best.title)[1])}
    return [i for i in items if i.item_id in keep]


def ordinary_name(item: Item) -> bool:
    """Whether an item's name, without its year and function words, is at most one ordinary word ("Loved (1997)",
    "Heat", "What If", "I Like It Like That")."""
    words = set(name_words(item)) - FUNCTION_WORDS
    return len(words) <= 1 and all(ordinary_word(w) for w in words)


def name_words(item: Item) -> list[str]:
    """The words of an item's name without its year: longer than two letters, or numbers."""
    return [w for w in re.findall(r"[a-z0-9]+", re.sub(r"\s*\(\d{4}\)\s*$", "", item.title).lower())
            if len(w) > 2 or w.isdigit()]


def unknown_title(text: str, ctx: Context) -> str | None:
    """A product named by a capitalised title ("the Big Book of Horror") that no item's title contains."""
    for m in _TITLE.finditer(text.strip()):
        phrase = m.group(1)
        words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", phrase) if w.lower() not in ("of", "the", "and", "a")]
        if len(words) < 2 or words[0] in ("i", "is", "are", "do", "does", "what", "which", "how", "usd"):
            continue
        if any(all(w in item.title.lower() for w in words) for item in ctx.index.items):
            return None
        if any(all(w in " ".join(item.attributes.values()).lower() for w in words) for item in ctx.index.items):
            return None  # "anything with Tom Hanks?": a name the records hold (author, director, star)
        if any(w in ctx.vocab.brand_names() for w in (phrase, phrase.title())):
            return None
        return phrase
    return None
