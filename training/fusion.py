"""Late fusion of the sequence model with co-occurrence kNN: a mixture of two next-item distributions."""

from __future__ import annotations

import numpy as np

from training.data import Split
from training.metrics import evaluate_ranks, target_ranks

EPS = 1e-9


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (b, n) logits."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def knn_distribution(knn: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """kNN scores (b, n) as a distribution; rows with no co-occurring item fall back to `fallback` (n,)."""
    total = knn.sum(axis=-1, keepdims=True)
    return np.where(total > 0, knn / np.maximum(total, EPS), fallback[None, :])


def mix(neural_logits: np.ndarray, knn: np.ndarray, weight: float, fallback: np.ndarray) -> np.ndarray:
    """log((1 - weight) * softmax(neural) + weight * knn / sum(knn)): (b, n) fused log-probabilities."""
    p = (1.0 - weight) * softmax(neural_logits) + weight * knn_distribution(knn, fallback)
    return np.log(p + EPS)


def tune_weight(neural_logits: np.ndarray, knn: np.ndarray, split: Split, fallback: np.ndarray,
                grid: tuple[float, ...] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)) -> tuple[float, dict[str, dict]]:
    """The kNN weight with the best NDCG@10 on `split` (rows aligned with the score matrices)."""
    results = {}
    for w in grid:
        ranks = target_ranks(mix(neural_logits, knn, w, fallback), split.targets, split.histories)
        results[w] = evaluate_ranks(ranks, (10,))
    best = max(results, key=lambda w: results[w]["ndcg_at_10"])
    return best, {str(w): m for w, m in results.items()}
