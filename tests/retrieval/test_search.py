"""Hybrid search, filters, similar items and lookups on real Chroma with the real embedder."""

from __future__ import annotations

import random
import re

from retrieval.search import Filters


def ids(hits):
    return [h.item.item_id for h in hits]


def test_semantic_query_finds_the_right_kind_of_item(small_index):
    assert ids(small_index.search("something to boil water for tea", k=3))[0].startswith("t-kettle")
    assert set(ids(small_index.search("cordless drill", k=3))) <= {"t-drill-1", "t-drill-3", "t-drill-4", "t-drill-2"}


def test_exact_model_number_is_found_first(small_index):
    assert ids(small_index.search("TQ-12S", k=3))[0] == "t-drill-4"
    assert ids(small_index.search("voltmark vm1820", k=3))[0] == "t-drill-1"
    assert ids(small_index.search("Sonique S700", k=3))[0] == "t-head-2"


def test_filters_are_hard_constraints(small_index):
    hits = small_index.search("drill", Filters(max_price=60), k=10)
    assert ids(hits) and all(h.item.price <= 60 for h in hits)
    hits = small_index.search("headphones", Filters(brands=("sonique",)), k=10)
    assert set(ids(hits)) == {"t-head-1", "t-head-2"}
    hits = small_index.search("kettle", Filters(exclude_brands=("Brewhaus",)), k=10)
    assert "t-kettle-3" in ids(hits) and not any(h.item.brand == "Brewhaus" for h in hits)
    hits = small_index.search("shoes", Filters(attributes={"surface": "Trail"}), k=10)
    assert ids(hits) == ["t-run-2"]
    hits = small_index.search("anything", Filters(categories=("Drills",), min_price=45, max_price=100), k=10)
    assert set(ids(hits)) == {"t-drill-1", "t-drill-2"}
    assert small_index.search("anything", Filters(categories=("No Such Category",)), k=10) == []


def test_category_filter_accepts_singular_and_partial_names(small_index):
    assert {h.item.item_id for h in small_index.search("", Filters(categories=("drill",)), k=10)} == {
        "t-drill-1", "t-drill-2", "t-drill-3", "t-drill-4"}
    assert all("Coffee" in h.item.category for h in small_index.search("", Filters(categories=("coffee",)), k=10))


def test_exclusions_and_similar_items(small_index):
    hits = small_index.search("cordless drill", k=10, exclude_ids=["t-drill-1", "t-drill-3"])
    assert not {"t-drill-1", "t-drill-3"} & set(ids(hits))
    similar = small_index.similar_items(["t-run-1"], k=3)
    assert "t-run-1" not in ids(similar) and similar[0].item.category.startswith("Sports > Running")
    assert small_index.similar_items(["no-such-id"]) == []


def test_lookups_and_bad_queries(small_index):
    assert [i.item_id for i in small_index.get_items(["t-glue-1", "nope", "t-tent-1"])] == ["t-glue-1", "t-tent-1"]
    assert len(small_index.search("", k=5)) == 5
    assert len(small_index.search("drill " * 5000, k=5)) == 5
    assert small_index.search("drill", k=0) == []
    assert small_index.search("🙂 مرحبا 你好", k=3)  # any text gets an answer


def test_filters_accept_matches_index_filtering(small_index):
    f = Filters(categories=("Tools",), max_price=80, exclude_brands=("Torqline",))
    by_index = set(ids(small_index.search("", f, k=50)))
    by_rule = {i.item_id for i in small_index.items if f.accepts(i)}
    assert by_index == by_rule and by_rule


def test_exact_name_queries_on_amazon(amazon_index):
    """Brand + model-number queries return the product in the top 5 (issue 2 bar: >= 95% in the benchmark)."""
    rng = random.Random(1)
    coded = [i for i in amazon_index.items if i.brand and re.search(r"\b(?=\w*\d)(?=\w*[A-Za-z])\w{4,}\b", i.title)]
    sample = rng.sample(coded, 60)
    hits = 0
    for item in sample:
        codes = [t for t in re.findall(r"\b(?=\w*\d)(?=\w*[A-Za-z])\w{4,}\b", item.title)][:2]
        hits += item.item_id in ids(amazon_index.search(f"{item.brand} {' '.join(codes)}", k=5))
    assert hits / len(sample) >= 0.9
    assert amazon_index.search("Gorilla Glue", k=5)[0].item.brand == "Gorilla"
