"""Session stores shared by the HTTP API and the chat UI: SQLite (embedded default) and PostgreSQL (N workers).

One interface, one SQL text: `SessionStore` (SQLite, WAL, one file) and `PostgresSessionStore`
(ui/sessions_pg.py) differ only in how they connect and open a write transaction. What every worker must
agree on lives here, so any number of processes share it:

- sessions as JSON rows with a `version`; `save()` commits only if the version is still the one loaded
  (compare-and-swap), else raises StaleSession: no acknowledged turn is ever overwritten by another worker;
- idempotency records, written in the same transaction as the turn they answer, so a retried request
  returns the stored answer instead of running twice (even when the worker died before answering);
- token buckets for rate limits and failed-authentication throttling;
- the secret the API keys are HMAC'ed with, when none is configured.

A restart (even kill -9) loses no answered turn: each turn is committed before its response leaves.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from agent import Session

IDEMPOTENCY_TTL_S = 86_400.0  # a retry later than a day after the first request runs as a new request


def short(text: str, limit: int = 64) -> str:
    """A caller's string cut for echoing in an error message."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class UnknownSession(KeyError):
    """No session with this id (never created, deleted, or created in another sessions database)."""

    def __str__(self) -> str:
        return (f"no session {short(str(self.args[0]))!r}; create one with POST /v1/sessions "
                "(sessions live in the configured sessions database)")


class StaleSession(RuntimeError):
    """The session changed (another request, maybe on another worker) since it was loaded; nothing was saved."""


@dataclass(frozen=True)
class Stored:
    """A session row: the session, who owns it, its version (for save) and when it last changed."""

    session: Session
    owner: str
    version: int
    updated: float


_TABLES = [
    """CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY, owner TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, session_id TEXT NOT NULL, "
    "created DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS idempotency (owner TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL, "
    "response TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, PRIMARY KEY (owner, key))",
    "CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, "
    "stamp DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
]


class SqlSessionStore:
    """The store's logic in portable SQL; subclasses give `_write()` (a transaction) and `_read()` (a connection).

    SQL is written with `?` placeholders; `_sql()` rewrites them for drivers that want `%s`."""

    for_update = ""  # row lock clause inside a write transaction (PostgreSQL); SQLite locks the whole file

    def _write(self):  # pragma: no cover - interface
        raise NotImplementedError

    def _read(self):  # pragma: no cover - interface
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        with self._read() as db:
            return db.execute(self._sql(sql), params).fetchone()

    def _migrate(self) -> None:
        with self._write() as db:
            self._lock_schema(db)
            for table in _TABLES:
                db.execute(table)
            columns = self._columns(db, "sessions")
            if "version" not in columns:  # stores made before versions: every row starts at 1
                db.execute("ALTER TABLE sessions ADD COLUMN version BIGINT NOT NULL DEFAULT 1")

    def _columns(self, db, table: str) -> set[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def _lock_schema(self, db) -> None:
        """Keep other workers out while the tables are made (SQLite's write transaction already does)."""

    # --- sessions
    def put(self, session: Session, owner: str = "") -> int:
        """Insert or overwrite a session whatever its version (the owner, once set, is kept); the new version."""
        now = time.time()
        with self._write() as db:
            row = db.execute(self._sql(
                "INSERT INTO sessions (session_id, owner, body, created, updated, version) VALUES (?, ?, ?, ?, ?, 1) "
                "ON CONFLICT (session_id) DO UPDATE SET body = excluded.body, updated = excluded.updated, "
                "version = sessions.version + 1 RETURNING version"),
                (session.session_id, owner, session.to_json(), now, now)).fetchone()
        return int(row[0])

    def save(self, session: Session, owner: str, version: int, idempotency: tuple[str, str] | None = None,
             response: Any = None) -> int:
        """Commit the session only if its stored version is still `version` (0: only if it is not stored yet);
        returns the new version, or raises StaleSession. `idempotency` (key, request fingerprint) with
        `response` records the answer in the same transaction."""
        now = time.time()
        with self._write() as db:
            if version == 0:
                row = db.execute(self._sql(
                    "INSERT INTO sessions (session_id, owner, body, created, updated, version) "
                    "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (session_id) DO NOTHING RETURNING version"),
                    (session.session_id, owner, session.to_json(), now, now)).fetchone()
            else:
                row = db.execute(self._sql(
                    "UPDATE sessions SET body = ?, updated = ?, version = version + 1 "
                    "WHERE session_id = ? AND version = ? RETURNING version"),
                    (session.to_json(), now, session.session_id, version)).fetchone()
            if row is None:
                raise StaleSession(session.session_id)
            if idempotency is not None:
                key, request = idempotency[0], idempotency[1]
                db.execute(self._sql("DELETE FROM idempotency WHERE created < ?"), (now - IDEMPOTENCY_TTL_S,))
                db.execute(self._sql(
                    "INSERT INTO idempotency (owner, key, request, response, created) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (owner, key) DO NOTHING"), (owner, key, request, json.dumps(response), now))
        return int(row[0])

    def load(self, session_id: str) -> Stored:
        """The stored row; raises UnknownSession."""
        row = self._one("SELECT body, owner, version, updated FROM sessions WHERE session_id = ?", (session_id,))
        if row is None:
            raise UnknownSession(session_id)
        return Stored(Session.from_json(row[0]), row[1], int(row[2]), float(row[3]))

    def get(self, session_id: str) -> Session:
        """The stored session; raises UnknownSession."""
        return self.load(session_id).session

    def owner(self, session_id: str) -> str:
        """The API key label that created the session ('' for local use); raises UnknownSession."""
        row = self._one("SELECT owner FROM sessions WHERE session_id = ?", (session_id,))
        if row is None:
            raise UnknownSession(session_id)
        return row[0]

    def exists(self, session_id: str) -> bool:
        """Whether a session with this id is stored."""
        return self._one("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)) is not None

    def delete(self, session_id: str) -> bool:
        """Remove a session and its aliases; False if it did not exist."""
        with self._write() as db:
            gone = db.execute(self._sql("DELETE FROM sessions WHERE session_id = ?"), (session_id,)).rowcount
            db.execute(self._sql("DELETE FROM aliases WHERE session_id = ?"), (session_id,))
        return gone > 0

    def purge(self, before: float) -> int:
        """Delete sessions last changed before `before` (a time.time()), their aliases and old buckets; how many."""
        with self._write() as db:
            gone = db.execute(self._sql("DELETE FROM sessions WHERE updated < ?"), (before,)).rowcount
            db.execute("DELETE FROM aliases WHERE session_id NOT IN (SELECT session_id FROM sessions)")
            db.execute(self._sql("DELETE FROM buckets WHERE stamp < ?"), (before,))
        return gone

    def count(self) -> int:
        """Number of stored sessions."""
        return int(self._one("SELECT COUNT(*) FROM sessions")[0])

    def set_alias(self, alias: str, session_id: str) -> None:
        """Remember that a conversation fingerprint (OpenAI endpoint) continues this session."""
        with self._write() as db:
            db.execute(self._sql("INSERT INTO aliases (alias, session_id, created) VALUES (?, ?, ?) "
                                 "ON CONFLICT (alias) DO UPDATE SET session_id = excluded.session_id, "
                                 "created = excluded.created"), (alias, session_id, time.time()))

    def resolve_alias(self, alias: str) -> str | None:
        """The session id behind a conversation fingerprint, if it is still stored."""
        row = self._one("SELECT a.session_id FROM aliases a JOIN sessions s ON s.session_id = a.session_id "
                        "WHERE a.alias = ?", (alias,))
        return row[0] if row else None

    # --- idempotency, limits, secret
    def replay(self, owner: str, key: str) -> tuple[str, Any] | None:
        """(request fingerprint, stored response) of an earlier request with this Idempotency-Key, if any."""
        row = self._one("SELECT request, response FROM idempotency WHERE owner = ? AND key = ? AND created >= ?",
                        (owner, key, time.time() - IDEMPOTENCY_TTL_S))
        return (row[0], json.loads(row[1])) if row else None

    def take(self, bucket: str, per_minute: float, burst: float, cost: float = 1.0) -> float:
        """Token bucket shared by every worker: refills per_minute/60 a second up to burst. Spends `cost` tokens
        and returns 0 when there are enough, else spends nothing and returns the seconds until there are
        (cost 0 only asks whether one token is left)."""
        now = time.time()
        with self._write() as db:
            db.execute(self._sql("INSERT INTO buckets (name, tokens, stamp) VALUES (?, ?, ?) "
                                 "ON CONFLICT (name) DO NOTHING"), (bucket, burst, now))
            tokens, stamp = db.execute(self._sql("SELECT tokens, stamp FROM buckets WHERE name = ?"
                                                 + self.for_update), (bucket,)).fetchone()
            refill = per_minute / 60.0
            tokens = min(burst, tokens + max(0.0, now - stamp) * refill)
            need = max(cost, 1.0)
            if tokens >= need:
                tokens -= cost
                wait = 0.0
            else:
                wait = (need - tokens) / refill
            db.execute(self._sql("UPDATE buckets SET tokens = ?, stamp = ? WHERE name = ?"), (tokens, now, bucket))
        return wait

    def secret(self) -> str:
        """A random server secret made once and shared by every worker and restart (for key HMACs)."""
        with self._write() as db:
            db.execute(self._sql("INSERT INTO meta (name, value) VALUES ('key_secret', ?) "
                                 "ON CONFLICT (name) DO NOTHING"), (secrets.token_hex(32),))
        return self._one("SELECT value FROM meta WHERE name = 'key_secret'")[0]

    def close(self) -> None:  # pragma: no cover - interface
        """Release connections."""


class SessionStore(SqlSessionStore):
    """SQLite (WAL) in one file, created 0600; one connection per thread, each write its own transaction."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # the file holds every conversation: owner-only, and SQLite gives -wal/-shm the same mode
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(self.path, 0o600)
        self._local = threading.local()
        self._migrate()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # timeout: writers from other threads/processes wait instead of failing with "database is locked"
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode is durable against a killed process (only an OS crash can drop the last commit)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        yield self._connection()

    def _columns(self, db, table: str) -> set[str]:
        return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        """Close this thread's connection (other threads' connections close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class SessionLocks:
    """One lock per session id, so concurrent requests to one session in this process run one after another
    (across processes, save()'s version check catches what the lock cannot)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # session_id -> [lock, users]; dropped when nobody holds or waits

    @contextmanager
    def hold(self, session_id: str, timeout: float = 300.0) -> Iterator[None]:
        """Hold the session's lock; raises TimeoutError if another request keeps it longer than timeout."""
        lock = self.acquire(session_id, timeout)
        try:
            yield
        finally:
            self.release(session_id, lock)

    def acquire(self, session_id: str, timeout: float = 300.0) -> threading.Lock:
        """Acquire explicitly (streaming responses release from another thread: a plain Lock allows that)."""
        with self._guard:
            entry = self._locks.setdefault(session_id, [threading.Lock(), 0])
            entry[1] += 1
        if not entry[0].acquire(timeout=timeout):
            self._drop(session_id)
            raise TimeoutError(f"session {short(session_id)} is busy with another request; retry in a moment")
        return entry[0]

    def release(self, session_id: str, lock: threading.Lock) -> None:
        """Release a lock taken with acquire."""
        lock.release()
        self._drop(session_id)

    def _drop(self, session_id: str) -> None:
        with self._guard:
            entry = self._locks.get(session_id)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del self._locks[session_id]
