"""The JSON shapes of picks and turns, shared by the session routes (api.py) and the OpenAI-compatible ones."""

from __future__ import annotations

from typing import Any

from agent import Pick, Turn


def pick_json(pick: Pick) -> dict[str, Any]:
    """The wire shape of a pick."""
    item = pick.item
    return {"item_id": item.item_id, "title": item.title, "price": item.price, "category": item.category,
            "brand": item.brand, "reason": pick.reason, "score": round(float(pick.score), 4),
            "explore": pick.explore}


def turn_json(turn: Turn) -> dict[str, Any]:
    """The wire shape of a turn."""
    return {"role": turn.role, "text": turn.text, "picks": [pick_json(p) for p in turn.picks],
            "question": turn.question, "act": turn.act, "handoff": turn.handoff}
