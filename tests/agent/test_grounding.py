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


def test_a_feature_the_item_lacks_is_no_true_claim_because_its_name_is_an_attribute():
    # found in the chat: "noise cancelling" in the reasons of headphones whose record says noise_cancelling: no
    from retrieval.demo import generate_demo_catalog
    from retrieval.vocabulary import ItemSet

    items = generate_demo_catalog()
    vocab = vocabulary(ItemSet(items))
    without = next(i for i in items if i.attributes.get("noise_cancelling") == "no")
    with_it = next(i for i in items if i.attributes.get("noise_cancelling") == "yes")
    state = DialogueState()
    assert not check_grounded("Noise cancelling.", without, state, vocab)
    assert check_grounded("Noise cancelling.", with_it, state, vocab)
    assert check_grounded("It has no noise cancelling.", without, state, vocab)
    assert not check_grounded("It has no noise cancelling.", with_it, state, vocab)
