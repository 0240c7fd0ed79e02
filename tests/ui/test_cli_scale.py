"""`convrec ingest` for large and live catalogs: --shared-index, precomputed .npy embeddings, --live changes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.catalogs import read_catalog_file
from retrieval.feed import Feed
from retrieval.items import Item, item_to_dict
from retrieval.shared import SharedIndex
from retrieval.store import CatalogStore, ChromaLocation
from tests.support import TEST_CATALOG
from ui.cli import main


@pytest.fixture
def catalog_with_vectors(tmp_path: Path, embedder) -> tuple[Path, list[Item]]:
    items = [r for r in read_catalog_file(TEST_CATALOG) if isinstance(r, Item)]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(item_to_dict(i)) + "\n" for i in items))
    np.save(tmp_path / "items.npy", embedder.encode([i.text() for i in items]))
    return path, items


def test_ingest_shared_index_and_precomputed_vectors(tmp_path: Path, catalog_with_vectors, embedder, capsys,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path, items = catalog_with_vectors
    assert main(["ingest", str(path), "--shared-index", str(tmp_path / "idx"), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'idx'}: {len(items)} items in 5 cells, 0 rows rejected"
    index = SharedIndex(tmp_path / "idx", embedder)
    assert index.search(items[0].title, None, 1)[0].item.item_id == items[0].item_id
    monkeypatch.setenv("CONVREC_CHROMA_DIR", str(tmp_path / "chroma"))
    assert main(["ingest", str(path), "--collection", "big"]) == 0  # the .npy next to it: nothing is encoded
    assert f"{len(items)} added, 0 updated, 0 unchanged" in capsys.readouterr().out
    store = CatalogStore(ChromaLocation(path=tmp_path / "chroma", collection="big"))
    assert store.count() == len(items)


def test_ingest_live_changes_reach_the_feed(tmp_path: Path, catalog_with_vectors, embedder, capsys,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path, items = catalog_with_vectors
    monkeypatch.setenv("CONVREC_CHROMA_DIR", str(tmp_path / "chroma"))
    monkeypatch.setenv("CONVREC_SESSIONS_DB", str(tmp_path / "sessions.sqlite3"))
    assert main(["ingest", str(path), "--collection", "shop"]) == 0
    changes = tmp_path / "changes.jsonl"
    changes.write_text(json.dumps({**item_to_dict(items[0]), "price": 0.5}) + "\n"
                       + json.dumps({"id": items[1].item_id, "deleted": True}) + "\n"
                       + json.dumps({"id": "n-1", "title": "Zorblax kettle", "category": "Kitchen > Kettles"}) + "\n")
    capsys.readouterr()
    assert main(["ingest", str(changes), "--live", "--collection", "shop"]) == 0
    assert capsys.readouterr().out.strip() == "live catalog: 1 added, 1 updated, 1 deleted (feed seq 3)"
    logged = Feed(tmp_path / "sessions.sqlite3").changes_since(0)
    assert [(c.item_id, c.deleted) for c in logged] == [(items[0].item_id, False), ("n-1", False), (items[1].item_id, True)]
    store = CatalogStore(ChromaLocation(path=tmp_path / "chroma", collection="shop"))
    assert store.get_items([items[0].item_id])[items[0].item_id].price == 0.5 and not store.get_items([items[1].item_id])
    changes.write_text(json.dumps({"id": "bad"}) + "\n" + json.dumps({"id": "nope", "deleted": True}) + "\n")
    assert main(["ingest", str(changes), "--live", "--collection", "shop"]) == 2
    err = capsys.readouterr().err
    assert "rejected: row 1: missing 'title'" in err and "rejected: deletion 'nope': unknown item id" in err
    assert len(Feed(tmp_path / "sessions.sqlite3").changes_since(0)) == 3  # nothing of the refused update stored
