"""Turning a relevance ranking into a few diverse picks: MMR with category calibration, then exploration.

MMR (Carbonell & Goldstein 1998) trades relevance against similarity to the picks already chosen; the
calibration term (Steck 2018) keeps the category mix close to the shopper's interest profile; Thompson
sampling over categories (Beta(alpha, beta) per category, updated by likes and rejections) spends a share of
the picks on categories the shopper may like but has not shown yet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from retrieval.search import CatalogIndex, ScoredItem

CALIBRATION_WEIGHT = 0.5  # penalty per unit of a category's share above its target share
PRIOR = (1.0, 1.0)  # Beta prior for a category nobody has reacted to


@dataclass(frozen=True)
class Choice:
    """One chosen candidate; explore=True when it came from exploration."""

    scored: ScoredItem
    explore: bool = False


def category_of(scored: ScoredItem) -> str:
    """The grouping category used for calibration and exploration."""
    return scored.item.top_category or "other"


def mmr(index: CatalogIndex, ranked: list[ScoredItem], k: int, diversity: float,
        target: dict[str, float] | None = None) -> list[ScoredItem]:
    """Greedy MMR over `ranked` (best first) with a calibration penalty toward `target` category shares."""
    if k <= 0 or not ranked:
        return []
    pool = ranked[: max(8 * k, 40)]
    rows = np.array([index.position[s.item.item_id] for s in pool])
    vecs = index.embeddings[rows]  # (m, 384) unit rows
    rel = np.array([s.score for s in pool], dtype=np.float64)
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 1e-9 else np.ones_like(rel)
    chosen: list[int] = []
    max_sim = np.zeros(len(pool))
    counts: dict[str, int] = {}
    cats = [category_of(s) for s in pool]
    while len(chosen) < min(k, len(pool)):
        score = (1.0 - diversity) * rel - diversity * max_sim
        if target:
            share = np.array([(counts.get(c, 0) + 1) / k for c in cats])
            want = np.array([target.get(c, 0.0) for c in cats])
            score -= CALIBRATION_WEIGHT * np.clip(share - want, 0.0, None) * (diversity > 0)
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        counts[cats[best]] = counts.get(cats[best], 0) + 1
        max_sim = np.maximum(max_sim, vecs @ vecs[best])
    return [pool[i] for i in chosen]


def thompson_category(bandit: dict[str, list[float]], categories: list[str], rng: random.Random,
                      avoid: set[str] = frozenset()) -> str | None:
    """The category with the highest Beta sample among `categories` not in `avoid` (None if none left)."""
    best, best_draw = None, -1.0
    for cat in sorted(set(categories) - set(avoid)):
        alpha, beta = bandit.get(cat, PRIOR)
        draw = rng.betavariate(max(alpha, 1e-3), max(beta, 1e-3))
        if draw > best_draw:
            best, best_draw = cat, draw
    return best


def diversify(index: CatalogIndex, ranked: list[ScoredItem], k: int, diversity: float, explore: float,
              bandit: dict[str, list[float]], target: dict[str, float] | None, rng: random.Random) -> list[Choice]:
    """MMR picks, with round(k * explore) of the last slots replaced by Thompson-sampled categories."""
    picks = [Choice(s) for s in mmr(index, ranked, k, diversity, target)]
    n_explore = int(round(k * explore)) if len(picks) >= k else 0
    shown_cats = {category_of(c.scored) for c in picks[: k - n_explore]}
    taken = {c.scored.item.item_id for c in picks[: k - n_explore]}
    for slot in range(k - n_explore, k):
        pool = [s for s in ranked if s.item.item_id not in taken]
        cat = thompson_category(bandit, [category_of(s) for s in pool[: 8 * k]], rng, shown_cats)
        if cat is None:
            continue  # one category only: exploration has nothing new to offer, keep the MMR pick
        pick = next(s for s in pool if category_of(s) == cat)
        picks[slot] = Choice(pick, explore=True)
        taken.add(pick.item.item_id)
        shown_cats.add(cat)
    return picks


def update_bandit(bandit: dict[str, list[float]], category: str, success: bool) -> None:
    """Like: alpha + 1; rejection: beta + 1."""
    alpha, beta = bandit.get(category, list(PRIOR))
    bandit[category] = [alpha + 1.0, beta] if success else [alpha, beta + 1.0]
