"""`convrec serve` as a real subprocess: SIGKILL it between turns, restart on the same sessions DB, continue."""

from __future__ import annotations

from pathlib import Path

import httpx

from evals.bench_load import KEY, Server
from tests.ui.test_api_sessions import catalog_dir  # noqa: F401  (module fixture: the test catalog in Chroma)


def test_kill_9_and_restart_loses_no_answered_turn(tmp_path: Path, catalog_dir: Path) -> None:
    server = Server("none", "catalog", catalog_dir, tmp_path / "sessions.sqlite3", tmp_path / "serve.log")
    try:
        server.start(timeout=300)
        with httpx.Client(base_url=server.url, headers={"X-API-Key": KEY}, timeout=60) as c:
            sids = [c.post("/v1/sessions").json()["session_id"] for _ in range(3)]
            for n, sid in enumerate(sids):
                for text in (f"an electric kettle under ${30 + n}", "a glass one"):
                    assert c.post(f"/v1/sessions/{sid}/messages", json={"message": text}).status_code == 200
        server.kill()
        server.start(timeout=300)
        with httpx.Client(base_url=server.url, headers={"X-API-Key": KEY}, timeout=60) as c:
            for n, sid in enumerate(sids):
                turns = c.get(f"/v1/sessions/{sid}").json()["turns"]
                assert [t["text"] for t in turns if t["role"] == "user"] == [f"an electric kettle under ${30 + n}",
                                                                              "a glass one"]
                r = c.post(f"/v1/sessions/{sid}/messages", json={"message": "cheaper please"})
                assert r.status_code == 200 and r.json()["turn"] == 3  # it continues where it was
    finally:
        server.stop()
