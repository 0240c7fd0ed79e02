"""Relaxing a shopper's constraints when nothing matches: which wishes are soft, and what to drop first."""

from __future__ import annotations

from dataclasses import replace

from agent.policy import Constraints

SOFT_KEYS = ("use_case", "skill_level", "color", "colour", "finish", "style")  # what it is for, not what it is


def soft_only(c: Constraints) -> dict[str, str]:
    """The attribute wishes that say what an item is for or looks like, not what it must be."""
    return {k: v for k, v in c.must.items() if k.lower() in SOFT_KEYS}


def firm(c: Constraints) -> Constraints:
    """The constraints with the soft attribute wishes dropped and the firm ones (cordless, sleeps 2) kept."""
    return replace(c, must={k: v for k, v in c.must.items() if k.lower() not in SOFT_KEYS})


def one_fewer(c: Constraints) -> list[Constraints]:
    """The constraints with the soft wishes dropped, then with each firm need dropped in turn (the last stated
    first): the relaxations that keep the most of what the shopper asked for."""
    out = [firm(c)] if soft_only(c) else []
    needs = firm(c).must
    for key in reversed(list(needs)):
        if len(needs) > 1:
            out.append(replace(c, must={k: v for k, v in needs.items() if k != key}))
    return out


def has_part(c: Constraints, step: str) -> bool:
    """Whether the constraints hold a part of kind `step`: "must", "brand", "category" or "price"."""
    return {"must": bool(c.must), "brand": bool(c.brands), "category": bool(c.categories),
            "price": c.max_price is not None or c.min_price is not None}[step]
