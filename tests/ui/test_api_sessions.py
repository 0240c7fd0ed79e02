"""HTTP API through a real uvicorn server on a free loopback port, the real agent on the test catalog (no LLM)."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import uvicorn

from agent import Settings, build_agent
from retrieval.catalogs import read_catalog_file
from retrieval.ingest import ingest_items
from retrieval.search import CatalogIndex
from retrieval.store import CatalogStore, ChromaLocation
from tests.support import TEST_CATALOG, free_port
from ui.api import create_app
from ui.sessions import SessionStore

KEY = "test-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def live_server(settings: Settings, index: CatalogIndex) -> Iterator[str]:
    """Run the real app under uvicorn in a thread; yields its base URL."""
    port = free_port()
    app = create_app(settings, agent=build_agent(settings, index=index))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """The 24-item test catalog ingested once per module into collection 'catalog'."""
    path = tmp_path_factory.mktemp("api-chroma")
    store = CatalogStore(ChromaLocation(path=path, collection="catalog"))
    ingest_items(store, embedder, read_catalog_file(TEST_CATALOG), progress=False)
    return path


@pytest.fixture(scope="module")
def api_index(catalog_dir: Path, embedder) -> CatalogIndex:
    """Search index over the module's test catalog."""
    return CatalogIndex.from_store(CatalogStore(ChromaLocation(path=catalog_dir, collection="catalog")), embedder)


def api_settings(tmp_path: Path, **overrides) -> Settings:
    """Settings for a test server: no LLM, keys on, a temp sessions DB."""
    base = Settings(llm_backend="none", collection="catalog", sessions_db=tmp_path / "sessions.sqlite3",
                    api_keys=(KEY, "other-key"), rate_limit_per_minute=10_000)
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, api_index: CatalogIndex) -> Iterator[str]:
    """One server for the module's tests."""
    with live_server(api_settings(tmp_path_factory.mktemp("api")), api_index) as url:
        yield url


def test_session_lifecycle(server: str) -> None:
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as c:
        created = c.post("/v1/sessions", json={"history": ["t-drill-1", "no-such-item"]})
        assert created.status_code == 201
        sid = created.json()["session_id"]
        assert created.json()["history"] == ["t-drill-1"]  # unknown ids ignored
        r = c.post(f"/v1/sessions/{sid}/messages", json={"message": "a cordless drill under $100"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reply"] and body["picks"], body
        for pick in body["picks"]:
            assert set(pick) >= {"item_id", "title", "price", "reason", "score"}
            assert pick["price"] is None or pick["price"] <= 100
        first = pick_ids = [p["item_id"] for p in body["picks"]]
        fb = c.post(f"/v1/sessions/{sid}/feedback", json={"item_id": pick_ids[0], "kind": "reject"})
        assert fb.status_code == 200, fb.text
        r2 = c.post(f"/v1/sessions/{sid}/messages", json={"message": "show me other drills"})
        assert r2.status_code == 200
        assert first[0] not in [p["item_id"] for p in r2.json()["picks"]]  # a rejected item never comes back
        got = c.get(f"/v1/sessions/{sid}").json()
        assert [t["role"] for t in got["turns"]] == ["user", "assistant"] * 2
        assert got["turns"][0]["text"] == "a cordless drill under $100"
        assert got["rejected"] == [first[0]]
        assert c.delete(f"/v1/sessions/{sid}").status_code == 204
        assert c.get(f"/v1/sessions/{sid}").status_code == 404


def test_answers_and_handoffs_are_marked_for_the_bot(server: str) -> None:
    """A question about a pick is answered (no new picks); shipping is a hand-off candidate the bot can route."""
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as c:
        sid = c.post("/v1/sessions", json={"history": []}).json()["session_id"]
        first = c.post(f"/v1/sessions/{sid}/messages", json={"message": "a cordless drill under $100"}).json()
        assert first["act"] == "recommend" and first["handoff"] is False and first["picks"]
        price = first["picks"][0]["price"]
        answer = c.post(f"/v1/sessions/{sid}/messages", json={"message": "how much is the first one?"}).json()
        assert answer["act"] == "answer" and answer["picks"] == []
        assert f"{price:.2f}".rstrip("0").rstrip(".") in answer["reply"]
        ship = c.post(f"/v1/sessions/{sid}/messages", json={"message": "do you ship to Canada?"}).json()
        assert ship["handoff"] is True and ship["act"] == "handoff" and ship["picks"] == []


def test_sessions_are_private_to_their_key(server: str) -> None:
    with httpx.Client(base_url=server, timeout=60) as c:
        sid = c.post("/v1/sessions", headers=AUTH).json()["session_id"]
        other = c.get(f"/v1/sessions/{sid}", headers={"X-API-Key": "other-key"})
        assert other.status_code == 404
        assert c.get(f"/v1/sessions/{sid}", headers={"X-API-Key": KEY}).status_code == 200


def test_concurrent_messages_to_one_session_are_serialised(server: str) -> None:
    with httpx.Client(base_url=server, headers=AUTH, timeout=120) as c:
        sid = c.post("/v1/sessions").json()["session_id"]
    texts = [f"drill number {i}" for i in range(8)]
    statuses: list[int] = []

    def send(text: str) -> None:
        with httpx.Client(base_url=server, headers=AUTH, timeout=120) as c:
            statuses.append(c.post(f"/v1/sessions/{sid}/messages", json={"message": text}).status_code)

    threads = [threading.Thread(target=send, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert statuses == [200] * 8
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as c:
        turns = c.get(f"/v1/sessions/{sid}").json()["turns"]
    assert len(turns) == 16  # no lost turn
    assert [t["role"] for t in turns] == ["user", "assistant"] * 8  # never interleaved
    assert sorted(t["text"] for t in turns if t["role"] == "user") == sorted(texts)


def test_health_docs_and_openapi_are_offline(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as c:
        health = c.get("/health").json()
        assert health["status"] == "ok" and health["agent"]["catalog"] == "catalog"
        docs = c.get("/docs")
        assert docs.status_code == 200 and "/openapi.json" in docs.text
        assert not re.findall(r"(?:src|href)=[\"'](?:https?:)?//", docs.text)  # no external script, style or link
        spec = c.get("/openapi.json").json()
        assert {"/v1/sessions", "/v1/sessions/{session_id}/messages", "/v1/chat/completions"} <= set(spec["paths"])


def test_sessions_survive_a_server_restart(tmp_path: Path, api_index: CatalogIndex) -> None:
    settings = api_settings(tmp_path)
    with live_server(settings, api_index) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as c:
        sid = c.post("/v1/sessions").json()["session_id"]
        assert c.post(f"/v1/sessions/{sid}/messages", json={"message": "an electric kettle"}).status_code == 200
    assert SessionStore(settings.sessions_db).get(sid).turns[0].text == "an electric kettle"
    with live_server(settings, api_index) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as c:
        assert len(c.get(f"/v1/sessions/{sid}").json()["turns"]) == 2
        r = c.post(f"/v1/sessions/{sid}/messages", json={"message": "a glass one"})
        assert r.status_code == 200
        assert len(c.get(f"/v1/sessions/{sid}").json()["turns"]) == 4
