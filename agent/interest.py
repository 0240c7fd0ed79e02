"""Adapter to the trained interest model (training/), degrading to an embedding centroid when there is none.

The shipped checkpoint covers the Amazon catalog only; for any other catalog (or before a checkpoint exists)
the shopper's interest is the mean embedding of liked items (counted twice) and purchase history.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.search import CatalogIndex
from training.artifacts import find
from training.interest import InterestModel

log = logging.getLogger(__name__)


class InterestScorer:
    """Interest scores for the current shopper over catalog items; `model` is None in centroid mode."""

    def __init__(self, index: CatalogIndex, model=None):
        self.index = index
        self.model = model

    @property
    def name(self) -> str:
        """"interest-model" or "centroid", for describe() and logs."""
        return "interest-model" if self.model is not None else "centroid"

    def user_vector(self, history: Sequence[str], liked: Sequence[str] = (),
                    disliked: Sequence[str] = ()) -> np.ndarray | None:
        """The shopper's interest as a unit (384,) vector in catalog embedding space; None with no signal."""
        known = [i for i in [*history, *liked] if i in self.index.position]
        if not known:
            return None
        if self.model is not None:
            try:
                return np.asarray(self.model.user_vector(list(history), liked=list(liked),
                                                         disliked=list(disliked)), dtype=np.float32)
            except Exception as e:  # a model bug must not take the chat down; the centroid is a fair answer
                log.warning("interest model failed, using the centroid: %s", e)
        rows = [self.index.position[i] for i in history if i in self.index.position]
        rows += 2 * [self.index.position[i] for i in liked if i in self.index.position]
        vec = self.index.embeddings[rows].mean(axis=0)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else None

    def scores(self, candidate_ids: Sequence[str], history: Sequence[str], liked: Sequence[str] = (),
               disliked: Sequence[str] = ()) -> np.ndarray | None:
        """Interest in each candidate scaled to 0..1 (rank-based for the model); None with no signal."""
        if not candidate_ids:
            return None
        if self.model is not None and any(i in self.index.position for i in [*history, *liked]):
            try:
                raw = np.asarray(self.model.score(list(history), list(candidate_ids), liked=list(liked),
                                                  disliked=list(disliked)), dtype=np.float64)
                finite = np.isfinite(raw)
                if finite.any():
                    # Log-probabilities are only comparable within a call: use ranks, unknown items at 0.
                    ranks = np.zeros(len(raw))
                    order = np.argsort(raw[finite])
                    ranks[np.flatnonzero(finite)[order]] = (np.arange(finite.sum()) + 1) / finite.sum()
                    return ranks
            except Exception as e:
                log.warning("interest model failed, using the centroid: %s", e)
        vec = self.user_vector(history, liked, disliked)
        if vec is None:
            return None
        rows = [self.index.position[i] for i in candidate_ids]
        return np.clip(self.index.embeddings[rows] @ vec, 0.0, 1.0).astype(np.float64)


def checkpoint_dir(collection: str, configured: Path | None) -> Path | None:
    """The checkpoint to use: the configured one, else the shipped one for this catalog, else None."""
    if configured is not None:
        return Path(configured)
    shipped = find("interest", catalog=collection)
    return shipped.folder if shipped else None


@lru_cache(maxsize=4)
def _load(path: str) -> InterestModel:
    return InterestModel.load(path)


def load_interest(index: CatalogIndex, collection: str, configured: Path | None = None) -> InterestScorer:
    """An InterestScorer with the trained model when its checkpoint exists and covers this catalog."""
    path = checkpoint_dir(collection, configured)
    if path is None or not (path / "config.json").exists():
        return InterestScorer(index)
    try:
        model = _load(str(path))
    except Exception as e:  # missing torch extras, format change, half-written checkpoint: say so, keep going
        log.warning("interest checkpoint %s not usable (%s); using the embedding centroid", path, e)
        return InterestScorer(index)
    overlap = sum(1 for i in model.item_ids[:500] if i in index.position)
    if overlap < min(50, len(model.item_ids) // 2):
        log.warning("interest checkpoint %s is for another catalog; using the embedding centroid", path)
        return InterestScorer(index)
    return InterestScorer(index, model)
