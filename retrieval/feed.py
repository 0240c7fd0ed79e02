"""The shared logs every worker reads: catalog changes and shopper events, in the session database.

Two append-only tables, each ordered by `seq`: `catalog_changes` (an item's new row and its embedding, or its
deletion) and `events` (like / reject / owned / purchase: an opaque shopper key and an item id, no message text).
Workers poll for rows past the last seq they applied, so a change or an event written by any worker (or by
`convrec ingest`) reaches all of them within one poll. SQLite (a file, the default) or PostgreSQL (a
postgresql:// URL, production): the same database as the sessions. On PostgreSQL writers serialise on an advisory
lock so seqs commit in order and a reader never skips a row that commits late.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embed import DIM
from retrieval.items import Item, item_from_row, item_to_dict
from retrieval.live import CatalogChange
from retrieval.signals import KINDS, POSITIVE, Event

FEED_LOCK = 736173  # PostgreSQL advisory lock id for appends
POOL_MAX = 4  # PostgreSQL connections per process for the logs (one cheap query per request)
_TABLES = {
    "sqlite": [
        ("CREATE TABLE IF NOT EXISTS catalog_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL, "
         "body TEXT, vector BLOB, at DOUBLE PRECISION NOT NULL)"),
        ("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, shopper TEXT NOT NULL, "
         "item_id TEXT NOT NULL, kind TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)"),
    ],
    "postgres": [
        ("CREATE TABLE IF NOT EXISTS catalog_changes (seq BIGSERIAL PRIMARY KEY, item_id TEXT NOT NULL, body TEXT, "
         "vector BYTEA, at DOUBLE PRECISION NOT NULL)"),
        ("CREATE TABLE IF NOT EXISTS events (seq BIGSERIAL PRIMARY KEY, shopper TEXT NOT NULL, item_id TEXT NOT NULL, "
         "kind TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)"),
    ],
}


class Feed:
    """Catalog changes and events in one SQL database: `Feed(path)` for SQLite, `Feed(url)` for PostgreSQL."""

    def __init__(self, where: str | Path):
        self.where = str(where)
        self.postgres = self.where.startswith(("postgresql://", "postgres://"))
        self._local = threading.local()
        if self.postgres:  # a small pool per process: N workers x request threads stay within the server's limit
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(self.where, min_size=1, max_size=POOL_MAX, kwargs={"autocommit": True},
                                        open=True, timeout=30.0, name="convrec-feed")
        with self._tx() as db:
            if self.postgres:
                db.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
            for sql in _TABLES["postgres" if self.postgres else "sqlite"]:
                db.execute(sql)

    # ---------------------------------------------------------------- connections
    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self.postgres:
            with self._pool.connection() as conn:
                yield conn
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            Path(self.where).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.where, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        yield conn

    @contextmanager
    def _tx(self) -> Iterator[_Db]:
        """One write transaction."""
        with self._connection() as conn:
            if self.postgres:
                with conn.transaction():
                    yield _Db(conn, True)
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Db(conn, False)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._connection() as conn:
            return _Db(conn, self.postgres).execute(sql, params).fetchall()

    # ---------------------------------------------------------------- catalog changes
    def append_changes(self, changes: Iterable[tuple[str, Item | None, np.ndarray | None]]) -> int:
        """Log (item_id, new item and its vector | None, None for a deletion) in one transaction; the last seq."""
        now, last = time.time(), 0
        with self._tx() as db:
            if self.postgres:
                db.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK,))
            for item_id, item, vector in changes:
                body = None if item is None else json.dumps(item_to_dict(item), ensure_ascii=False)
                blob = None if vector is None else np.asarray(vector, dtype=np.float32).reshape(DIM).tobytes()
                last = db.execute("INSERT INTO catalog_changes (item_id, body, vector, at) VALUES (?, ?, ?, ?) "
                                  "RETURNING seq", (item_id, body, blob, now)).fetchone()[0]
        return int(last)

    def changes_since(self, seq: int, limit: int = 10_000) -> list[CatalogChange]:
        """Logged changes after `seq`, oldest first."""
        rows = self._rows("SELECT seq, item_id, body, vector FROM catalog_changes WHERE seq > ? ORDER BY seq LIMIT ?",
                          (seq, limit))
        return [CatalogChange(int(s), i, None if b is None else item_from_row(json.loads(b)),
                              None if v is None else np.frombuffer(bytes(v), dtype=np.float32))
                for s, i, b, v in rows]

    # ---------------------------------------------------------------- events
    def append_events(self, events: Iterable[tuple[str, str, str]]) -> int:
        """Log (shopper key, item_id, kind) events; the last seq. Raises ValueError for an unknown kind."""
        now, last = time.time(), 0
        with self._tx() as db:
            if self.postgres:
                db.execute("SELECT pg_advisory_xact_lock(%s)", (FEED_LOCK + 1,))
            for shopper, item_id, kind in events:
                if kind not in KINDS:
                    raise ValueError(f"unknown event kind {kind!r}; use one of {', '.join(KINDS)}")
                last = db.execute("INSERT INTO events (shopper, item_id, kind, at) VALUES (?, ?, ?, ?) RETURNING seq",
                                  (shopper, item_id, kind, now)).fetchone()[0]
        return int(last)

    def events_since(self, seq: int, limit: int = 50_000) -> list[Event]:
        """Logged events after `seq`, oldest first."""
        rows = self._rows("SELECT seq, shopper, item_id, kind, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                          (seq, limit))
        return [Event(int(s), sh, i, k, float(a)) for s, sh, i, k, a in rows]

    def heads(self) -> tuple[int, int]:
        """(last change seq, last event seq): one cheap query to see whether there is anything new."""
        row = self._rows("SELECT (SELECT COALESCE(MAX(seq), 0) FROM catalog_changes), "
                         "(SELECT COALESCE(MAX(seq), 0) FROM events)")[0]
        return int(row[0]), int(row[1])

    def close(self) -> None:
        """Close the pool (PostgreSQL) or this thread's connection (SQLite)."""
        if self.postgres:
            self._pool.close()
            return
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def event_sequences(feed: Feed, kinds: Sequence[str] = tuple(sorted(POSITIVE))) -> dict[str, list[str]]:
    """The event log as per-shopper item sequences in time order (positive kinds by default), for training the
    interest model on what shoppers liked and bought: {shopper key: [item_id, ...]}."""
    out: dict[str, list[str]] = defaultdict(list)
    seq = 0
    while True:
        batch = feed.events_since(seq)
        if not batch:
            return dict(out)
        for e in batch:
            if e.kind in kinds:
                out[e.shopper].append(e.item_id)
        seq = batch[-1].seq


class _Db:
    """`?` placeholders for both drivers."""

    def __init__(self, conn, postgres: bool):
        self.conn, self.postgres = conn, postgres

    def execute(self, sql: str, params: tuple = ()):
        return self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, params)
