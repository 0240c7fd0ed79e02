"""The demo catalog generator: size, variety, determinism, and descriptions that agree with attributes."""

from __future__ import annotations

import re

import pytest

from retrieval.demo import generate_demo_catalog
from retrieval.items import item_from_row, item_to_dict


@pytest.fixture(scope="module")
def catalog():
    return generate_demo_catalog()


def test_default_size_and_categories(catalog):
    assert len(catalog) >= 1000
    assert len({i.top_category for i in catalog}) >= 8
    assert all(" > " in i.category for i in catalog)


def test_every_item_has_price_brand_and_attributes(catalog):
    for item in catalog:
        assert item.price is not None and item.price > 0, item
        assert item.brand, item
        assert len(item.attributes) >= 3, item
        assert item.brand in item.title and item.attributes["model"] in item.title


def test_ids_and_titles_are_unique(catalog):
    assert len({i.item_id for i in catalog}) == len(catalog)
    assert len({i.title for i in catalog}) == len(catalog)
    assert catalog[0].item_id == "demo-00001"


def test_deterministic_by_seed(catalog):
    assert generate_demo_catalog() == catalog
    other = generate_demo_catalog(seed=8)
    assert other != catalog
    assert sum(a.title != b.title for a, b in zip(catalog, other)) > len(catalog) // 2


def test_size_is_respected():
    assert len(generate_demo_catalog(n=50, seed=1)) == 50
    with pytest.raises(ValueError, match="at least 1"):
        generate_demo_catalog(n=0)


def test_descriptions_are_varied(catalog):
    assert len({i.description for i in catalog}) >= 0.95 * len(catalog)
    openings = {" ".join(i.description.split()[:2]) for i in catalog}
    assert len(openings) >= 10


def test_power_source_is_never_contradicted(catalog):
    for item in catalog:
        text = item.description.lower()
        source = item.attributes.get("power_source")
        if source == "corded":
            assert "cordless" not in text, item
        if source != "corded":
            assert "corded" not in text and "mains for steady" not in text, item


def test_absent_features_are_never_claimed(catalog):
    # A "no" attribute must not be named at all: "waterproof" in text would match a waterproof search.
    checked = 0
    for item in catalog:
        text = item.description.lower().replace("-", " ")
        for name, value in item.attributes.items():
            if value == "no":
                checked += 1
                assert name.replace("_", " ") not in text, (name, item)
    assert checked > 300


def test_every_number_in_a_description_is_in_the_item_data(catalog):
    for item in catalog:
        known = " ".join([item.title, *item.attributes.values()])
        for number in re.findall(r"\d+(?:[.,]\d+)*", item.description):
            assert number in known, (number, item)


def test_yes_features_are_described_by_name_somewhere(catalog):
    # Sanity check that the sentences really come from the attributes: a waterproof item can say so.
    waterproof = [i for i in catalog if i.attributes.get("waterproof") == "yes"]
    assert any("waterproof" in i.description.lower() for i in waterproof)


def test_items_round_trip_through_the_generic_format(catalog):
    for item in catalog[:100]:
        assert item_from_row(item_to_dict(item)) == item
