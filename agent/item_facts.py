"""What an item is and measures, for filters and critiques: its kinds, its numbers ("lighter", "bigger"), limits."""

from __future__ import annotations

import re

from retrieval.items import Item
from retrieval.quantities import quantity
from retrieval.vocabulary import Vocabulary

NUMERIC_KEYS = {  # a critique's dimension -> the attribute keys that measure it, most specific first
    "weight": ("weight",), "size": ("capacity", "size", "length", "diameter", "width", "height", "water_tank"),
    "power": ("wattage", "power", "voltage", "max_torque", "pump_pressure"), "battery": ("battery_life", "battery"),
}


def has_kind(item: Item, kinds: list[str]) -> bool:
    """Whether any level of the item's category or any of its genres is one of `kinds` (lower case)."""
    own = {x.lower() for x in item.category_path} | {
        g.strip().lower() for g in item.attributes.get("genre", "").split(",") if g.strip()}
    return bool(own & set(kinds))


def value_of(item: Item, key: str) -> float | None:
    """Price, rating, or the first numeric attribute matching a critique key ("weight", "size", "power")."""
    if key == "price":
        return item.price
    if key == "year":  # a film's or a book's: its record, else "(1999)" at the end of its title
        m = re.fullmatch(r"\s*(\d{4})\s*", item.attributes.get("year", "")) or re.search(r"\((\d{4})\)\s*$", item.title)
        return float(m.group(1)) if m else None
    attrs = {k.lower(): v for k, v in item.attributes.items()}
    if key == "rating":
        raw = attrs.get("rating", "")
        q = quantity(raw)
        return q[0] if q else None
    for name in NUMERIC_KEYS.get(key, (key,)):
        if name in attrs:
            q = quantity(attrs[name])
            if q is not None:
                return q[0]
    return None


def within_limits(item: Item, limits: list[list]) -> bool:
    """Whether an item meets every critique limit ([key, "<" | ">", amount]); an item lacking the value does not."""
    for key, op, amount in limits:
        value = value_of(item, key)
        if value is None or (op == "<" and not value < amount) or (op == ">" and not value > amount):
            return False
    return True


def expand_levels(categories: list[str], vocab: Vocabulary) -> list[str]:
    """A category plus the levels named after it: Amazon leaves join their parents ("Adhesive Tapes Duct Tape")."""
    out = list(categories)
    for cat in categories:
        prefix = cat.lower() + " "
        out += [lvl for lvl in vocab.levels if lvl.lower().startswith(prefix) and lvl not in out]
    return out
