"""Two signals of the conversation interest model that generalise past the exact pairs seen in train dialogues.

* `ItemEmbedding`: movies placed in a 64-dimensional space by a truncated SVD of the positive PMI of their
  co-mentions, so two movies never talked about together still score by the company they keep ("the shopper liked
  A; A is talked about with the films that B is talked about with"). A movie no train dialogue mentions has no
  vector and scores 0.
* `TurnMemory`: every recommender turn of the train dialogues, kept as the MiniLM vector of what the seeker had
  said and the movies the recommender then brought up. A new context votes for the movies recommended after the
  K most similar things said ("something scary but not gory" -> what recommenders answered to shoppers who said
  that). Raw similarity of the words to plot text is weak (shoppers describe moods, plots describe stories); what
  recommenders answered to the same words is not.

Both are fitted on train dialogues only and stored with the model (training/dialogue_interest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import svds

DIM = 64  # item embedding size
NEIGHBOURS = 200  # train turns that vote for a context
RECENCY = 0.7  # same decay as the co-mention signals: a mention k steps back weighs RECENCY**k


@dataclass
class ItemEmbedding:
    """(n, DIM) unit vectors, rows = the model's items; `known` marks rows that have one."""

    vectors: np.ndarray
    known: np.ndarray

    @classmethod
    def fit(cls, mentions: Iterable[Sequence[int]], n: int, dim: int = DIM) -> ItemEmbedding:
        """From the rows mentioned in each train dialogue (any order)."""
        rows, cols = [], []
        for seen in mentions:
            distinct = list(dict.fromkeys(seen))
            rows.extend(a for a in distinct for b in distinct if a != b)
            cols.extend(b for a in distinct for b in distinct if a != b)
        counts = sparse.csr_matrix((np.ones(len(rows), np.float64), (rows, cols)), shape=(n, n)).tocoo()
        if counts.nnz < dim * 2:
            return cls(np.zeros((n, dim), np.float32), np.zeros(n, bool))
        total, per_row = counts.sum(), np.asarray(counts.sum(axis=1)).ravel()
        pmi = np.log(counts.data * total / (per_row[counts.row] * per_row[counts.col]))
        keep = pmi > 0
        ppmi = sparse.csr_matrix((pmi[keep], (counts.row[keep], counts.col[keep])), shape=(n, n))
        u, s, _ = svds(ppmi, k=dim, random_state=0)
        vectors = u * np.sqrt(s)
        norms = np.linalg.norm(vectors, axis=1)
        known = norms > 1e-6
        vectors[known] /= norms[known, None]
        return cls(vectors.astype(np.float32), known)

    def signal(self, rows: Sequence[int]) -> np.ndarray:
        """(n,) 0..1: closeness to the mentioned rows (most recent last, weighted up)."""
        rows = [r for r in rows if self.known[r]]
        if not rows:
            return np.zeros(len(self.known), np.float32)
        weights = np.array([RECENCY ** k for k in range(len(rows))][::-1], np.float32)
        scores = np.clip(self.vectors @ (weights[:, None] * self.vectors[rows]).sum(axis=0), 0.0, None)
        top = float(scores.max())
        return (scores / top).astype(np.float32) if top > 0 else scores.astype(np.float32)

    def remapped(self, remap: np.ndarray, n: int) -> ItemEmbedding:
        """Onto a changed catalog: remap[old row] = new row or -1."""
        vectors, known = np.zeros((n, self.vectors.shape[1]), np.float32), np.zeros(n, bool)
        keep = remap >= 0
        vectors[remap[keep]] = self.vectors[keep]
        known[remap[keep]] = self.known[keep]
        return ItemEmbedding(vectors, known)


@dataclass
class TurnMemory:
    """What seekers said before a recommendation (unit vectors) and the rows then recommended (CSR lists)."""

    vectors: np.ndarray  # (m, 384) float32
    indptr: np.ndarray  # (m + 1,) into rows
    rows: np.ndarray  # recommended rows, turn by turn
    n: int

    @classmethod
    def fit(cls, turns: Sequence[tuple[str, Sequence[int]]], n: int,
            embed: Callable[[list[str]], np.ndarray]) -> TurnMemory:
        """From (what the seeker had said, rows recommended next) of train turns; turns with no words are skipped."""
        kept = [(said, rows) for said, rows in turns if said.strip() and rows]
        vectors = embed([said[:2000] for said, _ in kept]) if kept else np.zeros((0, 384), np.float32)
        indptr = np.cumsum([0, *(len(rows) for _, rows in kept)]).astype(np.int64)
        flat = np.array([r for _, rows in kept for r in rows], np.int64)
        return cls(np.asarray(vectors, np.float32), indptr, flat, n)

    def signal(self, said: str, vector: np.ndarray | None, k: int = NEIGHBOURS) -> np.ndarray:
        """(n,) 0..1: votes of the k most similar train turns, each weighted by its similarity."""
        out = np.zeros(self.n, np.float32)
        if vector is None or not said.strip() or not len(self.vectors):
            return out
        sims = self.vectors @ np.asarray(vector, np.float32)
        k = min(k, len(sims))
        near = np.argpartition(-sims, k - 1)[:k]
        for j in near:
            if sims[j] > 0:
                out[self.rows[self.indptr[j]:self.indptr[j + 1]]] += sims[j]
        top = float(out.max())
        return out / top if top > 0 else out

    def remapped(self, remap: np.ndarray, n: int) -> TurnMemory:
        """Onto a changed catalog: recommended rows the catalog lost are dropped."""
        new = remap[self.rows]
        keep = new >= 0
        counts = np.add.reduceat(keep.astype(np.int64), self.indptr[:-1]) if len(self.rows) else \
            np.zeros(len(self.vectors), np.int64)
        counts[np.diff(self.indptr) == 0] = 0
        return TurnMemory(self.vectors, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), new[keep], n)

    def arrays(self) -> dict[str, np.ndarray]:
        """For np.savez: vectors as int8 (unit vectors, 1/127 steps), the lists as int32."""
        return {"memory_vectors": np.round(self.vectors * 127).astype(np.int8),
                "memory_indptr": self.indptr.astype(np.int64), "memory_rows": self.rows.astype(np.int32)}

    @classmethod
    def from_arrays(cls, arrays, n_old: int) -> TurnMemory | None:
        if "memory_vectors" not in arrays:
            return None
        vectors = arrays["memory_vectors"].astype(np.float32) / 127.0
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        return cls(vectors, arrays["memory_indptr"].astype(np.int64), arrays["memory_rows"].astype(np.int64), n_old)
