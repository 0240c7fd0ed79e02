"""The catalog's interest model, as the agent's ranking sees it: one interface over every kind of checkpoint.

A catalog's checkpoint is found by name (training/artifacts.py) or configured, and read by its `format`:
- "convrec-interest": the sequence model trained on purchase sequences (Amazon: `training/interest.py`);
- "convrec-dialogue-interest": the conversation model trained on dialogues + ratings (movies:
  `training/dialogue_interest.py`), which also reads what the shopper said (genre words, names, meaning).
Both score the whole catalog from (history, liked, rejected, what was said); the ranking mixes that in with the
search score (agent/tools.py) and takes the model's best items as candidates too. Without a checkpoint the
shopper's interest is the mean embedding of liked items (counted twice) and purchase history.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.search import CatalogIndex
from training.artifacts import find
from training.dialogue_interest import FORMAT as DIALOGUE_FORMAT, DialogueInterest
from training.interest import InterestModel

log = logging.getLogger(__name__)
SEQUENCE_WEIGHT = 0.6  # relevance += weight x interest (0..1) for the sequence model, by rank among candidates
DIALOGUE_WEIGHT = 8.0  # the conversation model's scores (0..1 over the catalog) lead: it reads the words too; chosen
# on 250 held-out train dialogues replayed through the agent (weight 2 / 4 / 8 with kind boost 0 / 0.3 / 0.3:
# Recall@10 .199 / .212 / .218; the fold's model alone .221)
LINK_TOP = 20  # a pick "follows from" a bought or liked item when it is among that item's 20 strongest links


class InterestScorer:
    """Interest scores for the current shopper over catalog items; `model` is None in centroid mode."""

    def __init__(self, index: CatalogIndex, model=None):
        self.index = index
        self.model = model
        self._cache: OrderedDict[tuple, np.ndarray | None] = OrderedDict()
        self._rows: np.ndarray | None = None  # model row of each catalog row (-1: the model lacks it)
        if model is not None and not isinstance(model, DialogueInterest):
            rows = np.array([model.index.get(i.item_id, -1) for i in index.items], dtype=np.int64)
            self._rows = rows

    @property
    def name(self) -> str:
        """"interest-model" (purchase sequences), "dialogue-model" (conversations) or "centroid"."""
        if self.model is None:
            return "centroid"
        return "dialogue-model" if self.reads_words else "interest-model"

    @property
    def reads_words(self) -> bool:
        """Whether the model reads what the shopper said (then it scores even before any like or purchase)."""
        return isinstance(self.model, DialogueInterest)

    @property
    def weight(self) -> float:
        """How much interest counts against the search score (agent/tools.py)."""
        return DIALOGUE_WEIGHT if self.reads_words else SEQUENCE_WEIGHT

    def catalog_scores(self, history: Sequence[str], liked: Sequence[str] = (), disliked: Sequence[str] = (),
                       said: str = "") -> np.ndarray | None:
        """The model's raw scores over the catalog's rows (-inf where it has none); None with no model/signal."""
        if self.model is None:
            return None
        known = [i for i in [*history, *liked] if i in self.index.position]
        if not known and not (self.reads_words and said.strip()):
            return None
        key = (tuple(history), tuple(liked), tuple(disliked), said if self.reads_words else "")
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            if self.reads_words:
                raw = self.model.score_all(list(history), said or None, liked=list(liked), disliked=list(disliked))
            else:
                full = np.asarray(self.model.score_all(list(history), liked=list(liked), disliked=list(disliked)),
                                  dtype=np.float64)
                raw = np.where(self._rows >= 0, full[np.maximum(self._rows, 0)], -np.inf)
            raw = np.asarray(raw, dtype=np.float64)
        except Exception as e:  # a model bug must not take the chat down; the centroid is a fair answer
            log.warning("interest model failed, using the centroid: %s", e)
            raw = None
        self._cache[key] = raw
        if len(self._cache) > 32:
            self._cache.popitem(last=False)
        return raw

    def best(self, history: Sequence[str], liked: Sequence[str] = (), disliked: Sequence[str] = (),
             said: str = "", k: int = 100) -> list[str]:
        """The model's k best catalog item ids (candidates the search words alone would miss)."""
        raw = self.catalog_scores(history, liked, disliked, said)
        if raw is None:
            return []
        k = min(k, len(raw))
        top = np.argpartition(-raw, k - 1)[:k]
        top = top[np.argsort(-raw[top], kind="stable")]
        return [self.index.items[r].item_id for r in top if np.isfinite(raw[r]) and raw[r] > -1e3]

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

    def follows_from(self, item_id: str, known: Sequence[str], top: int = LINK_TOP) -> str | None:
        """Which of the shopper's items (bought or liked; the most recent wins a tie) the model links this one
        to: it is among that item's `top` co-purchase neighbours (sequence model) or co-mentions / rating
        neighbours (conversation model). None when no link: then the model is not why it was picked."""
        model = self.model
        if model is None or item_id not in model.index:
            return None
        target = model.index[item_id]
        best, best_rank = None, top
        for k in reversed(list(dict.fromkeys(known))):
            if k not in model.index:
                continue
            row = model.index[k]
            if self.reads_words:
                p = model.prior
                vals = np.asarray((p.comention[row] + p.follow[row] + 0.2 * p.cf[row]).todense()).ravel()
                if vals[target] <= 0:
                    continue
                rank = int((vals > vals[target]).sum())
            else:
                idx, val = getattr(model, "knn_idx", None), getattr(model, "knn_val", None)
                if idx is None or val is None:
                    return None
                hit = np.flatnonzero((idx[row] == target) & (val[row] > 0))
                if not hit.size:
                    continue
                rank = int((val[row] > val[row][hit[0]]).sum())
            if rank < best_rank:
                best, best_rank = k, rank
        return best

    def scores(self, candidate_ids: Sequence[str], history: Sequence[str], liked: Sequence[str] = (),
               disliked: Sequence[str] = (), said: str = "") -> np.ndarray | None:
        """Interest in each candidate scaled to 0..1; None with no signal.

        The sequence model's log-probabilities are only comparable within a call, so they become ranks among the
        candidates; the conversation model's scores are scaled over the whole catalog (median 0, best 1), so a
        candidate the model knows nothing good about stays near 0 however few candidates there are."""
        if not candidate_ids:
            return None
        raw = self.catalog_scores(history, liked, disliked, said)
        if raw is not None:
            cand = raw[[self.index.position[i] for i in candidate_ids]]
            finite = np.isfinite(cand)
            if self.reads_words:
                ok = raw[np.isfinite(raw) & (raw > -1e3)]
                mid, top = (float(np.median(ok)), float(ok.max())) if ok.size else (0.0, 0.0)
                if top > mid:
                    return np.where(finite, np.clip((cand - mid) / (top - mid), 0.0, 1.0), 0.0)
            elif finite.any():
                ranks = np.zeros(len(cand))
                order = np.argsort(cand[finite])
                ranks[np.flatnonzero(finite)[order]] = (np.arange(finite.sum()) + 1) / finite.sum()
                return ranks
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
        fmt = json.loads((path / "config.json").read_text()).get("format")
        if fmt == DIALOGUE_FORMAT:
            model = DialogueInterest.load(path, index.items, index.embeddings, index.embedder)
            ids = model.meta.get("item_ids", [])
        else:
            model = _load(str(path))
            ids = model.item_ids
    except Exception as e:  # missing torch extras, format change, half-written checkpoint: say so, keep going
        log.warning("interest checkpoint %s not usable (%s); using the embedding centroid", path, e)
        return InterestScorer(index)
    overlap = sum(1 for i in ids[:500] if i in index.position)
    if overlap < min(50, len(ids) // 2):
        log.warning("interest checkpoint %s is for another catalog; using the embedding centroid", path)
        return InterestScorer(index)
    return InterestScorer(index, model)


def said_text(turns: Sequence, last: int = 3, start: int = 0) -> str:
    """The shopper's last few messages since message `start` (where the current topic began), joined: what a
    model that reads words is given."""
    said = [t.text for t in turns if getattr(t, "role", "") == "user"][start:]
    return " ".join(said[-last:])
