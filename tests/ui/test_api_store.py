"""The session store contract, run against both stores: SQLite (a temp file) and PostgreSQL (a real cluster)."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path

import pytest

from agent import Session, Turn
from ui.service import open_store
from ui.sessions import SessionStore, SqlSessionStore, StaleSession, UnknownSession


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SqlSessionStore:
    if request.param == "sqlite":
        made = open_store("", tmp_path / "sessions.sqlite3")
    else:
        made = open_store(request.getfixturevalue("pg_url"), "")
    yield made
    made.close()


def _session(sid: str = "s1", *texts: str) -> Session:
    session = Session(session_id=sid)
    session.turns.extend(Turn("user", t) for t in texts)
    return session


def test_put_get_owner_delete(store: SqlSessionStore) -> None:
    assert store.put(_session("a", "hello"), "owner-1") == 1
    assert store.get("a").turns[0].text == "hello"
    assert store.owner("a") == "owner-1" and store.exists("a") and store.count() == 1
    store.put(_session("a", "hello", "again"), "someone-else")
    assert store.owner("a") == "owner-1", "the owner, once set, is kept"
    assert store.load("a").version == 2
    assert store.delete("a") and not store.delete("a")
    with pytest.raises(UnknownSession):
        store.get("a")


def test_save_is_compare_and_swap(store: SqlSessionStore) -> None:
    """Two writers that loaded the same version: the second save fails instead of overwriting the first."""
    store.put(_session("cas", "one"), "o")
    first, second = store.load("cas"), store.load("cas")
    first.session.turns.append(Turn("user", "two"))
    assert store.save(first.session, "o", first.version) == 2
    second.session.turns.append(Turn("user", "other"))
    with pytest.raises(StaleSession):
        store.save(second.session, "o", second.version)
    assert [t.text for t in store.get("cas").turns] == ["one", "two"]
    with pytest.raises(StaleSession):  # version 0 means "create": the id is taken
        store.save(_session("cas", "x"), "o", 0)
    assert store.save(_session("fresh", "x"), "o", 0) == 1


def test_concurrent_writers_lose_nothing(store: SqlSessionStore) -> None:
    """8 threads append 10 turns each to one session, retrying on StaleSession: all 80 are stored once."""
    store.put(_session("hot"), "o")

    def writer(n: int) -> None:
        for i in range(10):
            while True:
                row = store.load("hot")
                row.session.turns.append(Turn("user", f"{n}-{i}"))
                try:
                    store.save(row.session, "o", row.version)
                    break
                except StaleSession:
                    continue

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = [t.text for t in store.get("hot").turns]
    assert sorted(texts) == sorted(f"{n}-{i}" for n in range(8) for i in range(10))


def test_idempotency_record_commits_with_the_turn(store: SqlSessionStore) -> None:
    store.put(_session("idem"), "o")
    row = store.load("idem")
    row.session.turns.append(Turn("user", "hi"))
    store.save(row.session, "o", row.version, ("key-1", "fp-1"), {"reply": "hello"})
    assert store.replay("o", "key-1") == ("fp-1", {"reply": "hello"})
    assert store.replay("other-owner", "key-1") is None, "keys are per owner"
    stale = store.load("idem")
    store.put(stale.session, "o")
    with pytest.raises(StaleSession):  # a failed save leaves no idempotency record behind
        store.save(stale.session, "o", stale.version, ("key-2", "fp"), {"reply": "lost"})
    assert store.replay("o", "key-2") is None


def test_token_bucket_is_shared(store: SqlSessionStore, tmp_path: Path) -> None:
    """The bucket lives in the database: a second store object on the same database sees the spent tokens."""
    twin = store if not isinstance(store, SessionStore) else SessionStore(store.path)
    admitted = sum((store if i % 2 else twin).take("k", per_minute=60, burst=5) == 0 for i in range(12))
    assert admitted == 5
    assert 0 < store.take("k", 60, 5) <= 1.1
    assert store.take("k", 60, 5, cost=0) > 0, "cost 0 only asks"


def test_aliases_and_secret(store: SqlSessionStore) -> None:
    store.put(_session("s"), "o")
    store.set_alias("fp:1", "s")
    assert store.resolve_alias("fp:1") == "s" and store.resolve_alias("fp:2") is None
    store.delete("s")
    assert store.resolve_alias("fp:1") is None
    assert len(store.secret()) == 64 and store.secret() == store.secret()


def test_purge_drops_idle_sessions_and_their_aliases(store: SqlSessionStore) -> None:
    store.put(_session("old", "x"), "o")
    store.put(_session("new", "y"), "o")
    store.set_alias("fp:old", "old")
    with store._write() as db:  # make "old" a month idle
        db.execute(store._sql("UPDATE sessions SET updated = updated - 2600000 WHERE session_id = ?"), ("old",))
    assert store.purge(time.time() - 86_400) == 1
    assert not store.exists("old") and store.exists("new") and store.resolve_alias("fp:old") is None


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.sqlite3")
    store.put(_session("p", "x"), "o")
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_sqlite_store_of_an_older_version_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sessions (session_id TEXT PRIMARY KEY, owner TEXT NOT NULL DEFAULT '', "
                   "body TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL)")
        db.execute("INSERT INTO sessions VALUES ('old', 'o', ?, 0, 0)", (_session("old", "kept").to_json(),))
    store = SessionStore(path)
    assert store.load("old").version == 1 and store.get("old").turns[0].text == "kept"


def test_unreachable_postgres_says_what_to_check(tmp_path: Path) -> None:
    url = f"postgresql://convrec:hunter2@/db?host={tmp_path}&port=1"
    with pytest.raises(RuntimeError, match="cannot reach the sessions database") as e:
        open_store(url, "")
    assert "hunter2" not in str(e.value) and "CONVREC_SESSIONS_URL" in str(e.value)
