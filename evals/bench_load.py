"""Load test of `convrec serve` on loopback: concurrent sessions x turns, a SIGKILL mid-load and a restart.

    python -m evals.bench_load [--sessions 50 --turns 10] [--local-sessions 4 --local-turns 3]

Every session checks its own answers (the server's turn counter must match the client's) and, at the end,
that the stored conversation is exactly what it sent, in order. When a request dies with the server, the
client asks the restarted server whether that turn was stored before resending it, so no turn is doubled.
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from evals.lib.record import emit

KEY = "bench-key"
QUERIES = ["a cordless drill", "something for making coffee at home", "running shoes for the road",
           "wireless headphones", "a desk lamp", "an electric kettle", "a good backpack for hiking",
           "a gift for someone who likes cooking", "cheaper options please", "show me something different",
           "I prefer a well-known brand", "a yoga mat", "a blender for smoothies", "a gaming mouse"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`convrec serve` in a subprocess: start, wait for /health, kill -9, restart on the same port and DB."""

    def __init__(self, llm: str, collection: str, chroma_dir: Path | None, db: Path, log: Path):
        self.port, self.llm, self.collection, self.chroma_dir, self.db, self.log = \
            free_port(), llm, collection, chroma_dir, db, log
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 900.0) -> dict:
        """Start and wait until healthy (the first start may build the demo catalog: minutes on 2 cores)."""
        cmd = [sys.executable, "-m", "ui.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--llm", self.llm, "--collection", self.collection]
        if self.chroma_dir is not None:
            cmd += ["--chroma-dir", str(self.chroma_dir)]
        env = {**os.environ, "CONVREC_SESSIONS_DB": str(self.db), "CONVREC_API_KEYS": KEY,
               "CONVREC_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1"}  # 0: no rate limit for the load
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"convrec serve exited with {self.proc.returncode}; see {self.log}")
            try:
                r = httpx.get(f"{self.url}/health", timeout=2)
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"convrec serve not healthy after {timeout:.0f}s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush; what survives is what SQLite committed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        """Terminate politely, then hard."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Client:
    """One simulated shopper session."""

    n: int
    turns: int
    session_id: str = ""
    sent: list[str] = field(default_factory=list)  # messages the server answered (or stored), in order
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retried: int = 0
    answered_before_kill: int = -1  # filled when the server is killed

    def message(self, i: int) -> str:
        """Unique per session (the budget differs), so a mixed-up session cannot look right."""
        return f"{QUERIES[(self.n + i) % len(QUERIES)]}, under ${40 + self.n}"


async def _post_turn(http: httpx.AsyncClient, c: Client, text: str, revived: asyncio.Event) -> None:
    for attempt in range(60):  # bounded: about two minutes of retries while the server restarts
        t0 = time.perf_counter()
        try:
            r = await http.post(f"/v1/sessions/{c.session_id}/messages", json={"message": text})
        except (httpx.TransportError, httpx.RemoteProtocolError):
            c.retried += 1
            await asyncio.wait_for(revived.wait(), 900)
            stored = await _stored_user_texts(http, c)
            if stored is not None and stored == c.sent + [text]:  # the turn was saved before the kill
                c.sent.append(text)
                return
            continue
        if r.status_code != 200:
            c.errors.append(f"turn {len(c.sent) + 1}: HTTP {r.status_code} {r.text[:200]}")
            return
        c.latencies_ms.append((time.perf_counter() - t0) * 1000)
        c.sent.append(text)
        body = r.json()
        if body["session_id"] != c.session_id or body["turn"] != len(c.sent):
            c.errors.append(f"turn {len(c.sent)}: server says session {body['session_id']} turn {body['turn']}")
        return
    c.errors.append(f"turn {len(c.sent) + 1}: no answer after 60 retries")


async def _stored_user_texts(http: httpx.AsyncClient, c: Client) -> list[str] | None:
    for _ in range(60):
        try:
            r = await http.get(f"/v1/sessions/{c.session_id}")
        except httpx.TransportError:
            await asyncio.sleep(1)
            continue
        if r.status_code == 404:
            return None
        return [t["text"] for t in r.json()["turns"] if t["role"] == "user"]
    return None


async def _run_client(url: str, c: Client, revived: asyncio.Event, progress: list[int]) -> None:
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, timeout=600) as http:
        for _ in range(60):
            try:
                c.session_id = (await http.post("/v1/sessions")).json()["session_id"]
                break
            except httpx.TransportError:
                await asyncio.wait_for(revived.wait(), 900)
        for i in range(c.turns):
            await _post_turn(http, c, c.message(i), revived)
            progress[0] += 1
            if c.errors:
                return


async def run_load(server: Server, sessions: int, turns: int, kill_at: float | None) -> dict:
    """Drive the sessions; SIGKILL and restart the server once `kill_at` of all turns are answered."""
    clients = [Client(n, turns) for n in range(sessions)]
    revived, progress = asyncio.Event(), [0]
    revived.set()
    restart: dict = {}

    async def killer() -> None:
        while progress[0] < kill_at * sessions * turns:
            await asyncio.sleep(0.05)
        revived.clear()
        down = time.perf_counter()
        server.kill()
        restart["killed_after_turns"] = progress[0]
        for c in clients:
            c.answered_before_kill = len(c.sent)
        t0 = time.perf_counter()
        await asyncio.to_thread(server.start)
        restart["restart_s"] = round(time.perf_counter() - t0, 1)
        lost = 0
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": KEY}, timeout=60) as http:
            for c in clients:
                if c.answered_before_kill > 0:
                    stored = await _stored_user_texts(http, c)
                    lost += stored is None or stored[:c.answered_before_kill] != c.sent[:c.answered_before_kill]
        restart["restart_lost_sessions"] = lost
        restart["sessions_answered_before_kill"] = sum(c.answered_before_kill > 0 for c in clients)
        restart["downtime_s"] = round(time.perf_counter() - down, 1)
        revived.set()

    t0 = time.perf_counter()
    tasks = [_run_client(server.url, c, revived, progress) for c in clients]
    if kill_at is not None:
        tasks.append(killer())
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    lost = mixed = 0
    async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": KEY}, timeout=60) as http:
        for c in clients:
            stored = await _stored_user_texts(http, c)
            lost += stored is None
            mixed += stored is not None and (stored != c.sent or len(c.sent) != turns)
    lat = sorted(x for c in clients for x in c.latencies_ms)
    errors = [e for c in clients for e in c.errors]
    return {"sessions": sessions, "turns": sum(len(c.sent) for c in clients), "errors": len(errors),
            "error_samples": errors[:5], "lost_sessions": lost, "mixed_sessions": mixed,
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
            # throughput while the server was up (the kill/restart pause is not serving time)
            "turns_per_s": round(len(lat) / max(1e-9, wall - restart.get("downtime_s", 0.0)), 2),
            "wall_s": round(wall, 1),
            "retried_after_kill": sum(c.retried for c in clients), **restart}


def main(argv: list[str] | None = None) -> int:
    """Run the template-wording load (with kill/restart), then a smaller one with the local model."""
    p = argparse.ArgumentParser(prog="python -m evals.bench_load", description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--turns", type=int, default=10)
    p.add_argument("--kill-at", type=float, default=0.4, help="fraction of turns answered before the SIGKILL")
    p.add_argument("--local-sessions", type=int, default=4, help="0 skips the local-model run")
    p.add_argument("--local-turns", type=int, default=3)
    p.add_argument("--collection", default="demo")
    p.add_argument("--chroma-dir", type=Path, help="default: the settings' var/chroma (demo built on first use)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="convrec-load-"))
    result: dict = {"bench": "load", "collection": args.collection}
    server = Server("none", args.collection, args.chroma_dir, work / "sessions.sqlite3", work / "server-none.log")
    try:
        result["agent"] = server.start()["agent"]
        result.update(asyncio.run(run_load(server, args.sessions, args.turns, args.kill_at)))
    finally:
        server.stop()
    if args.local_sessions > 0:
        local = Server("local", args.collection, args.chroma_dir, work / "sessions-local.sqlite3",
                       work / "server-local.log")
        try:
            agent = local.start()["agent"]
            run = asyncio.run(run_load(local, args.local_sessions, args.local_turns, None))
            result["local"] = {"agent": agent, **{k: run[k] for k in (
                "sessions", "turns", "errors", "lost_sessions", "mixed_sessions", "p50_ms", "p95_ms", "wall_s")}}
        except (RuntimeError, TimeoutError) as e:
            result["local"] = {"skipped": str(e)}
        finally:
            local.stop()
    result["logs"] = str(work)
    emit(result)
    return 0 if result["errors"] == 0 and result["lost_sessions"] == 0 and result["mixed_sessions"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
