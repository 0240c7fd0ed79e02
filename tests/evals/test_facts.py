"""Catalog-fact checks (evals/lib/facts.py) on hand-built turns over the real 24-item test catalog.

Every expectation key is shown passing on a reply that is true of the catalog and failing on one that is not. The
index is built without embeddings (`retrieval.vocabulary.ItemSet`): the checks only read records. The last tests
check the acceptance suites themselves: well formed, big enough, and naming things the catalogs have.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.state import Pick, Turn
from evals.lib.facts import FACT_KEYS, check_facts, matching_items, validate_facts
from retrieval.catalogs import read_catalog_file
from retrieval.items import Item
from retrieval.vocabulary import ItemSet
from tests.support import ROOT, TEST_CATALOG

ACCEPTANCE = ROOT / "evals" / "conversations" / "acceptance"


@pytest.fixture(scope="module")
def index():
    extra = [  # two tents of equal weight, for a tie
        Item("x-tent-a", "Trailnest Solo 1P Tent", "Outdoor > Camping > Tents", "Trailnest", 120.0,
             attributes={"capacity": "1 person", "weight": "1.2 kg"}),
        Item("x-tent-b", "Campfield Lite 1P Tent", "Outdoor > Camping > Tents", "Campfield", 99.0,
             attributes={"capacity": "1 person", "weight": "1200 g"}),
    ]
    return ItemSet([i for i in read_catalog_file(TEST_CATALOG) if isinstance(i, Item)] + extra)


def picks(index, *ids: str) -> list[Pick]:
    return [Pick(item, 1.0, "a reason") for item in index.get_items(ids)]


def turn(index, text: str, *ids: str, act: str = "answer", question: str | None = None,
         handoff: bool = False) -> Turn:
    return Turn("assistant", text, picks(index, *ids), question=question, act=act, handoff=handoff)


def verdict(index, facts: dict, reply: Turn, previous: tuple[str, ...]) -> list[str]:
    return check_facts(facts, reply, picks(index, *previous), index)


DRILLS = ("t-drill-1", "t-drill-3", "t-drill-4")  # Voltmark 79.99 1.4 kg, Torqline 129.00 1.6 kg, Torqline 39.00 0.9 kg
SHOES = ("t-run-1", "t-run-2")  # Stridelab Aero 3 (waterproof: no, 240 g), Stridelab Trail GTX (yes, 310 g)


@pytest.mark.parametrize("text, ok", [
    ("It weighs 1.4 kg.", True),
    ("The Voltmark comes in at 1400 g.", True),
    ("It weighs 1.6 kg.", False),
    ("The listing doesn't say how heavy it is.", False),
])
def test_states_attribute_value(index, text: str, ok: bool) -> None:
    facts = {"states_attribute": {"pick": 1, "attribute": "weight"}}
    assert (verdict(index, facts, turn(index, text), DRILLS) == []) is ok


@pytest.mark.parametrize("pick, text, ok", [
    (2, "Yes, the Trail GTX is waterproof.", True),
    (2, "It is waterproof, so wet trails are fine.", True),
    (2, "No, it isn't waterproof.", False),
    (1, "No, the Aero 3 is not waterproof.", True),
    (1, "The Aero 3 isn't waterproof; the Trail GTX is.", True),
    (1, "Yes, it's waterproof.", False),
    (1, "1. No, the Aero 3 is not waterproof. 2. Yes, the Trail GTX is waterproof.", True),  # answered per pick
])
def test_states_attribute_yes_no(index, pick: int, text: str, ok: bool) -> None:
    facts = {"states_attribute": {"pick": pick, "attribute": "waterproof"}}
    assert (verdict(index, facts, turn(index, text), SHOES) == []) is ok


def test_states_attribute_missing_and_title_echo(index) -> None:
    missing = {"states_attribute": {"pick": 1, "attribute": "dishwasher_safe"}}  # kettles list no such thing
    kettles = ("t-kettle-1", "t-kettle-2")
    assert verdict(index, missing, turn(index, "The listing doesn't say whether it is dishwasher safe."), kettles) == []
    assert verdict(index, missing, turn(index, "Yes, it is dishwasher safe."), kettles)
    capacity = {"states_attribute": {"pick": 1, "attribute": "capacity"}}
    echo = "The listing for the Brewhaus BK-17 Electric Kettle 1.7 L doesn't say."  # 1.7 L is only the name
    assert verdict(index, capacity, turn(index, echo), kettles)
    assert verdict(index, capacity, turn(index, "The Brewhaus BK-17 holds 1.7 L."), kettles) == []


@pytest.mark.parametrize("text, ok", [("That one is $79.99.", True), ("79.99 dollars", True),
                                      ("It costs $89.00.", False), ("It costs $7,999.00.", False)])
def test_states_price(index, text: str, ok: bool) -> None:
    assert (verdict(index, {"states_price": {"pick": 1}}, turn(index, text), DRILLS) == []) is ok


def test_states_price_whole_dollars_and_no_price(index) -> None:
    assert verdict(index, {"states_price": {"pick": 3}}, turn(index, "Just $39."), DRILLS) == []
    assert verdict(index, {"states_price": {"pick": 3}}, turn(index, "Just $390."), DRILLS)
    unpriced = [Pick(Item("x-1", "Plain Widget"), 1.0, "r")]
    idx = ItemSet([Item("x-1", "Plain Widget")])
    no_price = turn(idx, "The listing doesn't give a price.")
    assert check_facts({"states_price": {"pick": 1}}, no_price, unpriced, idx) == []
    assert check_facts({"states_price": {"pick": 1}}, turn(idx, "It costs $10."), unpriced, idx)


def test_states_text(index) -> None:
    glues = ("t-glue-1", "t-glue-2")  # "Water-resistant PVA wood glue that dries clear." / cyanoacrylate gel
    material = {"states_text": {"pick": 1, "any": ["pva", "cyanoacrylate", "epoxy"]}}
    assert verdict(index, material, turn(index, "It is a PVA glue."), glues) == []
    assert verdict(index, material, turn(index, "It is a cyanoacrylate glue."), glues)
    outdoor = {"states_text": {"pick": 1, "any": ["water resistant", "waterproof"]}}
    assert verdict(index, outdoor, turn(index, "The listing says it is water-resistant."), glues) == []
    absent = {"states_text": {"pick": 1, "any": ["epoxy", "silicone"]}}
    assert verdict(index, absent, turn(index, "The listing doesn't say what it is based on."), glues) == []
    assert verdict(index, absent, turn(index, "It's an epoxy."), glues)


def test_names_pick(index) -> None:
    reply = turn(index, "The Torqline TQ-20X has the metal chuck.")
    assert verdict(index, {"names_pick": 2}, reply, DRILLS) == []
    assert verdict(index, {"names_pick": 1}, reply, DRILLS)


@pytest.mark.parametrize("text, ok", [
    ("The Voltmark VM-1820 is lighter: 1.4 kg vs 1.6 kg for the Torqline TQ-20X.", True),
    ("The lighter one is the Voltmark (1.4 kg); the TQ-20X weighs 1.6 kg.", True),
    ("The TQ-20X weighs 1.6 kg and the Voltmark 1400 g, so the Voltmark is lighter.", True),
    ("The Torqline TQ-20X is heavier at 1.6 kg; the Voltmark weighs 1.4 kg.", True),
    ("The Torqline TQ-20X is lighter: 1.6 kg vs 1.4 kg for the Voltmark.", False),
    ("The Voltmark VM-1820 is lighter.", False),  # the values are not stated
    ("The Torqline weighs 1.6 kg, the Voltmark 1.4 kg.", False),  # no comparative: the winner must come first
])
def test_compare_winner(index, text: str, ok: bool) -> None:
    facts = {"compare_winner": {"attribute": "weight", "among": [1, 2], "order": "min"}}
    assert (verdict(index, facts, turn(index, text, act="compare"), DRILLS) == []) is ok


def test_compare_winner_price_tie_and_missing(index) -> None:
    cheaper = {"compare_winner": {"attribute": "price", "among": [1, 3], "order": "min"}}
    assert verdict(index, cheaper, turn(index, "The TQ-12S is cheaper at $39.00 versus $79.99."), DRILLS) == []
    assert verdict(index, cheaper, turn(index, "The Voltmark is cheaper at $79.99 versus $39.00."), DRILLS)
    tie = {"compare_winner": {"attribute": "weight", "among": [1, 2], "order": "min"}}
    tents = ("x-tent-a", "x-tent-b")
    assert verdict(index, tie, turn(index, "Both weigh the same: 1.2 kg and 1200 g."), tents) == []
    assert verdict(index, tie, turn(index, "The Campfield is lighter at 1200 g vs 1.2 kg."), tents)
    missing = ("t-kettle-1", "t-drill-1")  # the kettle lists no weight
    assert verdict(index, tie, turn(index, "The kettle's listing doesn't say its weight."), missing) == []
    assert verdict(index, tie, turn(index, "The Brewhaus is lighter than the 1.4 kg Voltmark."), missing)


def test_picks_cheaper_and_pricier(index) -> None:
    prev = ("t-drill-1", "t-drill-3")  # 79.99 and 129.00
    assert verdict(index, {"picks_cheaper_than": "previous_min"}, turn(index, "", "t-drill-4", "t-drill-2"), prev) == []
    assert verdict(index, {"picks_cheaper_than": "previous_min"}, turn(index, "", "t-drill-4", "t-drill-1"), prev)
    assert verdict(index, {"picks_cheaper_than": "previous_median"}, turn(index, "", "t-drill-1"), prev) == []
    assert verdict(index, {"picks_cheaper_than": {"pick": 2}}, turn(index, "", "t-drill-3"), prev)
    assert verdict(index, {"picks_pricier_than": "previous_max"}, turn(index, "", "t-drill-3"), ("t-drill-1",)) == []
    assert verdict(index, {"picks_pricier_than": "previous_max"}, turn(index, "", "t-drill-2"), ("t-drill-1",))
    # No picks: right only when the catalog has nothing cheaper of that kind.
    cheapest = turn(index, "That's our cheapest.")
    assert verdict(index, {"picks_cheaper_than": "previous_min"}, cheapest, ("t-drill-4",)) == []
    assert verdict(index, {"picks_cheaper_than": "previous_min"}, cheapest, prev)
    cordless = {"picks_cheaper_than": {"line": "previous_min", "where": {"attributes": {"power_source": "cordless"}}}}
    assert verdict(index, cordless, turn(index, "", "t-drill-4"), ("t-drill-1",)) == []
    assert verdict(index, cordless, turn(index, "", "t-drill-2"), ("t-drill-1",))  # cheaper, but corded


def test_first_pick_extreme(index) -> None:
    cheapest = {"first_pick_extreme": {"by": "price", "order": "min",
                                       "where": {"category": "Drills", "attributes": {"power_source": "cordless"}}}}
    assert verdict(index, cheapest, turn(index, "", "t-drill-4", "t-drill-1"), ()) == []
    assert verdict(index, cheapest, turn(index, "", "t-drill-1", "t-drill-4"), ())
    heaviest = {"first_pick_extreme": {"by": "weight", "order": "max", "where": {"category": "Tents"}}}
    assert verdict(index, heaviest, turn(index, "", "t-tent-2"), ()) == []
    assert verdict(index, heaviest, turn(index, "", "t-tent-1"), ())
    kettle = {"first_pick_extreme": {"by": "price", "order": "max", "where": {"title_has": ["kettle"]}}}
    assert verdict(index, kettle, turn(index, "", "t-kettle-2"), ()) == []
    assert verdict(index, kettle, turn(index, "", "t-kettle-1"), ())


def test_turn_shape_keys(index) -> None:
    answer = turn(index, "Yes, it is.", act="answer")
    shown = turn(index, "Here are two.", "t-drill-1", act="recommend")
    assert verdict(index, {"keeps_picks": True}, answer, DRILLS) == []
    assert verdict(index, {"keeps_picks": True}, shown, DRILLS)
    assert verdict(index, {"keeps_picks": False}, shown, DRILLS) == []
    assert verdict(index, {"act_in": ["answer", "compare"]}, answer, DRILLS) == []
    assert verdict(index, {"act_in": ["handoff"]}, answer, DRILLS)
    passed = turn(index, "I can't see orders; I've flagged this for a colleague.", act="handoff", handoff=True)
    assert verdict(index, {"handoff": True}, passed, DRILLS) == []
    assert verdict(index, {"handoff": True}, answer, DRILLS)


def test_no_dead_end(index) -> None:
    assert verdict(index, {"no_dead_end": True}, turn(index, "Here you go.", "t-drill-1", act="recommend"), ()) == []
    asked = turn(index, "What budget?", act="ask", question="What budget?")
    assert verdict(index, {"no_dead_end": True}, asked, ()) == []
    assert verdict(index, {"no_dead_end": True}, turn(index, "Nothing fits.", act="none"), ())
    seen = "You have seen every match for this already. Shall I show them again?"
    assert verdict(index, {"no_dead_end": True}, turn(index, seen, act="ask", question="Show them again?"), ())


def test_categories_and_exclusions(index) -> None:
    drills, lamp = turn(index, "", "t-drill-4", "t-drill-2"), turn(index, "", "t-inject-1")
    assert verdict(index, {"picks_in_category": "Drills"}, drills, DRILLS) == []
    assert verdict(index, {"picks_in_category": "Drills"}, lamp, DRILLS)
    assert verdict(index, {"picks_in_category": {"pick": 1}}, drills, DRILLS) == []
    assert verdict(index, {"picks_in_category": "previous"}, lamp, DRILLS)
    assert verdict(index, {"picks_not_in_top_category": ["Home Office"]}, drills, ()) == []
    assert verdict(index, {"picks_not_in_top_category": ["Home Office"]}, lamp, ())
    assert verdict(index, {"excludes_pick": 1}, drills, DRILLS) == []
    assert verdict(index, {"excludes_pick": [2, 3]}, drills, DRILLS)


def test_says_missing(index) -> None:
    plain = turn(index, "Sorry, we don't carry hiking boots. Trail running shoes might do:", "t-run-2")
    silent = turn(index, "Here are some picks.", "t-run-2")
    assert verdict(index, {"says_missing": True}, plain, ()) == []
    assert verdict(index, {"says_missing": True}, silent, ())
    assert verdict(index, {"says_missing": False}, silent, ()) == []
    assert verdict(index, {"says_missing": True}, turn(index, "There are no boots in this catalog."), ()) == []


def test_malformed_facts_fail_loudly(index) -> None:
    assert validate_facts({"states_atribute": {"pick": 1}}) and validate_facts({"states_price": 1})
    assert validate_facts({"picks_cheaper_than": "previous_mean"})
    assert check_facts({"keep_picks": True}, turn(index, "ok"), [], index)  # a typo never passes silently
    assert check_facts({"states_price": {"pick": 4}}, turn(index, "$1"), picks(index, *DRILLS), index)
    wrapped = {"must_recommend": False, "facts": {"keeps_picks": True}}  # a whole `expect:` works too
    assert check_facts(wrapped, turn(index, "ok"), [], index) == []


# ---------------------------------------------------------------------------- the acceptance suites

def _suite(name: str) -> dict:
    return yaml.safe_load((ACCEPTANCE / f"{name}.yaml").read_text(encoding="utf-8"))


def _checks(step: dict) -> int:
    expect = dict(step.get("expect") or {})
    return len([k for k in expect if k != "facts"]) + len(expect.get("facts") or {})


@pytest.mark.parametrize("name, conversations", [("demo", 35), ("amazon", 16), ("shopdial", 15)])
def test_acceptance_suite_is_well_formed(name: str, conversations: int) -> None:
    suite = _suite(name)
    convs = suite["conversations"]
    assert len(convs) >= conversations
    assert len({c["id"] for c in convs}) == len(convs)
    for conv in convs:
        users = [s for s in conv["steps"] if "user" in s]
        assert 3 <= len(users) <= 7, conv["id"]
        for step in conv["steps"]:
            facts = (step.get("expect") or {}).get("facts")
            assert facts is None or validate_facts(facts) == [], (conv["id"], validate_facts(facts))
            assert set(facts or {}) <= FACT_KEYS


def test_acceptance_suites_hold_enough_checks() -> None:
    total = sum(_checks(step) for name in ("demo", "amazon", "shopdial")
                for conv in _suite(name)["conversations"] for step in conv["steps"])
    assert total >= 230


def _named_things(suite: dict) -> tuple[list[str], list[dict]]:
    """Category names and `where:` clauses a suite relies on."""
    categories, wheres = [], []
    for conv in suite["conversations"]:
        for step in conv["steps"]:
            expect = step.get("expect") or {}
            facts = expect.get("facts") or {}
            for value in ((expect.get("picks_satisfy") or {}).get("category"), facts.get("picks_in_category")):
                if isinstance(value, str) and value != "previous" and "{" not in value:
                    categories.append(value)
            for key in ("first_pick_extreme", "picks_cheaper_than", "picks_pricier_than"):
                if isinstance(facts.get(key), dict) and facts[key].get("where"):
                    wheres.append(facts[key]["where"])
    return categories, wheres


def _assert_catalog_has(suite: dict, items: list[Item]) -> None:
    """Every category and `where:` of the suite matches catalog items (the same matching the checks use)."""
    index = ItemSet(items)
    categories, wheres = _named_things(suite)
    for where in [*wheres, *({"category": name} for name in sorted(set(categories)))]:
        assert matching_items(where, index), f"no catalog item matches {where}"


def test_demo_suite_names_what_the_catalog_has() -> None:
    from retrieval.demo import generate_demo_catalog

    _assert_catalog_has(_suite("demo"), generate_demo_catalog())


@pytest.mark.data
def test_shopdial_and_amazon_suites_name_what_the_catalogs_have(data_dir: Path) -> None:
    from retrieval.catalogs import amazon_items, shopdial_items

    _assert_catalog_has(_suite("shopdial"), shopdial_items(data_dir))
    amazon = amazon_items(data_dir)
    _assert_catalog_has(_suite("amazon"), amazon)
    ids = {i.item_id for i in amazon}
    histories = [h for conv in _suite("amazon")["conversations"] for h in conv.get("history") or []]
    assert histories and set(histories) <= ids
