"""Many workers, one truth: two servers on one session store (SQLite file or PostgreSQL) lose and double no turn,
share their rate limits and failed-auth throttling; `convrec serve --workers 2` survives a SIGKILLed worker."""

from __future__ import annotations

import threading
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from evals.load_server import KEYS, Server
from retrieval.search import CatalogIndex
from tests.ui.test_api_sessions import AUTH, api_index, api_settings, catalog_dir, live_server  # noqa: F401


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict:
    """Settings overrides for one shared store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"sessions_url": request.getfixturevalue("pg_url")}


def send_turn(url: str, sid: str, text: str, key: str | None = None) -> tuple[int, int]:
    """POST one turn until answered, resending after a 409 with the same Idempotency-Key; (status, 409s)."""
    key = key or uuid.uuid4().hex
    conflicts = 0
    with httpx.Client(base_url=url, headers=AUTH, timeout=120) as c:
        for _ in range(100):
            r = c.post(f"/v1/sessions/{sid}/messages", json={"message": text}, headers={"Idempotency-Key": key})
            if r.status_code != 409:
                return r.status_code, conflicts
            assert r.json()["error"]["type"] == "session_conflict", r.text
            assert "send the same request again" in r.json()["error"]["message"]
            conflicts += 1
    return 409, conflicts


def user_texts(url: str, sid: str) -> list[str]:
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as c:
        return [t["text"] for t in c.get(f"/v1/sessions/{sid}").json()["turns"] if t["role"] == "user"]


def test_two_servers_on_one_store_lose_no_turn(tmp_path: Path, api_index: CatalogIndex, store_settings: dict) -> None:
    """The issue's finding: two processes, turns for one session sent to both at once; 28 of 60 were lost."""
    settings = api_settings(tmp_path, **store_settings)
    with ExitStack() as stack:
        urls = [stack.enter_context(live_server(settings, api_index)) for _ in range(2)]
        with httpx.Client(base_url=urls[0], headers=AUTH, timeout=60) as c:
            sid = c.post("/v1/sessions").json()["session_id"]
        texts = [f"a desk lamp under ${20 + i}" for i in range(16)]
        results: list[tuple[int, int]] = []
        threads = [threading.Thread(target=lambda i=i: results.append(send_turn(urls[i % 2], sid, texts[i])))
                   for i in range(len(texts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert [status for status, _ in results] == [200] * len(texts)
        stored = user_texts(urls[1], sid)
        assert sorted(stored) == sorted(texts), "every acknowledged turn is stored, once"


def test_idempotency_key_makes_a_retry_safe(tmp_path: Path, api_index: CatalogIndex, store_settings: dict) -> None:
    """A retried request (the first was stored) returns the stored answer and is not stored twice, on any worker."""
    settings = api_settings(tmp_path, **store_settings)
    with live_server(settings, api_index) as a, live_server(settings, api_index) as b:
        with httpx.Client(base_url=a, headers=AUTH, timeout=60) as c:
            sid = c.post("/v1/sessions").json()["session_id"]
            first = c.post(f"/v1/sessions/{sid}/messages", json={"message": "an electric kettle"},
                           headers={"Idempotency-Key": "k-1"})
        with httpx.Client(base_url=b, headers=AUTH, timeout=60) as c:
            again = c.post(f"/v1/sessions/{sid}/messages", json={"message": "an electric kettle"},
                           headers={"Idempotency-Key": "k-1"})
            assert again.status_code == 200 and again.json() == first.json()
            assert again.headers["idempotent-replayed"] == "true"
            reused = c.post(f"/v1/sessions/{sid}/messages", json={"message": "a toaster"},
                            headers={"Idempotency-Key": "k-1"})
            assert reused.status_code == 422 and "used for a different request" in reused.json()["error"]["message"]
            bad = c.post(f"/v1/sessions/{sid}/messages", json={"message": "a toaster"},
                         headers={"Idempotency-Key": "has spaces"})
            assert bad.status_code == 422
        assert user_texts(b, sid) == ["an electric kettle"]


def test_rate_limit_and_auth_throttling_are_shared(tmp_path: Path, api_index: CatalogIndex,
                                                   store_settings: dict) -> None:
    """Two servers, a limit of 4 a minute: together they admit 4, not 8; wrong keys are throttled per address."""
    settings = api_settings(tmp_path, rate_limit_per_minute=4, auth_failures_per_minute=3, **store_settings)
    with live_server(settings, api_index) as a, live_server(settings, api_index) as b:
        codes = [httpx.get(f"{url}/v1/models", headers=AUTH).status_code for url in (a, b) * 4]
        assert codes.count(200) == 4 and codes.count(429) == 4
        wrong = [httpx.get(f"{url}/v1/models", headers={"X-API-Key": f"guess-{i}"}).status_code
                 for i, url in enumerate((a, b) * 3)]
        assert wrong == [401, 401, 401, 429, 429, 429]
        throttled = httpx.get(f"{a}/v1/models", headers={"X-API-Key": "guess-x"})
        assert "too many failed authentications" in throttled.json()["error"]["message"]
        assert int(throttled.headers["retry-after"]) >= 1


def test_serve_workers_survive_a_killed_worker(tmp_path: Path, catalog_dir: Path, pg_url: str) -> None:
    """`convrec serve --workers 2` on PostgreSQL: SIGKILL one worker; the other answers, the supervisor replaces
    it, every answered turn is kept."""
    server = Server("none", "catalog", catalog_dir, tmp_path / "unused.sqlite3", tmp_path / "serve.log",
                    workers=2, sessions_url=pg_url)
    try:
        server.start(timeout=600)
        headers = {"X-API-Key": KEYS[0]}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as c:
            sid = c.post("/v1/sessions").json()["session_id"]
            assert c.post(f"/v1/sessions/{sid}/messages", json={"message": "a cordless drill"}).status_code == 200
        killed = server.kill_one_worker()
        assert killed.startswith("worker pid")
        server.wait_healthy(timeout=600)
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as c:
            for _ in range(40):  # a request may still meet the dead worker's closed connection
                try:
                    r = c.post(f"/v1/sessions/{sid}/messages", json={"message": "cheaper please"},
                               headers={"Idempotency-Key": "after-kill"})
                    break
                except httpx.TransportError:
                    continue
            assert r.status_code == 200 and r.json()["turn"] == 2
            turns = c.get(f"/v1/sessions/{sid}").json()["turns"]
        assert [t["text"] for t in turns if t["role"] == "user"] == ["a cordless drill", "cheaper please"]
    finally:
        server.stop()
