"""Answers read the catalog as it is now, and a verb is no product: two findings from using the product.

Real components: the 24-item test catalog in a fresh Chroma, the real embedder, the guided agent.
"""

from __future__ import annotations

from dataclasses import replace

from agent import Settings, build_agent
from agent.understand import normalise, parse_message


def test_a_price_changed_since_the_picks_were_shown_is_answered_as_it_is_now(small_index):
    agent = build_agent(Settings(llm_backend="none", mode="guided"), index=small_index, llm=None)
    session = agent.new_session()
    turn = agent.reply(session, "a cordless drill, just show me some")
    first = turn.picks[0].item
    assert first.price is not None
    pos = small_index.position[first.item_id]
    small_index.items[pos] = replace(first, price=round(first.price / 2, 2))  # what a live update does to the row
    answer = agent.reply(session, "how much is the first one?")
    assert f"{first.price / 2:.2f}".rstrip("0").rstrip(".") in answer.text
    assert f"{first.price:.2f}".rstrip("0").rstrip(".") not in answer.text


def test_the_ones_i_saw_asks_for_no_saw(small_index):
    agent = build_agent(Settings(llm_backend="none", mode="guided"), index=small_index, llm=None)
    saws = {lvl for item in small_index.items for lvl in item.category_path if "saw" in lvl.lower()}
    assert saws  # the catalog has a Saws category, so the word could be misread
    for text in ("show me more drills, including the ones I saw", "I already saw the first one"):
        update = parse_message(normalise(text), agent.vocab)
        assert not [p for p in update.preferences if p.attribute == "category" and p.value in saws], text
    update = parse_message(normalise("a circular saw please"), agent.vocab)
    assert [p for p in update.preferences if p.attribute == "category" and p.value in saws]
