"""Diversification, exploration, the groundedness check and the interest adapter, on the real test catalog."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest

from agent.interest import InterestScorer, load_interest
from agent.policy import Constraints
from agent.reasons import check_grounded, template_reason
from agent.rerank import diversify, mmr, thompson_category, update_bandit
from agent.state import DialogueState
from retrieval.vocabulary import Preference, vocabulary


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder):
    """The 24-item test catalog in a real Chroma, shared by this module (these tests only read it)."""
    from retrieval.catalogs import read_catalog_file
    from tests.conftest import TEST_CATALOG, _index_from

    return _index_from(read_catalog_file(TEST_CATALOG), tmp_path_factory.mktemp("small"), embedder)


def item(index, item_id):
    return index.items[index.position[item_id]]


def test_mmr_trades_relevance_for_variety(index):
    ranked = index.search("wireless headphones", k=24)
    plain = mmr(index, ranked, 4, diversity=0.0)
    assert [s.item.item_id for s in plain] == [s.item.item_id for s in ranked[:4]]
    varied = mmr(index, ranked, 4, diversity=0.8)
    assert varied[0].item.item_id == ranked[0].item.item_id
    assert len({s.item.top_category for s in varied}) > len({s.item.top_category for s in plain})


def test_calibration_pulls_toward_the_target_mix(index):
    ranked = index.search("", k=24)  # no query: flat relevance, where the shopper's category mix should decide
    share = {"Audio": 0.2, "Kettles": 0.2, "Running": 0.2, "Coffee": 0.2, "Power Tools": 0.2}
    plain = Counter(s.item.top_category for s in mmr(index, ranked, 5, diversity=0.3))
    calibrated = Counter(s.item.top_category for s in mmr(index, ranked, 5, diversity=0.3, target=share))
    assert max(calibrated.values()) <= max(plain.values())
    assert sum(calibrated[c] for c in share) >= sum(plain[c] for c in share)


def test_thompson_sampling_follows_likes_and_rejections():
    bandit: dict[str, list[float]] = {}
    for _ in range(8):
        update_bandit(bandit, "Kettles", True)
        update_bandit(bandit, "Tents", False)
    rng = random.Random(0)
    draws = Counter(thompson_category(bandit, ["Kettles", "Tents"], rng) for _ in range(300))
    assert draws["Kettles"] > 250
    assert thompson_category(bandit, ["Kettles"], rng, avoid={"Kettles"}) is None


def test_exploration_marks_its_pick_and_brings_a_new_category(index):
    ranked = index.search("drill", k=24)
    choices = diversify(index, ranked, 5, 0.3, 0.2, {}, None, random.Random(1))
    assert len(choices) == 5 and [c.explore for c in choices] == [False] * 4 + [True]
    assert choices[-1].scored.item.top_category not in {c.scored.item.top_category for c in choices[:4]}


def test_template_reasons_are_grounded_and_honest(index):
    state = DialogueState(preferences=[Preference("max_price", "100"), Preference("attr:power_source", "cordless"),
                                       Preference("brand", "Voltmark")])
    c = Constraints(brands=["Voltmark"], max_price=100.0, must={"power_source": "cordless"})
    vocab = vocabulary(index)
    good = template_reason(item(index, "t-drill-1"), c)
    assert "cordless" in good.lower() and "$79.99" in good and "$100" in good and "Voltmark" in good
    assert check_grounded(good, item(index, "t-drill-1"), state, vocab)
    partial = template_reason(item(index, "t-drill-2"), c)
    assert "power source is corded, not cordless" in partial  # says what does not fit
    assert check_grounded(partial, item(index, "t-drill-2"), state, vocab)


@pytest.mark.parametrize("reason, ok", [
    ("Cordless and 18V, at $79.99.", True),
    ("Cordless, only $59.", False),                      # wrong price
    ("A Brewhaus drill with a 2.0Ah battery.", False),  # wrong brand
    ("Corded, so it never runs flat.", False),          # wrong attribute value
    ("It is not corded.", True),                        # a true negative claim
    ("Under your $100 budget.", True),                  # the shopper's own number
    ("At $79.99 it is over your $100 budget.", False),  # a wrong comparison with a true budget
    ("$79.99, within your $100 limit.", True),
    ("A 20V powerhouse.", False),                       # a number not in the listing
    ("Goes with the Torqline TQ-12S you liked.", True),  # names the liked item (context)
    ("", False),
])
def test_check_grounded(index, reason, ok):
    state = DialogueState(preferences=[Preference("max_price", "100")], liked=["t-drill-4"])
    vocab = vocabulary(index)
    assert check_grounded(reason, item(index, "t-drill-1"), state, vocab, [item(index, "t-drill-4")]) is ok


def test_a_wish_the_item_misses_may_be_named_after_a_negation(index):
    drill, vocab = item(index, "t-drill-1"), vocabulary(index)  # 18V cordless
    wants_20v = DialogueState(preferences=[Preference("attr:voltage", "20V")])
    assert check_grounded("Cordless, but 18V rather than 20V.", drill, wants_20v, vocab)
    assert check_grounded("It is 18V, not the 20V you asked for.", drill, wants_20v, vocab)
    assert not check_grounded("A 20V cordless drill.", drill, wants_20v, vocab)  # the wish stated as a fact
    assert not check_grounded("Cordless, not 20V but 12V.", drill, wants_20v, vocab)  # a wrong value still fails
    wants_cordless = DialogueState(preferences=[Preference("attr:power_source", "cordless")])
    assert not check_grounded("18V, but not cordless.", drill, wants_cordless, vocab)  # denies what the item has


def test_a_wish_the_listing_does_not_cover_may_be_named_as_unknown(index):
    drill, vocab = item(index, "t-drill-1"), vocabulary(index)  # no material in its listing
    wants_plastic = DialogueState(preferences=[Preference("attr:material", "plastic")])
    assert check_grounded("Cordless. But the listing does not say whether it is plastic.", drill, wants_plastic, vocab)
    assert not check_grounded("Cordless and plastic.", drill, wants_plastic, vocab)


def test_a_true_value_is_no_category_claim(index):
    """A value that contains a category's name ("running events") claims the value, not the category."""
    tent, vocab = item(index, "t-tent-1"), vocabulary(index)
    tent = dataclasses.replace(tent, attributes={**tent.attributes, "use_case": "running events"})
    state = DialogueState()
    assert check_grounded("Made for running events.", tent, state, vocab)
    assert not check_grounded("Great for running.", tent, state, vocab)  # Running alone is a category it is not in


def test_interest_centroid_without_a_checkpoint(index, tmp_path):
    scorer = load_interest(index, "catalog", tmp_path / "none")  # no checkpoint there
    assert scorer.model is None and scorer.name == "centroid"
    assert scorer.user_vector([], []) is None
    scores = scorer.scores(["t-drill-3", "t-kettle-1"], history=["t-drill-1"], liked=["t-drill-4"])
    assert scores[0] > scores[1]


def test_interest_model_adapter_uses_the_model_when_present(index):
    ids = [i.item_id for i in index.items]
    rows = {item_id: n for n, item_id in enumerate(ids)}

    class Recorded:
        """Stands in for training.interest.InterestModel (only its two calls are used); no checkpoint ships
        for this 24-item catalog, so the real model cannot run here."""
        item_ids = ids
        index = rows

        def score_all(self, history, stated=None, liked=(), disliked=()):
            return [float(c.startswith("t-kettle")) for c in self.item_ids]

        def user_vector(self, history, liked=(), disliked=()):
            return index.embedding("t-kettle-1")

    scorer = InterestScorer(index, Recorded())
    scores = scorer.scores(["t-drill-3", "t-kettle-2"], history=["t-drill-1"])
    assert scores[1] > scores[0] and scorer.name == "interest-model"
