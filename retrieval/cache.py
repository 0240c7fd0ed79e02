"""A small LRU of search results for repeated (normalised) requests, emptied on any catalog change.

Keys hold the normalised query, the filters, k, the excluded ids and the index version, so a catalog update
(which bumps the version and clears the cache) can never serve a stale result. Hits and misses are counted so
the benefit can be measured on a replay (evals/bench_scale.py) before relying on it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

RESULTS = 2_048  # searches remembered per process (a few KB each)


class SearchCache:
    """Thread-safe LRU with hit/miss counters."""

    def __init__(self, size: int = RESULTS):
        self.size = size
        self.hits = self.misses = 0
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The cached value or None (counted as a hit or a miss)."""
        with self._lock:
            try:
                value = self._entries[key]
            except (KeyError, TypeError):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Remember a value, dropping the least recently used beyond `size`."""
        if self.size <= 0:
            return
        with self._lock:
            try:
                self._entries[key] = value
            except TypeError:  # an unhashable filter value: not cached
                return
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after a catalog change)."""
        with self._lock:
            self._entries.clear()

    @property
    def hit_rate(self) -> float:
        """Hits / lookups so far (0 before any lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
