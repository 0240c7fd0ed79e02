"""Catalog rows, importers and ingest: validation, idempotence, resumability, nothing stored lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.catalogs import RowError, amazon_items, read_catalog_file, redial_items
from retrieval.ingest import ingest_items
from retrieval.items import InvalidRow, item_from_row, parse_price
from tests.conftest import TEST_CATALOG


def test_row_validation_messages():
    assert item_from_row({"id": "a", "title": "T", "price": "$1,299.50"}).price == 1299.5
    with pytest.raises(InvalidRow, match="missing 'id'"):
        item_from_row({"title": "no id"})
    with pytest.raises(InvalidRow, match="missing 'title'"):
        item_from_row({"id": "x"})
    with pytest.raises(InvalidRow, match="price is not a number"):
        item_from_row({"id": "x", "title": "T", "price": "cheap"})
    with pytest.raises(InvalidRow, match="from 0 to under 10,000,000"):
        parse_price(-3)
    with pytest.raises(InvalidRow, match="attributes"):
        item_from_row({"id": "x", "title": "T", "attributes": "[1, 2"})


def test_csv_extra_columns_become_attributes(tmp_path: Path):
    path = tmp_path / "items.csv"
    path.write_text("id,title,category,brand,price,color\n"
                    "c1,Red Mug,Home > Mugs,Mugco,9.5,red\n"
                    "c2,Blue Mug,Home > Mugs,Mugco,oops,blue\n"
                    "c3,Green Mug,Home|Mugs,Mugco,,green,extra\n", encoding="utf-8")
    rows = list(read_catalog_file(path))
    assert rows[0].attributes == {"color": "red"} and rows[0].category == "Home > Mugs"
    assert isinstance(rows[1], RowError) and rows[1].line == 3 and "price" in rows[1].reason
    assert isinstance(rows[2], RowError) and rows[2].line == 4 and "more fields" in rows[2].reason


def test_unknown_format_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "items.xml"
    path.write_text("<items/>")
    with pytest.raises(ValueError, match="use .jsonl or .csv"):
        list(read_catalog_file(path))


def test_ingest_is_idempotent_and_updates_changed_rows(tmp_store, embedder, tmp_path: Path):
    first = ingest_items(tmp_store, embedder, read_catalog_file(TEST_CATALOG), progress=False)
    assert (first.added, first.updated, first.unchanged, first.errors) == (24, 0, 0, [])
    again = ingest_items(tmp_store, embedder, read_catalog_file(TEST_CATALOG), progress=False)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 24)
    assert tmp_store.count() == 24

    changed = tmp_path / "changed.jsonl"
    rows = [json.loads(line) for line in TEST_CATALOG.read_text().splitlines()]
    rows[0]["price"] = 69.99
    changed.write_text("\n".join(json.dumps(r) for r in rows))
    update = ingest_items(tmp_store, embedder, read_catalog_file(changed), progress=False)
    assert (update.added, update.updated, update.unchanged) == (0, 1, 23)
    assert tmp_store.get_items(["t-drill-1"])["t-drill-1"].price == 69.99
    assert tmp_store.count() == 24


def test_bad_rows_are_reported_and_stored_items_survive(tmp_store, embedder, tmp_path: Path):
    ingest_items(tmp_store, embedder, read_catalog_file(TEST_CATALOG), progress=False)
    before = tmp_store.get_items(["t-kettle-1"])["t-kettle-1"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "new-1", "title": "New Thing", "price": 5}\n'
                   '{"id": "t-kettle-1", "title": "Broken", "price": "free"}\n'
                   "{not json\n"
                   "\n"
                   '["a", "list"]\n'
                   '{"id": "new-2", "title": "' + "x" * 50 + '", "description": "ok"}\n', encoding="utf-8")
    report = ingest_items(tmp_store, embedder, read_catalog_file(bad), progress=False)
    assert report.added == 2
    assert [e.line for e in report.errors] == [2, 3, 5]
    assert "invalid JSON" in report.errors[1].reason and "expected an object" in report.errors[2].reason
    assert tmp_store.count() == 26
    assert tmp_store.get_items(["t-kettle-1"])["t-kettle-1"] == before


def test_ingest_resumes_where_it_stopped(tmp_store, embedder):
    rows = list(read_catalog_file(TEST_CATALOG))
    ingest_items(tmp_store, embedder, rows[:10], progress=False)  # an interrupted run got this far
    resumed = ingest_items(tmp_store, embedder, rows, progress=False, batch_size=4)
    assert (resumed.added, resumed.unchanged) == (14, 10)
    assert tmp_store.count() == 24


def test_duplicate_ids_in_one_file_keep_the_later_row(tmp_store, embedder, tmp_path: Path):
    path = tmp_path / "dups.jsonl"
    path.write_text('{"id": "d", "title": "First"}\n{"id": "d", "title": "Second"}\n')
    report = ingest_items(tmp_store, embedder, read_catalog_file(path), progress=False)
    assert tmp_store.count() == 1 and tmp_store.get_items(["d"])["d"].title == "Second"
    assert report.errors == [] and (report.added, report.updated) == (1, 0)
    assert [str(d) for d in report.duplicates] == [
        "line 2: duplicate id 'd' on lines 1 and 2: the last row (line 2) is kept"]
    again = ingest_items(tmp_store, embedder, read_catalog_file(path), progress=False)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1), "a re-ingest rewrites nothing"
    assert "1 duplicate ids (last row kept)" in again.summary()


def test_bom_prices_and_html(tmp_store, embedder, tmp_path: Path):
    """A UTF-8 BOM is no error; prices are one plain decimal format from 0 to under 10^7; HTML is stripped."""
    path = tmp_path / "odd.jsonl"
    rows = ['{"id": "bom", "title": "Kettle", "price": "1,299.00"}',
            '{"id": "huge", "title": "X", "price": 1e300}', '{"id": "commas", "title": "X", "price": "1,2,3"}',
            '{"id": "exp", "title": "X", "price": "1e3"}', '{"id": "neg", "title": "X", "price": -1}',
            '{"id": "html", "title": "<b>Mug</b> &amp; lid", "brand": "<i>Acme</i>", '
            '"description": "Holds tea.<script>alert(1)</script> &lt;img src=x onerror=alert(1)&gt; Under < 5 kg"}']
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode())
    report = ingest_items(tmp_store, embedder, read_catalog_file(path), progress=False)
    assert {e.line for e in report.errors} == {2, 3, 4, 5}, report.errors
    assert "from 0 to under 10,000,000" in str(report.errors[0]) and "1299.00" in str(report.errors[1])
    items = tmp_store.get_items(["bom", "html"])
    assert items["bom"].price == 1299.0
    mug = items["html"]
    assert (mug.title, mug.brand) == ("Mug & lid", "Acme")
    assert mug.description == "Holds tea. Under < 5 kg"


def test_amazon_importer_joins_text_and_descriptions(data_dir: Path):
    items = amazon_items(data_dir)
    assert len(items) == 4385 and len({i.item_id for i in items}) == 4385
    glue = next(i for i in items if i.item_id == "B0000223UV")
    assert glue.brand == "Gorilla" and glue.title.startswith("Gorilla Original Gorilla Glue")
    assert glue.category_path[:2] == ["Industrial & Scientific", "Tapes, Adhesives & Sealants"]
    assert "polyurethane" in glue.description.lower()
    assert sum(bool(i.description) for i in items) / len(items) > 0.7


def test_redial_importer_reads_every_movie(data_dir: Path):
    movies = redial_items(data_dir)
    assert len(movies) == 6583
    troopers = next(m for m in movies if m.item_id == "111776")
    assert troopers.title == "Super Troopers (2001)" and troopers.category == "Movies > Comedy"
    assert troopers.attributes["year"] == "2001" and "Jay Chandrasekhar" in troopers.attributes["director"]


def test_an_image_url_is_kept_and_anything_else_in_an_image_field_is_dropped():
    from retrieval.items import item_from_row, item_to_dict
    from retrieval.store import item_to_metadata, metadata_to_item

    row = {"id": "p1", "title": "Lamp", "images": ["https://img.example/p1.jpg", "https://img.example/p1b.jpg"]}
    item = item_from_row(row)
    assert item.image == "https://img.example/p1.jpg"
    assert metadata_to_item("p1", item_to_metadata(item)).image == item.image
    assert item_from_row(item_to_dict(item)) == item
    assert "img.example" not in item.text()  # a URL is no product text to embed
    for bad in ("javascript:alert(1)", "https://x.example/a b.jpg", "<img src=x>", 42):
        assert item_from_row({"id": "p2", "title": "Lamp", "image": bad}).image == ""
