"""The demo catalog: a believable multi-category shop, generated deterministically from a seed.

It feeds the out-of-the-box chat demo. Products, brands and sentences come from `retrieval/demo_data.py`;
descriptions state only attribute values, so every claim they make can be checked against the item.
"""

from __future__ import annotations

import random
import re

from retrieval.demo_data import BRANDS, CLOSERS, OPENERS, OPENERS_NO_USE, SENTENCES, TYPES, WARRANTY, ProductType
from retrieval.items import Item

# Where in a type's price band each brand tier lands (fractions of the band): premium high, budget low.
TIER_BANDS = [(0.55, 1.0), (0.25, 0.75), (0.0, 0.45)]
CENTS = [0.99, 0.99, 0.95, 0.49, 0.0]  # common price endings
MODEL_SUFFIXES = ["", "", "", "", "X", "S", "B", "P", "C"]  # mostly none
SENTENCES_PER_ITEM = (3, 6)  # attribute sentences in a description, before the closer


def generate_demo_catalog(n: int = 1200, seed: int = 7) -> list[Item]:
    """`n` demo products over every product type, ids "demo-00001"...; the same seed gives the same catalog."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = random.Random(seed)
    # Every type appears about equally often; the shuffle mixes types so ids do not follow categories.
    kinds = [TYPES[i % len(TYPES)] for i in range(n)]
    rng.shuffle(kinds)
    titles: set[str] = set()
    items = []
    for index, kind in enumerate(kinds, start=1):
        items.append(_make_item(rng, kind, f"demo-{index:05d}", titles))
    return items


def _make_item(rng: random.Random, kind: ProductType, item_id: str, titles: set[str]) -> Item:
    brand, prefix, tier = rng.choice(BRANDS[kind.brands])
    attrs = {name: _pick_value(rng, spec) for name, spec in kind.attrs.items()}
    suffix = kind.title.format(**attrs)
    while True:  # model numbers are random; draw again on the rare clash so titles stay unique
        model = _model_number(rng, prefix)
        title = f"{brand} {model} {suffix}"
        if title not in titles:
            break
    titles.add(title)
    attrs["model"] = model
    attrs["warranty"] = WARRANTY[tier]
    return Item(
        item_id=item_id,
        title=title,
        category=kind.category,
        brand=brand,
        price=_price(rng, kind.price, tier),
        description=_describe(rng, kind, brand, model, attrs),
        attributes=attrs,
    )


def _pick_value(rng: random.Random, spec: list[str] | tuple) -> str:
    if isinstance(spec, list):
        return rng.choice(spec)
    fmt, low, high, step = spec
    steps = round((high - low) / step)
    return fmt.format(low + step * rng.randint(0, steps))


def _model_number(rng: random.Random, prefix: str) -> str:
    """Like "VX-2040", "TW-315" or "HL-4550S": the brand prefix, three or four digits, sometimes a letter."""
    number = rng.randint(10, 99) * 100 + rng.choice((0, 10, 20, 40, 50, 60, 80))  # round-ish, like 2040
    if rng.random() < 0.4:
        number = rng.randint(100, 999)
    return f"{prefix}-{number}{rng.choice(MODEL_SUFFIXES)}"


def _price(rng: random.Random, band: tuple[float, float], tier: int) -> float:
    low, high = band
    lo_frac, hi_frac = TIER_BANDS[tier]
    raw = low + (high - low) * rng.uniform(lo_frac, hi_frac)
    return round(int(raw) + rng.choice(CENTS), 2)


def _describe(rng: random.Random, kind: ProductType, brand: str, model: str, attrs: dict[str, str]) -> str:
    """Opener, a random subset of attribute sentences in random order, and sometimes a warranty line."""
    fields = {"brand": brand, "model": model, "type": _lower_words(kind.name),
              "use": attrs.get("use_case", ""), "warranty": attrs["warranty"]}
    opener = rng.choice(OPENERS if fields["use"] else OPENERS_NO_USE)
    candidates = []
    for name, value in attrs.items():
        if name in ("use_case", "model", "warranty"):
            continue
        templates = SENTENCES.get(f"{name}={value}") or (SENTENCES.get(name) if value not in ("yes", "no") else None)
        if templates:
            candidates.append(rng.choice(templates).format(v=value, lv=_lower_words(value), brand=brand))
    rng.shuffle(candidates)
    low, high = SENTENCES_PER_ITEM
    chosen = candidates[:rng.randint(low, high)]
    closer = rng.choice(CLOSERS).format(**fields)
    parts = [opener.format(**fields), *chosen, closer]
    return _fix_articles(" ".join(p for p in parts if p))


def _lower_words(text: str) -> str:
    """Lower-case capitalised words but keep acronyms: "Smart LED Bulb" -> "smart LED bulb", "BPA-free" stays."""
    def lower(part: str) -> str:
        return part.lower() if part[1:] == part[1:].lower() else part
    return " ".join("-".join(lower(p) if p else p for p in w.split("-")) for w in text.split())


def _fix_articles(text: str) -> str:
    """Templates always write "a"; make it "an" before a vowel sound ("an 18V battery", "an AMOLED screen")."""
    def article(match: re.Match) -> str:
        a, word = match.group(1), match.group(2)
        digits = re.match(r"\d+", word)
        if digits:
            n = digits.group()
            vowel = n[0] == "8" or (n[:2] in ("11", "18") and len(n) in (2, 4))
        else:
            vowel = word[0].lower() in "aeiou" and not word.lower().startswith(("usb", "uni", "use"))
        return f"{a}{'n' if vowel else ''} {word}"
    return re.sub(r"\b([Aa]) (\S+)", article, text)


__all__ = ["generate_demo_catalog"]
