"""SQLite session store shared by the HTTP API and the chat UI: a restart (even kill -9) loses no answered turn."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from agent import Session


class UnknownSession(KeyError):
    """No session with this id (never created, deleted, or created in another sessions database)."""

    def __str__(self) -> str:
        return (f"no session {self.args[0]!r}; create one with POST /v1/sessions "
                "(sessions live in the configured sessions_db)")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    created REAL NOT NULL
);
"""


class SessionStore:
    """Sessions as JSON rows in one SQLite file (WAL); one connection per thread, each write its own transaction."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

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
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def put(self, session: Session, owner: str = "") -> None:
        """Insert or replace a session atomically (the owner, once set, is kept)."""
        now = time.time()
        with self._conn() as db:
            db.execute(
                "INSERT INTO sessions (session_id, owner, body, created, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(session_id) DO UPDATE SET body = excluded.body, updated = excluded.updated",
                (session.session_id, owner, session.to_json(), now, now))

    def get(self, session_id: str) -> Session:
        """The stored session; raises UnknownSession."""
        row = self._connection().execute(
            "SELECT body FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            raise UnknownSession(session_id)
        return Session.from_json(row[0])

    def owner(self, session_id: str) -> str:
        """The API key label that created the session ('' for local use); raises UnknownSession."""
        row = self._connection().execute(
            "SELECT owner FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            raise UnknownSession(session_id)
        return row[0]

    def exists(self, session_id: str) -> bool:
        """Whether a session with this id is stored."""
        return self._connection().execute(
            "SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)).fetchone() is not None

    def delete(self, session_id: str) -> bool:
        """Remove a session and its aliases; False if it did not exist."""
        with self._conn() as db:
            gone = db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)).rowcount
            db.execute("DELETE FROM aliases WHERE session_id = ?", (session_id,))
        return gone > 0

    def count(self) -> int:
        """Number of stored sessions."""
        return self._connection().execute("SELECT COUNT(*) FROM sessions").fetchone()[0]

    def set_alias(self, alias: str, session_id: str) -> None:
        """Remember that a conversation fingerprint (OpenAI endpoint) continues this session."""
        with self._conn() as db:
            db.execute("INSERT OR REPLACE INTO aliases (alias, session_id, created) VALUES (?, ?, ?)",
                       (alias, session_id, time.time()))

    def resolve_alias(self, alias: str) -> str | None:
        """The session id behind a conversation fingerprint, if it is still stored."""
        row = self._connection().execute(
            "SELECT a.session_id FROM aliases a JOIN sessions s ON s.session_id = a.session_id "
            "WHERE a.alias = ?", (alias,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        """Close this thread's connection (other threads' connections close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class SessionLocks:
    """One lock per session id, so concurrent requests to one session run one after another."""

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
            raise TimeoutError(f"session {session_id} is busy with another request; retry in a moment")
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
