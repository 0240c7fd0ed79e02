"""A shopper's own words on the demo catalog: a hobby the speller must not turn into a product ("grilling" is no
typo of "drilling"), a budget said without a number, and a question about picks before any were shown.

Found by talking to `convrec demo` in the browser; expectations are facts of the catalog (departments, prices).
"""

from __future__ import annotations

import numpy as np
import pytest

from agent import Settings, build_agent
from agent.policy import constraints_of
from agent.understand import normalise
from retrieval.vocabulary import speller


@pytest.fixture(scope="module")
def agent(demo_index):
    return build_agent(Settings(llm_backend="none", mode="guided"), index=demo_index, llm=None)


def test_inflected_english_words_are_not_typos_of_catalog_words(demo_index):
    spell = speller(demo_index)
    assert any("drilling" in i.text().lower() or "drill" in i.title.lower() for i in demo_index.items)
    assert spell.correct_word("grilling") == "grilling"  # grill + ing, though "drilling" is one edit away
    assert spell.correct_word("pricy") == "pricy"  # price + y
    assert normalise("cordles dril", spell) == "cordless drill"  # typos of catalog words are still fixed


def test_a_budget_said_without_a_number_is_not_asked_again(agent):
    session = agent.new_session()
    turn = agent.reply(session, "hi, i need a gift for my dad, he loves grilling, nothing too pricy")
    assert constraints_of(session.state).price_band == "low"
    assert turn.question is None or "budget" not in turn.text.lower()
    picks = turn.picks or agent.reply(session, "just show me something").picks
    assert not any("Drill" in p.item.category for p in picks)  # no drills for a grilling dad


def test_asking_about_the_first_two_before_any_pick_shows_picks(agent):
    session = agent.new_session()
    agent.reply(session, "something for camping")
    turn = agent.reply(session, "whats the diffrence between the first two?")
    assert turn.picks and "haven't shown you anything yet" in turn.text
    later = agent.reply(session, "what's the difference between the first two?")
    assert "haven't shown" not in later.text  # now there are picks to compare


def _price_at(index, leaf: str, q: float = 50) -> float:
    return float(np.percentile([i.price for i in index.items if i.category_path and i.category_path[-1] == leaf
                                and i.price is not None], q))


def test_cheaper_while_a_question_waits_shows_lower_priced_picks(agent, demo_index):
    session = agent.new_session()
    agent.reply(session, "hi, i need a gift for my dad, he loves grilling")
    turn = agent.reply(session, "cheaper")
    assert turn.picks, turn.text  # a wish to see cheaper things, not another question
    for p in turn.picks:
        assert p.item.price <= _price_at(demo_index, p.item.category_path[-1]), p.item.title


def test_not_too_expensive_keeps_to_the_lower_third_of_the_prices(agent, demo_index):
    session = agent.new_session()
    agent.reply(session, "hi, i need a gift for my dad, he loves grilling, nothing too pricy")
    agent.reply(session, "cheaper")
    turn = agent.reply(session, "actually a wireless speaker for my sister, not too expensive")
    picks = turn.picks or agent.reply(session, "just show me some").picks
    speakers = [p for p in picks if p.item.category_path[-1] == "Speakers"]
    assert len(speakers) >= 3
    assert all(p.item.price <= _price_at(demo_index, "Speakers", 100 / 3) for p in speakers)


def test_a_listing_without_the_asked_fact_says_so_in_plain_words(agent):
    session = agent.new_session()
    turn = agent.reply(session, "a camping stove please")
    picks = turn.picks or agent.reply(session, "just show me some").picks
    first = picks[0].item
    assert "sleeps" not in {k.lower() for k in first.attributes}  # a stove lists no number of people
    answer = agent.reply(session, "is the first one good for two people?").text
    assert "doesn't say how many people it is for" in answer and "its sleeps" not in answer


def test_a_need_said_in_passing_is_not_asked_again(agent, demo_index):
    uses = {i.attributes.get("use_case", "") for i in demo_index.items if i.category_path[-1:] != ["Kettles"]}
    latte = next(u for u in uses if "latte" in u.lower())  # a use the catalog lists for coffee machines
    session = agent.new_session()
    turn = agent.reply(session, "hi! looking for a coffe maker for my mom, she drinks lattes")
    assert "use it for" not in turn.text
    assert ("attr:use_case", latte) in {(p.attribute, p.value) for p in session.state.preferences}
