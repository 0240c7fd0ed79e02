"""The one session service behind every surface in ui/: the HTTP API, its OpenAI-compatible routes and the chat.

It loads a session for its owner (another owner's session reads as unknown), holds one lock per session,
runs a turn and stores it before returning, and turns what can go wrong into a few typed errors. Each
surface shows them its own way: the API as its JSON error with `status` and `code`, the chat as a warning.

    svc = SessionService(settings, agent, SessionStore(settings.sessions_db))
    with svc.locked(session_id):
        session = svc.load(session_id, owner)
        turn = svc.reply(session, text, owner)
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, Sequence

from agent import Agent, AgentInputError, FeedbackKind, LLMUnavailable, Session, Settings, Turn, UnknownItem
from ui.sessions import SessionLocks, SessionStore, UnknownSession

SESSION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")  # ids a caller may choose (OpenAI `user`, X-Session-Id)
LOCK_TIMEOUT_S = 120.0  # a turn waiting longer than this for its session gives up with SessionBusy


class ServiceError(Exception):
    """A request the service refuses. `status` is the HTTP status and `code` the error type the API reports;
    `message` says what went wrong and str(error) adds what to do (`hint`), when there is something."""

    status = 400
    code = "invalid_request_error"

    def __init__(self, message: str, hint: str = ""):
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message = message


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


class SessionService:
    """The agent, the session store and the per-session locks, shared by the routes and handlers of one app."""

    def __init__(self, settings: Settings, agent: Agent, store: SessionStore):
        self.settings, self.agent, self.store = settings, agent, store
        self.locks = SessionLocks()
        # CPU-bound turns: more parallel turns than cores only adds memory and context switches
        self.slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))

    def check_text(self, text: str) -> str:
        """The message itself; raises InvalidInput when empty, MessageTooLong over the limit."""
        if not text or not text.strip():
            raise InvalidInput("message is empty", "send what the shopper said as a non-empty string")
        if len(text) > self.settings.max_message_chars:
            raise MessageTooLong(f"message has {len(text)} characters, the limit is "
                                 f"{self.settings.max_message_chars}", "shorten it")
        return text

    def locked(self, session_id: str) -> HeldLock:
        """Take the session's lock now (use as `with svc.locked(id):`); raises SessionBusy when it stays busy."""
        try:
            lock = self.locks.acquire(session_id, timeout=LOCK_TIMEOUT_S)
        except TimeoutError as e:
            raise SessionBusy(str(e)) from None
        return HeldLock(self.locks, session_id, lock)

    def new_session(self, owner: str, history: Sequence[str] = ()) -> Session:
        """A fresh session, stored for its owner; `history`: item ids bought before (unknown ids are ignored)."""
        session = self.agent.new_session(history)
        self.store.put(session, owner)
        return session

    def load(self, session_id: str, owner: str) -> Session:
        """A stored session the owner may see; raises NotFound (also for another owner's session)."""
        try:
            if self.store.owner(session_id) != owner:
                raise UnknownSession(session_id)
            return self.store.get(session_id)
        except UnknownSession as e:
            raise NotFound(str(e)) from None

    def load_or_new(self, session_id: str, owner: str) -> Session:
        """The stored session with this id (owner-checked), else a new one under this id, stored on its first turn."""
        if self.store.exists(session_id):
            return self.load(session_id, owner)
        return replace(self.agent.new_session(), session_id=session_id)

    def delete(self, session_id: str, owner: str) -> None:
        """Forget the owner's session; raises NotFound."""
        self.load(session_id, owner)
        self.store.delete(session_id)

    def save(self, session: Session, owner: str) -> None:
        """Store the session (its owner, once set, is kept)."""
        self.store.put(session, owner)

    def reply(self, session: Session, text: str, owner: str) -> Turn:
        """One turn, stored before returning; raises InvalidInput or ModelUnavailable."""
        with self.slots, _mapped_errors():
            turn = self.agent.reply(session, text)
        self.save(session, owner)
        return turn

    def reply_stream(self, session: Session, text: str, owner: str) -> Iterator[str | Turn]:
        """The reply's text chunks, then the Turn, yielded once the session is stored; errors as in reply()."""
        final: Turn | None = None
        with self.slots, _mapped_errors():
            for part in self.agent.reply_stream(session, text):
                if isinstance(part, Turn):
                    final = part
                else:
                    yield part
        assert final is not None, "reply_stream must end with the Turn"
        self.save(session, owner)
        yield final

    def react(self, session: Session, item_id: str, kind: FeedbackKind, owner: str) -> Turn:
        """A feedback click as a turn (record it, then fresh picks), stored; raises NotFound for an unknown item."""
        with self.slots, _mapped_errors():
            try:
                turn = self.agent.react(session, item_id, kind)
            except UnknownItem as e:
                raise NotFound(str(e), "use an item_id from the picks") from None
        self.save(session, owner)
        return turn

    def feedback(self, session: Session, item_id: str, kind: FeedbackKind, owner: str) -> None:
        """Record like / reject / owned for an item and store the session; raises NotFound for an unknown item."""
        try:
            self.agent.feedback(session, item_id, kind)
        except UnknownItem as e:
            raise NotFound(str(e), "use an item_id from the picks") from None
        self.save(session, owner)


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """The agent's errors as ServiceErrors."""
    try:
        yield
    except AgentInputError as e:
        raise InvalidInput(str(e)) from None
    except LLMUnavailable as e:
        raise ModelUnavailable(f"language model unavailable: {e}", "retry, or run with --llm none") from None

