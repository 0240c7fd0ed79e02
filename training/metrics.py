"""Ranking metrics, the one home for them (training and evals): ranks with pessimistic ties, Recall@k, NDCG@k.

Full-ranking leave-one-out for the interest model (history items excluded), ReDial-style ranks over a catalog,
and recall of ranked id lists all count ties against the target: every competitor scoring at least as much
ranks above it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from training.data import Split

# scorer(histories) -> (len(histories), n_items) scores; higher is better
Scorer = Callable[[list[list[int]]], np.ndarray]


def target_ranks(scores: np.ndarray, targets: np.ndarray, histories: list[list[int]]) -> np.ndarray:
    """0-based rank of each target among all items once the row's history items are removed.

    scores: (b, n_items); targets: (b,). Ties count against the target (pessimistic). A target that is also in
    its history stays rankable (the history mask spares it), so repeat purchases are not free misses.
    """
    scores = np.array(scores, dtype=np.float32, copy=True)
    rows = np.arange(len(targets))
    t_score = scores[rows, targets].copy()
    for r, hist in enumerate(histories):
        if hist:
            scores[r, hist] = -np.inf
    scores[rows, targets] = -np.inf  # the target itself is not its own competitor
    t_score = np.nan_to_num(t_score, nan=-np.inf)
    return (scores >= t_score[:, None]).sum(axis=1)


def rank_of(scores: np.ndarray, row: int) -> int:
    """0-based rank of `scores[row]` in a 1-D score vector, ties pessimistic (an equal score ranks above it).

    Rows to leave out (already-mentioned items) are set to -inf by the caller; the dtype is left as it is.
    """
    return int((scores >= scores[row]).sum()) - 1  # the row itself is counted once by >=


def recall_at(ranks: np.ndarray, k: int) -> float:
    """Recall@k (= hit rate, one target per row) from 0-based ranks; 0 when there are none."""
    ranks = np.asarray(ranks)
    return float((ranks < k).mean()) if len(ranks) else 0.0


def ndcg_at(ranks: np.ndarray, k: int) -> float:
    """NDCG@k with one relevant item per row (ideal DCG 1) from 0-based ranks; 0 when there are none."""
    ranks = np.asarray(ranks)
    return float(((ranks < k) / np.log2(ranks + 2)).mean()) if len(ranks) else 0.0


def recall_at_k(ranked: Sequence[Sequence[str]], targets: Sequence[str], k: int) -> float:
    """Share of rows whose target is among the first k of its ranked list of ids (a missing target never is)."""
    ranks = [list(r).index(t) if t in r else np.inf for r, t in zip(ranked, targets)]  # first occurrence, 0-based
    return recall_at(np.array(ranks, dtype=np.float64), k)


def evaluate_ranks(ranks: np.ndarray, ks: tuple[int, ...] = (10, 20)) -> dict[str, float]:
    """Recall@k and NDCG@k for each k from 0-based ranks."""
    out = {}
    for k in ks:
        out[f"recall_at_{k}"] = recall_at(ranks, k)
        out[f"ndcg_at_{k}"] = ndcg_at(ranks, k)
    return out


def rank_split(scorer: Scorer, split: Split, batch_size: int = 1024) -> np.ndarray:
    """Ranks of every row's target under `scorer`, scored in batches to bound memory."""
    ranks = []
    for start in range(0, len(split), batch_size):
        hist = split.histories[start:start + batch_size]
        scores = scorer(hist)
        ranks.append(target_ranks(scores, split.targets[start:start + batch_size], hist))
    return np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
