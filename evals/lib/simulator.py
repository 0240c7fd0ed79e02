"""A simulated shopper with a hidden target item, driving the agent through its public API.

The rule-based shopper opens with the target's kind of product, answers the agent's questions truthfully from
the target's attributes (category, brand, price band, descriptive words) without ever naming it, likes picks
whose embedding is close to the target's and rejects the others, and stops at success or after N turns.
`LLMShopper` words the same answers with any `agent.llm.LLM` (e.g. an OpenAI-compatible server); its text is
checked and replaced by the rule answer if it would name the target.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from agent.llm import LLM, LLMUnavailable, Message
from agent.state import Session
from evals.lib.metrics import QualityTally, mean_turns_to_success, success_at, tally_session
from retrieval.items import Item
from retrieval.search import CatalogIndex, Filters
from training.metrics import recall_at_k

LIKE_THRESHOLD = 0.6  # cosine to the target above which a pick is "close enough to like" (MiniLM scale)
MAX_TURNS = 5
_WORD = re.compile(r"[A-Za-z][A-Za-z-]+")
_GENERIC = frozenset(
    "with for and the pack set of in to by from new inch inches pcs piece pieces each per size mm cm ml oz lb "
    "lbs ft pack-of count black white blue red green clear yellow small large medium".split())
_QUESTION_KINDS = (  # question words -> which fact the shopper reveals
    ("brand", ("brand", "make", "manufacturer", "maker")),
    ("price", ("price", "budget", "spend", "cost", "afford", "$", "cheap", "expensive")),
    ("category", ("category", "kind", "type", "sort", "department", "which area", "looking for")),
    ("use", ("use", "purpose", "for what", "project", "application", "need it", "feature", "must")),
)


@dataclass
class Episode:
    """One simulated conversation and what came of it."""

    target_id: str
    first_success: int | None  # 1-based shopper turn after which the target was among the picks
    turns: int
    final_ranking: list[str]  # agent.rank(session, k=50) item ids after the last turn
    final_picks: list[str]
    latencies_s: list[float]
    session: Session
    constraints: list[Filters]  # per assistant turn: what the shopper had stated before it (violation checks)
    messages: list[str] = field(default_factory=list)  # what the shopper said (for truthfulness tests)


class RuleShopper:
    """Answers from the target's facts; reveals one more fact each turn it is not asked anything."""

    def __init__(self, target: Item, index: CatalogIndex, like_threshold: float = LIKE_THRESHOLD):
        self.target = target
        self.index = index
        self.like_threshold = like_threshold
        self.vector = index.embedding(target.item_id)
        self.hints = _hint_words(target)
        self.stated: dict[str, Any] = {}
        self._revealed = 0
        self._hint_pos = 0  # describing words already said

    # ------------------------------------------------------------ facts

    def kind(self) -> str:
        """The most specific category level, in words a shopper would use."""
        path = self.target.category_path
        # Amazon leaves join several levels with spaces ("Safety Signs & Signals Marking & Warning Tape");
        # a shopper names only the last few words, not the whole path.
        words = (path[-1] if path else "product").lower().split()
        return " ".join(words[-3:]).lstrip("& ")

    def price_ceiling(self) -> float | None:
        """A truthful budget: the next round figure at least 20% above the target's price."""
        if self.target.price is None:
            return None
        step = 10 ** max(0, int(math.log10(max(self.target.price, 1.0))))
        return float(math.ceil(self.target.price * 1.2 / step) * step)

    def constraints(self) -> Filters:
        """Hard constraints stated so far."""
        return Filters(brands=(self.stated["brand"],) if "brand" in self.stated else (),
                       max_price=self.stated.get("max_price"))

    # ------------------------------------------------------------ messages

    def opening(self) -> str:
        """First message: only the kind of product; details come when asked or on later turns."""
        return self.safe(f"Hi, I'm looking for {self.kind()}.")

    def safe(self, text: str) -> str:
        """The message, or a vaguer one if it would name the target (short titles equal their category)."""
        if not names_target(text, self.target):
            return text
        return "I need something for my work, can you suggest a few options?"

    def answer(self, question: str) -> str:
        """A truthful answer to the agent's question about the target (never its name)."""
        q = question.lower()
        for fact, cues in _QUESTION_KINDS:
            if any(c in q for c in cues):
                return self._say(fact)
        return self.follow_up()

    def _say(self, fact: str) -> str:
        before = dict(self.stated)
        text = self._fact(fact)
        safe = self.safe(text)
        if safe != text:  # the fact would have named the target and was not said: it binds nothing
            self.stated = before
        return safe

    def follow_up(self) -> str:
        """When not asked anything: reveal the next fact (brand, budget, more describing words)."""
        order = ["use", "brand", "price", "use", "use"]
        fact = order[min(self._revealed, len(order) - 1)]
        self._revealed += 1
        return self._say(fact)

    def _fact(self, fact: str) -> str:
        if fact == "brand":
            if self.target.brand:
                self.stated["brand"] = self.target.brand
                return f"I'd prefer {self.target.brand}."
            return "No brand preference."
        if fact == "price":
            ceiling = self.price_ceiling()
            if ceiling is None:
                return "Price isn't the main thing for me."
            self.stated["max_price"] = ceiling
            return f"My budget is under ${ceiling:,.0f}."
        if fact == "category":
            return f"It's {self.kind()} I need."
        words = self.hints[self._hint_pos:self._hint_pos + 3] or self.hints[:3]
        self._hint_pos += 3
        return f"Ideally {' '.join(words)}." if words else f"Just a good {self.kind()}."

    def react(self, picks: Sequence[Any]) -> list[tuple[str, str]]:
        """(item id, "like"|"reject") for each pick: like when its embedding is close to the target's."""
        out = []
        for pick in picks:
            item_id = pick.item.item_id
            if item_id not in self.index.position:
                continue  # an invented item: nothing to react to (counted by the metrics)
            close = float(self.index.embedding(item_id) @ self.vector) >= self.like_threshold
            out.append((item_id, "like" if close or item_id == self.target.item_id else "reject"))
        return out


class LLMShopper(RuleShopper):
    """Same facts, worded by a language model; falls back to the rule answer on failure or a leak."""

    def __init__(self, target: Item, index: CatalogIndex, llm: LLM, **kwargs: Any):
        super().__init__(target, index, **kwargs)
        self.llm = llm

    def answer(self, question: str) -> str:
        """The rule answer, rephrased by the LLM when that is safe."""
        facts = super().answer(question)
        prompt = [Message("system", "You are a shopper chatting with a store assistant. Reply in one short "
                                    "sentence, in your own words, saying only this: " + facts +
                          " Never name a specific product."),
                  Message("user", question or "How can I help?")]
        try:
            text = self.llm.chat(prompt, max_tokens=60).content.strip()
        except LLMUnavailable:
            return facts
        return text if text and not names_target(text, self.target) else facts


def names_target(text: str, target: Item) -> bool:
    """Whether a message gives the target away: its full title, or a model-number token of its title."""
    low = text.lower()
    if target.title.lower() in low:
        return True
    codes = [t for t in re.findall(r"[A-Za-z0-9-]+", target.title) if re.search(r"\d", t) and re.search(r"[A-Za-z]", t)
             and len(t) >= 4]
    return any(c.lower() in low for c in codes)


def run_episode(agent: Any, target: Item, history: Sequence[str] = (), max_turns: int = MAX_TURNS,
                shopper: RuleShopper | None = None) -> Episode:
    """One conversation: the shopper talks until the target is picked or max_turns shopper messages."""
    shopper = shopper or RuleShopper(target, agent.index)
    session = agent.new_session(history)
    message = shopper.opening()
    latencies: list[float] = []
    messages: list[str] = []
    first_success = None
    final_picks: list[str] = []
    turn_no = 0
    constraints: list[Filters] = []
    for turn_no in range(1, max_turns + 1):
        messages.append(message)
        constraints.append(shopper.constraints())  # picks answer this message: only what was said so far binds
        started = time.perf_counter()
        turn = agent.reply(session, message)
        latencies.append(time.perf_counter() - started)
        final_picks = [p.item.item_id for p in turn.picks] or final_picks
        if any(p.item.item_id == target.item_id for p in turn.picks):
            first_success = turn_no
            break
        for item_id, kind in shopper.react(turn.picks):
            agent.feedback(session, item_id, kind)
        message = shopper.answer(turn.question) if turn.question else shopper.follow_up()
    # Rank on a copy that forgets what was shown: the agent never re-ranks shown items, but recall@k asks
    # how well everything the shopper said and did places the target.
    probe = Session.from_json(session.to_json())
    probe.state.shown = []
    ranking = [s.item.item_id for s in agent.rank(probe, k=50)]
    return Episode(target.item_id, first_success, turn_no, ranking, final_picks, latencies, session,
                   constraints, messages)


def _hint_words(item: Item) -> list[str]:
    """Describing words from the title and description: no brand, no model numbers, no filler."""
    brand = (item.brand or "").lower()
    kind = (item.category_path[-1] if item.category_path else "").lower()  # already said in the opening
    seen: dict[str, None] = {}
    for text in (item.title, item.description[:300]):
        for w in _WORD.findall(text):
            low = w.lower()
            if len(low) > 3 and low not in _GENERIC and low not in brand and low not in kind:
                seen.setdefault(low, None)
    return list(seen)


def run_simulation(agent: Any, targets: Sequence[tuple[Item, Sequence[str]]], max_turns: int = MAX_TURNS,
                   llm: LLM | None = None, log=None) -> list[Episode]:
    """Episodes for (target, history) pairs; `llm` words the shopper's answers (LLMShopper) when given."""
    episodes = []
    for n, (target, history) in enumerate(targets, start=1):
        shopper = LLMShopper(target, agent.index, llm) if llm is not None else RuleShopper(target, agent.index)
        episodes.append(run_episode(agent, target, history, max_turns, shopper))
        if log and n % 20 == 0:
            log(f"  {n}/{len(targets)} episodes")
    return episodes


def summarise(episodes: Sequence[Episode], index: CatalogIndex, max_turns: int = MAX_TURNS,
              counts: dict[str, int] | None = None) -> dict[str, Any]:
    """Success@turn, turns to success, recall@k of the final ranking, and every quality metric."""
    tally = QualityTally()
    for ep in episodes:
        tally.latencies_s.extend(ep.latencies_s)
        tally_session(tally, ep.session, index, ep.constraints, counts)
    firsts = [ep.first_success for ep in episodes]
    targets = [ep.target_id for ep in episodes]
    ranked = [ep.final_ranking for ep in episodes]
    return {"episodes": len(episodes),
            "success_at_turn": {str(t): v for t, v in success_at(firsts, range(1, max_turns + 1)).items()},
            "success_rate": success_at(firsts, [max_turns])[max_turns],
            "mean_turns_to_success": mean_turns_to_success(firsts),
            "recall_at_10": round(recall_at_k(ranked, targets, 10), 4),
            "recall_at_50": round(recall_at_k(ranked, targets, 50), 4),
            "target_named_by_shopper": sum(any(names_target(m, index.items[index.position[ep.target_id]])
                                               for m in ep.messages) for ep in episodes),
            **tally.summary(len({i.top_category for i in index.items}))}
