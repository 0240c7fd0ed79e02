"""An inverted-file (IVF) vector index over a memory-mapped matrix whose rows are stored list by list.

k-means cells partition the unit vectors; the rows of cell c sit contiguously at rows[ptr[c]:ptr[c+1]], so a
query scores its nearest cells as plain slices of the mapped file (no copy, no gather) and every worker process
shares the same pages. With a filter, only the allowed rows of each cell are scored, and more cells are probed
until enough allowed rows were seen: the nearest allowed items of a narrow filter lie further away.
"""

from __future__ import annotations

import numpy as np

NPROBE = 32  # cells probed for an unfiltered query (of about sqrt(n)); tuned for recall@20 >= 0.95 (evals/SCALE.md)
MIN_SEEN = 3_000  # a filtered query keeps probing until it has scored at least this many allowed rows
MAX_CELL_SHARE = 0.25  # ... but never probes more than this share of the cells


def cell_count(n: int) -> int:
    """Cells for n rows: about sqrt(n) (1,000 at 10^6), at least 1."""
    return max(1, round(float(np.sqrt(max(n, 1)))))


def train_centroids(sample: np.ndarray, cells: int, iterations: int = 8, seed: int = 0) -> np.ndarray:
    """Spherical k-means on a sample of unit rows; returns (cells, dim) unit centroids."""
    rng = np.random.default_rng(seed)
    sample = np.asarray(sample, dtype=np.float32)
    cells = min(cells, len(sample))
    centroids = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(iterations):
        assign = assign_cells(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        empty = np.bincount(assign, minlength=cells) == 0
        sums[empty] = sample[rng.choice(len(sample), int(empty.sum()), replace=False)]  # reseed empty cells
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


def assign_cells(vectors: np.ndarray, centroids: np.ndarray, chunk: int = 20_000) -> np.ndarray:
    """The nearest centroid (by cosine) of each row, in chunks so memory stays bounded; shape (n,)."""
    out = np.empty(len(vectors), dtype=np.int32)
    for start in range(0, len(vectors), chunk):
        block = np.asarray(vectors[start:start + chunk], dtype=np.float32)
        out[start:start + len(block)] = np.argmax(block @ centroids.T, axis=1)
    return out


def search_cells(vectors: np.ndarray, centroids: np.ndarray, ptr: np.ndarray, query: np.ndarray, k: int,
                 allowed: np.ndarray | None = None, nprobe: int = NPROBE,
                 min_seen: int = MIN_SEEN) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of about the k best allowed rows, best first. `vectors` rows are ordered by cell (ptr)."""
    order = np.argsort(-(centroids @ query))
    cap = max(nprobe, int(len(centroids) * MAX_CELL_SHARE))
    rows_out: list[np.ndarray] = []
    scores_out: list[np.ndarray] = []
    seen = 0
    for probed, cell in enumerate(order):
        if probed >= nprobe and (allowed is None or seen >= min_seen or probed >= cap):
            break
        lo, hi = int(ptr[cell]), int(ptr[cell + 1])
        if hi <= lo:
            continue
        if allowed is None:
            rows = np.arange(lo, hi)
            scores = vectors[lo:hi] @ query
        else:
            rows = np.flatnonzero(allowed[lo:hi]) + lo
            if not len(rows):
                continue
            # a narrow filter leaves a few rows per cell: gathering them beats scoring the whole slice
            scores = vectors[rows] @ query if len(rows) * 4 < hi - lo else (vectors[lo:hi] @ query)[rows - lo]
        seen += len(rows)
        rows_out.append(rows)
        scores_out.append(scores)
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return top_k(np.concatenate(rows_out), np.concatenate(scores_out), k)


def top_k(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores), best first."""
    if len(rows) > k:
        part = np.argpartition(-scores, k)[:k]
        rows, scores = rows[part], scores[part]
    order = np.argsort(-scores, kind="stable")
    return rows[order], scores[order]
