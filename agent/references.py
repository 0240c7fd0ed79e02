"""Which shown product a message is about: by number, by name, brand or model number, "it", "the one I liked".

References resolve against the latest picks on screen (and what the shopper liked); `focus` in the dialogue
state remembers the item last talked about, so "is it waterproof?" after "tell me about the Sonavik" means the
Sonavik.
"""

from __future__ import annotations

import re
from functools import lru_cache

from agent.mentions import ordinary_word
from agent.state import Pick, Session
from retrieval.items import Item
from retrieval.search import CatalogIndex, title_key
from retrieval.vocabulary import stems, tokens

_NUM = {"first": 0, "1st": 0, "one": 0, "second": 1, "2nd": 1, "two": 1, "third": 2, "3rd": 2, "three": 2,
        "fourth": 3, "4th": 3, "four": 3, "fifth": 4, "5th": 4, "five": 4, "last": -1}
_FIRST_N = re.compile(r"\b(?:the )?first (two|three|2|3)\b|\btop (two|three|2|3)\b")
_PAIR = re.compile(r"(?:#|number |no\. ?|option |pick )?\b([1-5]|first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|"
                   r"last)\b(?: one| pick| item| option)?\s*(?:and|&|,|vs\.?|versus|or|with|to)\s*(?:the )?"
                   r"(?:#|number |no\. ?|option |pick )?\b([1-5]|first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|"
                   r"last)\b")
_ALL = re.compile(r"\b(both|all of them|all three|all five|each|either|any of them|all|the two|these two|those two)\b")
_THEM = re.compile(r"\b(these|those|them|they)\b")  # the item(s) in focus, else every pick on screen
_PRONOUN = re.compile(r"\b(it|its|it's|this|that|this one|that one|the one|the same|that model|this model)\b")
_LIKED = re.compile(r"\b(the one i (liked|loved|picked|chose)|my favou?rite)\b")
_SMALL = frozenset("the a an of for with and or in on to by is it this that one from new pro mini max plus set".split())


def last_picks(session: Session) -> list[Pick]:
    """The picks on screen: the latest assistant turn that showed any, without those since rejected or owned
    (the chat takes them off the screen, so "the first two" counts only what is still shown)."""
    gone = set(session.state.rejected) | set(session.state.owned)
    picks = next((t.picks for t in reversed(session.turns) if t.role == "assistant" and t.picks), [])
    return [p for p in picks if p.item.item_id not in gone]


def _index(word: str, n: int) -> int | None:
    i = int(word) - 1 if word.isdigit() else _NUM.get(word)
    if i is None:
        return None
    i = i if i >= 0 else n + i
    return i if 0 <= i < n else None


def by_number(low: str, picks: list[Pick], ordinal: int | None) -> list[Item]:
    """Picks named by number: "the first two", "1 and 3", "the second one"."""
    n = len(picks)
    m = _FIRST_N.search(low)
    if m:
        count = int(_NUM.get(m.group(1) or m.group(2), 0) + 1) if not (m.group(1) or m.group(2)).isdigit() \
            else int(m.group(1) or m.group(2))
        return [p.item for p in picks[:count]]  # fewer on screen than asked for: the ones there are
    m = _PAIR.search(low)
    if m:
        found = [_index(g, n) for g in m.groups()]
        if all(i is not None for i in found) and found[0] != found[1]:
            return [picks[i].item for i in found]  # type: ignore[index]
    if ordinal is not None and -n <= ordinal < n:
        return [picks[ordinal].item]
    return []


def by_name(low: str, picks: list[Pick]) -> list[Item]:
    """Picks named by brand, model number or a title word no other pick shares ("the Sonavik", "the SV-751B")."""
    words = set(tokens(low)) | set(stems(low))
    compact = re.sub(r"[^a-z0-9]", "", low)
    hits: list[tuple[int, Item]] = []
    counts: dict[str, int] = {}
    for p in picks:
        for w in set(stems(p.item.title)) | set(stems(p.item.brand or "")):
            counts[w] = counts.get(w, 0) + 1
    for p in picks:
        item = p.item
        score = 0
        model = item.attributes.get("model", "")
        if model and len(model) >= 4 and re.sub(r"[^a-z0-9]", "", model.lower()) in compact:
            score += 3
        if item.brand and set(stems(item.brand)) <= words and counts.get(stems(item.brand)[0], 0) == 1:
            score += 2
        distinct = {w for w in set(stems(item.title)) if counts.get(w) == 1 and len(w) >= 4 and w not in _SMALL}
        score += len(distinct & words)
        if score:
            hits.append((score, item))
    if not hits:
        return []
    best = max(s for s, _ in hits)
    return [item for s, item in hits if s == best]


_NAME_STOP = _SMALL | frozenset("you your novel book edition paperback hardcover kindle".split())


@lru_cache(maxsize=8)
def _catalog_names(index: CatalogIndex) -> list[tuple[str, frozenset[str], frozenset[str], str]]:
    """(item id, the words of its name, the words of its author, its compact model number) for every item."""
    out = []
    for item in index.items:
        head = re.split(r"\s(?:by|-|–|\|)\s|[:(,]", item.title.lower())[0]
        name = frozenset(w for w in tokens(head) if w not in _NAME_STOP and (len(w) > 2 or w.isdigit()))
        author = frozenset(tokens(item.attributes.get("author", "")))
        model = re.sub(r"[^a-z0-9]", "", item.attributes.get("model", "").lower())
        if 0 < len(name) <= 4 and (len(name) >= 2 or any(len(w) >= 4 or w.isdigit() for w in name)):
            out.append((item.item_id, name, author if len(author) >= 2 else frozenset(), model))
        elif len(author) >= 2 or len(model) >= 4:
            out.append((item.item_id, frozenset(), author if len(author) >= 2 else frozenset(), model))
    return out


def capitalised(text: str) -> frozenset[str]:
    """Lower-cased words written with a capital inside a sentence ("I loved Coco, what else?" -> {"coco"})."""
    return frozenset(m.group(1).lower() for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w'’-]*)", text.strip())
                     if m.group(1) != "I")


def by_catalog_name(low: str, index: CatalogIndex, text: str = "") -> list[Item]:
    """Items named anywhere in the catalog by their short name, author or model number ("Billy Summers", "the
    Lucy Foley one", "the SV-751B"), when exactly one item (or one author's items) fits."""
    words = set(tokens(low))
    compact = re.sub(r"[^a-z0-9]", "", low)
    by_title = [i for i, name, _, _ in _catalog_names(index) if name and name <= words]
    if len(by_title) > 3:  # "I loved Coco, what else?" also fits films called "Loved" and "What": names written
        fits = [(i, name) for i, name, _, _ in _catalog_names(index) if name and name <= words]
        names = capitalised(text)  # as names win, else the longest names ("the dark knight" over "Knight")
        by_title = [i for i, name in fits if name & names]
        anchored = anchored_name(low)  # "something like the matrix": the words after "like" are a name
        by_title = by_title or [i for i, name in fits if anchored and name == anchored]
        by_title = by_title or [i for i, name in fits if not all(ordinary_word(w) for w in name)]  # "superbad"
        if not by_title:
            longest = max(len(name) for _, name in fits)
            by_title = [i for i, name in fits if len(name) == longest] if longest >= 2 else []
    by_model = [i for i, _, _, model in _catalog_names(index) if len(model) >= 4 and model in compact]
    by_author = [i for i, _, author, _ in _catalog_names(index) if author and author <= words]
    for found in (by_model, by_title, by_author):
        if 1 <= len(found) <= 3:
            return index.get_items(found)
        if found is by_title and by_title and len({_key(index, i) for i in by_title}) <= 3:
            return index.get_items(by_title)  # "Frozen and Moana": two names, each held under more than one entry
    return []


ANCHOR = re.compile(r"\b(?:like|similar to|loved|liked|love|enjoyed|watched|seen|saw|as good as)\s+((?:the\s+)?[a-z0-9' -]+?)"
                    r"\s*(?:$|[,.;!?]|\b(?:but|and|or|with|except|only|not|though|because|which|that)\b)")


def anchored_name(low: str) -> frozenset[str]:
    """The name words of the phrase right after "like" / "loved" / "similar to", up to the clause's end."""
    m = ANCHOR.search(low)
    if not m:
        return frozenset()
    return frozenset(w for w in tokens(m.group(1)) if w not in _NAME_STOP and (len(w) > 2 or w.isdigit()))


def _key(index: CatalogIndex, item_id: str) -> str:
    return title_key(index.items[index.position[item_id]].title)[0]


def resolve(low: str, session: Session, ordinal: int | None, items_by_id: dict[str, Item],
            index: CatalogIndex | None = None, text: str = "") -> tuple[list[Item], str]:
    """(items the message refers to, how: "number" | "name" | "catalog" | "liked" | "all" | "focus" | "") against
    the picks on screen, then the whole catalog by name; an empty list when it names none."""
    picks = last_picks(session)
    if picks:
        found = by_number(low, picks, ordinal)
        if found:
            return found, "number"
        found = by_name(low, picks)
        if found:
            return found, "name"
    if index is not None:
        found = by_catalog_name(low, index, text)
        if found:
            return found, "catalog"
    st = session.state
    if _LIKED.search(low) and st.liked and st.liked[-1] in items_by_id:
        return [items_by_id[st.liked[-1]]], "liked"
    if picks and _ALL.search(low):
        return [p.item for p in picks], "all"
    if picks and _THEM.search(low):
        focus = [items_by_id[i] for i in st.focus if i in items_by_id]
        return (focus, "focus") if focus else ([p.item for p in picks], "all")
    if _PRONOUN.search(low):
        focus = [items_by_id[i] for i in st.focus if i in items_by_id]
        if focus:
            return focus, "focus"
        if len(picks) == 1:
            return [picks[0].item], "focus"
    return [], ""
