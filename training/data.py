"""Interaction sequences of the Amazon 2018 Scientific benchmark as catalog `Item` ids, and item text vectors."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.catalogs import (
    AMAZON_DEPARTMENTS,
    AMAZON_DIR,
    amazon_index_to_asin,
    amazon_items,
)
from retrieval.embed import DIM, Embedder, shared_embedder
from retrieval.items import Item

CATALOG_NAME = "amazon2018-industrial-scientific"
MAX_HISTORY = 50  # the dataset caps histories at the last 50 items; so do we
COLD_MAX = 5  # an item with at most this many training interactions is cold (the benchmark's cold-item slice)


class DataMissing(FileNotFoundError):
    """The shared interaction data is not where we looked."""


@dataclass(frozen=True)
class Split:
    """Leave-one-out rows: `histories[u]` (item indices, oldest first) is followed by `targets[u]`."""

    users: list[int]
    histories: list[list[int]]
    targets: np.ndarray  # (n,) int64

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, rows: np.ndarray | list[int]) -> "Split":
        """The rows at the given positions."""
        return Split([self.users[r] for r in rows], [self.histories[r] for r in rows], self.targets[np.asarray(rows)])


@dataclass(frozen=True)
class Interactions:
    """A catalog in a fixed index order plus its valid/test leave-one-out splits.

    Training sequences are the valid histories (everything before the 2nd-to-last item); statistics for the test
    run may use the test histories (train + valid interactions), never a test target.
    """

    items: list[Item]  # items[i] has integer index i in every sequence
    valid: Split
    test: Split
    data_dir: Path

    @property
    def item_ids(self) -> list[str]:
        return [it.item_id for it in self.items]

    def train_sequences(self) -> list[list[int]]:
        """Sequences to learn from when validating: the valid histories (no valid or test target)."""
        return self.valid.histories

    def head(self, n_users: int) -> "Interactions":
        """The first `n_users` users with the catalog cut to the items they touch, re-indexed (small test slices)."""
        rows = list(range(min(n_users, len(self.valid))))
        used = sorted({i for s in (self.valid, self.test) for r in rows for i in s.histories[r] + [int(s.targets[r])]})
        remap = {old: new for new, old in enumerate(used)}

        def cut(split: Split) -> Split:
            return Split([split.users[r] for r in rows], [[remap[i] for i in split.histories[r]] for r in rows],
                         np.array([remap[int(split.targets[r])] for r in rows], dtype=np.int64))
        return Interactions([self.items[i] for i in used], cut(self.valid), cut(self.test), self.data_dir)

    def full_sequences(self) -> list[list[int]]:
        """Sequences to learn from for the test run / serving: the valid histories plus the valid target."""
        return [h + [int(t)] for h, t in zip(self.valid.histories, self.valid.targets)]


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The shared data folder: the argument, else ../shared/data next to the repo; raise DataMissing if absent."""
    candidates = [Path(data_dir)] if data_dir else [Path(__file__).resolve().parents[2] / "shared" / "data"]
    for c in candidates:
        if (c / AMAZON_DIR / "unisrec_scientific").is_dir():
            return c
    raise DataMissing(f"No {AMAZON_DIR}/unisrec_scientific under {candidates[0]}. "
                      "Pass --data-dir or set CONVREC_DATA to the folder holding the shared datasets.")


def load_amazon(data_dir: Path | str | None = None, max_users: int | None = None) -> Interactions:
    """Load the 4,385 items and 8,442 users' valid/test rows; `max_users` keeps the first users (for tests)."""
    root = resolve_data_dir(data_dir)
    asins = amazon_index_to_asin(root)
    by_asin = {it.item_id: it for it in amazon_items(root)}
    items = [by_asin[a] for a in asins]
    folder = root / AMAZON_DIR / "unisrec_scientific"
    valid = _read_split(folder / "Scientific.valid.inter.gz", max_users)
    test = _read_split(folder / "Scientific.test.inter.gz", max_users)
    assert valid.users == test.users, "valid and test rows must list the same users in the same order"
    return Interactions(items=items, valid=valid, test=test, data_dir=root)


def _read_split(path: Path, max_users: int | None) -> Split:
    users, histories, targets = [], [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        next(f)  # RecBole header
        for line in f:
            user, hist, target = line.rstrip("\n").split("\t")
            users.append(int(user))
            histories.append([int(x) for x in hist.split()][-MAX_HISTORY:])
            targets.append(int(target))
    order = np.argsort(users, kind="stable")[:max_users]
    return Split([users[i] for i in order], [histories[i] for i in order], np.asarray(targets)[order])


def item_text_vectors(items: list[Item], embedder: Embedder | None = None,
                      cache_dir: Path | None = None) -> np.ndarray:
    """MiniLM vectors (n, 384), L2-normalised, of `Item.text()`; cached in `cache_dir` by content hash."""
    texts = [it.text() for it in items]
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"item-text-{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        vecs = np.load(path)
        if vecs.shape == (len(items), DIM):
            return vecs
    if embedder is None:
        embedder = shared_embedder()
    vecs = embedder.encode(texts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vecs)
    return vecs


def item_scenes(items: list[Item]) -> tuple[np.ndarray, list[str]]:
    """Each item's scene, its top-level department: (indices (n,) int64, scene names); items without one get the
    last index, len(names), which is never a scene a shopper moves to."""
    names = list(AMAZON_DEPARTMENTS)
    where = {name: i for i, name in enumerate(names)}
    idx = [where.get(it.category_path[1], len(names)) if len(it.category_path) > 1 else len(names) for it in items]
    return np.asarray(idx, dtype=np.int64), names


def cross_scene_rows(split: Split, scene: np.ndarray, unknown: int) -> np.ndarray:
    """Boolean mask (len(split),): the target is in a scene none of the row's history items is in."""
    return np.array([scene[t] != unknown and scene[t] not in set(scene[h].tolist())
                     for h, t in zip(split.histories, split.targets)], dtype=bool)
