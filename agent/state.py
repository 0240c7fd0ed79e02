"""Dialogue state: what the shopper said and did, serialisable to JSON to store and resume sessions."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from retrieval.items import Item
from retrieval.vocabulary import Preference

FeedbackKind = Literal["like", "reject", "owned"]


@dataclass(frozen=True)
class Pick:
    """A recommended item with the reason shown to the shopper."""

    item: Item
    score: float
    reason: str
    explore: bool = False  # chosen by exploration rather than the best-known interest


TurnAct = Literal["recommend", "answer", "compare", "ask", "social", "handoff", "refuse", "unreadable", "relayed",
                  "none"]


@dataclass
class Turn:
    """One message in the conversation. Assistant turns may carry picks and a question.

    `act` says what an assistant turn did: recommend (new picks), answer (a question about a pick, from its record),
    compare (picks side by side), ask (a preference question), social, handoff (something only a human agent or
    the shop's systems can answer: shipping, discounts, orders), refuse (injection), unreadable (a language convrec
    cannot read), relayed (written by someone else - a human colleague, the integrating bot - and noted with the
    items it names), none (nothing fits and no way on). An answer turn carries no picks: the earlier ones stay shown.
    """

    role: Literal["user", "assistant"]
    text: str
    picks: list[Pick] = field(default_factory=list)
    question: str | None = None  # the preference question asked, if any
    act: str = "none"  # one of TurnAct for assistant turns; "none" for user turns
    handoff: bool = False  # a hand-off candidate for the integrating customer-service bot


@dataclass
class DialogueState:
    """Everything the agent knows about the shopper in this session."""

    preferences: list[Preference] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # item ids bought before (returning customer)
    liked: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    owned: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # item ids already recommended in this session
    asked: list[str] = field(default_factory=list)  # attributes already asked about
    query: str = ""  # the running free-text description of what the shopper wants
    turn_count: int = 0
    bandit: dict[str, list[float]] = field(default_factory=dict)  # category -> [alpha, beta] for Thompson sampling
    pending_question: str = ""  # attribute of the question just asked ("price"), so "the second one" can be read
    pending_options: list[str] = field(default_factory=list)  # the options that question offered, in order
    notes: list[str] = field(default_factory=list)  # honest notes already told (e.g. "this catalog lists no prices")
    focus: list[str] = field(default_factory=list)  # item ids last talked about ("is it waterproof?" means these)
    limits: list[list] = field(default_factory=list)  # [attribute, "<" | ">", amount in base units] from critiques
    unknown: str = ""  # a product just talked about that the catalog lacks ("the Big Book of Horror")
    topic_from: int = 0  # shopper messages before the current topic (what a model reading words is given starts here)
    liked_from: int = 0  # likes before the current topic: a model reading words is given the likes after it


@dataclass
class Session:
    """A conversation: its id, state and turns. `to_json`/`from_json` round-trip it exactly."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: DialogueState = field(default_factory=DialogueState)
    turns: list[Turn] = field(default_factory=list)

    def to_json(self) -> str:
        """Serialise for storage (SQLite, files)."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Session":
        """Inverse of to_json."""
        raw = json.loads(text)
        state = raw.get("state", {})
        state["preferences"] = [Preference(**p) for p in state.get("preferences", [])]
        return cls(session_id=raw["session_id"], state=DialogueState(**state),
                   turns=[_turn(t) for t in raw.get("turns", [])])


def _turn(raw: dict[str, Any]) -> Turn:
    picks = [Pick(item=Item(**p["item"]), score=p["score"], reason=p["reason"], explore=p.get("explore", False))
             for p in raw.get("picks", [])]
    return Turn(role=raw["role"], text=raw["text"], picks=picks, question=raw.get("question"),
                act=raw.get("act", "none"), handoff=bool(raw.get("handoff", False)))
