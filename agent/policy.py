"""The guided dialogue policy: fold a message into the state, then ask (by information gain) or recommend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from agent.config import Settings
from agent.state import DialogueState
from agent.understand import Update
from retrieval.items import Item
from retrieval.search import Filters, ScoredItem
from retrieval.vocabulary import Preference, Vocabulary

MIN_GAIN_BITS = 1.0  # ask only when the answer would split the candidates at least this much
TOP_OPTIONS = 4  # options offered in a question (plus "other")
SHARPNESS = 0.08  # relevance temperature: candidates far below the best count little toward the entropy
RECOMMEND_NOW = {"show_now", "different", "more_like", "see_again"}
PERSON_KEYS = frozenset({"director", "directors", "stars", "star", "actor", "actors", "cast", "author", "authors",
                         "artist", "writer", "writers"})  # attributes that name people


@dataclass
class Constraints:
    """The state's preferences as hard filters and soft wishes."""

    categories: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    avoid_brands: list[str] = field(default_factory=list)
    avoid_categories: list[str] = field(default_factory=list)
    min_price: float | None = None
    max_price: float | None = None
    must: dict[str, str] = field(default_factory=dict)  # attribute -> value
    avoid_values: list[tuple[str, str]] = field(default_factory=list)
    price_band: str = ""  # "low" | "high" | ""
    relative_price: bool = False  # the bounds come from a critique ("cheaper"), not from a budget the shopper said

    def filters(self, drop: frozenset[str] = frozenset()) -> Filters:
        """Search filters, without the constraint kinds named in `drop` (relaxation)."""
        return Filters(
            categories=() if "category" in drop else tuple(self.categories),
            brands=() if "brand" in drop else tuple(self.brands),
            exclude_brands=tuple(self.avoid_brands),
            min_price=None if "price" in drop else self.min_price,
            max_price=None if "price" in drop else self.max_price,
            attributes={} if "must" in drop else dict(self.must))


def constraints_of(state: DialogueState) -> Constraints:
    """Collect the current constraints from the stated preferences."""
    c = Constraints()
    for p in state.preferences:
        if p.attribute == "category":
            (c.categories if p.wanted else c.avoid_categories).append(p.value)
        elif p.attribute == "brand":
            (c.brands if p.wanted else c.avoid_brands).append(p.value)
        elif p.attribute in ("max_price", "min_price"):
            setattr(c, p.attribute, float(p.value))
            c.relative_price = False
        elif p.attribute in ("below_price", "above_price"):  # from "cheaper" / "more premium"
            setattr(c, "max_price" if p.attribute == "below_price" else "min_price", float(p.value))
            c.relative_price = True
        elif p.attribute.startswith("attr:"):
            if p.wanted:
                c.must[p.attribute[5:]] = p.value
            else:
                c.avoid_values.append((p.attribute[5:], p.value))
        elif p.attribute == "price_band":
            c.price_band = p.value
    return c


def _replaces(new: Preference, old: Preference) -> bool:
    """Whether a newly stated preference supersedes an older one."""
    if new.attribute in ("max_price", "min_price", "below_price", "above_price"):
        return old.attribute in ("max_price", "min_price", "below_price", "above_price") and (
            old.attribute == new.attribute or old.attribute.startswith(("below", "above")))
    if new.attribute == "price_band":
        return old.attribute == new.attribute
    if new.attribute == "brand":
        return old.attribute == "brand" and (old.value == new.value or (new.wanted and old.wanted))
    if new.attribute == "category":
        return old.attribute == "category" and (old.value == new.value or (new.wanted and old.wanted))
    if new.attribute.startswith("attr:"):
        return old.attribute == new.attribute and (old.value == new.value or (new.wanted and old.wanted))
    return False


def is_topic_change(state: DialogueState, update: Update, vocab: Vocabulary | None = None) -> bool:
    """A reset phrase, or a wanted category from another department ("actually I need a kettle").

    A new category in the same department ("lab equipment" -> "only beakers") narrows instead: brand and
    budget stay.
    """
    new = {p.value for p in update.preferences if p.attribute == "category" and p.wanted}
    old = {p.value for p in state.preferences if p.attribute == "category" and p.wanted}
    if "reset" in update.intents and new and new != old:  # "scratch that, a cat tree": a new kind of thing
        return True
    if not (new and old) or new & old:
        return False
    if vocab is None:
        return True
    tops = lambda levels: {t for lvl in levels for t in vocab.level_tops.get(lvl, {lvl})}  # noqa: E731
    return not tops(new) & tops(old)


def _applies(pref: Preference, categories: set[str], vocab: Vocabulary) -> bool:
    """Whether an attribute value occurs in any of the stated categories (or the vocabulary does not know)."""
    levels = vocab.value_levels.get((pref.attribute[5:], pref.value.lower()))
    return levels is None or bool(levels & categories)


def apply_update(state: DialogueState, update: Update, vocab: Vocabulary | None = None) -> bool:
    """Fold the message's preferences and query into the state; returns True on a topic change."""
    changed = is_topic_change(state, update, vocab)
    if changed:
        state.preferences, state.query, state.asked = [], "", []
        state.pending_question, state.pending_options = "", []
        state.limits, state.focus = [], []
    cats = {p.value for p in [*state.preferences, *update.preferences] if p.attribute == "category" and p.wanted}
    if vocab is not None and any(p.attribute == "category" and p.wanted for p in update.preferences):
        state.preferences = [p for p in state.preferences if not (p.attribute.startswith("attr:") and p.wanted
                                                                  and not _applies(p, cats, vocab))]
    for new in update.preferences:
        if vocab is not None and cats and new.attribute.startswith("attr:") and not _applies(new, cats, vocab):
            continue  # "a 4.0 Ah battery" names no power source for drills: the value belongs to other products
        state.preferences = [p for p in state.preferences if not _replaces(new, p)]
        state.preferences.append(new)
    if update.query:
        words = f"{state.query} {update.query}".split()
        state.query = " ".join(words[-40:])  # recent words matter most; MiniLM reads 128 pieces anyway
    return changed


# ---------------------------------------------------------------------- questions by information gain

@dataclass(frozen=True)
class Question:
    """A preference question with its concrete options (parsed back by extract.parse_message)."""

    attribute: str  # "category" | "price" | "brand" | "use_case"
    text: str
    options: list[str]
    gain: float  # expected information gain in bits


def _entropy(weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return -sum(w / total * math.log2(w / total) for w in weights.values() if w > 0) if total > 0 else 0.0


def _bucketed(values: list[str], weights: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """Weight per value with everything past the top options merged into "other"."""
    acc: dict[str, float] = {}
    for v, w in zip(values, weights):
        if v:
            acc[v] = acc.get(v, 0.0) + float(w)
    top = sorted(acc, key=lambda v: -acc[v])[:TOP_OPTIONS]
    out = {v: acc[v] for v in top}
    rest = sum(w for v, w in acc.items() if v not in out)
    if rest > 0:
        out["other"] = rest
    return out, top


def _category_level(scored: ScoredItem, stated: list[str]) -> str:
    """The level below the stated category (or the top grouping when none is stated)."""
    path = scored.item.category_path
    lowered = [p.lower() for p in path]
    for cat in stated:
        if cat.lower() in lowered:
            at = lowered.index(cat.lower())
            return path[at + 1] if at + 1 < len(path) else ""
    return scored.item.top_category if not stated else ""


def best_question(state: DialogueState, candidates: list[ScoredItem], vocab: Vocabulary) -> Question | None:
    """The question whose answer splits the (relevance-weighted) candidates most, among those not yet settled."""
    if not candidates:
        return None
    c = constraints_of(state)
    scores = np.array([s.score for s in candidates])
    weights = np.exp((scores - scores.max()) / SHARPNESS)
    options: list[Question] = []
    if "category" not in state.asked:
        dist, top = _bucketed([_category_level(s, c.categories) for s in candidates], weights)
        if len(top) > 1:
            text = f"What kind of {_noun(candidates)} are you after: {_join(top)}?"
            options.append(Question("category", text, top, _entropy(dist) * 1.2))  # the most useful first split
    if "price" not in state.asked and vocab.has_prices and c.max_price is None and c.min_price is None and \
            not c.price_band:  # "nothing too pricey" is an answer already
        priced = [(s.item.price, w) for s, w in zip(candidates, weights) if s.item.price is not None]
        if len(priced) >= 6:
            lo, hi = np.percentile([p for p, _ in priced], [33, 67])
            lo, hi = _round_price(lo), _round_price(hi)
            if hi > lo > 0:
                labels = [f"under ${lo}", f"between ${lo} and ${hi}", f"over ${hi}"]
                dist = {labels[0 if p < lo else 1 if p <= hi else 2]: 0.0 for p, _ in priced}
                for p, w in priced:
                    dist[labels[0 if p < lo else 1 if p <= hi else 2]] += float(w)
                text = f"What budget do you have in mind: {labels[0]}, {labels[1]}, or {labels[2]}?"
                options.append(Question("price", text, labels, _entropy(dist)))
    if "brand" not in state.asked and not c.brands:
        dist, top = _bucketed([s.item.brand or "" for s in candidates], weights)
        if len(top) > 1:
            text = f"Any brand you prefer: {_join(top)}? Or say no preference."
            options.append(Question("brand", text, top, _entropy(dist) * 0.8))  # brands matter less than need
    if "use_case" not in state.asked and "use_case" not in c.must:
        uses = [s.item.attributes.get("use_case", "") for s in candidates]
        if sum(bool(u) for u in uses) >= len(uses) / 2:
            dist, top = _bucketed(uses, weights)
            if len(top) > 1:
                text = f"What will you mostly use it for: {_join(top)}?"
                options.append(Question("use_case", text, top, _entropy(dist)))
    return max(options, key=lambda q: q.gain, default=None)


def should_ask(state: DialogueState, update: Update, question: Question | None, settings: Settings) -> bool:
    """Ask only on a cold start, within the question budget, and when the answer would narrow things."""
    if question is None or update.intents & RECOMMEND_NOW or update.feedback:
        return False
    if any(p.wanted and p.attribute.split(":", 1)[-1] in PERSON_KEYS for p in update.preferences):
        return False  # "anything with Tom Hanks?": a person named is specific enough to show their work
    if state.history or state.liked or state.shown:
        return False  # a known customer, or picks already on the table: recommend and refine
    if len(state.asked) >= settings.max_questions:
        return False
    return question.gain >= MIN_GAIN_BITS


def _noun(candidates: list[ScoredItem]) -> str:
    """What the catalog sells, for a question: "movie" when every candidate is under "Movies", else "product"."""
    tops = {s.item.top_category for s in candidates}
    top = tops.pop() if len(tops) == 1 else ""
    return top[:-1].lower() if top and top.endswith("s") and " " not in top and not top.endswith("ss") else "product"


def _round_price(value: float) -> int:
    step = 5 if value < 100 else 10 if value < 500 else 50
    return int(max(step, round(value / step) * step))


def _join(values: list[str]) -> str:
    return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


# ---------------------------------------------------------------------- critiques

def apply_critique(state: DialogueState, key: str, way: str, reference: list[Item], on_screen: list[Item],
                   value: Callable[[Item, str], float | None], beyond_all: bool = False) -> bool:
    """Move a constraint relative to the referenced item, else the median of the picks on screen: "cheaper" caps
    the price below it, "more premium" puts a floor above it, "lighter" / "bigger" / "more powerful" limit that
    attribute. Returns False when nothing shown has that value to move from."""
    pool = reference or on_screen
    values = [v for v in (value(i, key) for i in pool) if v is not None]
    if not values:
        return False
    if len(reference) == 1:
        anchor = values[0]
    elif beyond_all:  # "nicer than those", "cheaper than all of them": past every one shown
        anchor = max(values) if way == "up" else min(values)
    else:
        anchor = float(np.median(values))
    if key == "price":
        prices = ("max_price", "min_price", "below_price", "above_price", "price_band")
        said = [p for p in state.preferences if p.attribute == "max_price"]  # a stated budget still holds
        prefs = [p for p in state.preferences if p.attribute not in prices]
        if way == "down":  # cheaper: a cap just below the anchor
            prefs.append(Preference("below_price", f"{round(anchor - 0.01, 2):.2f}".rstrip("0").rstrip(".")))
        else:  # more premium: a floor just above the anchor; the stated budget gives way
            prefs.append(Preference("above_price", f"{round(anchor + 0.01, 2):.2f}".rstrip("0").rstrip(".")))
            said = []
        if said and float(said[0].value) < anchor:
            prefs = [p for p in prefs if p.attribute != "below_price"] + said
        state.preferences = prefs
    else:
        state.limits = [lim for lim in state.limits if lim[0] != key] + [[key, "<" if way == "down" else ">", anchor]]
    if not any(p.attribute == "category" and p.wanted for p in state.preferences):
        leaves = [i.category_path[-1] for i in pool if i.category_path]
        common = max(set(leaves), key=leaves.count) if leaves else ""
        if common and leaves.count(common) >= 0.6 * len(leaves):  # keep to the kind of thing being critiqued
            state.preferences.append(Preference("category", common))
    return True
