"""A small learned re-ranker over the conversation model's shortlist (training/dialogue_interest.py).

The linear mix of signals finds most targets within its first few hundred items but orders them poorly: whether
co-mentions should outweigh the shopper's genre words depends on how much of each there is, which a weighted sum
cannot express. A two-layer network reads each shortlisted item's signals (and how the context looks: how many
movies were mentioned, whether genre words or names were said) and is trained listwise (softmax cross-entropy over
the shortlist, the recommended movies as targets) on held-out train turns. Inference is numpy only; the weights
are plain arrays saved with the model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

SHORTLIST = 400  # items of the linear mix the network re-orders
HIDDEN = 64


@dataclass
class Reranker:
    """Standardised features -> ReLU layer -> score. Arrays only, so saving is np.savez."""

    mean: np.ndarray
    std: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = (features - self.mean) / self.std
        return np.maximum(x @ self.w1 + self.b1, 0.0) @ self.w2 + self.b2

    def arrays(self) -> dict[str, np.ndarray]:
        """For np.savez (prefix rerank_)."""
        return {"rerank_mean": self.mean, "rerank_std": self.std, "rerank_w1": self.w1, "rerank_b1": self.b1,
                "rerank_w2": self.w2, "rerank_b2": np.array([self.b2], np.float32)}

    @classmethod
    def from_arrays(cls, arrays) -> Reranker | None:
        """The re-ranker saved in `arrays`, or None when the model was saved without one."""
        if "rerank_w1" not in arrays:
            return None
        return cls(arrays["rerank_mean"], arrays["rerank_std"], arrays["rerank_w1"], arrays["rerank_b1"],
                   arrays["rerank_w2"], float(arrays["rerank_b2"][0]))


def shortlist_features(signals: dict[str, np.ndarray], names: Sequence[str], linear: np.ndarray,
                       rows: np.ndarray, context: Sequence[float]) -> np.ndarray:
    """(len(rows), F) features: each signal, the linear score and its rank, and the context's shape."""
    cols = [signals[n][rows] for n in names]
    cols.append(linear[rows])
    cols.append(np.log1p(np.arange(len(rows), dtype=np.float32)))
    feats = np.stack(cols, axis=1).astype(np.float32)
    ctx = np.broadcast_to(np.asarray(context, np.float32), (len(rows), len(context)))
    return np.concatenate([feats, ctx], axis=1)


def fit_reranker(lists: list[tuple[np.ndarray, list[int]]], seed: int = 0, epochs: int = 30,
                 log: Callable[[str], None] = print) -> tuple[Reranker, dict]:
    """Train on (features of a shortlist, positions of its targets) lists; 20% held out to pick the epoch.

    Returns the re-ranker and held-out Recall@1/10/50 within the shortlists before (linear order) and after."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    lists = [item for item in lists if item[1]]
    rng.shuffle(lists)
    cut = max(1, len(lists) // 5)
    held, train = lists[:cut], lists[cut:]
    allx = np.concatenate([x for x, _ in train])
    mean, std = allx.mean(axis=0), allx.std(axis=0) + 1e-6
    feats = allx.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(feats, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
    tx = [torch.from_numpy((x - mean) / std) for x, _ in train]

    def export() -> Reranker:
        w = [p.detach().numpy().copy() for p in net.parameters()]
        return Reranker(mean.astype(np.float32), std.astype(np.float32), w[0].T.copy(), w[1], w[2][0].copy(),
                        float(w[3][0]))

    def held_recall(model: Reranker | None) -> dict[str, float]:
        ranks = []
        for x, targets in held:
            order = np.argsort(-model(x), kind="stable") if model else np.arange(len(x))
            where = {int(r): n for n, r in enumerate(order)}
            ranks += [where[t] for t in targets]
        r = np.array(ranks)
        return {f"recall_at_{k}": round(float((r < k).mean()), 4) for k in (1, 10, 50)}

    before = held_recall(None)
    best, best_score, best_epoch = export(), -1.0, 0
    for epoch in range(epochs):
        net.train()
        order = list(range(len(train)))
        rng.shuffle(order)
        for start in range(0, len(order), 32):
            opt.zero_grad()
            loss = torch.zeros(())
            for i in order[start:start + 32]:
                logits = net(tx[i]).squeeze(1)
                targets = train[i][1]
                loss = loss + (torch.logsumexp(logits, 0) - logits[targets].mean())
            (loss / 32).backward()
            opt.step()
        model = export()
        rec = held_recall(model)
        score = rec["recall_at_1"] + rec["recall_at_10"] + rec["recall_at_50"]
        if score > best_score:
            best, best_score, best_epoch = model, score, epoch + 1
    after = held_recall(best)
    log(f"  re-ranker: held-out shortlist recall {before} -> {after} (epoch {best_epoch})")
    return best, {"held_out_before": before, "held_out_after": after, "epochs": best_epoch,
                  "train_lists": len(train), "held_lists": len(held)}
