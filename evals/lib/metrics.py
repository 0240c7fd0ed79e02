"""Quality metrics computed on every evaluation run, from sessions the agent produced (plain data only).

Per session: invented items, constraint violations, re-recommended rejections, reason groundedness, intra-list
diversity. Per run: category coverage, novelty, latency percentiles, success@turn, turns to success. Ranking
metrics (recall@k, NDCG, ranks) live in training/metrics.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from agent.state import Pick, Session
from retrieval.items import Item
from retrieval.search import Filters

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9&'-]{2,}\b")
# Capitalised words a reason may use without them being facts about the item.
_FREE_WORDS = frozenset(
    "The This That These Those You Your Its It Our We Great Good Best Top Pick Picks Also Because Since "
    "Matches Matching Similar Like Liked Popular Highly Well Rated Top-rated Budget Brand Category Price "
    "Fits Within Under Over Based Shoppers Customers People Bought Often Reliable Quality Solid Classic "
    "Strong Alternative Different Another New Recommended For With And From Same".split())


@dataclass
class QualityTally:
    """Running counts over many sessions; `summary()` gives rates."""

    picks: int = 0
    invented: int = 0
    violations: int = 0
    constrained_picks: int = 0
    rerecommended: int = 0
    grounded: int = 0
    ild: list[float] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)
    novelty_bits: list[float] = field(default_factory=list)

    def summary(self, catalog_categories: int) -> dict[str, float]:
        """Rates and percentiles, JSON-ready."""
        p50, p95 = latency_percentiles(self.latencies_s)
        return {
            "picks": self.picks,
            "invented_item_rate": _rate(self.invented, self.picks),
            "constraint_violation_rate": _rate(self.violations, self.constrained_picks),
            "rerecommended_rejections": self.rerecommended,
            "reason_groundedness": _rate(self.grounded, self.picks),
            "intra_list_diversity": round(float(np.mean(self.ild)), 4) if self.ild else 0.0,
            "category_coverage": _rate(len(self.categories), catalog_categories),
            "novelty_bits": round(float(np.mean(self.novelty_bits)), 3) if self.novelty_bits else 0.0,
            "latency_p50_s": round(p50, 3),
            "latency_p95_s": round(p95, 3),
        }


def violates(item: Item, constraints: Filters) -> bool:
    """Whether a (catalog) item breaks a constraint the shopper stated."""
    return not constraints.accepts(item)


def grounded(pick: Pick, item: Item | None, conversation: str) -> bool:
    """Every number and proper name in the reason appears in the item's data or in what the shopper said."""
    if item is None:
        return False
    facts = f"{item.text()} {item.price or ''} {conversation}".lower()
    numbers = [n.replace(",", "") for n in _NUMBER.findall(pick.reason)]
    if any(n not in facts.replace(",", "") and n.rstrip("0").rstrip(".") not in facts for n in numbers):
        return False
    names = [w for w in _NAME.findall(pick.reason) if w not in _FREE_WORDS]
    return all(w.lower() in facts for w in names)


def intra_list_diversity(vectors: np.ndarray) -> float:
    """Mean pairwise cosine distance of one list's unit embeddings; 0 for fewer than two items."""
    n = len(vectors)
    if n < 2:
        return 0.0
    sims = vectors @ vectors.T
    return float((1.0 - sims[np.triu_indices(n, 1)]).mean())


def novelty_bits(item_id: str, counts: Mapping[str, int], total: int) -> float:
    """Self-information -log2 p(item) under add-one popularity; rarer items are more novel."""
    return -math.log2((counts.get(item_id, 0) + 1) / (total + max(len(counts), 1)))


def latency_percentiles(latencies: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) of latencies in seconds; zeros when empty."""
    if not latencies:
        return 0.0, 0.0
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))


def rerecommended(session: Session) -> int:
    """Picks of a rejected item after its first showing (a shopper rejects what was shown to them)."""
    rejected = set(session.state.rejected)
    shown: dict[str, int] = {}
    for turn in session.turns:
        if turn.role == "assistant":
            for pick in turn.picks:
                shown[pick.item.item_id] = shown.get(pick.item.item_id, 0) + 1
    return sum(max(0, shown.get(i, 0) - 1) for i in rejected)


def tally_session(tally: QualityTally, session: Session, index,
                  constraints: Filters | Sequence[Filters] | None = None,
                  counts: Mapping[str, int] | None = None) -> None:
    """Add one session's picks to the tally (index: the CatalogIndex the agent used).

    constraints: one Filters for the whole session, or one per assistant turn (what had been stated by then).
    """
    # A reason may cite what the shopper said and the items they bought or liked ("like the X you bought").
    own = index.get_items([*session.state.history, *session.state.liked, *session.state.owned])
    conversation = " ".join([t.text for t in session.turns if t.role == "user"] + [i.text() for i in own])
    total = sum(counts.values()) if counts else 0
    answers = [t for t in session.turns if t.role == "assistant"]
    for n, turn in enumerate(answers):
        if not turn.picks:
            continue
        binding = constraints[min(n, len(constraints) - 1)] if isinstance(constraints, Sequence) and constraints \
            else (constraints if isinstance(constraints, Filters) else None)
        rows = []
        for pick in turn.picks:
            tally.picks += 1
            item = _lookup(index, pick.item.item_id)
            if item is None or item.title != pick.item.title:
                tally.invented += 1
                continue
            rows.append(index.position[item.item_id])
            tally.grounded += grounded(pick, item, conversation)
            tally.categories.add(item.top_category)
            if binding is not None and not binding.is_empty():
                tally.constrained_picks += 1
                tally.violations += violates(item, binding)
            if counts is not None:
                tally.novelty_bits.append(novelty_bits(item.item_id, counts, total))
        if len(rows) > 1:
            tally.ild.append(intra_list_diversity(index.embeddings[rows]))
    tally.rerecommended += rerecommended(session)


def success_at(first_success: Sequence[int | None], turns: Iterable[int]) -> dict[int, float]:
    """Share of episodes whose target was picked by turn t (1-based), for each t."""
    n = max(len(first_success), 1)
    return {t: round(sum(1 for s in first_success if s is not None and s <= t) / n, 4) for t in turns}


def mean_turns_to_success(first_success: Sequence[int | None]) -> float | None:
    """Average turn of first success over successful episodes; None when none succeeded."""
    hits = [s for s in first_success if s is not None]
    return round(float(np.mean(hits)), 3) if hits else None


def _lookup(index, item_id: str) -> Item | None:
    row = index.position.get(item_id)
    return None if row is None else index.items[row]


def _rate(num: int, den: int) -> float:
    return round(num / den, 4) if den else 0.0
