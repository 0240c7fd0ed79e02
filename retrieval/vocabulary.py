"""The catalog's own words, shared by every layer that reads shopper text: brands, category levels and attribute
values (`Vocabulary`), the stemming that matches "drills" to "Drill", and `Preference`, a need stated in those words.

The agent's parser (agent/understand.py) and the local model's training data (training/lora_data.py) both read
text through this module, so it sits at the bottom with the catalog it describes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from retrieval.items import Item
from retrieval.search import CatalogIndex, lexical_tokens

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
GENERIC = frozenset(
    "and the for with products product supplies supply accessories accessory equipment items item other "
    "home improvement professional industrial scientific general misc tools tool kit kits parts part set sets "
    "pet garden lawn office sports outdoor outdoors kitchen electronics".split())
_BOOL_VALUES = frozenset({"yes", "no", "true", "false"})


@dataclass
class Preference:
    """One stated preference: attribute is "category", "brand", "max_price", "min_price", "attr:<key>", ..."""

    attribute: str
    value: str
    wanted: bool = True  # False: a dislike ("no Acme", "not plastic")


@dataclass
class Vocabulary:
    """The catalog's own words: brands, category levels and attribute values, keyed by stemmed token tuples."""

    brands: dict[tuple[str, ...], str] = field(default_factory=dict)
    levels: dict[str, frozenset[str]] = field(default_factory=dict)  # category level -> informative stems
    level_depth: dict[str, int] = field(default_factory=dict)
    level_head: dict[str, str] = field(default_factory=dict)  # level -> its last informative stem ("Beakers")
    level_tops: dict[str, set[str]] = field(default_factory=dict)  # level -> top categories of its items
    by_stem: dict[str, list[str]] = field(default_factory=dict)  # stem -> levels containing it
    values: dict[tuple[str, ...], list[tuple[str, str]]] = field(default_factory=dict)  # value -> [(key, value)]
    level_phrases: set[tuple[str, ...]] = field(default_factory=set)  # stems of multi-word levels ("espresso machine")
    has_prices: bool = False
    max_n: int = 4
    index: CatalogIndex | None = field(default=None, repr=False, compare=False)  # for lexical disambiguation

    def brand_names(self) -> set[str]:
        """Every canonical brand."""
        return set(self.brands.values())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens ("PORTER-CABLE 18V" -> ["porter", "cable", "18v"])."""
    return _WORD.findall(text.lower())


def stem(token: str) -> str:
    """A crude singular form so "drills" meets "Drill" and "batteries" meets "battery"."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 5 and token.endswith(("shes", "ches", "xes", "sses", "zes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def stems(text: str) -> tuple[str, ...]:
    """Stemmed tokens of a text."""
    return tuple(stem(t) for t in tokens(text))


@lru_cache(maxsize=8)
def vocabulary(index: CatalogIndex) -> Vocabulary:
    """The vocabulary of one catalog index, built once per index (a few ms for 5k items)."""
    vocab = Vocabulary(has_prices=any(i.price is not None for i in index.items), index=index)
    title_df: dict[str, int] = {}
    titles = [(" ".join(stems(i.title)), i.brand) for i in index.items]
    for item in index.items:
        for t in set(stems(item.title)):
            title_df[t] = title_df.get(t, 0) + 1
    value_count: dict[tuple[str, str], int] = {}
    for item in index.items:
        for depth, level in enumerate(item.category_path):
            vocab.level_depth[level] = min(vocab.level_depth.get(level, depth), depth)
            vocab.level_tops.setdefault(level, set()).add(item.top_category)
        for key, value in item.attributes.items():
            value_count[(key, value)] = value_count.get((key, value), 0) + 1
    brand_items: dict[str, int] = {}
    for item in index.items:
        if item.brand:
            brand_items[item.brand] = brand_items.get(item.brand, 0) + 1
    for brand, n in brand_items.items():
        key = stems(brand)
        # A one-word brand that is also a common title word ("Generic", "Clear") would fire on ordinary text.
        if len(key) > 1 and min(title_df.get(t, 0) for t in key) > 3 * n + 5:
            phrase = " ".join(key)  # "Super Glue" the brand vs "super glue" the product
            if sum(phrase in t for t, b in titles if b != brand) > 3 * n + 5:
                continue
        short = len(key[0]) < 3 and not any(ch.isdigit() for ch in key[0]) if key else True
        if not key or (len(key) == 1 and (short or title_df.get(key[0], 0) > 3 * n + 5)):
            continue
        vocab.brands[key] = brand
    for level in vocab.level_depth:
        ordered = [s for s in stems(level) if s not in GENERIC and len(s) > 1]
        informative = frozenset(ordered)
        if len(stems(level)) > 1:
            vocab.level_phrases.add(stems(level))
        if informative:
            vocab.levels[level] = informative
            vocab.level_head[level] = ordered[-1]
            for s in informative:
                vocab.by_stem.setdefault(s, []).append(level)
    for (key, value), n in value_count.items():
        if key.lower() in ("model", "warranty") or len(value) > 40:
            continue  # model numbers go to search; warranty periods are not preferences
        if value.lower() in _BOOL_VALUES:
            if value.lower() in ("yes", "true"):  # "waterproof" means waterproof=yes
                vocab.values.setdefault(stems(key.replace("_", " ")), []).append((key, value))
            continue
        if n >= 2 and stems(value) and re.search(r"[a-z]", value.lower()):  # bare numbers are checked as numbers
            vocab.values.setdefault(stems(value), []).append((key, value))
    vocab.max_n = max([len(k) for k in (*vocab.brands, *vocab.values)] + [1])
    return vocab


def lexical_rows(vocab: Vocabulary, text: str, top: int = 20) -> list[int]:
    """Rows of the best BM25 matches for the text in the vocabulary's catalog (a few ms, no embedding)."""
    index = vocab.index
    if index is None or not index.items:
        return []
    words = [t for t in lexical_tokens(text) if t in index.vocabulary]
    if not words:
        return []
    scores = np.asarray(index.bm25.get_scores(words))
    return [int(r) for r in np.argsort(-scores)[:top] if scores[r] > 0]


def lexical_votes(vocab: Vocabulary, low: str, levels: list[str], top: int = 20) -> dict[str, int]:
    """How many of the best BM25 matches for the text sit in each candidate level."""
    rows = lexical_rows(vocab, low.split(" for ")[0], top)
    if not rows:
        return {}
    paths = [vocab.index.items[r].category.lower() for r in rows]  # type: ignore[union-attr]
    return {lvl: sum(lvl.lower() in p for p in paths) for lvl in levels}


def category_of_phrase(phrase: str, vocab: Vocabulary, top: int = 10, share: float = 0.7) -> str | None:
    """The catalog category a product phrase names by the items it finds ("garden hose" -> Watering, "headlamp"
    -> Lights & Lanterns): the leaf category of at least `share` of its best `top` BM25 matches, else None."""
    rows = lexical_rows(vocab, " ".join(dict.fromkeys(tokens(phrase) + list(stems(phrase)))), top)  # "pruners" too
    if len(rows) < min(top, 5):
        return None
    paths = [vocab.index.items[r].category_path for r in rows]  # type: ignore[union-attr]
    leaves = [path[-1] if path else "" for path in paths]
    best = max(set(leaves), key=leaves.count)
    return best if leaves.count(best) >= share * len(rows) and best in vocab.levels else None


def ItemSet(items: Sequence[Item]) -> CatalogIndex:  # noqa: N802 - reads like the catalog it builds
    """A catalog index over items with zero vectors: enough for `vocabulary` (names, BM25), no embedding run."""
    return CatalogIndex(None, None, list(items), np.zeros((len(items), 384), dtype=np.float32))  # type: ignore[arg-type]
