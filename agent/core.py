"""`Agent` and `build_agent(settings)`: what the surfaces drive, one `reply(session, text)` per message.

A turn runs in guided mode (agent/guided.py: the policy drives the tools) or agentic mode (agent/agentic.py: a
tool-calling LLM does), both over the same `Context` and tools; an agentic turn that cannot finish falls back to
a guided one.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Iterable, Iterator, Sequence

from agent.agentic import agentic_turn
from agent.answers import called
from agent.backends import make_llm
from agent.catalog import open_catalog
from agent.config import Settings
from agent.context import Context
from agent.errors import AgentInputError
from agent.guided import after_feedback, guided_turn
from agent.interest import InterestScorer, load_interest
from agent.llm import LLM
from agent.mentions import named_items
from agent.replies import record_feedback
from agent.rerank import update_bandit
from agent.state import FeedbackKind, Pick, Session, Turn
from agent.titles import unknown_title
from agent.tools import interest_profile
from retrieval.search import CatalogIndex, ScoredItem
from retrieval.vocabulary import speller, vocabulary


def build_agent(settings: Settings, index: CatalogIndex | None = None, llm: LLM | None = None) -> "Agent":
    """index None: agent.catalog.open_catalog(settings); llm None: agent.backends.make_llm(settings) (may be None)."""
    if index is None:
        index = open_catalog(settings)
    if llm is None:
        llm = make_llm(settings)
    return Agent(settings, index, llm, load_interest(index, settings.collection, settings.interest_checkpoint))


class Agent:
    """Stateless across sessions: all per-conversation data lives in the `Session` passed in."""

    def __init__(self, settings: Settings, index: CatalogIndex, llm: LLM | None = None,
                 interest: InterestScorer | None = None):
        self.settings, self.index, self.llm = settings, index, llm
        self.interest = interest or InterestScorer(index)
        self.vocab = vocabulary(index)
        self.context = Context.build(settings, index, self.vocab, self.interest, llm)

    @property
    def mode(self) -> str:
        """"agentic" when configured (or auto with a tool-calling LLM), else "guided"."""
        if self.settings.mode == "agentic" or (self.settings.mode == "auto" and self.llm is not None
                                               and self.llm.supports_tools):
            return "agentic" if self.llm is not None else "guided"
        return "guided"

    def describe(self) -> dict:
        """{"catalog", "items", "mode", "llm", "interest"} for the UI header and the API."""
        return {"catalog": self.settings.collection, "items": len(self.index), "mode": self.mode,
                "llm": self.llm.name if self.llm is not None else "none",
                "interest": self.interest.name}

    def items(self, item_ids: Iterable[str]) -> list:
        """The catalog records of these ids, in order; unknown ids are left out."""
        return self.index.get_items([i for i in item_ids if i in self.index.position])

    @property
    def priced(self) -> bool:
        """Whether the catalog has prices at all (a movie catalog has none: cards then show no price line)."""
        return self.vocab.has_prices

    def new_session(self, history: Sequence[str] = ()) -> Session:
        """A new conversation; `history` = item ids a known customer bought (unknown ids are ignored)."""
        session = Session()
        session.state.history = [i for i in dict.fromkeys(history) if i in self.index.position]
        for item in self.index.get_items(session.state.history):
            update_bandit(session.state.bandit, item.top_category or "other", True)
        return session

    def feedback(self, session: Session, item_id: str, kind: FeedbackKind) -> None:
        """Record "like" | "reject" | "owned" for an item; raises UnknownItem for an id not in the catalog."""
        record_feedback(self.context, session, item_id, kind)

    def react(self, session: Session, item_id: str, kind: FeedbackKind) -> Turn:
        """A feedback click as a turn: record it, note it in the transcript by the item's name, and answer with
        fresh picks ("like": more like it; "reject" / "owned": without it, the stated needs kept)."""
        self.feedback(session, item_id, kind)
        item = self.index.items[self.index.position[item_id]]
        said = {"like": "More like {t}, please.", "reject": "{T} is not for me.",
                "owned": "I already own {t}."}[kind].format(t=called(item), T=called(item, capital=True))
        session.turns.append(Turn("user", said))
        session.state.turn_count += 1
        return self._finish(session, after_feedback(self.context, session, item_id, kind))

    def suggest(self, session: Session, text: str) -> Turn:
        """A reply for a human colleague to send or not (agent assist): the shopper's message is read as `reply`
        reads it and what it says about their needs is kept, but the suggestion is not recorded as said or shown;
        what the colleague then sends is noted with `note_assistant`."""
        st = session.state
        kept = list(st.focus), list(st.shown), st.pending_question, list(st.pending_options), st.unknown
        turn = self.reply(session, text)
        session.turns.pop()
        st.focus, st.shown, st.pending_question, st.pending_options, st.unknown = kept
        return turn

    def note_assistant(self, session: Session, text: str) -> Turn:
        """Record an assistant message convrec did not write (a human colleague's, the integrating bot's earlier
        reply): the catalog items it names become what is on screen and in focus, so "how much is it?" or "the
        second one" next refers to them. Returns the recorded turn (act "relayed"; its picks are the named items,
        without reasons)."""
        if not isinstance(text, str):
            raise AgentInputError("An assistant message must be text.")
        text = " ".join(text.split())[: self.settings.max_message_chars]
        items = named_items(text, self.index)
        turn = Turn("assistant", text, picks=[Pick(item=i, score=0.0, reason="") for i in items], act="relayed")
        if items:
            session.state.focus, session.state.unknown = [i.item_id for i in items], ""
        else:  # "I have Monstrous Intent, a best seller": a title the catalog lacks is what "it" means next
            session.state.unknown = unknown_title(text, self.context) or session.state.unknown
        return self._finish(session, turn)

    def catalog_changed(self) -> None:
        """Re-read the catalog's words (brands, categories, titles) after live changes (agent/live.py), so a new
        brand is understood; turns already running keep the vocabulary they started with."""
        vocab = vocabulary.__wrapped__(self.index)  # the cached one describes the catalog as it was
        self.context = Context(self.settings, self.index, vocab, self.interest, self.llm, speller.__wrapped__(self.index))
        self.vocab = vocab

    def rank(self, session: Session, k: int = 50, exclude_ids: Iterable[str] = ()) -> list[ScoredItem]:
        """The relevance ranking behind the picks (before diversification), for offline evals."""
        return self._box(session).ranked(k, exclude_ids=exclude_ids)

    def interest_profile(self, session: Session) -> dict[str, float]:
        """Category -> weight (sums to 1; empty with no signal yet), for the UI chart."""
        return interest_profile(self.index, session)

    def reply_stream(self, session: Session, text: str) -> Iterator[str | Turn]:
        """Yield the assistant text in chunks (sentences), then the final Turn."""
        turn = self.reply(session, text)
        for chunk in re.split(r"(?<=[.!?:])\s+", turn.text):
            if chunk:
                yield chunk + " "
        yield turn

    def reply(self, session: Session, text: str) -> Turn:
        """Answer one shopper message: appends the user and assistant turns and returns the assistant turn."""
        text = self._validate(text)
        session.turns.append(Turn("user", text))
        session.state.turn_count += 1
        if self.mode == "agentic":
            before = copy.deepcopy(session.state)
            turn = agentic_turn(self.context, session, text)
            if turn is not None:
                return self._finish(session, turn)
            session.state = before  # the guided fallback reads the message afresh
        return self._finish(session, guided_turn(self.context, session, text))

    # ------------------------------------------------------------------ helpers

    def _box(self, session: Session):
        return self.context.toolbox(session)

    def _validate(self, text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise AgentInputError("Empty message: tell me what you are looking for (e.g. 'a cordless drill under $100').")
        if len(text) > self.settings.max_message_chars:
            raise AgentInputError(f"Message too long ({len(text)} characters; the limit is "
                                  f"{self.settings.max_message_chars}). Shorten it to what you are looking for.")
        return text.strip()

    def _finish(self, session: Session, turn: Turn) -> Turn:
        st = session.state
        if turn.picks and turn.act != "relayed":  # live catalog (issue 18): every pick in its current version
            # (a price change shows at once); a deleted or out-of-stock item is never shown as a pick
            turn.picks = [replace(p, item=self.index.items[self.index.position[p.item.item_id]])
                          for p in turn.picks if self.index.is_live(p.item.item_id)]
        if turn.picks and turn.act != "relayed":
            st.unknown = ""  # new picks on screen: "it" is one of them now
        for p in turn.picks:
            if p.item.item_id not in st.shown:
                st.shown.append(p.item.item_id)
        session.turns.append(turn)
        return turn

