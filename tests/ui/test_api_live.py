"""A live catalog and learning from events over HTTP: two real servers (as two workers, each with its own index) on one
session database (SQLite file or PostgreSQL), an admin catalog update on one, its effect on the other."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from agent.live import open_feed
from evals.load_server import KEYS, Server, worker_pids
from retrieval.catalogs import read_catalog_file
from retrieval.feed import event_sequences
from retrieval.ingest import ingest_items
from retrieval.items import item_to_dict
from retrieval.search import CatalogIndex
from retrieval.shared import build_shared_index
from retrieval.store import CatalogStore, ChromaLocation
from tests.support import TEST_CATALOG
from tests.ui.test_api_sessions import AUTH, api_settings, live_server

ADMIN = {"X-Admin-Key": "admin-secret"}


@pytest.fixture
def catalog(tmp_path: Path, embedder) -> Path:
    """The test catalog in a Chroma folder of its own (the tests change it)."""
    path = tmp_path / "chroma"
    ingest_items(CatalogStore(ChromaLocation(path=path, collection="catalog")), embedder,
                 read_catalog_file(TEST_CATALOG), progress=False)
    return path


def index_of(path: Path, embedder) -> CatalogIndex:
    return CatalogIndex.from_store(CatalogStore(ChromaLocation(path=path, collection="catalog")), embedder)


def picks(c: httpx.Client, sid: str, text: str) -> list[dict]:
    r = c.post(f"/v1/sessions/{sid}/messages", json={"message": text})
    assert r.status_code == 200, r.text
    return r.json()["picks"]


def test_catalog_updates_reach_every_worker(tmp_path: Path, catalog: Path, embedder) -> None:
    settings = replace(api_settings(tmp_path), extra={"admin_keys": "admin-secret"})
    with live_server(settings, index_of(catalog, embedder)) as a, live_server(settings, index_of(catalog, embedder)) as b:
        with httpx.Client(base_url=b, headers=AUTH, timeout=120) as cb:
            sid = cb.post("/v1/sessions").json()["session_id"]
            shown = picks(cb, sid, "a cordless drill")
            assert len(shown) >= 2
        doomed, cheaper = shown[0]["item_id"], shown[1]["item_id"]
        with httpx.Client(base_url=a, timeout=120) as ca:
            row = next(item_to_dict(i) for i in read_catalog_file(TEST_CATALOG) if getattr(i, "item_id", "") == cheaper)
            body = {"upsert": [{**row, "price": 1.23}], "delete": [doomed]}
            assert ca.post("/v1/admin/catalog", json=body).status_code == 401
            assert ca.post("/v1/admin/catalog", json=body, headers={"X-Admin-Key": "wrong"}).status_code == 401
            assert ca.post("/v1/admin/catalog", json=body, headers=AUTH).status_code == 401  # an API key is no admin key
            bad = ca.post("/v1/admin/catalog", headers=ADMIN, json={"upsert": [{"id": "x-1"}], "delete": ["no-such"]})
            assert bad.status_code == 422
            message = bad.json()["error"]["message"]
            assert "row 1: missing 'title'" in message and "'no-such': unknown item id" in message
            assert "nothing was changed" in message
            seq = ca.get("/health").json()["catalog_seq"]
            new = {"id": "zx-1", "title": "Zorblax ZX-9 18V Cordless Drill", "category": "Tools > Power Tools > Drills",
                   "brand": "Zorblax", "price": 42.0}
            r = ca.post("/v1/admin/catalog", headers=ADMIN, json={**body, "upsert": body["upsert"] + [new]})
            assert r.status_code == 200, r.text
            assert {k: r.json()[k] for k in ("added", "updated", "deleted")} == {"added": 1, "updated": 1, "deleted": 1}
            assert r.json()["seq"] > seq
        started = time.monotonic()
        with httpx.Client(base_url=b, headers=AUTH, timeout=120) as cb:
            again = picks(cb, sid, "show me cordless drills again")  # the session that showed the deleted item
            assert doomed not in {p["item_id"] for p in again}
            deadline = time.monotonic() + 10  # the new brand's name is learnt in the background, within seconds
            while True:
                fresh = cb.post("/v1/sessions").json()["session_id"]
                found = picks(cb, fresh, "Zorblax ZX-9 cordless drill")
                if found[0]["item_id"] == "zx-1" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert found[0]["item_id"] == "zx-1"
            fresh = cb.post("/v1/sessions").json()["session_id"]
            prices = {p["item_id"]: p["price"] for p in picks(cb, fresh, shown[1]["title"])}
            assert prices.get(cheaper) == 1.23
            assert cb.post(f"/v1/sessions/{sid}/feedback", json={"item_id": doomed, "kind": "like"}).status_code in (
                200, 404)
        assert time.monotonic() - started < 60
    store = CatalogStore(ChromaLocation(path=catalog, collection="catalog"))
    assert doomed not in store.get_items([doomed]) and store.get_items([cheaper])[cheaper].price == 1.23


def test_admin_endpoint_is_off_without_admin_keys(tmp_path: Path, catalog: Path, embedder) -> None:
    with live_server(api_settings(tmp_path), index_of(catalog, embedder)) as url:
        r = httpx.post(f"{url}/v1/admin/catalog", headers=ADMIN, json={"delete": []})
        assert r.status_code == 403 and "CONVREC_ADMIN_KEYS" in r.json()["error"]["message"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_feedback_and_purchases_feed_ranking_on_every_worker(tmp_path: Path, catalog: Path, embedder,
                                                             backend: str, request: pytest.FixtureRequest) -> None:
    extra = {} if backend == "sqlite" else {"sessions_url": request.getfixturevalue("pg_url")}
    settings = api_settings(tmp_path, **extra)
    other = index_of(catalog, embedder)
    with live_server(settings, index_of(catalog, embedder)) as a, live_server(settings, other) as b:
        with httpx.Client(base_url=a, headers=AUTH, timeout=120) as ca:
            sids = [ca.post("/v1/sessions").json()["session_id"] for _ in range(3)]
            item = picks(ca, sids[0], "an electric kettle")[-1]["item_id"]
            for sid in sids:
                assert ca.post(f"/v1/sessions/{sid}/feedback", json={"item_id": item, "kind": "like"}).status_code == 200
            r = ca.post(f"/v1/sessions/{sids[0]}/purchase", json={"item_id": item})
            assert r.status_code == 200 and r.json()["kind"] == "purchase"
            assert ca.post(f"/v1/sessions/{sids[0]}/purchase", json={"item_id": "no-such"}).status_code == 404
            assert item in ca.get(f"/v1/sessions/{sids[0]}").json()["history"]
        deadline = time.monotonic() + 5  # any request lets worker b catch up (at most every LiveSync.every_s)
        while other.signals.rank_of(item) != 1 and time.monotonic() < deadline:
            assert httpx.get(f"{b}/health").status_code == 200
            time.sleep(0.1)
        assert other.signals.rank_of(item) == 1 and other.signals.popularity[item] == 3 * 1.0 + 3.0
    feed = open_feed(settings.sessions_url, settings.sessions_db)
    sequences = event_sequences(feed)
    assert sorted(len(s) for s in sequences.values()) == [1, 1, 2] and all(set(s) == {item} for s in sequences.values())
    assert not any(sid in key for key in sequences for sid in sids)  # opaque shopper keys


def test_serve_workers_share_the_mapped_index_and_apply_changes(tmp_path: Path, embedder) -> None:
    """`convrec serve --workers 2` on a shared index: both workers map the same vector file, and an admin update
    sent to one is applied by both (each reports the new log position, new item found, deleted item gone)."""
    items = [r for r in read_catalog_file(TEST_CATALOG) if hasattr(r, "item_id")]
    build_shared_index(tmp_path / "idx", zip(items, embedder.encode([i.text() for i in items])))
    server = Server("none", "catalog", None, tmp_path / "sessions.sqlite3", tmp_path / "serve.log", workers=2,
                    env={"CONVREC_SHARED_INDEX": str(tmp_path / "idx"), "CONVREC_ADMIN_KEYS": "admin-secret"})
    try:
        server.start(timeout=600)
        pids = worker_pids(server)
        assert len(pids) == 2
        for pid in pids:
            assert str(tmp_path / "idx" / "vectors.f32") in Path(f"/proc/{pid}/maps").read_text()
        new = {"id": "zx-1", "title": "Zorblax ZX-9 18V Cordless Drill", "category": "Tools > Power Tools > Drills",
               "brand": "Zorblax", "price": 42.0}
        r = httpx.post(f"{server.url}/v1/admin/catalog", headers=ADMIN, timeout=120,
                       json={"upsert": [new], "delete": [items[0].item_id]})
        assert r.status_code == 200, r.text
        seq, seen = r.json()["seq"], {}
        deadline = time.monotonic() + 60
        while set(seen) != set(pids) and time.monotonic() < deadline:
            health = httpx.get(f"{server.url}/health", timeout=30).json()  # a new connection: either worker
            seen[health["pid"]] = health["catalog_seq"]
        assert seen == {pid: seq for pid in pids}
        for _ in range(4):
            with httpx.Client(base_url=server.url, headers={"X-API-Key": KEYS[0]}, timeout=120) as c:
                sid = c.post("/v1/sessions").json()["session_id"]
                got = [p["item_id"] for p in picks(c, sid, "an 18V cordless drill from Zorblax")]
                assert "zx-1" in got and items[0].item_id not in got
    finally:
        server.stop()
