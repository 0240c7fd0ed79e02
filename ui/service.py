"""The one session service behind every surface in ui/: the HTTP API, its OpenAI-compatible routes and the chat.

It loads a session for its owner (another owner's session reads as unknown), holds one lock per session,
runs a turn and stores it before returning, and turns what can go wrong into a few typed errors. Each
surface shows them its own way: the API as its JSON error with `status` and `code`, the chat as a warning.

Several workers may serve one session store. The lock only orders requests inside this process; across
processes a turn is saved only if the session's version is still the one it loaded (compare-and-swap,
ui/sessions.py), else the request fails with SessionConflict (409) and nothing of it is stored: the caller
sends it again. We chose the version check over a row lock held for the turn because a turn may wait seconds
on a language model, and a held lock would pin a database connection (and block other workers) that long.
An Idempotency-Key makes that retry, or any retry, safe: the answer is stored with the turn and replayed.

    svc = SessionService(settings, agent, SessionStore(settings.sessions_db))
    with svc.locked(session_id):
        session = svc.load(session_id, owner)
        turn = svc.reply(session, text, owner)
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from agent import Agent, AgentInputError, FeedbackKind, LLMUnavailable, Session, Settings, Turn, UnknownItem
from agent.live import CatalogUpdateError, LiveSync, open_feed, shopper_key, update_catalog
from ui.inputs import SESSION_ID, check_idempotency_key, check_session_id, clean_text
from ui.sessions import SessionLocks, SessionStore, SqlSessionStore, StaleSession, UnknownSession, short

__all__ = ["SESSION_ID", "HeldLock", "Idempotency", "InvalidInput", "MessageTooLong", "ModelUnavailable", "NotFound",
           "ServiceError", "SessionBusy", "SessionConflict", "SessionExpired", "SessionFull", "SessionService",
           "open_store"]

LOCK_TIMEOUT_S = 120.0  # a turn waiting longer than this for its session gives up with SessionBusy
PURGE_EVERY_S = 3_600.0  # expired sessions are deleted at most this often, when a session is created


class ServiceError(Exception):
    """A request the service refuses. `status` is the HTTP status and `code` the error type the API reports;
    `message` says what went wrong and str(error) adds what to do (`hint`), when there is something."""

    status = 400
    code = "invalid_request_error"
    headers: dict[str, str] = {}

    def __init__(self, message: str, hint: str = "", param: str | None = None):
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message, self.param = message, param


class InvalidInput(ServiceError):
    """An empty message, one the agent cannot use, or a malformed request."""

    status = 422


class MessageTooLong(ServiceError):
    """A message over settings.max_message_chars."""

    status = 413
    code = "message_too_long"


class NotFound(ServiceError):
    """An unknown session (or another owner's) or an unknown item."""

    status = 404
    code = "not_found"


class SessionBusy(ServiceError):
    """Another request kept the session's lock longer than LOCK_TIMEOUT_S."""

    status = 409
    code = "session_busy"


class SessionConflict(ServiceError):
    """The session changed underneath this request (another worker answered a turn first); nothing was stored."""

    status = 409
    code = "session_conflict"
    headers = {"Retry-After": "0"}


class SessionFull(ServiceError):
    """The session has settings.max_session_turns shopper turns."""

    status = 422
    code = "session_full"


class SessionExpired(ServiceError):
    """The session was idle longer than settings.session_idle_s."""

    status = 410
    code = "session_expired"


class ModelUnavailable(ServiceError):
    """The language model could not be reached."""

    status = 503
    code = "llm_unavailable"


class HeldLock:
    """A session's lock, taken by SessionService.locked; released on leaving `with` or by release().

    A plain lock: a streamed turn may release it from another thread than the one that took it."""

    def __init__(self, locks: SessionLocks, session_id: str, lock: threading.Lock):
        self._locks, self.session_id, self._lock = locks, session_id, lock
        self._held = True

    def release(self) -> None:
        """Give the lock back (once; later calls do nothing)."""
        if self._held:
            self._held = False
            self._locks.release(self.session_id, self._lock)

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (what `serve` and `chat` may bind without API keys)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_store(sessions_url: str, sessions_db: Path | str) -> SqlSessionStore:
    """PostgreSQL when sessions_url is set (postgresql://...), else the SQLite file sessions_db."""
    if sessions_url:
        from ui.sessions_pg import PostgresSessionStore  # psycopg loads only when PostgreSQL is configured

        return PostgresSessionStore(sessions_url)
    return SessionStore(sessions_db)


@dataclass
class Idempotency:
    """An Idempotency-Key request: `request` fingerprints what was asked (a reused key with another request is
    refused); `respond` builds the answer from the turn, stored in the same transaction as the turn."""

    key: str
    request: str
    respond: Callable[[Turn], Any]


class SessionService:
    """The agent, the session store and the per-session locks, shared by the routes and handlers of one app."""

    def __init__(self, settings: Settings, agent: Agent, store: SqlSessionStore | None = None):
        self.settings, self.agent = settings, agent
        self.store = store if store is not None else open_store(settings.sessions_url, settings.sessions_db)
        self.locks = SessionLocks()
        # CPU-bound turns: more parallel turns than cores only adds memory and context switches
        self.slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
        self._versions: dict[int, tuple[weakref.ref, int]] = {}  # id(session) -> (session, version loaded)
        self._versions_guard = threading.RLock()  # re-entered when a weakref callback fires inside
        self._purged = 0.0  # when this process last deleted expired sessions
        # catalog changes and shopper events: logs in the same database, read by every worker (agent/live.py)
        self.feed = open_feed(*_feed_location(self.store, settings))
        self.live = LiveSync(agent.index, self.feed, on_change=agent.catalog_changed)
        self.live.sync(force=True)

    def check_text(self, text: str) -> str:
        """The message, cleaned of control characters; raises InvalidInput when it is empty,
        invisible, not valid Unicode or holds a number the agent would misread, MessageTooLong over the limit."""
        if not text or not text.strip():
            raise InvalidInput("message is empty", "send what the shopper said as a non-empty string")
        if len(text) > self.settings.max_message_chars:
            raise MessageTooLong(f"message has {len(text)} characters, the limit is "
                                 f"{self.settings.max_message_chars}", "shorten it")
        try:
            return clean_text(text)
        except ValueError as e:
            raise InvalidInput(str(e), param="message") from None

    def locked(self, session_id: str) -> HeldLock:
        """Take the session's lock now (use as `with svc.locked(id):`); raises SessionBusy when it stays busy."""
        try:
            lock = self.locks.acquire(session_id, timeout=LOCK_TIMEOUT_S)
        except TimeoutError as e:
            raise SessionBusy(str(e)) from None
        return HeldLock(self.locks, session_id, lock)

    # --- which stored session a caller means
    def scoped_id(self, caller_id: str, owner: str) -> str:
        """The stored id of a caller-chosen id (OpenAI `user`, X-Session-Id): scoped to the caller's key, so
        two keys never share, claim or probe each other's ids. Raises InvalidInput for a malformed id."""
        try:
            check_session_id(caller_id)
        except ValueError as e:
            raise InvalidInput(str(e), param="user") from None
        return "c-" + hashlib.sha256(f"{owner}\0{caller_id}".encode()).hexdigest()[:32]

    def resolve(self, session_id: str, owner: str) -> str:
        """The stored id a path id names: the caller's own scoped id when it is stored, else the id itself."""
        if SESSION_ID.match(session_id):
            scoped = self.scoped_id(session_id, owner)
            if self.store.exists(scoped):
                return scoped
        return session_id

    # --- sessions
    def new_session(self, owner: str, history: Sequence[str] = ()) -> Session:
        """A fresh session, stored for its owner; `history`: item ids bought before (unknown ids are ignored)."""
        self.live.sync()
        session = self.agent.new_session(history)
        self._remember(session, self.store.put(session, owner))
        self._purge_expired()
        return session

    def load(self, session_id: str, owner: str) -> Session:
        """A stored session the owner may see; raises NotFound (also for another owner's session) or
        SessionExpired when it was idle longer than settings.session_idle_s."""
        self.live.sync()  # every request loads its session: catch up with catalog changes and events first
        try:
            row = self.store.load(session_id)
        except UnknownSession as e:
            raise NotFound(str(e)) from None
        if row.owner != owner:
            raise NotFound(str(UnknownSession(session_id)))
        idle = self.settings.session_idle_s
        if idle and time.time() - row.updated > idle:
            raise SessionExpired(f"session {short(session_id)} expired after {_duration(idle)} without a turn",
                                 "start a new session (POST /v1/sessions)")
        self._remember(row.session, row.version)
        return row.session

    def load_or_new(self, session_id: str, owner: str) -> Session:
        """The stored session with this id (owner-checked), else a new one under this id, stored on its first turn."""
        if self.store.exists(session_id):
            return self.load(session_id, owner)
        session = replace(self.agent.new_session(), session_id=session_id)
        self._remember(session, 0)  # saving it creates it, unless another request did first (a conflict)
        return session

    def delete(self, session_id: str, owner: str) -> None:
        """Forget the owner's session; raises NotFound."""
        try:
            if self.store.owner(session_id) != owner:
                raise UnknownSession(session_id)
        except UnknownSession as e:
            raise NotFound(str(e)) from None
        self.store.delete(session_id)

    def save(self, session: Session, owner: str, idempotency: Idempotency | None = None,
             turn: Turn | None = None) -> None:
        """Store the session if nobody changed it since it was loaded (raises SessionConflict otherwise); with
        `idempotency`, the answer to `turn` is stored in the same transaction."""
        version = self._version(session)
        if version is None and idempotency is None:
            self._remember(session, self.store.put(session, owner))
            return
        record = (idempotency.key, idempotency.request) if idempotency else None
        response = idempotency.respond(turn) if idempotency and turn is not None else None
        try:
            self._remember(session, self.store.save(session, owner, version or 0, record, response))
        except StaleSession:
            raise SessionConflict(f"session {short(session.session_id)} changed while this request ran (another "
                                  "request for it was answered first); nothing of this one was stored",
                                  "send the same request again (with the same Idempotency-Key)") from None

    def replayed(self, owner: str, idempotency: Idempotency | None) -> Any:
        """The stored answer of an earlier request with the same Idempotency-Key, else None; raises InvalidInput
        when the key was used for a different request."""
        if idempotency is None:
            return None
        found = self.store.replay(owner, idempotency.key)
        if found is None:
            return None
        if found[0] != idempotency.request:
            raise InvalidInput("this Idempotency-Key was used for a different request",
                               "use a new key for each new request", param="Idempotency-Key")
        return found[1]

    def idempotency(self, key: str | None, request: str, respond: Callable[[Turn], Any]) -> Idempotency | None:
        """The request's Idempotency (None without a key); raises InvalidInput for a malformed key."""
        if key is None:
            return None
        try:
            check_idempotency_key(key)
        except ValueError as e:
            raise InvalidInput(str(e), param="Idempotency-Key") from None
        return Idempotency(key, hashlib.sha256(request.encode("utf-8", "replace")).hexdigest(), respond)

    # --- turns
    def reply(self, session: Session, text: str, owner: str, idempotency: Idempotency | None = None) -> Turn:
        """One turn, stored before returning; raises InvalidInput, SessionFull, SessionConflict or
        ModelUnavailable."""
        self._check_room(session)
        with self.slots, _mapped_errors():
            turn = self.agent.reply(session, text)
        self.save(session, owner, idempotency, turn)
        return turn

    def reply_stream(self, session: Session, text: str, owner: str,
                     idempotency: Idempotency | None = None) -> Iterator[str | Turn]:
        """The reply's text chunks, then the Turn, yielded once the session is stored; errors as in reply()."""
        self._check_room(session)
        final: Turn | None = None
        with self.slots, _mapped_errors():
            for part in self.agent.reply_stream(session, text):
                if isinstance(part, Turn):
                    final = part
                else:
                    yield part
        assert final is not None, "reply_stream must end with the Turn"
        self.save(session, owner, idempotency, final)
        yield final

    def react(self, session: Session, item_id: str, kind: FeedbackKind, owner: str,
              idempotency: Idempotency | None = None) -> Turn:
        """A feedback click as a turn (record it, then fresh picks), stored; raises NotFound for an unknown item."""
        self._check_room(session)
        with self.slots, _mapped_errors():
            try:
                turn = self.agent.react(session, item_id, kind)
            except UnknownItem:
                raise NotFound(f"no item {short(item_id)!r} in the catalog", "use an item_id from the picks") from None
        self.save(session, owner, idempotency, turn)
        self.live.record(shopper_key(owner, session.session_id), item_id, kind)
        return turn

    def feedback(self, session: Session, item_id: str, kind: FeedbackKind, owner: str,
                 idempotency: Idempotency | None = None) -> None:
        """Record like / reject / owned for an item and store the session; raises NotFound for an unknown item."""
        try:
            self.agent.feedback(session, item_id, kind)
        except UnknownItem:
            raise NotFound(f"no item {short(item_id)!r} in the catalog", "use an item_id from the picks") from None
        self.save(session, owner, idempotency, Turn("assistant", ""))
        self.live.record(shopper_key(owner, session.session_id), item_id, kind)

    def purchase(self, session: Session, item_id: str, owner: str, idempotency: Idempotency | None = None) -> None:
        """The shop reports that the shopper bought an item: logged as a `purchase` event (it feeds popularity and
        co-occurrence for everyone) and kept in the session's purchase history; raises NotFound for an unknown item."""
        if item_id not in self.agent.index.position:
            raise NotFound(f"no item {short(item_id)!r} in the catalog", "use an item_id from the catalog")
        if item_id not in session.state.history:
            session.state.history.append(item_id)
        self.save(session, owner, idempotency, Turn("assistant", ""))
        self.live.record(shopper_key(owner, session.session_id), item_id, "purchase")

    def update_catalog(self, rows: list, deletions: list) -> dict:
        """Add / update catalog rows and delete ids for every worker; raises InvalidInput (nothing stored) listing
        every bad row or unknown id."""
        try:
            return update_catalog(self.agent.index, self.feed, rows, deletions, self.live).as_dict()
        except CatalogUpdateError as e:
            raise InvalidInput(str(e), "fix the listed rows and send the update again", param="upsert") from None

    def _purge_expired(self) -> None:
        idle, now = self.settings.session_idle_s, time.time()
        if idle and now - self._purged > PURGE_EVERY_S:
            self._purged = now
            self.store.purge(now - idle)

    def _check_room(self, session: Session) -> None:
        cap = self.settings.max_session_turns
        if cap and sum(t.role == "user" for t in session.turns) >= cap:
            raise SessionFull(f"session {short(session.session_id)} has reached its limit of {cap} turns",
                              "start a new session (POST /v1/sessions)")

    def _remember(self, session: Session, version: int) -> None:
        key = id(session)
        with self._versions_guard:
            self._versions[key] = (weakref.ref(session, lambda _, k=key: self._forget(k)), version)

    def _forget(self, key: int) -> None:
        with self._versions_guard:
            self._versions.pop(key, None)

    def _version(self, session: Session) -> int | None:
        with self._versions_guard:
            entry = self._versions.get(id(session))
        return entry[1] if entry is not None and entry[0]() is session else None


def _feed_location(store: SqlSessionStore, settings: Settings) -> tuple[str, Path | str]:
    """Where the change and event logs live: the session store's own database."""
    url = getattr(store, "url", "")
    if url:
        return url, ""
    path = getattr(store, "path", settings.sessions_db)
    if str(path) == ":memory:":  # an in-memory session store (tests): logs in a private temporary file
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="convrec-feed-")) / "feed.sqlite3"
    return "", path


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} seconds"


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """The agent's errors as ServiceErrors."""
    try:
        yield
    except AgentInputError as e:
        raise InvalidInput(str(e)) from None
    except LLMUnavailable as e:
        raise ModelUnavailable(f"language model unavailable: {e}", "retry, or run with --llm none") from None

