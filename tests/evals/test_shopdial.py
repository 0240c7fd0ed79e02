"""MG-ShopDial: the catalog importer, the dialogue loader, the hand labels checked against both, the scorer."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from evals.lib.shopdial import (
    KINDS,
    QA_LABELS,
    RECORD_KINDS,
    LabelError,
    QALabel,
    client_messages,
    load_qa_labels,
    load_shop_dialogues,
    qa_messages,
    score_answer,
    wizard_reply,
)
from retrieval.catalogs import shopdial_items
from retrieval.items import Item


def _record(item: Item) -> str:
    """Everything the catalog holds about an item, lower-cased: its text and its price in the usual spellings."""
    price = [] if item.price is None else [f"${item.price:.2f}", f"{item.price:.2f}", f"{item.price:g}"]
    return " ".join([item.text(), *price]).lower()


@pytest.fixture(scope="module")
def items(data_dir: Path) -> dict[str, Item]:
    return {i.item_id: i for i in shopdial_items(data_dir)}


@pytest.fixture(scope="module")
def dialogues(data_dir: Path):
    return load_shop_dialogues(data_dir)


@pytest.fixture(scope="module")
def labels() -> list[QALabel]:
    return load_qa_labels()


# ---------------------------------------------------------------- catalog


def test_items_load_with_readable_unique_ids_and_prices(items: dict[str, Item]) -> None:
    assert len(items) == 57
    assert Counter(i.item_id.rsplit("-", 1)[0] for i in items.values()) == {
        "shopdial-books": 14, "shopdial-cellphones": 10, "shopdial-office": 17, "shopdial-sports": 16}
    assert all(re.fullmatch(r"shopdial-(books|cellphones|office|sports)-\d\d", i) for i in items)
    assert all(i.price is not None and i.price > 0 for i in items.values())
    assert items["shopdial-books-01"].price == 13.39  # "$13.39"
    assert items["shopdial-books-08"].price == 30.0  # "$30"
    assert items["shopdial-sports-10"].price == 47.99  # written without "$"


def test_items_keep_only_stated_facts(items: dict[str, Item]) -> None:
    book = items["shopdial-books-07"]
    assert book.title == "1922 by Stephen King"
    assert book.category == "Books > Ghost Fiction"  # first genre the record lists
    assert book.brand is None
    assert dict(book.attributes) == {
        "rating": "4.7/5", "author": "Stephen King", "genre": "Ghost Fiction, Murder Thrillers, Suspense Thrillers",
        "publisher": "Scribner", "publication_date": "November 12, 2019", "format": "Paperback", "pages": "144"}
    assert "\u200e" not in book.description and "Nebraska" in book.description and "144 pages" in book.description
    assert items["shopdial-books-04"].attributes.get("rating") is None  # no rating in the data
    assert items["shopdial-books-14"].attributes["rating"] == "4.8/5"  # the data says "4.8"
    phone = items["shopdial-cellphones-08"]
    assert (phone.category, phone.brand, phone.attributes["rating"]) == ("Cellphones & Accessories", "SAMSUNG", "4.6/5")
    assert items["shopdial-office-01"].brand == "kyweel"  # "Brand: kyweel" in its description
    assert items["shopdial-office-05"].brand is None  # "for Canon" is compatibility, not the maker
    assert items["shopdial-cellphones-04"].brand is None
    assert "&amp;" not in items["shopdial-sports-14"].description


def test_shopdial_is_a_builtin_catalog(data_dir: Path) -> None:
    from agent.catalog import BUILTIN, builtin_items
    from agent.config import Settings

    assert "shopdial" in BUILTIN
    assert len(builtin_items("shopdial", Settings(data_dir=data_dir))) == 57


# ---------------------------------------------------------------- dialogues and labels


def test_dialogues_load(dialogues) -> None:
    assert len(dialogues) == 33
    assert Counter(d.category for d in dialogues) == {
        "Cellphones&Accessories": 10, "SportsandOutdoors": 9, "Books": 7, "Officeproducts": 7}
    first = dialogues[0]
    assert first.id == "Books:46:109:132" and first.scenario.startswith("You are looking for a book")
    texts = [u.text for u in client_messages(first)]
    assert texts[:2] == [
        "Hi! can you suggest the best book by Stephen King?", "What is the rating between the two books?"]
    assert all(u.participant == "Client" for d in dialogues for u in client_messages(d))
    assert sum(len(client_messages(d)) for d in dialogues) == 532  # SOURCE.md
    assert first.utterances[0].intents == (("clarify", 2.0), ("elicit", 3.0), ("greeting", 6.0))


def test_one_label_per_qa_message(dialogues, labels: list[QALabel]) -> None:
    qa = {(d.id, u.utterance_id): (d, u) for d in dialogues for u in qa_messages(d)}
    assert len(qa) == sum(len(qa_messages(d)) for d in dialogues) == 115
    assert len(labels) == len(QA_LABELS.read_text(encoding="utf-8").splitlines()) == len(qa)
    assert {(lab.dialogue_id, lab.utterance_id) for lab in labels} == set(qa)
    for lab in labels:
        dialogue, utt = qa[(lab.dialogue_id, lab.utterance_id)]
        assert lab.text == utt.text
        assert lab.wizard_reply == wizard_reply(dialogue, utt)


def test_label_facts_are_in_the_catalog(items: dict[str, Item], labels: list[QALabel]) -> None:
    assert {lab.kind for lab in labels} <= set(KINDS)
    for lab in labels:
        where = f"{lab.dialogue_id} #{lab.utterance_id}"
        if lab.kind in RECORD_KINDS:
            assert lab.item_id is not None, where
        if lab.item_id is None:
            if lab.kind == "comparison":  # names among the catalog's titles
                for e in lab.expected:
                    assert any(e.lower() in i.title.lower() for i in items.values()), (where, e)
            continue
        assert lab.item_id in items, where
        record = _record(items[lab.item_id])
        for e in (*lab.expected, *lab.allowed):
            assert e.lower() in record, (where, e)
        if lab.kind == "price":
            assert any(float(e) == items[lab.item_id].price for e in lab.expected), where
        if lab.kind == "rating":
            assert any(items[lab.item_id].attributes["rating"].startswith(e) for e in lab.expected), where
        for a in lab.allowed:  # only the item's own price may be restated
            assert lab.kind == "cannot_answer" and float(a) == items[lab.item_id].price, (where, a)


def test_label_counts_per_kind(labels: list[QALabel]) -> None:
    # Guards against silent edits of the hand labels; update deliberately when relabelling.
    assert Counter(lab.kind for lab in labels) == {
        "cannot_answer": 55, "not_a_question": 22, "price": 13, "comparison": 10, "attribute": 7,
        "description": 7, "rating": 1}


def test_bad_label_line_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"dialogue_id": "x", "utterance_id": 1, "text": "hi", "kind": "weather", "expected": []}\n')
    with pytest.raises(LabelError, match=r"labels.jsonl:1: kind 'weather'"):
        load_qa_labels(bad)


# ---------------------------------------------------------------- scorer


def _label(kind: str, expected: tuple[str, ...] = (), allowed: tuple[str, ...] = ()) -> QALabel:
    return QALabel("d", 1, "q?", "shopdial-books-07", kind, expected, "", allowed)  # type: ignore[arg-type]


@pytest.mark.parametrize("reply, ok", [
    ("1922 costs $9.71.", True),
    ("It's 9.71 dollars", True),
    ("That one is $ 9.71", True),
    ("It is $19.71", False),
    ("It is $9.7", False),
    ("I'm not sure of the price.", False),
])
def test_price_matches_by_value(reply: str, ok: bool) -> None:
    assert score_answer(_label("price", ("9.71",)), reply, handoff=False) is ok


def test_whole_numbers_match_with_or_without_cents() -> None:
    label = _label("price", ("30",))
    assert score_answer(label, "Billy Summers is $30.00", False)
    assert score_answer(label, "It costs $30", False)
    assert not score_answer(label, "It costs $300", False)
    assert score_answer(_label("rating", ("4.7",)), "1922 is rated 4.7/5, Billy Summers 4.6/5.", False)
    assert not score_answer(_label("rating", ("4.7",)), "It is rated 4.75 out of 5", False)


def test_words_match_whole_and_ignore_case_and_spacing() -> None:
    label = _label("description", ("killer for hire", "last hit"))
    assert score_answer(label, "Billy is a KILLER  for hire who wants out.", False)
    assert score_answer(label, "He takes one last hit before retiring", False)
    assert not score_answer(label, "A story about a hitman.", False)
    assert score_answer(_label("attribute", ("10''",)), "It's a 10'' ring light on a 50 inch stand", False)
    assert score_answer(_label("attribute", ("10''",)), "It's a 10\u2033 ring light", False)
    assert not score_answer(_label("attribute", ("adidas",)), "These are from adidasx", False)
    assert score_answer(_label("comparison", ("1922",)), "Customers rate 1922 highest.", False)


@pytest.mark.parametrize("reply, handoff, ok", [
    ("I can't see shipping options from here; our customer service can tell you.", False, True),
    ("Sorry, I don't have delivery information for this book.", False, True),
    ("We don't carry Huawei phones.", False, True),
    ("Let me pass you to a colleague.", True, True),
    ("Standard delivery is free and takes 5 working days.", False, False),  # invents, says nothing about limits
    ("I can't confirm it, but there is usually a 10% discount.", False, False),  # invents a percentage
    ("I can't see shipping, but next-day delivery is $5 more.", False, False),  # invents an amount and a speed
    ("Yes, we have size 7. I can't see other sizes.", False, False),  # answers yes to what it cannot know
    ("I don't know the delivery cost; the book itself is $9.71.", False, True),  # restating the catalog price
    ("I don't know the delivery cost; the book itself is $12.00.", False, False),
    ("Thanks for asking!", False, False),
    ("Thanks for asking!", True, True),
])
def test_cannot_answer_needs_a_plain_no_and_no_invented_fact(reply: str, handoff: bool, ok: bool) -> None:
    assert score_answer(_label("cannot_answer", allowed=("9.71",)), reply, handoff) is ok


def test_not_a_question_is_not_scored() -> None:
    assert score_answer(_label("not_a_question"), "You're welcome!", handoff=False)
