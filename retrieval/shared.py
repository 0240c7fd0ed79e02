"""A catalog index for large catalogs whose big parts are memory-mapped files shared by every worker process.

`CatalogIndex` holds everything in each process's RAM (items, a float32 matrix, postings, BM25): at 10^6 items
that is several GB per worker. `SharedIndex` keeps the same interface over a folder built once by
`build_shared_index` (streaming, bounded memory):

    vectors.f32        (capacity, DIM) float32 unit rows, rows ordered by IVF cell, spare rows for additions
    ivf_centroids.npy  (cells, DIM) and ivf_ptr.npy (cells + 1): cell c holds rows ptr[c]:ptr[c+1] (retrieval/ivf.py)
    items.jsonl        one JSON row per row, read lazily through item_offsets.npy
    ids_sorted.npy     item ids (bytes) sorted, with ids_rows.npy: id -> row by binary search
    prices.npy         per row, NaN without a price
    post_*.npy         filter postings (category level, brand, attribute value -> rows) as CSR arrays
    meta.json          sizes and the postings' names

The operating system keeps one copy of each mapped page for all processes, so N workers cost about one catalog
plus their own small state (proportional set size, evals/SCALE.md). Live changes (retrieval/live.py) replace a
row's vector in place or append one in the spare rows; each worker writes the same bytes to the same row, in
change-log order, so the shared file agrees with every worker. Rows changed since the build are searched exactly.
Search is vector-only (no BM25 over 10^6 descriptions per worker); the small in-RAM `CatalogIndex` stays the
default for catalogs up to a few hundred thousand items.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from retrieval.cache import SearchCache  # noqa: F401  (re-exported for callers that size it)
from retrieval.embed import DIM, Embedder
from retrieval.items import InvalidRow, Item, item_from_row, item_to_dict
from retrieval.ivf import assign_cells, cell_count, search_cells, top_k, train_centroids
from retrieval.live import is_available
from retrieval.search import (
    EXACT_FILTER_ROWS,
    CatalogIndex,
    ScoredItem,
    _category_matches,
    _unit,
    lexical_tokens,
)

SPARE = 0.05  # spare rows for live additions, as a share of the catalog (at least 10,000)
SAMPLE = 50_000  # rows k-means trains on
CHUNK = 50_000  # rows per write when reordering


class SharedIndexMissing(RuntimeError):
    """No shared index folder (or an incomplete one)."""


class _Postings(Mapping):
    """name -> rows (an int64 array view of the mapped CSR arrays); names are lower-case."""

    def __init__(self, names: list, ptr: np.ndarray, rows: np.ndarray):
        self._code = {n if isinstance(n, str) else tuple(n): c for c, n in enumerate(names)}
        self._ptr, self._rows = ptr, rows

    def __getitem__(self, name):
        code = self._code[name]
        return self._rows[self._ptr[code]:self._ptr[code + 1]]

    def __iter__(self) -> Iterator:
        return iter(self._code)

    def __len__(self) -> int:
        return len(self._code)


class _Rows(Sequence):
    """index.items: rows parsed lazily from the mapped items.jsonl; changed and added rows from memory."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray, base: int):
        self._data, self._offsets, self._base = data, offsets, base
        self._changed: dict[int, Item] = {}
        self._len = base

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(self._len))]
        row = int(row)
        if row < 0:
            row += self._len
        if not 0 <= row < self._len:
            raise IndexError(row)
        item = self._changed.get(row)
        if item is not None:
            return item
        raw = bytes(self._data[self._offsets[row]:self._offsets[row + 1]])
        return _item(json.loads(raw))

    def __setitem__(self, row: int, item: Item) -> None:
        self._changed[int(row)] = item

    def append(self, item: Item) -> None:
        """Add a row at the end."""
        self._changed[self._len] = item
        self._len += 1


class _Positions(Mapping):
    """index.position: id -> row by binary search over the mapped sorted ids; added ids from memory."""

    def __init__(self, ids_sorted: np.ndarray, ids_rows: np.ndarray):
        self._ids, self._rows = ids_sorted, ids_rows
        self._added: dict[str, int] = {}

    def get(self, item_id, default=None):
        row = self._added.get(item_id)
        if row is not None:
            return row
        key = str(item_id).encode()
        if not len(self._ids) or len(key) > self._ids.dtype.itemsize:
            return default
        at = int(np.searchsorted(self._ids, key))
        return int(self._rows[at]) if at < len(self._ids) and self._ids[at] == key else default

    def __getitem__(self, item_id) -> int:
        row = self.get(item_id)
        if row is None:
            raise KeyError(item_id)
        return row

    def __contains__(self, item_id) -> bool:
        return self.get(item_id) is not None

    def __setitem__(self, item_id: str, row: int) -> None:
        self._added[item_id] = row

    def __iter__(self) -> Iterator[str]:
        yield from (i.decode() for i in self._ids)
        yield from self._added

    def __len__(self) -> int:
        return len(self._ids) + len(self._added)


class SharedIndex(CatalogIndex):
    """CatalogIndex over a shared folder (see the module docstring); open with `SharedIndex(folder, embedder)`."""

    def __init__(self, folder: Path | str, embedder: Embedder | None, store=None):
        folder = Path(folder)
        if not (folder / "meta.json").exists():
            raise SharedIndexMissing(f"No shared index in {folder}. Build one with: convrec ingest items.jsonl "
                                     f"--shared-index {folder}")
        meta = json.loads((folder / "meta.json").read_text())
        self.folder, self.store, self.embedder, self.meta = folder, store, embedder, meta
        self.n_base, self.capacity = int(meta["rows"]), int(meta["capacity"])
        self._vectors = np.memmap(folder / "vectors.f32", dtype=np.float32, mode="r+", shape=(self.capacity, DIM))
        self.embeddings = self._vectors[:self.n_base]  # row-aligned with items; grows (a view) on additions
        self.centroids = np.load(folder / "ivf_centroids.npy")
        self.ivf_ptr = np.load(folder / "ivf_ptr.npy")
        self.items = _Rows(np.memmap(folder / "items.jsonl", dtype=np.uint8, mode="r"),
                           np.load(folder / "item_offsets.npy", mmap_mode="r"), self.n_base)
        self.position = _Positions(np.load(folder / "ids_sorted.npy", mmap_mode="r"),
                                   np.load(folder / "ids_rows.npy", mmap_mode="r"))
        self.prices = np.load(folder / "prices.npy").astype(np.float64)  # private: 8 MB at 10^6, updated live
        posting = {name: _Postings(meta[f"{name}_names"], np.load(folder / f"post_{name}_ptr.npy", mmap_mode="r"),
                                   np.load(folder / f"post_{name}_rows.npy", mmap_mode="r"))
                   for name in ("category", "brand", "attribute")}
        self._by_category, self._by_brand, self._by_attribute = (
            posting["category"], posting["brand"], posting["attribute"])
        self.bm25 = None
        self.vocabulary = set(meta.get("vocabulary", []))
        self._centre = np.asarray(meta["centre"], dtype=np.float32)
        self._init_live()
        self.dead = set(np.load(folder / "unavailable.npy").tolist())

    def refresh(self) -> SharedIndex:
        """The index reopened from its folder."""
        return SharedIndex(self.folder, self.embedder, self.store)

    def categories(self) -> list[str]:
        """Every category level name, as written in the catalog."""
        return sorted(self.meta["category_display"])

    def brands(self) -> list[str]:
        """Every brand, as written in the catalog."""
        return sorted(self.meta["brand_display"])

    def _lexical_scores(self, query: str) -> np.ndarray | None:
        return None

    def _lexical_weight(self, query: str) -> float:
        return 0.0

    def _category_rows(self, name: str):
        name = name.lower().strip()
        if name in self._by_category:
            return self._by_category[name]
        parts = [rows for level, rows in self._by_category.items() if _category_matches(name, {level})]
        return np.concatenate(parts) if parts else []

    def _vector_rows(self, vector: np.ndarray, allowed: np.ndarray | None, k: int) -> list[int]:
        """IVF over the rows as built, exact search over rows changed since (and over narrow filters)."""
        n = len(self.items)
        n_allowed = n if allowed is None else int(allowed.sum())
        if allowed is not None and n_allowed <= EXACT_FILTER_ROWS:
            rows = np.flatnonzero(allowed)
            rows, _ = top_k(rows, self.embeddings[rows] @ vector, k)
            return [int(r) for r in rows]
        base_allowed = None if allowed is None else allowed[:self.n_base]
        changed = np.array(sorted(r for r in self.dirty if allowed is None or allowed[r]), dtype=np.int64)
        if len(changed) and allowed is None:
            base_allowed = np.ones(self.n_base, dtype=bool)
        if len(changed):
            base_allowed = base_allowed.copy() if allowed is not None else base_allowed
            base_allowed[changed[changed < self.n_base]] = False  # their cell may be wrong now
        rows, scores = search_cells(self.embeddings, self.centroids, self.ivf_ptr, vector, k, base_allowed)
        if len(changed):
            rows = np.concatenate([rows, changed])
            scores = np.concatenate([scores, self.embeddings[changed] @ vector])
            rows, scores = top_k(rows, scores, k)
        return [int(r) for r in rows]

    def _typical(self, allowed: np.ndarray | None, k: int) -> list[ScoredItem]:
        """No query text: the allowed items closest to the centre of (a sample of) what the filters allow."""
        if allowed is None:
            centre = self._centre
        else:
            rows = np.flatnonzero(allowed)
            sample = rows if len(rows) <= 20_000 else rows[:: len(rows) // 20_000 + 1]
            centre = _unit(self.embeddings[sample].mean(axis=0))
        return [ScoredItem(self.items[r], float(self.embeddings[r] @ centre), float(self.embeddings[r] @ centre))
                for r in self._vector_rows(centre, allowed, k)]

    def _apply_one(self, change) -> None:
        row = self.position.get(change.item_id)
        if change.deleted or row is not None:
            if row is not None and not change.deleted:
                self._vectors[row] = np.asarray(change.vector, dtype=np.float32)
            self._apply_flags(change, row)
            return
        row = len(self.items)
        if row >= self.capacity:
            raise RuntimeError(f"the shared index in {self.folder} has no spare rows left; rebuild it "
                               "(convrec ingest --shared-index) to take more additions")
        self._vectors[row] = np.asarray(change.vector, dtype=np.float32)
        self.items.append(change.item)
        self.position[change.item_id] = row
        self.embeddings = self._vectors[:row + 1]
        self.prices = np.append(self.prices, np.nan)
        self._apply_flags(change, row)

    def _apply_flags(self, change, row: int | None) -> None:
        if row is None:
            return
        if change.deleted:
            self.dead.add(row)
            return
        self.items[row] = change.item
        self.prices[row] = np.nan if change.item.price is None else change.item.price
        self.dirty.add(row)
        (self.dead.discard if is_available(change.item) else self.dead.add)(row)


def _item(d: dict) -> Item:
    return Item(item_id=d["id"], title=d["title"], category=d.get("category") or "", brand=d.get("brand"),
                price=d.get("price"), description=d.get("description") or "", attributes=d.get("attributes") or {},
                image=d.get("image") or "")


# ---------------------------------------------------------------- building


def read_rows(path: Path) -> Iterator[tuple[int, Item | str]]:
    """(ordinal, Item or the reason it was rejected) per non-blank line of a JSONL file, streamed; the ordinal
    counts non-blank lines from 0 and is the row of the item's vector in a `.npy` next to the file."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        ordinal = 0
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield ordinal, item_from_row(json.loads(line))
            except (json.JSONDecodeError, InvalidRow) as e:
                yield ordinal, f"line {line_no}: {getattr(e, 'msg', None) or e}"
            ordinal += 1


def vectors_for(path: Path) -> np.ndarray | None:
    """The precomputed embeddings next to a catalog file (items.jsonl -> items.npy), memory-mapped; None if
    absent. Raises ValueError when their shape does not fit."""
    npy = Path(path).with_suffix(".npy")
    if not npy.exists():
        return None
    vectors = np.load(npy, mmap_mode="r")
    if vectors.ndim != 2 or vectors.shape[1] != DIM:
        raise ValueError(f"{npy}: embeddings must have shape (rows, {DIM}), not {vectors.shape}")
    return vectors


def build_shared_index(folder: Path | str, rows: Iterable[tuple[Item, np.ndarray]],
                       progress=None, seed: int = 0) -> dict:
    """Write a shared index folder from (item, unit vector) pairs, streamed: memory holds a few small columns
    per item, never the items or the matrix. A repeated id keeps its last row. Returns meta."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    say = progress or (lambda msg: None)
    cols = _Columns()
    with open(tmp / "vectors.tmp", "wb") as vf, open(tmp / "items.tmp", "wb") as jf:
        for item, vector in rows:
            vf.write(np.asarray(vector, dtype=np.float32).reshape(DIM).tobytes())
            line = json.dumps(item_to_dict(item), ensure_ascii=False).encode() + b"\n"
            cols.add(item, jf.tell(), len(line))
            jf.write(line)
            if cols.n % 100_000 == 0:
                say(f"read {cols.n:,} rows")
    n = cols.n
    flat = np.memmap(tmp / "vectors.tmp", dtype=np.float32, mode="r", shape=(max(n, 1), DIM))[:n]
    rng = np.random.default_rng(seed)
    sample = flat[np.sort(rng.choice(n, min(n, SAMPLE), replace=False))] if n else np.zeros((1, DIM), np.float32)
    say(f"k-means: {cell_count(n)} cells on {len(sample):,} rows")
    centroids = train_centroids(sample, cell_count(n), seed=seed)
    cells = assign_cells(flat, centroids)
    order = np.argsort(cells, kind="stable")  # new row -> old row
    ptr = np.zeros(len(centroids) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(cells, minlength=len(centroids)))
    capacity = n + max(10_000, int(n * SPARE))
    out = np.memmap(tmp / "vectors.f32", dtype=np.float32, mode="w+", shape=(capacity, DIM))
    centre = np.zeros(DIM, dtype=np.float64)
    for start in range(0, n, CHUNK):
        block = flat[np.sort(order[start:start + CHUNK])]  # sorted reads, then put back in cell order
        back = np.argsort(np.argsort(order[start:start + CHUNK]))
        out[start:start + len(block)] = block[back]
        centre += block.sum(axis=0)
        say(f"wrote {start + len(block):,} of {n:,} vectors")
    out.flush()
    del out, flat
    offsets_old = np.asarray(cols.offsets, dtype=np.int64)
    lengths_old = np.asarray(cols.lengths, dtype=np.int64)
    with open(tmp / "items.tmp", "rb") as src, open(tmp / "items.jsonl", "wb") as dst:
        for old in order:
            src.seek(offsets_old[old])
            dst.write(src.read(lengths_old[old]))
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    new_offsets[1:] = np.cumsum(lengths_old[order])
    np.save(tmp / "item_offsets.npy", new_offsets)
    new_of_old = np.empty(n, dtype=np.int64)
    new_of_old[order] = np.arange(n)
    meta = cols.write(tmp, order, new_of_old)
    np.save(tmp / "ivf_centroids.npy", centroids)
    np.save(tmp / "ivf_ptr.npy", ptr)
    meta.update(rows=n, capacity=capacity, dim=DIM, cells=len(centroids),
                centre=[float(x) for x in _unit(centre.astype(np.float32))])
    (tmp / "meta.json").write_text(json.dumps(meta))
    for name in ("vectors.tmp", "items.tmp"):
        os.remove(tmp / name)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return meta


class _Columns:
    """The small per-row columns collected while streaming (codes, prices, ids), written permuted at the end."""

    def __init__(self) -> None:
        self.n = 0
        self.offsets: list[int] = []
        self.lengths: list[int] = []
        self.ids: list[bytes] = []
        self.prices: list[float] = []
        self.unavailable: list[int] = []
        self.codes = {name: ({}, [], []) for name in ("category", "brand", "attribute")}  # name->code, rows, codes
        self.display = {"category": {}, "brand": {}}
        self.words: set[str] = set()

    def add(self, item: Item, offset: int, length: int) -> None:
        row = self.n
        self.n += 1
        self.offsets.append(offset)
        self.lengths.append(length)
        self.ids.append(item.item_id.encode())
        self.prices.append(np.nan if item.price is None else item.price)
        if not is_available(item):
            self.unavailable.append(row)
        for level in item.category_path:
            self._post("category", level.lower(), row)
            self.display["category"][level.lower()] = level
        if item.brand:
            self._post("brand", item.brand.lower(), row)
            self.display["brand"][item.brand.lower()] = item.brand
        for key, value in item.attributes.items():
            self._post("attribute", (key.lower(), value.lower()), row)
        if len(self.words) < 200_000:
            self.words.update(lexical_tokens(f"{item.title} {item.brand or ''} {item.category}"))

    def _post(self, field: str, name, row: int) -> None:
        codes, rows, values = self.codes[field]
        code = codes.setdefault(name, len(codes))
        rows.append(row)
        values.append(code)

    def write(self, folder: Path, order: np.ndarray, new_of_old: np.ndarray) -> dict:
        ids = np.array(self.ids, dtype=f"S{max((len(i) for i in self.ids), default=1)}")[order]
        by_id = np.argsort(ids, kind="stable")
        sorted_ids, rows = ids[by_id], by_id
        if len(sorted_ids) > 1:  # a repeated id: keep the later row (the last of equal keys after a stable sort)
            last = np.append(sorted_ids[1:] != sorted_ids[:-1], True)
            dup_rows = rows[~last]
            sorted_ids, rows = sorted_ids[last], rows[last]
        else:
            dup_rows = np.zeros(0, dtype=np.int64)
        np.save(folder / "ids_sorted.npy", sorted_ids)
        np.save(folder / "ids_rows.npy", rows.astype(np.int64))
        np.save(folder / "prices.npy", np.asarray(self.prices, dtype=np.float64)[order])
        gone = np.concatenate([new_of_old[np.asarray(self.unavailable, dtype=np.int64)], dup_rows])
        np.save(folder / "unavailable.npy", np.unique(gone).astype(np.int64))
        meta: dict = {}
        for field, (codes, rows_l, values_l) in self.codes.items():
            post_rows = new_of_old[np.asarray(rows_l, dtype=np.int64)]
            values = np.asarray(values_l, dtype=np.int64)
            by = np.lexsort((post_rows, values))
            ptr = np.zeros(len(codes) + 1, dtype=np.int64)
            ptr[1:] = np.cumsum(np.bincount(values, minlength=len(codes)))
            np.save(folder / f"post_{field}_ptr.npy", ptr)
            np.save(folder / f"post_{field}_rows.npy", post_rows[by])
            names = [None] * len(codes)
            for name, code in codes.items():
                names[code] = list(name) if isinstance(name, tuple) else name
            meta[f"{field}_names"] = names
        meta["category_display"] = sorted(self.display["category"].values())
        meta["brand_display"] = sorted(self.display["brand"].values())
        meta["vocabulary"] = sorted(self.words)
        return meta
