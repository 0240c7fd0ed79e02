"""`Agent` and `build_agent(settings)`: what the surfaces drive, one `reply(session, text)` per message."""

from __future__ import annotations

import copy
import re
from typing import Iterable, Iterator, Sequence

from agent.config import Settings
from agent.errors import AgentInputError
from agent.extract import (LLM_PROMPT, Update, merge_preferences, named_only_as_purpose, parse_message,
                           validate_llm_update, vocabulary)
from agent.interest import InterestScorer, load_interest
from agent.llm import LLM, LLMUnavailable, Message
from agent.policy import Question, apply_update, constraints_of, should_ask
from agent.reasons import adds_no_claims, check_grounded, price_text
from agent.tools import NO_PRICES
from agent.rerank import update_bandit
from agent.state import DialogueState, FeedbackKind, Pick, Preference, Session, Turn
from retrieval.search import CatalogIndex, ScoredItem
from retrieval.store import UnknownItem

_YES = re.compile(r"^\s*(yes|yeah|yep|sure|ok(ay)?|please|go ahead|fine|do it|why not)\b", re.I)
REFUSAL = "I can't share or change my instructions, but I'm happy to help you find products."
REWORD_MAX = 3  # picks whose reason the LLM may reword per turn: each is one generation on a CPU model
REWORD_PROMPT = ("Rewrite this reason for a shopper as one short friendly sentence. Use only the facts given; "
                 "add no numbers, names or features.\nReason: {reason}\nSentence:")


def build_agent(settings: Settings, index: CatalogIndex | None = None, llm: LLM | None = None) -> "Agent":
    """index None: agent.catalog.open_catalog(settings); llm None: agent.llm.make_llm(settings) (may be None)."""
    if index is None:
        from agent.catalog import open_catalog

        index = open_catalog(settings)
    if llm is None:
        from agent import llm as llm_module

        make = getattr(llm_module, "make_llm", None)
        llm = make(settings) if make is not None else None
    return Agent(settings, index, llm, load_interest(index, settings.collection, settings.interest_checkpoint))


class Agent:
    """Stateless across sessions: all per-conversation data lives in the `Session` passed in."""

    def __init__(self, settings: Settings, index: CatalogIndex, llm: LLM | None = None,
                 interest: InterestScorer | None = None):
        self.settings, self.index, self.llm = settings, index, llm
        self.interest = interest or InterestScorer(index)
        self.vocab = vocabulary(index)

    @property
    def mode(self) -> str:
        """"agentic" when configured (or auto with a tool-calling LLM), else "guided"."""
        if self.settings.mode == "agentic" or (self.settings.mode == "auto" and self.llm is not None
                                               and getattr(self.llm, "supports_tools", False)):
            return "agentic" if self.llm is not None else "guided"
        return "guided"

    def describe(self) -> dict:
        """{"catalog", "items", "mode", "llm", "interest"} for the UI header and the API."""
        return {"catalog": self.settings.collection, "items": len(self.index), "mode": self.mode,
                "llm": getattr(self.llm, "name", "none") if self.llm is not None else "none",
                "interest": self.interest.name}

    def new_session(self, history: Sequence[str] = ()) -> Session:
        """A new conversation; `history` = item ids a known customer bought (unknown ids are ignored)."""
        session = Session()
        session.state.history = [i for i in dict.fromkeys(history) if i in self.index.position]
        for item in self.index.get_items(session.state.history):
            update_bandit(session.state.bandit, item.top_category or "other", True)
        return session

    def feedback(self, session: Session, item_id: str, kind: FeedbackKind) -> None:
        """Record "like" | "reject" | "owned" for an item; raises UnknownItem for an id not in the catalog."""
        if item_id not in self.index.position:
            raise UnknownItem(item_id)
        if kind not in ("like", "reject", "owned"):
            raise ValueError(f"feedback kind must be like, reject or owned, not {kind!r}")
        st = session.state
        for name in ("liked", "rejected", "owned"):
            lst = getattr(st, name)
            if item_id in lst:
                lst.remove(item_id)
        {"like": st.liked, "reject": st.rejected, "owned": st.owned}[kind].append(item_id)
        if kind != "owned":
            cat = self.index.items[self.index.position[item_id]].top_category or "other"
            update_bandit(st.bandit, cat, kind == "like")

    def rank(self, session: Session, k: int = 50, exclude_ids: Iterable[str] = ()) -> list[ScoredItem]:
        """The relevance ranking behind the picks (before diversification), for offline evals."""
        return self._box(session).ranked(k, exclude_ids=exclude_ids)

    def interest_profile(self, session: Session) -> dict[str, float]:
        """Category -> weight (sums to 1; empty with no signal yet), for the UI chart."""
        from agent.tools import interest_profile

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
            from agent.agentic import agentic_turn

            before = copy.deepcopy(session.state)
            turn = agentic_turn(self, session, text)
            if turn is not None:
                return self._finish(session, turn)
            session.state = before  # the guided fallback reads the message afresh
        return self._finish(session, self._guided(session, text))

    # ------------------------------------------------------------------ guided mode

    def _guided(self, session: Session, text: str) -> Turn:
        st = session.state
        update = parse_message(text, self.vocab, st.pending_options, st.pending_question)
        if self.llm is not None and not update.intents & {"off_topic", "injection", "greeting"}:
            if not hasattr(self.llm, "complete_batch"):
                update.preferences += self._llm_preferences(text, update)
            elif getattr(self.llm, "tuned", False) and self.settings.local_extract:
                # Opt-in (CONVREC_LOCAL_EXTRACT=1): the tuned local model adds categories, brands and values the
                # parser missed; the parser wins conflicts (evals/LOCAL_LLM.md has why it is off by default).
                update.preferences = self._local_preferences(text, update)
        pending = st.pending_question
        if pending and not pending.startswith("relax:") and pending not in st.asked:
            st.asked.append(pending)
        st.pending_question, st.pending_options = "", []
        prefix = REFUSAL + " " if "injection" in update.intents else ""
        if "off_topic" in update.intents and not update.preferences:
            return Turn("assistant", prefix + self._redirect())
        if update.intents & {"thanks"} and not (update.preferences or update.query):
            return Turn("assistant", "You're welcome! Tell me if you'd like to see anything else.")
        if pending.startswith("relax:") and (_YES.search(text) or update.intents & {"show_now"}):
            kind = pending[6:]  # the shopper agreed to drop the constraint that left nothing
            gone = ("max_price", "min_price") if kind == "price" else (kind,)
            st.preferences = [p for p in st.preferences if not (p.attribute in gone and p.wanted)]
            update.intents.add("show_now")
        like = self._apply_reference(session, update)
        topic_change = apply_update(st, update, self.vocab)
        box = self._box(session)
        if "injection" in update.intents and not (update.preferences or update.query) and not st.query:
            question = box.ask()
            return self._ask(st, question, prefix) if question else Turn("assistant", prefix + self._redirect())
        if not update.intents & {"show_now", "different", "see_again", "more_like"} and not update.feedback:
            candidates = box.ranked(60)
            question = box.ask(candidates)
            if should_ask(st, update, question, self.settings):
                hello = "Hi! " if "greeting" in update.intents else ""
                return self._ask(st, question, prefix + hello)
        picks = box.recommend(include_shown="see_again" in update.intents, like=like,
                              different="different" in update.intents)
        picks = self._reword_all(picks, st)
        if not picks and box.blocked:
            kind, message = box.blocked
            if kind:
                st.pending_question, st.pending_options = f"relax:{kind}", ["yes"]
            return Turn("assistant", prefix + message, question=message if kind else None)
        return Turn("assistant", prefix + self._intro(st, picks, box.notes, topic_change), picks)

    def _apply_reference(self, session: Session, update: Update) -> str | None:
        """Feedback or "more like" aimed at a numbered pick of the last answer; returns the "more like" id."""
        if update.ordinal is None:
            return None
        last = next((t.picks for t in reversed(session.turns) if t.role == "assistant" and t.picks), [])
        if not last or not -len(last) <= update.ordinal < len(last):
            return None
        item_id = last[update.ordinal].item.item_id
        if update.feedback:
            self.feedback(session, item_id, update.feedback)  # type: ignore[arg-type]
        if "more_like" in update.intents:
            return item_id
        return None

    def _ask(self, st: DialogueState, question: Question, prefix: str = "") -> Turn:
        st.pending_question, st.pending_options = question.attribute, list(question.options)
        return Turn("assistant", prefix + question.text, question=question.text)

    def _intro(self, st: DialogueState, picks: list[Pick], notes: list[str], topic_change: bool) -> str:
        if not picks:
            return ("I couldn't find anything that fits yet. Could you describe it differently, "
                    "or drop a constraint?")
        c = constraints_of(st)
        parts = []
        if c.categories:
            parts.append("in " + " or ".join(c.categories))
        if c.brands:
            parts.append("from " + " or ".join(c.brands))
        if c.max_price is not None and self.vocab.has_prices:
            parts.append("up to " + price_text(c.max_price))
        what = (" " + ", ".join(parts)) if parts else ""
        start = "New search: h" if topic_change else "H"
        text = f"{start}ere {'is' if len(picks) == 1 else 'are'} {len(picks)} pick{'s' if len(picks) > 1 else ''}{what}."
        fresh = [n for n in dict.fromkeys(notes) if not (n == NO_PRICES and n in st.notes)]  # say "no prices" once
        if fresh:
            text += " " + " ".join(fresh)
            st.notes += [n for n in fresh if n not in st.notes]
        if any(p.explore for p in picks):
            text += " One is a wild card to widen the mix."
        return text + " Tell me what you like or don't, or ask for something different."

    def _redirect(self) -> str:
        cats = sorted({i.top_category for i in self.index.items[:2000] if i.top_category})[:4]
        examples = f" (for example {', '.join(cats)})" if cats else ""
        return f"I can only help with shopping in this catalog{examples}. What are you looking for?"

    # ------------------------------------------------------------------ LLM use, always checked

    def _local_preferences(self, text: str, update: Update) -> list[Preference]:
        """The parser's preferences completed by the tuned local model's reading (see `merge_preferences`)."""
        from training.lora_data import extraction_prompt, parse_extraction

        try:
            raw = self.llm.complete_batch([extraction_prompt(text)], 48)[0]
        except LLMUnavailable:
            return update.preferences
        model = [p for p in parse_extraction(raw, self.vocab).preferences
                 if not (p.attribute == "category" and named_only_as_purpose(p.value, text))]
        return merge_preferences(update.preferences, model)

    def _llm_preferences(self, text: str, update: Update) -> list[Preference]:
        """Preferences the LLM found that the parser missed, kept only if they name catalog vocabulary."""
        try:
            reply = self.llm.chat([Message("user", LLM_PROMPT.format(text=text[:1000]))], max_tokens=80)
        except LLMUnavailable:
            return []
        have = {p.attribute for p in update.preferences}
        return [p for p in validate_llm_update(reply.content, self.vocab) if p.attribute not in have]

    def _reword_all(self, picks: list[Pick], st: DialogueState) -> list[Pick]:
        """LLM wording for each reason, kept only when it passes the groundedness check; templates otherwise."""
        if self.llm is None:
            return picks
        context = self.index.get_items([*st.liked, *st.history])
        if getattr(self.llm, "tuned", False):
            return self._reword_batch(picks, st, context)
        out = []
        for n, pick in enumerate(picks):
            if n >= REWORD_MAX:
                return out + picks[n:]
            try:
                reply = self.llm.chat([Message("user", REWORD_PROMPT.format(reason=pick.reason))], max_tokens=60)
            except LLMUnavailable:
                return out + picks[n:]  # a dead server: do not wait for it once per pick
            wording = " ".join(reply.content.strip().split("\n")[0].split())
            ok = (wording and adds_no_claims(wording, pick.reason, pick.item)
                  and check_grounded(wording, pick.item, st, self.vocab, context))
            out.append(Pick(pick.item, pick.score, wording, pick.explore) if ok else pick)
        return out

    def _reword_batch(self, picks: list[Pick], st: DialogueState, context: list) -> list[Pick]:
        """The tuned local model writes every pick's reason in one batch, in the format it was trained on."""
        from training.lora_data import REASON_MAX_TOKENS, reason_prompt

        try:
            texts = self.llm.complete_batch([reason_prompt(st.preferences, p.item) for p in picks], REASON_MAX_TOKENS,
                                            task="reason")
        except LLMUnavailable:
            return picks
        out = []
        for pick, text in zip(picks, texts):
            wording = " ".join(text.split())
            # Kept only when a whole sentence (not cut at the token limit), true, and naming at least as many of
            # the shopper's needs as the template does.
            ok = (wording.endswith((".", "!")) and check_grounded(wording, pick.item, st, self.vocab, context)
                  and _needs_named(wording, st) >= _needs_named(pick.reason, st))
            out.append(Pick(pick.item, pick.score, wording, pick.explore) if ok else pick)
        return out

    # ------------------------------------------------------------------ helpers

    def _box(self, session: Session):
        from agent.tools import ToolBox

        return ToolBox(self.index, self.interest, self.vocab, self.settings, session)

    def _validate(self, text: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise AgentInputError("Empty message: tell me what you are looking for (e.g. 'a cordless drill under $100').")
        if len(text) > self.settings.max_message_chars:
            raise AgentInputError(f"Message too long ({len(text)} characters; the limit is "
                                  f"{self.settings.max_message_chars}). Shorten it to what you are looking for.")
        return text.strip()

    def _finish(self, session: Session, turn: Turn) -> Turn:
        st = session.state
        for p in turn.picks:
            if p.item.item_id not in st.shown:
                st.shown.append(p.item.item_id)
        session.turns.append(turn)
        return turn


def _needs_named(text: str, st: DialogueState) -> int:
    """How many of the shopper's wanted values (brand, category, attribute values, budget) a text names."""
    low = text.lower()
    return sum(1 for p in st.preferences if p.wanted and p.value and p.value.lower() in low)
