"""What a listing says: its sentences, the one that answers a question, amounts stated with their units, and
quotes cut to the words that answer.

Used by agent/answers.py; everything here reads one `Item` record and never guesses.
"""

from __future__ import annotations

import re

import numpy as np

from retrieval.items import Item
from retrieval.search import CatalogIndex
from retrieval.vocabulary import stem, stems, tokens

QUESTION_STOP = frozenset("is it the a an does do this that one what how which can will are there have has of "
                           "for to with in on be you your me my i its it's about any tell say said first second third "
                           "fourth fifth last ones pick".split())
MIN_SENTENCE_SIM = 0.45  # MiniLM cosine below which a description sentence does not answer the question

BLURB = re.compile(r"new york times|bestsell|best ?seller|book club|\bpicks?\b|reviews?\b|acclaim|author of|storyteller|"
                   r"praise|award|[“”\"]|#1", re.IGNORECASE)


def shouting(sentence: str) -> bool:
    """Mostly capital letters: a blurb ("ONE OF THE NEW YORK TIMES BEST THRILLERS"), not a sentence about the item."""
    letters = [c for c in sentence if c.isalpha()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) > 0.5 * len(letters)


# Amounts an attribute question can find in a title or description when the record has no such attribute.
_UNITS = {
    "weight": r"(?:lbs?|pounds?|kg|kilograms?|grams?|g|oz|ounces?)",
    "size": r"(?:''|\"|”|inch(?:es)?|in\b|cm|mm|centimet(?:er|re)s?|millimet(?:er|re)s?|ft|feet|foot|m\b|met(?:er|re)s?|"
            r"ml|l\b|oz|gal(?:lons?)?)",
    "capacity": r"(?:l|liters?|litres?|ml|gallons?|gal|fl\.? ?oz|qt|quarts?|cups?)",
    "pages": r"(?:pages)",
    "wattage": r"(?:w|watts?)",
    "battery_life": r"(?:hours?|hrs?|mah)",
}
_UNIT_KEYS = {"weight": "weight", "size": "size", "length": "size", "height": "size", "width": "size",
              "diameter": "size", "dimensions": "size", "capacity": "capacity", "volume": "capacity", "pages": "pages",
              "print_length": "pages", "wattage": "wattage", "power": "wattage", "battery_life": "battery_life"}
COLOURS = frozenset("black white red blue green pink purple yellow orange grey gray silver gold brown beige navy "
                    "teal turquoise violet rose".split())
MUST_MENTION = {
    "color": COLOURS | {"color", "colour"},
    "material": frozenset("material steel stainless aluminum aluminium plastic nitrile latex vinyl rubber silicone "
                          "brass copper glass wood wooden bamboo cotton polyester nylon leather ceramic iron titanium "
                          "carbon fiberglass borosilicate abs polypropylene pvc".split()),
}


_NOT_PARTS = frozenset("first second third fourth fifth last one ones item product thing listing price size "
                       "same other".split())


def stated_amounts(item: Item, key: str, question: str = "") -> list[str]:
    """Amounts with the unit of `key` that the title (first) or the description states: ["20 Lb"], ["10''", "50''"].
    A question about a part ("how long is the cable?") takes only an amount said next to that part's name."""
    unit = _UNITS.get(_UNIT_KEYS.get(key, ""), "")
    if not unit:
        return []
    amount = re.compile(r"(?<![\w.])(\d+(?:[.,/]\d+)?(?:\s?(?:x|by)\s?\d+(?:\.\d+)?)*)\s?-?" + unit + r"(?![a-z])",
                        re.IGNORECASE)
    parts = {stem(w) for w in re.findall(r"\bthe ([a-z]{3,})", question.lower())} - _NOT_PARTS
    for text in (item.title, item.description):
        found = []
        for m in amount.finditer(text or ""):
            if parts:
                near = {stem(t) for t in tokens(text[max(0, m.start() - 40):m.end() + 40])}
                if not parts & near:
                    continue
            found.append(m.group(0).strip())
        if found:
            return list(dict.fromkeys(found))[:3]
    return []


def quote(item: Item, name: str, quoted: str, question: str) -> str:
    """The answering sentence, quoted; when it is the title, the few words of it that answer ("Stainless Steel"),
    since repeating a product's whole name states nothing."""
    if quoted != item.title:
        return f"The listing for the {name} says: \"{quoted}\""
    want = {stem(t) for t in tokens(question) if t not in QUESTION_STOP and len(t) > 2}
    words = re.findall(r"[\w'’.-]+", item.title)
    hits = [i for i, w in enumerate(words) if stem(w.lower()) in want]
    if not hits or hits[-1] - hits[0] > 3:
        return f"The listing for the {name} gives only its title: \"{quoted}\""
    return f"The {name}'s title says \"{' '.join(words[hits[0]:hits[-1] + 1])}\"."


def where_stated(item: Item, amount: str) -> str:
    """The title, or the description sentence, that states `amount`."""
    return next((s for s in sentences(item) if amount in s), item.title)[:300]


def sentences(item: Item) -> list[str]:
    """The title and the description's sentences (long runs cut at commas), for extractive answers."""
    text = " ".join((item.description or "").split())
    parts = [s.strip() for s in re.split(r"(?:(?<=[.!?])|(?<=[.!?][”\"’]))\s+(?=[A-Z0-9\"'(“])|\s*[•|;]\s*|\s+-\s+", text)
             if s.strip()]
    out = [item.title]
    for part in parts:
        if len(part) <= 300:
            out.append(part)
            continue
        chunk = ""
        for piece in re.split(r"(?<=,)\s+", part):
            if chunk and len(chunk) + len(piece) > 250:
                out.append(chunk.strip())
                chunk = ""
            chunk += " " + piece
        if chunk.strip():
            out.append(chunk.strip())
    return [p for p in out if 12 <= len(p) <= 400 and len(re.findall(r"[A-Za-z]{2,}", p)) >= 3][:40]


def best_sentence(item: Item, question: str, index: CatalogIndex, must_share: set[str] | None = None) -> str | None:
    """The description sentence that best answers the question, or None when none does.

    A sentence must share a content word with the question (`must_share`, when given, names which) and be the
    closest by MiniLM meaning among those; one with no shared word answers only when its meaning is very close.
    """
    cands = sentences(item)
    if not cands:
        return None
    want = {stem(t) for t in tokens(question) if t not in QUESTION_STOP and len(t) > 2}
    if must_share:
        want &= must_share or want
    loose = {w[:5] for w in want if len(w) >= 5}  # "accurate" meets "accuracy"
    overlap = [max(len(want & set(stems(s))), len(loose & {t[:5] for t in tokens(s) if len(t) >= 5})) for s in cands]
    best_lexical = max(range(len(cands)), key=lambda i: (overlap[i], -i))
    if overlap[best_lexical] >= 2:  # two of the question's words in one sentence: that is the answer, no encoding
        return cands[best_lexical]
    if len(cands) > 6:  # keep the encoder's work small: the lexically closest sentences, in listing order
        keep = sorted(sorted(range(len(cands)), key=lambda i: -overlap[i])[:6])
        cands, overlap = [cands[i] for i in keep], [overlap[i] for i in keep]
    embedder = getattr(index, "embedder", None)
    if embedder is None:  # an index without a model (tests, vocab-only): lexical overlap alone
        best = int(np.argmax(overlap))
        return cands[best] if overlap[best] > 0 else None
    vecs = embedder.encode([question] + cands)
    sims = vecs[1:] @ vecs[0]
    score = sims + 0.15 * np.minimum(np.array(overlap), 2)
    best = int(np.argmax(score))
    if overlap[best] >= 2 or overlap[best] > 0 and (sims[best] >= MIN_SENTENCE_SIM - 0.2 or _long_word_shared(
            want, cands[best])):
        return cands[best]
    if sims[best] >= MIN_SENTENCE_SIM + 0.2:
        return cands[best]
    return None


def _long_word_shared(want: set[str], sentence: str) -> bool:
    """A distinctive word of the question (5+ letters: "stand", "refill") occurs in the sentence."""
    return bool({w for w in want if len(w) >= 5} & set(stems(sentence)))
