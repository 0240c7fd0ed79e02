"""The shared memory-mapped index (retrieval/shared.py), live catalog changes through the feed, event signals and
the result cache: real MiniLM on the test catalog, a synthetic clustered catalog for recall, real SQLite feeds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.catalogs import read_catalog_file
from retrieval.embed import DIM
from retrieval.feed import Feed, event_sequences
from retrieval.items import Item
from retrieval.search import CatalogIndex, Filters
from retrieval.shared import (
    SharedIndex,
    SharedIndexMissing,
    build_shared_index,
    read_rows,
    vectors_for,
)
from tests.support import TEST_CATALOG


@pytest.fixture(scope="module")
def catalog(embedder) -> tuple[list[Item], np.ndarray]:
    items = [r for r in read_catalog_file(TEST_CATALOG) if isinstance(r, Item)]
    return items, embedder.encode([i.text() for i in items])


@pytest.fixture
def shared(tmp_path: Path, catalog, embedder) -> SharedIndex:
    items, vectors = catalog
    build_shared_index(tmp_path / "idx", zip(items, vectors))
    return SharedIndex(tmp_path / "idx", embedder)


def synthetic(n: int, seed: int = 0) -> tuple[list[Item], np.ndarray]:
    """n items in 40 clusters (one category each), 25 brands, prices 1..200."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    cluster = rng.integers(0, 40, n)
    vecs = centres[cluster] + 0.9 * rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    items = [Item(f"s{i}", f"thing {i}", f"Dept {cluster[i] % 5} > Cat {cluster[i]}", f"Brand{i % 25}",
                  float(1 + i % 200), attributes={"color": ["red", "blue", "green"][i % 3]}) for i in range(n)]
    return items, vecs


def test_shared_index_answers_like_the_in_ram_index(shared: SharedIndex, catalog, embedder) -> None:
    items, vectors = catalog
    ram = CatalogIndex(None, embedder, list(items), vectors.copy())
    assert len(shared) == len(items) and isinstance(shared.embeddings, np.memmap)
    some = items[3]
    row = shared.position[some.item_id]
    assert shared.items[row] == some and np.allclose(shared.embeddings[row], vectors[3])
    assert "no-such-id" not in shared.position and shared.position.get("no-such-id") is None
    assert shared.categories() == ram.categories() and shared.brands() == ram.brands()
    for f in (None, Filters(categories=(some.category_path[-1],)), Filters(max_price=50.0),
              Filters(brands=(some.brand,)) if some.brand else None):
        want = [s.item.item_id for s in ram.vector_search(vectors[0], f, 5)]
        got = [s.item.item_id for s in shared.vector_search(vectors[0], f, 5)]
        assert got == want, f
    assert shared.search("cordless drill", None, 3)[0].item.category == ram.search("cordless drill", None, 3)[0].item.category


def test_ivf_recall_with_and_without_filters(tmp_path: Path) -> None:
    items, vecs = synthetic(6_000)
    build_shared_index(tmp_path / "idx", zip(items, vecs))
    index = SharedIndex(tmp_path / "idx", None)
    ram = CatalogIndex(None, None, items, vecs)
    rng = np.random.default_rng(1)
    recalls = []
    for q in range(30):
        query = vecs[rng.integers(len(vecs))] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        f = [None, Filters(categories=(f"Cat {q % 40}",)), Filters(max_price=30.0),
             Filters(categories=(f"Dept {q % 5}",), attributes={"color": "red"})][q % 4]
        mask = ram.allowed_rows(f)
        exact = np.argsort(-np.where(mask if mask is not None else True, vecs @ query, -np.inf))[:20]
        truth = {items[r].item_id for r in exact}
        got = {s.item.item_id for s in index.vector_search(query, f, 20)}
        assert all(f is None or f.accepts(index.items[index.position[i]]) for i in got)
        recalls.append(len(got & truth) / 20)
    assert np.mean(recalls) >= 0.95, recalls


def test_live_changes_reach_every_process_view(tmp_path: Path, catalog, embedder) -> None:
    """Two opened indexes over one folder (as two workers) apply one feed: an addition is found by both, a deletion
    and an out-of-stock update are never returned, a price change shows, the result cache is invalidated."""
    items, vectors = catalog
    build_shared_index(tmp_path / "idx", zip(items, vectors))
    a, b = SharedIndex(tmp_path / "idx", embedder), SharedIndex(tmp_path / "idx", embedder)
    feed = Feed(tmp_path / "feed.sqlite3")
    query = items[0].title
    before = [s.item.item_id for s in a.search(query, None, 5)]
    assert a.cache.hits == 0 and [s.item.item_id for s in a.search(query, None, 5)] == before and a.cache.hits == 1
    new = Item("new-1", "Zorblax quantum kettle", items[1].category, "Zorblax", 19.5)
    cheaper = dataclasses.replace(items[2], price=1.23)
    gone = dataclasses.replace(items[4], attributes={**items[4].attributes, "in_stock": "false"})
    feed.append_changes([(new.item_id, new, embedder.encode_one(new.text())), (before[0], None, None),
                         (cheaper.item_id, cheaper, vectors[2]), (gone.item_id, gone, vectors[4])])
    for index in (a, b):
        assert index.apply_changes(feed.changes_since(index.applied_seq)) == 4
        assert index.search("Zorblax quantum kettle", None, 1)[0].item.item_id == "new-1"
        assert before[0] not in {s.item.item_id for s in index.search(query, None, 10)}
        assert not index.is_live(before[0]) and not index.is_live(gone.item_id) and index.is_live("new-1")
        assert gone.item_id not in {s.item.item_id for s in index.vector_search(vectors[4], None, 10)}
        assert index.items[index.position[cheaper.item_id]].price == 1.23
        assert index.search(query, Filters(max_price=2.0), 5)[0].item.item_id == cheaper.item_id
    assert a.cache.hits == 1  # the change emptied the cache: the repeated query was answered afresh
    assert a.search(query, None, 10) == a.search(query, None, 10) and a.cache.hits == 3
    assert SharedIndex(tmp_path / "idx", embedder).embeddings.shape[0] == len(items)  # additions live in the log


def test_shared_index_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SharedIndexMissing, match="convrec ingest"):
        SharedIndex(tmp_path / "nothing", None)
    (tmp_path / "c.jsonl").write_text('{"id": "a", "title": "A"}\n\nnot json\n{"id": "b"}\n')
    rows = list(read_rows(tmp_path / "c.jsonl"))
    assert [o for o, _ in rows] == [0, 1, 2] and isinstance(rows[0][1], Item)
    assert "line 3" in rows[1][1] and "line 4: missing 'title'" in rows[2][1]
    np.save(tmp_path / "c.npy", np.zeros((3, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        vectors_for(tmp_path / "c.jsonl")


def test_events_feed_popularity_and_cooccurrence(tmp_path: Path, catalog, embedder) -> None:
    items, vectors = catalog
    index = CatalogIndex(None, embedder, list(items), vectors.copy())
    feed = Feed(tmp_path / "feed.sqlite3")
    ids = [i.item_id for i in items[:4]]
    assert index.signals.boost(ids).tolist() == [0.0] * 4
    feed.append_events([("s1", ids[0], "like"), ("s1", ids[1], "purchase"), ("s2", ids[0], "like"),
                        ("s2", ids[2], "reject"), ("s3", ids[3], "owned")])
    with pytest.raises(ValueError, match="unknown event kind"):
        feed.append_events([("s1", ids[0], "wishlist")])
    assert index.signals.apply(feed.events_since(0)) == 5 and index.signals.apply(feed.events_since(0)) == 0
    boost = index.signals.boost(ids, context=[ids[0]])
    assert boost[1] > boost[3] > boost[2] == 0.0  # bought together with the context item; rejected: nothing
    assert index.signals.rank_of(ids[1]) == 1
    assert event_sequences(feed) == {"s1": [ids[0], ids[1]], "s2": [ids[0]], "s3": [ids[3]]}
    with feed._tx() as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(events)").fetchall()]
    assert columns == ["seq", "shopper", "item_id", "kind", "at"]  # no message text, ever
    assert json.loads(json.dumps(event_sequences(feed, kinds=("reject",)))) == {"s2": [ids[2]]}
