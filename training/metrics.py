"""Full-ranking leave-one-out metrics: Recall@k and NDCG@k with history items excluded, ties pessimistic."""

from __future__ import annotations

from typing import Callable

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


def evaluate_ranks(ranks: np.ndarray, ks: tuple[int, ...] = (10, 20)) -> dict[str, float]:
    """Recall@k (= hit rate, one target per row) and NDCG@k from 0-based ranks."""
    out = {}
    for k in ks:
        hit = ranks < k
        out[f"recall_at_{k}"] = float(hit.mean()) if len(ranks) else 0.0
        out[f"ndcg_at_{k}"] = float((hit / np.log2(ranks + 2)).mean()) if len(ranks) else 0.0
    return out


def rank_split(scorer: Scorer, split: Split, batch_size: int = 1024) -> np.ndarray:
    """Ranks of every row's target under `scorer`, scored in batches to bound memory."""
    ranks = []
    for start in range(0, len(split), batch_size):
        hist = split.histories[start:start + batch_size]
        scores = scorer(hist)
        ranks.append(target_ranks(scores, split.targets[start:start + batch_size], hist))
    return np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)
