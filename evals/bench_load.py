"""Load test of `convrec serve` on loopback: N workers on one port, sessions x turns, a contention phase, one
worker SIGKILLed mid-load, the whole server SIGKILLed and restarted, and the shared rate limit.

    python -m evals.bench_load --workers 4 --store postgres [--sessions 100 --turns 10]

Phases, each checked against what the clients were told:
1. load: `--sessions` sessions (over two API keys) x `--turns` turns; once `--kill-at` of the turns are
   answered, one worker gets SIGKILL (with --workers 1, the server; it is restarted). Every turn carries an
   Idempotency-Key and is resent with the same key after a dropped connection or a 409, so nothing is
   doubled; `killed_worker_lost_turns` counts turns answered before the kill that the store lacks after it.
2. contention: `--contention-sessions` sessions, each sent `--contention-clients` turns at the same moment
   over separate connections (so different workers answer them); a 409 is retried (`conflicts_retried`).
3. restart: the whole server gets SIGKILL and restarts on the same store; `restart_lost_sessions` counts
   sessions whose answered turns are not all there. Then `lost_turns` / `duplicated_turns` over every session.
4. rate limit: a fresh server with `--rate-limit` turns a minute per key (bursts up to the same number); one key
   sends turns from 8 connections as fast as it can for `--rate-window-s` (60: the figure is
   `rate_limit_admitted_per_minute`; the bound is the burst plus the refill, 2 x the limit in a minute).
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from evals.lib.record import emit
from evals.load_server import KEY, KEYS, Server, worker_pids

QUERIES = ["a cordless drill", "something for making coffee at home", "running shoes for the road",
           "wireless headphones", "a desk lamp", "an electric kettle", "a good backpack for hiking",
           "a gift for someone who likes cooking", "cheaper options please", "show me something different",
           "I prefer a well-known brand", "a yoga mat", "a blender for smoothies", "a gaming mouse"]
RETRIES = 200  # per turn: dropped connections while a worker restarts, and 409s under contention


@dataclass
class Client:
    """One simulated shopper session (or, in the contention phase, one of several senders to a session)."""

    n: int
    key: str = KEY
    session_id: str = ""
    sent: list[str] = field(default_factory=list)  # messages the server answered, in order
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0  # 409s retried
    dropped: int = 0  # connections lost (killed worker) and retried with the same Idempotency-Key

    def message(self, i: int) -> str:
        """Unique per session and turn (the budget differs), so a mixed-up session cannot look right."""
        return f"{QUERIES[(self.n + i) % len(QUERIES)]}, under ${40 + self.n}, turn {i + 1}"


async def post_turn(http: httpx.AsyncClient, c: Client, text: str, check_turn: bool = True) -> bool:
    """Send one turn until it is answered: the same Idempotency-Key on every retry, so it is stored once."""
    key = uuid.uuid4().hex
    for _ in range(RETRIES):
        t0 = time.perf_counter()
        try:
            r = await http.post(f"/v1/sessions/{c.session_id}/messages", json={"message": text},
                                headers={"Idempotency-Key": key})
        except httpx.TransportError:
            c.dropped += 1
            await asyncio.sleep(0.5)
            continue
        if r.status_code == 409 and r.json()["error"]["type"] == "session_conflict":
            c.conflicts += 1
            await asyncio.sleep(random.uniform(0.0, 0.05))
            continue
        if r.status_code != 200:
            c.errors.append(f"turn {len(c.sent) + 1}: HTTP {r.status_code} {r.text[:200]}")
            return False
        c.latencies_ms.append((time.perf_counter() - t0) * 1000)
        c.sent.append(text)
        body = r.json()
        if check_turn and (body["session_id"] != c.session_id or body["turn"] != len(c.sent)):
            c.errors.append(f"turn {len(c.sent)}: server says session {body['session_id']} turn {body['turn']}")
        return True
    c.errors.append(f"turn {len(c.sent) + 1}: no answer after {RETRIES} tries")
    return False


async def stored_user_texts(url: str, key: str, session_id: str) -> list[str] | None:
    """The user messages the store holds for a session (None: no such session)."""
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60) as http:
        for _ in range(120):
            try:
                r = await http.get(f"/v1/sessions/{session_id}")
            except httpx.TransportError:
                await asyncio.sleep(0.5)
                continue
            if r.status_code == 404:
                return None
            return [t["text"] for t in r.json()["turns"] if t["role"] == "user"]
    return None


async def new_session(http: httpx.AsyncClient) -> str:
    for _ in range(RETRIES):
        try:
            r = await http.post("/v1/sessions")
            if r.status_code == 201:
                return r.json()["session_id"]
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError("could not create a session")


async def load_phase(server: Server, sessions: int, turns: int, kill_at: float) -> tuple[list[Client], dict]:
    """Phase 1: the sessions send their turns; one worker (or the single server) is SIGKILLed on the way."""
    clients = [Client(n, KEYS[n % len(KEYS)]) for n in range(sessions)]
    progress, out = [0], {}

    async def run(c: Client) -> None:
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": c.key}, timeout=600) as http:
            c.session_id = await new_session(http)
            for i in range(turns):
                if not await post_turn(http, c, c.message(i)):
                    return
                progress[0] += 1

    async def killer() -> None:
        while progress[0] < kill_at * sessions * turns:
            await asyncio.sleep(0.05)
        before = {c.session_id: list(c.sent) for c in clients if c.sent}
        victim = await asyncio.to_thread(server.kill_one_worker)
        out["killed_after_turns"] = progress[0]
        out["killed"] = victim
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.wait_healthy)
        lost = 0
        for c in clients:
            if c.session_id in before:
                stored = await stored_user_texts(server.url, c.key, c.session_id) or []
                lost += sum(1 for text in before[c.session_id] if text not in stored)
        out["killed_worker_lost_turns"] = lost

    t0 = time.perf_counter()
    await asyncio.gather(*[run(c) for c in clients], killer())
    out["load_wall_s"] = round(time.perf_counter() - t0, 1)
    return clients, out


async def contention_phase(server: Server, sessions: int, senders: int, rounds: int) -> list[Client]:
    """Phase 2: `senders` clients per session send a turn at the same moment, `rounds` times."""
    groups = []
    for s in range(sessions):
        key = KEYS[s % len(KEYS)]
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as http:
            sid = await new_session(http)
        groups.append([Client(1000 + s * senders + j, key, sid) for j in range(senders)])

    async def send(c: Client, i: int) -> None:
        # one connection per request: the load balancer (the kernel, for uvicorn workers) spreads them
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": c.key}, timeout=600) as http:
            await post_turn(http, c, c.message(i), check_turn=False)

    for i in range(rounds):
        await asyncio.gather(*[send(c, i) for group in groups for c in group])
    return [c for group in groups for c in group]


async def rate_phase(server: Server, window_s: float) -> int:
    """Phase 4: one key sends turns from 8 connections (8 sessions, so no turn waits for another) as fast as it
    can; how many were accepted."""
    admitted = [0]
    async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": KEY}, timeout=60) as http:
        sids = [(await http.post("/v1/sessions")).json()["session_id"] for _ in range(8)]
    await asyncio.sleep(window_s / 2)  # the 8 session creations spent tokens: let the bucket refill a while
    deadline = time.monotonic() + window_s

    async def hammer(sid: str) -> None:
        async with httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": KEY}, timeout=60) as http:
            while time.monotonic() < deadline:
                r = await http.post(f"/v1/sessions/{sid}/messages", json={"message": "a desk lamp"})
                if r.status_code == 200:
                    admitted[0] += 1
                elif r.status_code == 429:
                    await asyncio.sleep(min(1.0, float(r.headers.get("retry-after", "1")) / 4))

    await asyncio.gather(*[hammer(sid) for sid in sids])
    return admitted[0]


async def audit(server: Server, clients: list[Client]) -> dict:
    """lost / duplicated turns over every session: what the store holds against what clients were told."""
    by_session: dict[str, tuple[str, list[str]]] = {}
    for c in clients:
        by_session.setdefault(c.session_id, (c.key, []))[1].extend(c.sent)
    lost = duplicated = missing_sessions = 0
    for sid, (key, sent) in by_session.items():
        stored = await stored_user_texts(server.url, key, sid)
        if stored is None:
            missing_sessions += 1
            lost += len(sent)
            continue
        lost += sum(1 for text in set(sent) if text not in stored)
        duplicated += sum(stored.count(text) - 1 for text in set(stored) if stored.count(text) > 1)
    return {"lost_turns": lost, "duplicated_turns": duplicated, "lost_sessions": missing_sessions}


async def restart_check(server: Server, clients: list[Client]) -> dict:
    """Phase 3: SIGKILL the whole server, restart it, and look for every answered turn."""
    t0 = time.perf_counter()
    await asyncio.to_thread(server.kill)
    await asyncio.to_thread(server.start)
    restart_s = round(time.perf_counter() - t0, 1)
    lost = 0
    for c in clients:
        if c.sent:
            stored = await stored_user_texts(server.url, c.key, c.session_id)
            lost += stored is None or any(text not in stored for text in c.sent)
    return {"restart_s": restart_s, "restart_lost_sessions": lost}


def _percentile(values: list[float], q: float) -> float | None:
    values = sorted(values)
    return round(values[int(q * (len(values) - 1))], 1) if values else None


def main(argv: list[str] | None = None) -> int:
    """Run the phases and print the JSON line."""
    p = argparse.ArgumentParser(prog="python -m evals.bench_load", description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=1, help="convrec serve --workers N")
    p.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite",
                   help="postgres: a throwaway cluster (needs PostgreSQL's initdb and pg_ctl)")
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--turns", type=int, default=10)
    p.add_argument("--kill-at", type=float, default=0.4, help="fraction of turns answered before the SIGKILL")
    p.add_argument("--contention-sessions", type=int, default=10)
    p.add_argument("--contention-clients", type=int, default=4, help="senders per session, at the same moment")
    p.add_argument("--contention-rounds", type=int, default=3)
    p.add_argument("--rate-limit", type=int, default=60, help="turns a minute per key in the rate phase (0: skip)")
    p.add_argument("--rate-window-s", type=float, default=60.0)
    p.add_argument("--llm", default="none", help="the agent's language model (none: template wording)")
    p.add_argument("--collection", default="demo")
    p.add_argument("--chroma-dir", type=Path, help="default: the settings' var/chroma (demo built on first use)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="convrec-load-"))
    result: dict = {"bench": "load", "workers": args.workers, "store": args.store, "keys": len(KEYS),
                    "collection": args.collection, "llm": args.llm}
    cluster = None
    if args.store == "postgres":
        from evals.pg_cluster import PostgresCluster

        cluster = PostgresCluster().start()
    try:
        def server(name: str, rate: int = 0) -> Server:
            url = cluster.create_database(name) if cluster else ""
            return Server(args.llm, args.collection, args.chroma_dir, work / f"{name}.sqlite3", work / f"{name}.log",
                          workers=args.workers, sessions_url=url, rate_limit=rate)

        main_server = server("load")
        try:
            result["agent"] = main_server.start()["agent"]
            result["worker_pids"] = len(worker_pids(main_server))
            clients, killed = asyncio.run(load_phase(main_server, args.sessions, args.turns, args.kill_at))
            contenders = asyncio.run(contention_phase(main_server, args.contention_sessions,
                                                      args.contention_clients, args.contention_rounds))
            everyone = clients + contenders
            restart = asyncio.run(restart_check(main_server, everyone))
            checked = asyncio.run(audit(main_server, everyone))
        finally:
            main_server.stop()
        lat = [x for c in clients for x in c.latencies_ms]
        contention_lat = [x for c in contenders for x in c.latencies_ms]
        errors = [e for c in everyone for e in c.errors]
        result.update({
            "sessions": args.sessions + args.contention_sessions,
            "turns": sum(len(c.sent) for c in everyone), "errors": len(errors), "error_samples": errors[:5],
            **checked, "conflicts_retried": sum(c.conflicts for c in everyone),
            "dropped_and_retried": sum(c.dropped for c in everyone),
            "p50_ms": _percentile(lat, 0.5), "p95_ms": _percentile(lat, 0.95),
            "contention_p50_ms": _percentile(contention_lat, 0.5),
            "contention_p95_ms": _percentile(contention_lat, 0.95), **killed, **restart})
        if args.rate_limit > 0:
            limited = server("rate", args.rate_limit)
            try:
                limited.start()
                admitted = asyncio.run(rate_phase(limited, args.rate_window_s))
            finally:
                limited.stop()
            # a bucket of `rate` tokens that refills rate/60 a second: at most rate + rate*window/60 in a window
            bound = args.rate_limit + args.rate_limit * args.rate_window_s / 60.0
            result.update({"rate_limit_per_minute": args.rate_limit, "rate_window_s": args.rate_window_s,
                           "rate_limit_admitted": admitted, "rate_limit_bound": round(bound, 1),
                           "rate_limit_admitted_per_minute": admitted if args.rate_window_s == 60 else None})
    finally:
        if cluster is not None:
            cluster.stop()
    result["logs"] = str(work)
    emit(result)
    ok = (result["errors"] == 0 and result["lost_turns"] == 0 and result["duplicated_turns"] == 0
          and result.get("killed_worker_lost_turns", 0) == 0 and result["restart_lost_sessions"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
