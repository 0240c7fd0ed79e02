"""Quality and ranking metrics (ties pessimistic) on hand-made cases with known answers, and the movie prior."""

from __future__ import annotations

import numpy as np
import pytest

from agent.state import Pick, Session, Turn
from evals.lib.metrics import (
    QualityTally,
    grounded,
    intra_list_diversity,
    latency_percentiles,
    mean_turns_to_success,
    novelty_bits,
    rerecommended,
    success_at,
    tally_session,
)
from retrieval.items import Item
from retrieval.search import Filters
from training.metrics import evaluate_ranks, rank_of, recall_at, recall_at_k, target_ranks
from training.dialogue_fit import tune_all
from training.dialogue_interest import ExtraWeights
from training.movies import MixWeights, MovieInfo, fit_movie_prior

DRILL = Item("d1", "Voltmark VM-1820 18V Cordless Drill Driver", "Tools > Drills", "Voltmark", 79.99,
             "Compact cordless drill driver.", {"voltage": "18V"})


def test_success_curve_turns_and_recall() -> None:
    firsts = [1, 3, None, 2]
    assert success_at(firsts, range(1, 4)) == {1: 0.25, 2: 0.5, 3: 0.75}
    assert mean_turns_to_success(firsts) == 2.0
    assert mean_turns_to_success([None]) is None
    assert recall_at_k([["a", "b"], ["c", "d"]], ["b", "x"], 1) == 0.0
    assert recall_at_k([["a", "b"], ["c", "d"]], ["b", "x"], 2) == 0.5


def test_ties_count_against_the_target_on_a_hand_made_example() -> None:
    # item:      0    1    2    3    4
    scores = [0.9, 0.5, 0.5, 0.1, 0.5]
    # Target 2 ties with items 1 and 4: both rank above it, so only 0.9 and the two ties come first -> rank 3.
    assert rank_of(np.array(scores), 2) == 3
    assert rank_of(np.array(scores), 0) == 0 and rank_of(np.array(scores), 3) == 4
    # The batched leave-one-out form agrees; item 4 in the history is removed, leaving one tie -> rank 2.
    ranks = target_ranks(np.array([scores, scores]), np.array([2, 2]), [[], [4]])
    assert list(ranks) == [3, 2]
    # Recall over the hand-computed ranks [0, 3, 2]: @1 1/3, @3 2/3 (rank 3 misses), @4 all three.
    hand = np.array([0, 3, 2])
    assert recall_at(hand, 1) == pytest.approx(1 / 3) and recall_at(hand, 3) == pytest.approx(2 / 3)
    assert recall_at(hand, 4) == 1.0 and recall_at(np.array([]), 10) == 0.0
    out = evaluate_ranks(hand, (3,))
    assert out["recall_at_3"] == pytest.approx(2 / 3)
    assert out["ndcg_at_3"] == pytest.approx((1 / np.log2(2) + 1 / np.log2(4)) / 3)
    # Ranked id lists: the target's first position; a list without it misses at every k.
    assert recall_at_k([["a", "b", "a"], ["c"]], ["a", "z"], 1) == 0.5
    assert recall_at_k([["a", "b"], ["c"]], ["b", "z"], 50) == 0.5


def test_groundedness_needs_numbers_and_names_from_the_item_or_the_shopper() -> None:
    assert grounded(Pick(DRILL, 1.0, "Voltmark 18V drill, fits your budget"), DRILL, "")
    assert not grounded(Pick(DRILL, 1.0, "A 24V Voltmark drill"), DRILL, "")  # 24 is not a fact of the item
    assert not grounded(Pick(DRILL, 1.0, "Made by Makita"), DRILL, "")  # invented brand
    assert grounded(Pick(DRILL, 1.0, "Under your $100 limit"), DRILL, "my budget is $100")
    assert not grounded(Pick(DRILL, 1.0, "anything"), None, "")


def test_diversity_novelty_latency() -> None:
    same = np.array([[1.0, 0.0], [1.0, 0.0]])
    orthogonal = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert intra_list_diversity(same) == pytest.approx(0.0)
    assert intra_list_diversity(orthogonal) == pytest.approx(1.0)
    assert intra_list_diversity(same[:1]) == 0.0
    counts = {"pop": 98, "rare": 0}
    assert novelty_bits("rare", counts, 98) > novelty_bits("pop", counts, 98)
    assert novelty_bits("pop", counts, 98) == pytest.approx(-np.log2(99 / 100))
    assert latency_percentiles([1.0, 2.0, 3.0, 4.0, 100.0]) == (3.0, pytest.approx(80.8))


def test_rerecommended_rejections_counted_after_first_showing() -> None:
    session = Session()
    other = Item("d2", "Torqline drill", "Tools > Drills", "Torqline", 39.0)
    session.turns += [Turn("user", "drill"), Turn("assistant", "", [Pick(DRILL, 1, "r"), Pick(other, 1, "r")]),
                      Turn("user", "no"), Turn("assistant", "", [Pick(DRILL, 1, "r")]),
                      Turn("assistant", "", [Pick(DRILL, 1, "r")])]
    session.state.rejected = ["d1"]
    assert rerecommended(session) == 2
    session.state.rejected = ["d2"]
    assert rerecommended(session) == 0


def test_tally_counts_invented_items_and_violations(small_index) -> None:
    real = small_index.items[0]
    fake = Item("nope", "Imaginary Drill", real.category, real.brand, 1.0)
    renamed = Item(real.item_id, "A different title", real.category)
    session = Session()
    session.turns += [Turn("user", "a drill under $40"),
                      Turn("assistant", "here", [Pick(real, 1.0, "good"), Pick(fake, 1.0, "x"), Pick(renamed, 1, "y")])]
    tally = QualityTally()
    tally_session(tally, session, small_index, Filters(max_price=40.0), counts={real.item_id: 3})
    out = tally.summary(catalog_categories=len({i.top_category for i in small_index.items}))
    assert out["picks"] == 3
    assert out["invented_item_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["constraint_violation_rate"] == (1.0 if real.price is None or real.price > 40 else 0.0)
    assert out["category_coverage"] > 0
    # Per-turn constraints: a budget stated after the first answer does not bind the picks of that answer.
    later = QualityTally()
    tally_session(later, session, small_index, [Filters()])
    assert later.summary(1)["constraint_violation_rate"] == 0.0 and later.constrained_picks == 0


def test_movie_prior_learns_co_mentions_and_entities() -> None:
    movies = [MovieInfo("a", ("horror",), ("Jane Doe",)), MovieInfo("b", ("horror",)), MovieInfo("c", ("comedy",)),
              MovieInfo("d", ("comedy",), ("John Roe",))]
    # Train dialogues: whoever mentions a, gets b recommended; c is just popular.
    dialogues = [[(False, ["a"]), (True, ["b"])]] * 3 + [[(False, []), (True, ["c"])]] * 5
    prior = fit_movie_prior(movies, dialogues)
    sig = prior.signals(["a"], "something scary with John Roe")
    assert sig["follow"].argmax() == 1 and sig["comention"].argmax() == 1
    assert sig["popularity"].argmax() == 2
    assert list(sig["genre"]) == [1.0, 1.0, 0.0, 0.0]  # "scary" -> horror
    assert list(sig["person"]) == [0.0, 0.0, 0.0, 1.0]
    excluded = np.array([True, False, False, False])
    zeros = {name: np.zeros(4, np.float32) for name in ExtraWeights().as_dict()}
    turns = [({**zeros, **sig}, excluded, [1])] * 4 + [({**zeros, **prior.signals([], "funny")}, np.zeros(4, bool), [2])]
    weights, extra, score = tune_all(turns)
    assert score == 3.0 and isinstance(weights, MixWeights)  # Recall@1 + @10 + @50, each 1.0
