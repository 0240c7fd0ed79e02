"""Groundedness of reasons when an item's brand contains another catalog brand ("3M Littmann" vs "3M")."""

from __future__ import annotations

from agent.reasons import check_grounded
from agent.state import DialogueState
from retrieval.items import Item
from retrieval.vocabulary import vocabulary


def test_multi_word_brand_is_not_read_as_a_shorter_catalog_brand(small_index):
    vocab = vocabulary(small_index)
    item = Item("x-1", "Precision Screwdriver Set", "Tools > Hand Tools", brand="Voltmark Pro Series", price=30.0)
    state = DialogueState()
    assert check_grounded("A close match for what you described by Voltmark Pro Series.", item, state, vocab)
    assert not check_grounded("A close match for what you described by Torqline.", item, state, vocab)
    assert not check_grounded("By Voltmark Pro Series, and only $3.", item, state, vocab)
