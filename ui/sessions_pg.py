"""PostgreSQL session store (psycopg 3): the production store when several workers or hosts serve the API.

Same SQL and semantics as the SQLite store (ui/sessions.py); connections come from a small pool per process,
so N workers x threads never exceed the server's connection limit. Each write is one transaction; rate-limit
buckets are updated under a row lock (SELECT ... FOR UPDATE), and a session's save is a compare-and-swap on
its version (UPDATE ... WHERE version = loaded), which PostgreSQL re-checks after any concurrent update.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ui.sessions import SqlSessionStore

POOL_MAX = 8  # connections per worker process; a turn holds one only while it reads or commits
SCHEMA_LOCK = 736172  # advisory lock id: one worker at a time creates the tables


class PostgresSessionStore(SqlSessionStore):
    """Sessions, idempotency records, rate-limit buckets and the key secret in one PostgreSQL database."""

    for_update = " FOR UPDATE"

    def __init__(self, url: str):
        self.url = url
        try:  # one plain connection first: a wrong URL fails at once with the server's own words
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as e:
            raise RuntimeError(f"cannot reach the sessions database at {_redacted(url)}: {str(e).strip()}; check "
                               "CONVREC_SESSIONS_URL and that PostgreSQL is running") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=POOL_MAX, kwargs={"autocommit": True},
                                    open=False, timeout=30.0, name="convrec-sessions")
        try:
            self._pool.open(wait=True, timeout=30.0)
        except (psycopg.OperationalError, PoolTimeout) as e:
            self._pool.close()
            raise RuntimeError(f"cannot reach the sessions database at {_redacted(url)} ({e}); check "
                               "CONVREC_SESSIONS_URL and that PostgreSQL is running") from None
        self._migrate()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection]:
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection]:
        with self._pool.connection() as conn:
            yield conn

    def _lock_schema(self, db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))

    def _columns(self, db, table: str) -> set[str]:
        rows = db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                          "AND table_schema = current_schema()", (table,))
        return {r[0] for r in rows.fetchall()}

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()


def _redacted(url: str) -> str:
    return re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)
