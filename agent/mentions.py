"""Which catalog items a message names, anywhere in the catalog: "Billy Summers", "the EIVOTOR condenser
microphone", "Yonex GR 303", a pasted product photo URL.

Used for assistant messages convrec did not write (a human colleague's, the integrating bot's), so that "how much
is it?" after them means what the shopper was actually shown. An item is named by its image URL, or by words of
its title that few other titles share: two of them, or one when it is the item's brand, carries a digit (a model
or a year title like "1922"), or is the whole short name ("Confess"). A mention that fits more items than a
screen shows is too generic to mean any of them ("a nice pair of shoes"). Looked up through an inverted index of
title words built once per catalog, so a message costs its own words, not the catalog's size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from retrieval.items import Item
from retrieval.search import CatalogIndex, title_key
from retrieval.vocabulary import FUNCTION_WORDS, WORD, english_words, stem, tokens

MAX_NAMED = 5  # more items than this fitting one mention: it names none of them
_URL = re.compile(r"https?://[^\s<>\"']+")
_HEAD = re.compile(r"\s(?:by|-|–|\|)\s|[:(,\[]")
_SKIP = FUNCTION_WORDS | frozenset("s men women kid kids pack set piece pc pcs inch color colour size".split())


@dataclass(frozen=True)
class _Names:
    by_word: dict[str, tuple[int, ...]]  # stemmed title / brand word -> positions of the items whose title has it
    by_image: dict[str, int]  # image URL -> item position
    brand: tuple[str, ...]  # per item: its brand's first stemmed word ("" without a brand)
    short: tuple[frozenset[str], ...]  # per item: the words of its short name (the title up to ":", " by ", ",")
    titles: tuple[str, ...]
    rare: int  # a word in at most this many titles is distinctive
    n: int


@lru_cache(maxsize=4)
def _names(index: CatalogIndex) -> _Names:
    by_word: dict[str, list[int]] = {}
    by_image: dict[str, int] = {}
    brands, shorts = [], []
    for pos, item in enumerate(index.items):
        words = {stem(t) for t in tokens(f"{item.title} {item.brand or ''}")} - _SKIP
        for w in words:
            by_word.setdefault(w, []).append(pos)
        if item.image:
            by_image[item.image] = pos
        brand = [stem(t) for t in tokens(item.brand or "") if stem(t) not in _SKIP]
        brands.append(brand[0] if brand else "")
        shorts.append(frozenset(stem(t) for t in tokens(_HEAD.split(item.title)[0]) if stem(t) not in _SKIP))
    n = len(index.items)
    return _Names(by_word={w: tuple(p) for w, p in by_word.items()}, by_image=by_image, brand=tuple(brands),
                  short=tuple(shorts), titles=tuple(i.title for i in index.items), rare=max(3, n // 200), n=n)


def named_items(text: str, index: CatalogIndex) -> list[Item]:
    """The catalog items `text` names, in the order it names them (at most MAX_NAMED); [] when it names none."""
    names = _names(index)
    first: dict[int, int] = {}  # item position -> where in the text it is first named
    for m in _URL.finditer(text):
        pos = names.by_image.get(m.group(0).rstrip(".,;:!?)"))
        if pos is not None:
            first.setdefault(pos, m.start())
    low = text.lower()
    seen: dict[str, tuple[int, int]] = {}  # word -> (character offset, token number) of its first use
    for n, m in enumerate(WORD.finditer(_URL.sub(lambda u: " " * len(u.group(0)), low.replace("’", "'")))):
        w = stem(m.group(0))
        if w not in _SKIP and w not in seen:
            seen[w] = (m.start(), n)
    hits: dict[int, list[str]] = {}
    for w in seen:
        positions = names.by_word.get(w, ())
        if 0 < len(positions) <= names.rare:
            for pos in positions:
                hits.setdefault(pos, []).append(w)
    named = {pos: frozenset(words) for pos, words in hits.items()
             if _names_it(words, pos, names, seen, index.items[pos].title, text)}
    # a mention that another item's matches contain ("Colleen Hoover" inside "Regretting You by Colleen Hoover")
    # names that item, not every book by the author
    kept = [pos for pos, words in named.items() if not any(words < other for other in named.values())]
    if len(kept) <= MAX_NAMED:
        for pos in kept:  # where its own words are ("1922 and Billy Summers", both by Stephen King)
            own = named[pos] - frozenset().union(*(named[o] for o in kept if o != pos))
            first.setdefault(pos, min(seen[w][0] for w in own or named[pos]))
    ordered = sorted(first, key=lambda p: first[p])[:MAX_NAMED]
    return [index.items[p] for p in ordered]


def _names_it(words: list[str], pos: int, names: _Names, seen: dict[str, tuple[int, int]], title: str,
              text: str) -> bool:
    if len(words) >= 2:  # two title words said together ("Billy Summers", "Regretting You"), as the title has them
        at = [stem(t) for t in tokens(title)]
        where = {w: [i for i, a in enumerate(at) if a == w] for w in words}
        return any(abs(seen[a][1] - seen[b][1]) <= 2 and any(  # in the same order ("Big Book" is not "Book, Big")
            0 < (j - i) * (1 if seen[b][1] > seen[a][1] else -1) <= 2 for i in where[a] for j in where[b])
            for n, a in enumerate(words) for b in words[n + 1:])
    w = words[0]
    # the only title with the word, or one of a film's entries with and without its year ("Coco", "Coco (2017)")
    alone = [p for p in names.by_word[w] if names.short[p] == {w}]
    unique = len(names.by_word[w]) == 1 or pos in alone and len({title_key(names.titles[p])[0] for p in alone}) == 1
    # A one-word name that is also an ordinary word ("Loved", "Heat") names the item only when written as a name
    # ("I loved Heat"), not in "I loved it".
    ordinary = ordinary_word(w) and not text[seen[w][0]:seen[w][0] + 1].isupper()
    return unique and (w == names.brand[pos] or any(c.isdigit() for c in w) and len(w) >= 3
                       or names.short[pos] == {w} and len(w) >= 4 and not ordinary)


def ordinary_word(word: str) -> bool:
    """Whether a (stemmed or plain) word is an ordinary English word ("loved", "heat"), not only a name."""
    return word in _english() or stem(word) in _english()


@lru_cache(maxsize=1)
def _english() -> frozenset[str]:
    return frozenset(stem(w) for w in english_words())
