"""Catalog changes while serving: what one change is, and which items may still be recommended.

A change is an item's new version (with its embedding, computed once by whoever wrote the change) or its
deletion. Every worker applies the same changes in the same order (`seq`, from the shared change log in the
session database, retrieval/feed.py), so rows, masks and caches agree across workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.items import Item

# attribute names a shop uses for stock, and the values that mean "cannot be bought now"
STOCK_KEYS = ("in_stock", "in stock", "available", "availability", "stock")
OUT_OF_STOCK = frozenset({"false", "no", "0", "out of stock", "out_of_stock", "sold out", "unavailable",
                          "discontinued"})


@dataclass(frozen=True)
class CatalogChange:
    """One item added, updated (item and vector set) or deleted (both None), in log order `seq`."""

    seq: int
    item_id: str
    item: Item | None = None
    vector: np.ndarray | None = None  # (DIM,) unit float32

    @property
    def deleted(self) -> bool:
        """True for a deletion."""
        return self.item is None


def is_available(item: Item) -> bool:
    """False when the item's stock attribute says it cannot be bought (in_stock: false, availability: sold out)."""
    for key, value in item.attributes.items():
        if key.lower() in STOCK_KEYS and str(value).strip().lower() in OUT_OF_STOCK:
            return False
    return True
