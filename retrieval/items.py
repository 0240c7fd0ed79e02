"""The catalog item and its validation from loose rows (JSONL, CSV, importers)."""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

CATEGORY_SEP = " > "
MAX_TEXT = 20_000  # characters kept of a description; longer text only slows embedding
MAX_PRICE = 10_000_000.0  # prices at or over this are typos or placeholders (1e300), not products
_PRICE_TEXT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+")  # 1,299.00 / 1299 / .5
_BLOCK = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!?][^<>]*>")


@dataclass(frozen=True)
class Item:
    """One catalog product. `category` is a path joined by " > " (e.g. "Tools > Drills")."""

    item_id: str
    title: str
    category: str = ""
    brand: str | None = None
    price: float | None = None
    description: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)
    image: str = ""  # an http(s) URL of the product photo, when the catalog has one (never embedded)

    @property
    def category_path(self) -> list[str]:
        """The category levels, most general first."""
        return [c for c in self.category.split(CATEGORY_SEP) if c]

    @property
    def top_category(self) -> str:
        """The most specific useful category for grouping: level 1 when level 0 is a root like a store name."""
        path = self.category_path
        return path[1] if len(path) > 1 else (path[0] if path else "")

    def text(self) -> str:
        """The text we embed and index lexically: title first, it matters most."""
        parts = [self.title]
        if self.brand:
            parts.append(f"Brand: {self.brand}.")
        if self.category:
            parts.append(f"Category: {self.category}.")
        if self.attributes:
            parts.append(" ".join(f"{k}: {v}." for k, v in self.attributes.items()))
        if self.description:
            parts.append(self.description)
        return " ".join(parts)

    def content_hash(self) -> str:
        """Stable fingerprint of everything stored; re-ingest skips rows whose hash is unchanged."""
        payload = json.dumps(item_to_dict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    def summary(self) -> str:
        """A one-line description for prompts and logs."""
        price = f"${self.price:.2f}" if self.price is not None else "price n/a"
        brand = f"{self.brand} " if self.brand else ""
        return f"[{self.item_id}] {brand}{self.title} ({self.top_category or 'uncategorised'}, {price})"


class InvalidRow(ValueError):
    """A catalog row that cannot become an Item; the message says why."""


_KNOWN = {"id", "item_id", "title", "name", "category", "brand", "price", "description", "attributes", "image",
          "image_url", "images"}


def item_from_row(row: Mapping[str, Any]) -> Item:
    """Build an Item from a loose mapping (generic format); raise InvalidRow with the reason."""
    if not isinstance(row, Mapping):
        raise InvalidRow(f"expected an object, got {type(row).__name__}")
    item_id = _clean(row.get("item_id", row.get("id")))
    if not item_id:
        raise InvalidRow("missing 'id'")
    if len(item_id) > 256:
        raise InvalidRow("'id' longer than 256 characters")
    title = _text(row.get("title", row.get("name")))
    if not title:
        raise InvalidRow("missing 'title'")
    category = row.get("category") or ""
    if isinstance(category, (list, tuple)):
        category = CATEGORY_SEP.join(_text(c) for c in category if _text(c))
    category = CATEGORY_SEP.join(p.strip() for p in _text(category).replace("|", ">").split(">") if p.strip())
    attributes = row.get("attributes") or {}
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes)
        except json.JSONDecodeError as e:
            raise InvalidRow(f"'attributes' is not a JSON object: {e.msg}") from None
    if not isinstance(attributes, Mapping):
        raise InvalidRow("'attributes' must be an object of name -> value")
    extra = {k: v for k, v in row.items() if k not in _KNOWN and v not in (None, "")}
    attrs = {_text(k): _text(v) for k, v in {**extra, **attributes}.items() if _text(v) and _text(k)}
    return Item(
        item_id=item_id,
        title=title[:500],
        category=category,
        brand=_text(row.get("brand")) or None,
        price=parse_price(row.get("price")),
        description=_text(row.get("description"))[:MAX_TEXT],
        attributes=attrs,
        image=image_url(row.get("image") or row.get("image_url") or row.get("images")),
    )


def image_url(value: Any) -> str:
    """The first http(s) URL of an image field (a string or a list of them); "" for anything else."""
    if isinstance(value, (list, tuple)):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    url = str(value or "").strip()
    return url if re.fullmatch(r"https?://[^\s<>\"']{4,500}", url) else ""


def parse_price(value: Any) -> float | None:
    """Parse "$1,299.00", 12, "" into a float in [0, MAX_PRICE) or None; raise InvalidRow on anything else
    ("1,2,3", "1e3", NaN, 1e300, negative)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidRow(f"price is not a number: {value!r}")
    if isinstance(value, (int, float)):
        price = float(value)
    else:
        text = str(value).strip().replace("$", "").replace("USD", "").strip()
        if not text:
            return None
        if not _PRICE_TEXT.fullmatch(text):  # one decimal format: digits, thousands commas, a decimal point
            raise InvalidRow(f"price is not a number like 1299.00 or 1,299.00: {str(value)[:40]!r}")
        price = float(text.replace(",", ""))
    if math.isnan(price) or math.isinf(price) or not 0 <= price < MAX_PRICE:
        raise InvalidRow(f"price must be a number from 0 to under {MAX_PRICE:,.0f}: {str(value)[:40]!r}")
    return round(price, 2)


def plain_text(value: str) -> str:
    """Catalog text as plain text: HTML tags (and script/style blocks) stripped, entities decoded, and any tag the
    decoding revealed ("&lt;b&gt;") stripped too. A "<" that opens no tag ("< 5 mm") stays."""
    text = _TAG.sub(" ", _BLOCK.sub(" ", value))
    if "&" in text:
        text = _TAG.sub(" ", _BLOCK.sub(" ", html.unescape(text)))
    return " ".join(text.split())


def item_to_dict(item: Item) -> dict[str, Any]:
    """The generic-format row of an item (inverse of item_from_row)."""
    return {
        "id": item.item_id,
        "title": item.title,
        "category": item.category,
        "brand": item.brand,
        "price": item.price,
        "description": item.description,
        "attributes": dict(item.attributes),
        **({"image": item.image} if item.image else {}),
    }


def _text(value: Any) -> str:
    """A catalog text field: whitespace-normalised plain text (HTML is stripped at ingest, see plain_text)."""
    return plain_text(_clean(value))


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_clean(v) for v in value if _clean(v))
    return " ".join(str(value).split())
