"""Popularity and item co-occurrence from shoppers' feedback and purchase events, updated incrementally.

Every worker reads the same event log (the session database, retrieval/feed.py) in seq order and folds each new
event into these counters, so ranking learns from every conversation within seconds and without retraining.
Events carry an opaque shopper key and an item id, never message text.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("like", "reject", "owned", "purchase")
WEIGHTS = {"like": 1.0, "purchase": 3.0, "owned": 0.5, "reject": -0.5}  # a purchase says most, a rejection less
POSITIVE = frozenset({"like", "purchase", "owned"})  # what makes two items "go together" for one shopper
BASKET = 50  # a shopper's last positive items paired with each new one (bounds the pair updates per event)
POPULARITY_WEIGHT = 0.08  # ranking bonus for the most popular item (log-scaled, 0..1 times this)
COOCCURRENCE_WEIGHT = 0.08  # ranking bonus for the item most often liked together with the shopper's liked items


@dataclass(frozen=True)
class Event:
    """One logged feedback or purchase: which shopper (an opaque key), which item, what kind, when."""

    seq: int
    shopper: str
    item_id: str
    kind: str  # one of KINDS
    at: float = 0.0


class ItemSignals:
    """Popularity per item and co-occurrence counts between items, folded in event by event."""

    def __init__(self) -> None:
        self.popularity: Counter[str] = Counter()
        self.pairs: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.baskets: defaultdict[str, deque[str]] = defaultdict(lambda: deque(maxlen=BASKET))
        self.applied_seq = 0
        self._top = 0.0  # highest popularity seen (for scaling)
        self._lock = threading.Lock()

    def apply(self, events: Iterable[Event]) -> int:
        """Fold in events newer than the last applied seq, in seq order; returns how many were new."""
        n = 0
        with self._lock:
            for e in sorted(events, key=lambda e: e.seq):
                if e.seq <= self.applied_seq:
                    continue
                self.applied_seq = e.seq
                n += 1
                self.popularity[e.item_id] += WEIGHTS.get(e.kind, 0.0)
                self._top = max(self._top, self.popularity[e.item_id])
                if e.kind in POSITIVE:
                    basket = self.baskets[e.shopper]
                    for other in set(basket):
                        if other != e.item_id:
                            self.pairs[e.item_id][other] += 1
                            self.pairs[other][e.item_id] += 1
                    if e.item_id not in basket:
                        basket.append(e.item_id)
        return n

    def boost(self, item_ids: Sequence[str], context: Sequence[str] = ()) -> np.ndarray:
        """Ranking bonus per item: popularity (log-scaled to the most popular) plus co-occurrence with the
        `context` items (the shopper's liked and bought ones), each 0..its weight; zeros with no events."""
        out = np.zeros(len(item_ids), dtype=np.float64)
        if not self.applied_seq:
            return out
        with self._lock:
            top = math.log1p(max(self._top, 0.0))
            if top > 0:
                out += POPULARITY_WEIGHT * np.array(
                    [math.log1p(max(self.popularity.get(i, 0.0), 0.0)) / top for i in item_ids])
            if context:
                together = np.array([sum(self.pairs[c].get(i, 0) for c in context if c in self.pairs)
                                     for i in item_ids], dtype=np.float64)
                if together.max() > 0:
                    out += COOCCURRENCE_WEIGHT * together / together.max()
        return out

    def rank_of(self, item_id: str) -> int:
        """1-based popularity rank of an item (ties share a rank); 0 when it has no events."""
        with self._lock:
            mine = self.popularity.get(item_id)
            if mine is None:
                return 0
            return 1 + sum(v > mine for v in self.popularity.values())
