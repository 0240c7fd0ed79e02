"""Hybrid catalog search: Chroma vectors + an in-memory BM25 index, with fast metadata filters.

The index keeps the catalog in memory (items, a normalised embedding matrix, filter postings and
BM25) as a read cache of the Chroma collection. Unfiltered and broadly filtered vector queries go to
Chroma's HNSW index; narrowly filtered ones are answered exactly by a matrix product over the few
matching rows, which is both faster and exact (Chroma's `where` queries scan metadata first and were
measured much slower; see evals/RETRIEVAL.md).
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from retrieval.cache import SearchCache
from retrieval.embed import Embedder
from retrieval.items import Item
from retrieval.live import CatalogChange, is_available
from retrieval.signals import ItemSignals
from retrieval.store import CatalogStore

MAX_QUERY_CHARS = 2_000  # longer queries are cut: MiniLM reads 128 word pieces anyway
EXACT_FILTER_ROWS = 25_000  # filters matching at most this many rows are searched exactly in memory
VECTOR_WEIGHT = 1.0  # hybrid score = VECTOR_WEIGHT * cosine + LEXICAL_WEIGHT * bm25 / best bm25
LEXICAL_WEIGHT = 0.5  # tuned on exact-name queries (brand + model number) without hurting semantic queries
MODEL_NUMBER_WEIGHT = 1.2  # lexical weight when the query holds a known model-number-like token ("DW4524")
_MODEL_NO = re.compile(r"\b[0-9A-Za-z]+(?:[-/.][0-9A-Za-z]+)+\b")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_TRAILING_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_BLAS = ThreadpoolController()
_STOP = frozenset(
    "a an and are as at be but by for from has have i in is it its me my of on or our so that the their "
    "this to was we were what which with you your".split())


@dataclass(frozen=True)
class Filters:
    """Hard constraints on search results. Empty fields do not filter."""

    categories: tuple[str, ...] = ()  # any level of the category path, case-insensitive; several = any of them
    min_price: float | None = None
    max_price: float | None = None  # items without a price never pass a price filter
    brands: tuple[str, ...] = ()  # any of these brands, case-insensitive
    exclude_brands: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)  # exact, case-insensitive

    def is_empty(self) -> bool:
        """True when nothing is constrained."""
        return not (self.categories or self.brands or self.exclude_brands or self.attributes
                    or self.min_price is not None or self.max_price is not None)

    def accepts(self, item: Item) -> bool:
        """Whether one item satisfies every constraint (the same rule the index applies in bulk)."""
        if self.categories:
            levels = {c.lower() for c in item.category_path}
            if not any(_category_matches(c.lower(), levels) for c in self.categories):
                return False
        if self.min_price is not None and (item.price is None or item.price < self.min_price):
            return False
        if self.max_price is not None and (item.price is None or item.price > self.max_price):
            return False
        brand = (item.brand or "").lower()
        if self.brands and brand not in {b.lower() for b in self.brands}:
            return False
        if brand and brand in {b.lower() for b in self.exclude_brands}:
            return False
        attrs = {k.lower(): v.lower() for k, v in item.attributes.items()}
        return all(attrs.get(k.lower()) == str(v).lower() for k, v in self.attributes.items())


@dataclass(frozen=True)
class ScoredItem:
    """A search hit: the item, its hybrid score and the two parts it came from."""

    item: Item
    score: float
    vector_score: float = 0.0  # cosine similarity to the query, -1..1
    lexical_score: float = 0.0  # BM25 relative to the best lexical hit, 0..1


class CatalogIndex:
    """Search over one catalog. Build with `CatalogIndex.from_store(store, embedder)`."""

    def __init__(self, store: CatalogStore, embedder: Embedder, items: list[Item], embeddings: np.ndarray):
        import bm25s

        self.store = store
        self.embedder = embedder
        self.items = items
        self.embeddings = embeddings  # (n, 384), unit rows
        self.position = {item.item_id: i for i, item in enumerate(items)}
        self.prices = np.array([np.nan if i.price is None else i.price for i in items], dtype=np.float64)
        self._by_category: dict[str, list[int]] = defaultdict(list)
        self._by_brand: dict[str, list[int]] = defaultdict(list)
        self._by_attribute: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row, item in enumerate(items):
            for level in item.category_path:
                self._by_category[level.lower()].append(row)
            if item.brand:
                self._by_brand[item.brand.lower()].append(row)
            for key, value in item.attributes.items():
                self._by_attribute[(key.lower(), value.lower())].append(row)
        self.bm25 = bm25s.BM25()
        if items:
            self.bm25.index([lexical_tokens(_lexical_text(i)) for i in items], show_progress=False)
        self.vocabulary = set(self.bm25.vocab_dict or {}) if items else set()
        self._init_live()

    def _init_live(self) -> None:
        """Live-catalog state: rows deleted or out of stock (never recommended), rows changed since the build
        (their filter fields are read from the item, not the postings), the change-log position and a version
        that any change bumps (it keys the result cache)."""
        self.dead: set[int] = {r for r, item in enumerate(self.items) if not is_available(item)}
        self.dirty: set[int] = set()
        self.applied_seq = 0  # last change-log seq applied
        self.version = 0
        self.cache = SearchCache()
        self.signals = ItemSignals()  # popularity and co-occurrence from the event log (retrieval/signals.py)
        self._live_lock = threading.Lock()

    @classmethod
    def from_store(cls, store: CatalogStore, embedder: Embedder) -> "CatalogIndex":
        """Load every item and embedding from the store and build the in-memory parts."""
        items, embeddings = store.load_all()
        return cls(store, embedder, items, embeddings)

    def refresh(self) -> "CatalogIndex":
        """A new index reflecting the store now (after an ingest)."""
        return CatalogIndex.from_store(self.store, self.embedder)

    def __len__(self) -> int:
        return len(self.items)

    # ------------------------------------------------------------------ lookups

    def get_items(self, ids: Iterable[str]) -> list[Item]:
        """Items for the known ids, in the given order; unknown ids are skipped."""
        return [self.items[self.position[i]] for i in ids if i in self.position]

    def twins(self, ids: Iterable[str]) -> set[str]:
        """Other entries of the same things: items of the same brand (or none) whose title, year left off, equals
        one of these items' and whose years do not differ ("Moana" and "Moana (2016)"; never "The Lion King (1994)"
        and its 2019 remake, nor two brands' "Nitrile Gloves")."""
        key = (len(self.items), self.version)
        if getattr(self, "_titles_key", None) != key:
            by_title: dict[str, list[int]] = {}
            for row, item in enumerate(self.items):
                by_title.setdefault(title_key(item.title)[0], []).append(row)
            self._titles, self._titles_key = by_title, key
        out: set[str] = set()
        for item in self.get_items(ids):
            name, year = title_key(item.title)
            for row in self._titles.get(name, ()):
                other = self.items[row]
                if other.item_id != item.item_id and other.brand == item.brand and (
                        not year or title_key(other.title)[1] in ("", year)):
                    out.add(other.item_id)
        return out

    def categories(self) -> list[str]:
        """Every category level name, as written in the catalog."""
        names = {level for item in self.items for level in item.category_path}
        return sorted(names)

    def brands(self) -> list[str]:
        """Every brand, as written in the catalog."""
        return sorted({i.brand for i in self.items if i.brand})

    # ------------------------------------------------------------------ search

    def search(self, query: str, filters: Filters | None = None, k: int = 20,
               exclude_ids: Iterable[str] = ()) -> list[ScoredItem]:
        """Hybrid search: semantic (embeddings) plus lexical (BM25) so exact names and model numbers hit."""
        query = " ".join((query or "").split())[:MAX_QUERY_CHARS]
        exclude_ids = frozenset(exclude_ids)
        key = (query.lower(), filters, k, exclude_ids, self.version)
        hit = self.cache.get(key)
        if hit is not None:
            return list(hit)
        found = self._search(query, filters, k, exclude_ids)
        self.cache.put(key, tuple(found))
        return found

    def _search(self, query: str, filters: Filters | None, k: int, exclude_ids: frozenset[str]) -> list[ScoredItem]:
        allowed = self.allowed_rows(filters, exclude_ids)
        if k <= 0 or not self.items or (allowed is not None and not allowed.any()):
            return []
        if not query:
            return self._typical(allowed, k)
        vector = self.embedder.encode_one(query)
        pool = max(4 * k, 100)
        rows = set(self._vector_rows(vector, allowed, pool))
        lexical = self._lexical_scores(query)
        if lexical is not None:
            masked = lexical if allowed is None else np.where(allowed, lexical, 0.0)
            top = np.argpartition(-masked, min(pool, len(masked) - 1))[:pool]
            rows.update(int(r) for r in top if masked[r] > 0)
        rows_arr = np.fromiter(rows, dtype=np.int64)
        if allowed is None and self.dead:
            rows_arr = rows_arr[[int(r) not in self.dead for r in rows_arr]]
        if not len(rows_arr):
            return []
        cos = self.embeddings[rows_arr] @ vector
        if lexical is not None and lexical[rows_arr].max() > 0:
            lex = lexical[rows_arr] / lexical[rows_arr].max()
        else:
            lex = np.zeros(len(rows_arr))
        scores = VECTOR_WEIGHT * cos + self._lexical_weight(query) * lex
        order = np.argsort(-scores)[:k]
        return [ScoredItem(self.items[rows_arr[o]], float(scores[o]), float(cos[o]), float(lex[o])) for o in order]

    def vector_search(self, vector: np.ndarray, filters: Filters | None = None, k: int = 20,
                      exclude_ids: Iterable[str] = ()) -> list[ScoredItem]:
        """Nearest items to a vector in embedding space (e.g. a user-interest vector)."""
        allowed = self.allowed_rows(filters, exclude_ids)
        if k <= 0 or not self.items or (allowed is not None and not allowed.any()):
            return []
        vector = _unit(np.asarray(vector, dtype=np.float32).reshape(-1))
        rows = np.array(self._vector_rows(vector, allowed, k), dtype=np.int64)
        cos = self.embeddings[rows] @ vector
        order = np.argsort(-cos)[:k]
        return [ScoredItem(self.items[rows[o]], float(cos[o]), float(cos[o]), 0.0) for o in order]

    def similar_items(self, item_ids: Sequence[str], k: int = 10, filters: Filters | None = None,
                      exclude_ids: Iterable[str] = ()) -> list[ScoredItem]:
        """Items most like the given ones (mean of their embeddings); the given items are excluded."""
        rows = [self.position[i] for i in item_ids if i in self.position]
        if not rows:
            return []
        centroid = self.embeddings[rows].mean(axis=0)
        return self.vector_search(centroid, filters, k, exclude_ids=[*exclude_ids, *item_ids])

    def embedding(self, item_id: str) -> np.ndarray:
        """The stored embedding of one item; raises KeyError for an unknown id."""
        return self.embeddings[self.position[item_id]]

    # ------------------------------------------------------------------ filters

    def allowed_rows(self, filters: Filters | None, exclude_ids: Iterable[str] = ()) -> np.ndarray | None:
        """Boolean mask of rows passing the filters and not excluded; None when nothing is filtered."""
        exclude = [self.position[i] for i in exclude_ids if i in self.position]
        if (filters is None or filters.is_empty()) and not exclude and not self.dead:
            return None
        mask = self._filter_mask(filters)
        if self.dirty and filters is not None and not filters.is_empty():
            dirty = list(self.dirty)
            mask[dirty] = [filters.accepts(self.items[r]) for r in dirty]
        mask[exclude] = False
        if self.dead:
            mask[list(self.dead)] = False
        return mask

    def _filter_mask(self, filters: Filters | None) -> np.ndarray:
        """Rows passing the filters according to the postings built with the index."""
        n = len(self.items)
        mask = np.ones(n, dtype=bool)
        if filters is not None:
            if filters.categories:
                mask &= self._postings_mask(self._category_rows(c) for c in filters.categories)
            if filters.brands:
                mask &= self._postings_mask(self._by_brand.get(b.lower(), []) for b in filters.brands)
            if filters.exclude_brands:
                mask &= ~self._postings_mask(self._by_brand.get(b.lower(), []) for b in filters.exclude_brands)
            for key, value in filters.attributes.items():
                mask &= self._postings_mask([self._by_attribute.get((key.lower(), str(value).lower()), [])])
            with np.errstate(invalid="ignore"):
                if filters.min_price is not None:
                    mask &= self.prices >= filters.min_price
                if filters.max_price is not None:
                    mask &= self.prices <= filters.max_price
        return mask

    def _category_rows(self, name: str) -> list[int]:
        name = name.lower().strip()
        if name in self._by_category:
            return self._by_category[name]
        # Not a level name: accept a level that contains it ("adhesives" -> "Tapes, Adhesives & Sealants").
        return [r for level, rows in self._by_category.items() if _category_matches(name, {level}) for r in rows]

    def _postings_mask(self, postings: Iterable[list[int]]) -> np.ndarray:
        mask = np.zeros(len(self.items), dtype=bool)
        for rows in postings:
            mask[rows] = True
        return mask

    # ------------------------------------------------------------------ live catalog

    def is_live(self, item_id: str) -> bool:
        """Whether an item may be recommended: in the catalog, not deleted and not out of stock."""
        row = self.position.get(item_id)
        return row is not None and row not in self.dead

    def apply_changes(self, changes: Iterable[CatalogChange]) -> int:
        """Apply logged catalog changes in seq order (older seqs than already applied are skipped); rows are
        stable: an update replaces its row in place, an addition appends one, a deletion masks its row (the item
        stays readable for history, never recommendable). Returns how many were applied."""
        applied = 0
        with self._live_lock:
            for change in sorted(changes, key=lambda c: c.seq):
                if change.seq <= self.applied_seq:
                    continue
                self._apply_one(change)
                self.applied_seq = change.seq
                applied += 1
            if applied:
                self.version += 1
                self.cache.clear()
        return applied

    def _apply_one(self, change: CatalogChange) -> None:
        row = self.position.get(change.item_id)
        if change.deleted:
            if row is not None:
                self.dead.add(row)
            return
        assert change.item is not None and change.vector is not None
        vector = np.asarray(change.vector, dtype=np.float32).reshape(-1)
        price = np.nan if change.item.price is None else change.item.price
        if row is None:
            row = len(self.items)
            self.items.append(change.item)
            self.position[change.item_id] = row
            self.embeddings = np.concatenate([self.embeddings, vector[None, :]])
            self.prices = np.append(self.prices, price)
        else:
            self.items[row] = change.item
            if not self.embeddings.flags.writeable:
                self.embeddings = self.embeddings.copy()
            self.embeddings[row] = vector
            self.prices[row] = price
        self.dirty.add(row)
        self.vocabulary.update(lexical_tokens(_lexical_text(change.item)))
        if is_available(change.item):
            self.dead.discard(row)
        else:
            self.dead.add(row)

    # ------------------------------------------------------------------ internals

    def _vector_rows(self, vector: np.ndarray, allowed: np.ndarray | None, k: int) -> list[int]:
        """Row numbers of (about) the k nearest allowed items."""
        n_allowed = len(self.items) if allowed is None else int(allowed.sum())
        if self.store is None or (allowed is not None and n_allowed <= EXACT_FILTER_ROWS):  # no store: all exact
            rows = np.flatnonzero(allowed) if allowed is not None else np.arange(len(self.items))
            # One BLAS thread: for a few thousand rows, two threads mostly wait on each other
            # (p50 56 ms vs 2.3 ms measured on a busy 2-core box, evals/RETRIEVAL.md).
            with _BLAS.limit(limits=1, user_api="blas"):
                return _top_rows(rows, self.embeddings[rows] @ vector, k)
        # Broad or no filter: ask HNSW for enough neighbours that k of them pass the filter.
        share = n_allowed / max(len(self.items), 1)
        want = min(len(self.items), int(k / max(share, 1e-6) * 1.5) + 10)
        hits = [self.position[i] for i, _ in self.store.query(vector, want) if i in self.position]
        if allowed is not None:
            hits = [r for r in hits if allowed[r]]
        if len(hits) >= min(k, n_allowed):
            return hits
        rows = np.flatnonzero(allowed) if allowed is not None else np.arange(len(self.items))
        with _BLAS.limit(limits=1, user_api="blas"):
            return _top_rows(rows, self.embeddings[rows] @ vector, k)

    def _lexical_weight(self, query: str) -> float:
        """Trust the lexical side more when the query names a model number the catalog knows."""
        coded = [t for t in lexical_tokens(query) if len(t) >= 3 and any(c.isdigit() for c in t)]
        return MODEL_NUMBER_WEIGHT if any(t in self.vocabulary for t in coded) else LEXICAL_WEIGHT

    def _lexical_scores(self, query: str) -> np.ndarray | None:
        tokens = [t for t in lexical_tokens(query) if t in self.vocabulary]
        if not tokens:
            return None
        built = [t for t in tokens if t in (self.bm25.vocab_dict or {})]
        scores = np.asarray(self.bm25.get_scores(built), dtype=np.float64) if built else np.zeros(0)
        return self._live_lexical(scores, tokens)

    def _live_lexical(self, scores: np.ndarray, tokens: list[str]) -> np.ndarray:
        """BM25 scores row-aligned with the live catalog. Rows added or changed since the build are not in the BM25
        index: they score the share of the query's words their text has, times the best BM25 score (a full match
        ranks with the best built match) until the next rebuild."""
        if len(scores) < len(self.items):
            scores = np.concatenate([scores, np.zeros(len(self.items) - len(scores))])
        if self.dirty:
            top, words = max(float(scores.max(initial=0.0)), 1.0), set(tokens)
            for r in self.dirty:
                scores[r] = top * len(words & set(lexical_tokens(_lexical_text(self.items[r])))) / len(words)
        return scores

    def _typical(self, allowed: np.ndarray | None, k: int) -> list[ScoredItem]:
        """No query text: the items closest to the centre of what the filters allow."""
        rows = np.flatnonzero(allowed) if allowed is not None else np.arange(len(self.items))
        centre = _unit(self.embeddings[rows].mean(axis=0))
        top = _top_rows(rows, self.embeddings[rows] @ centre, k)
        return [ScoredItem(self.items[r], float(self.embeddings[r] @ centre), float(self.embeddings[r] @ centre))
                for r in top]


def title_key(title: str) -> tuple[str, str]:
    """(the title in lower-case words without a trailing "(1999)", the year or ""): "Moana (2016)" -> ("moana",
    "2016")."""
    found = _TRAILING_YEAR.search(title)
    name = title[:found.start()] if found else title
    return " ".join(re.findall(r"[a-z0-9]+", name.lower())), (found.group(1) if found else "")


def lexical_tokens(text: str) -> list[str]:
    """Lower-cased word tokens for BM25; model numbers also appear joined ("DW-4524" -> "dw4524")."""
    text = text.lower()
    tokens = [t for t in _TOKEN.findall(text) if t not in _STOP]
    tokens += [re.sub(r"[-/.]", "", m) for m in _MODEL_NO.findall(text) if any(c.isdigit() for c in m)]
    return tokens


def _lexical_text(item: Item) -> str:
    # Title and brand count twice: a name match should beat a word buried in a description.
    head = f"{item.title} {item.brand or ''}"
    return f"{head} {head} {item.category} {' '.join(item.attributes.values())} {item.description[:2000]}"


def _category_matches(name: str, levels: set[str]) -> bool:
    stem = re.escape(name.rstrip("s"))  # "drill" finds "Drills", "adhesives" finds "... Adhesives ..."
    return name in levels or any(re.search(rf"\b{stem}s?\b", level) for level in levels)


def _top_rows(rows: np.ndarray, scores: np.ndarray, k: int) -> list[int]:
    if len(rows) <= k:
        return [int(r) for r in rows[np.argsort(-scores)]]
    part = np.argpartition(-scores, k)[:k]
    return [int(r) for r in rows[part[np.argsort(-scores[part])]]]


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v
