"""Item-to-item co-occurrence kNN: the tuned baseline of BASELINES.md and the collaborative half of our model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.metrics import evaluate_ranks, rank_split


@dataclass(frozen=True)
class KnnParams:
    """How co-occurrence is counted and how a history is turned into scores (tuned on the valid split)."""

    gap_decay: float = 0.5   # a pair j-i positions apart counts gap_decay**(j-i-1)
    backward: float = 0.5    # weight of "b came before a" relative to "a came before b"
    recency: float = 0.5     # the k-th most recent history item (k=0 newest) weighs recency**k
    last_n: int = 5          # history items used
    pop_norm: float = 0.0    # divide a neighbour's score by its count**pop_norm (dampens hubs)


def cooccurrence(sequences: list[list[int]], n_items: int, params: KnnParams) -> np.ndarray:
    """Dense (n_items, n_items) float32 similarity: sim[a, b] = forward(a->b) + backward * forward(b->a)."""
    fwd = np.zeros(n_items * n_items, dtype=np.float64)
    for seq in sequences:
        s = np.asarray(seq, dtype=np.int64)
        if len(s) < 2:
            continue
        i, j = np.triu_indices(len(s), k=1)  # all ordered pairs i < j in the sequence
        w = params.gap_decay ** (j - i - 1)
        np.add.at(fwd, s[i] * n_items + s[j], w)
    fwd = fwd.reshape(n_items, n_items)
    sim = fwd + params.backward * fwd.T
    np.fill_diagonal(sim, 0.0)
    if params.pop_norm:
        counts = np.bincount(np.concatenate([np.asarray(s) for s in sequences if s] or [np.zeros(0, int)]),
                             minlength=n_items).astype(np.float64)
        sim /= np.maximum(counts, 1.0)[None, :] ** params.pop_norm
    return sim.astype(np.float32)


def knn_scores(sim: np.ndarray, histories: list[list[int]], params: KnnParams) -> np.ndarray:
    """Scores (len(histories), n_items): recency-weighted sum of the last `last_n` history items' rows."""
    out = np.zeros((len(histories), sim.shape[0]), dtype=np.float32)
    for r, hist in enumerate(histories):
        recent = [i for i in hist if 0 <= i < sim.shape[0]][::-1][:params.last_n]  # newest first
        for k, item in enumerate(recent):
            out[r] += (params.recency ** k) * sim[item]
    return out


def prune_topk(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each item's k strongest neighbours: (indices (n, k) int32, values (n, k) float32, 0 = none)."""
    k = min(k, sim.shape[1])
    idx = np.argpartition(-sim, k - 1, axis=1)[:, :k].astype(np.int32)
    val = np.take_along_axis(sim, idx, axis=1)
    return idx, val.astype(np.float32)


def densify(idx: np.ndarray, val: np.ndarray, n_items: int) -> np.ndarray:
    """Inverse of prune_topk: the (n_items, n_items) matrix with only the kept neighbours."""
    sim = np.zeros((n_items, n_items), dtype=np.float32)
    np.put_along_axis(sim, idx.astype(np.int64), val.astype(np.float32), axis=1)
    return sim


def tune_knn(sequences: list[list[int]], split, n_items: int, grid: list[KnnParams],
             log=None) -> tuple[KnnParams, dict[str, float]]:
    """The params in `grid` with the best valid NDCG@10 (stats from `sequences`, which exclude valid targets)."""
    best, best_m, cache = grid[0], {"ndcg_at_10": -1.0}, {}
    for p in grid:
        key = (p.gap_decay, p.backward, p.pop_norm)
        if key not in cache:
            cache = {key: cooccurrence(sequences, n_items, p)}  # one matrix at a time: 77 MB each
        m = evaluate_ranks(rank_split(lambda h: knn_scores(cache[key], h, p), split), (10,))
        if log:
            log(f"knn {p} -> recall@10={m['recall_at_10']:.4f} ndcg@10={m['ndcg_at_10']:.4f}")
        if m["ndcg_at_10"] > best_m["ndcg_at_10"]:
            best, best_m = p, m
    return best, best_m


def default_grid() -> list[KnnParams]:
    """A small grid around the values that won on valid (18 settings, about 40 s on 2 cores)."""
    return [KnnParams(g, b, r, 5, 0.0) for g in (0.6, 0.75, 0.9) for b in (0.75, 1.0) for r in (0.75, 0.9, 1.0)]
