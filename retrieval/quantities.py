"""Numbers with units in catalog values ("1.3 kg", "260 g", "1.5 L", "20 hours"), comparable across units.

`quantity("1.3 kg")` is (1300.0, "g"): every value is brought to one base unit per dimension, so "lighter" can
compare a drill listed in kilograms with one listed in grams. A bare number ("3" people) is a count.
"""

from __future__ import annotations

import re

_UNITS = {  # unit as catalogs write it -> (base unit, factor)
    "mg": ("g", 0.001), "g": ("g", 1.0), "kg": ("g", 1000.0), "lb": ("g", 453.592), "lbs": ("g", 453.592),
    "oz": ("g", 28.3495), "mm": ("mm", 1.0), "cm": ("mm", 10.0), "m": ("mm", 1000.0), "in": ("mm", 25.4),
    '"': ("mm", 25.4), "inch": ("mm", 25.4), "inches": ("mm", 25.4), "ft": ("mm", 304.8), "ml": ("ml", 1.0),
    "l": ("ml", 1000.0), "w": ("w", 1.0), "kw": ("w", 1000.0), "v": ("v", 1.0), "mah": ("mah", 1.0),
    "ah": ("mah", 1000.0), "h": ("h", 1.0), "hours": ("h", 1.0), "hour": ("h", 1.0), "hrs": ("h", 1.0),
    "min": ("h", 1 / 60), "minutes": ("h", 1 / 60), "bar": ("bar", 1.0), "nm": ("nm", 1.0), "gb": ("gb", 1.0),
    "tb": ("gb", 1024.0), "years": ("year", 1.0), "year": ("year", 1.0), "cups": ("cup", 1.0), "cup": ("cup", 1.0),
    "pages": ("page", 1.0), "page": ("page", 1.0), "lumens": ("lm", 1.0), "lm": ("lm", 1.0), "db": ("db", 1.0),
}
_PATTERN = re.compile(r"(\d+(?:[.,]\d+)?)\s*-?\s*(mah|kw|mm|cm|ml|kg|lbs|lb|oz|mg|ah|nm|gb|tb|hours|hour|hrs|"
                      r"minutes|min|years|year|cups|cup|pages|page|lumens|lm|db|bar|inches|inch|in|ft|m|l|g|w|v|h|\")?"
                      r"(?![a-z])", re.I)


def quantity(value: str) -> tuple[float, str] | None:
    """(amount in the base unit, base unit) of the first number in a value; a unitless number is a "count"."""
    m = _PATTERN.search(value or "")
    if not m:
        return None
    amount = float(m.group(1).replace(",", "."))
    unit = (m.group(2) or "").lower()
    if not unit:
        return amount, "count"
    base, factor = _UNITS[unit]
    return amount * factor, base
