"""HTTP API for customer-service bots (`convrec serve`): session endpoints and an OpenAI-compatible chat endpoint.

JSON becomes `Turn`/`Pick` only here. Auth: `Authorization: Bearer <key>` or `X-API-Key` against
settings.api_keys; with no key configured the server only binds to loopback. Every answered turn is
written to the SQLite session store before the response leaves, so a restart (even kill -9) loses none.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import queue
import re
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from agent.config import Settings
from agent.errors import AgentInputError
from agent.llm import LLMUnavailable
from agent.state import Pick, Session, Turn
from retrieval.store import UnknownItem
from ui.sessions import SessionLocks, SessionStore, UnknownSession

MAX_BODY_BYTES = 256 * 1024  # whole request; a chat history of ~50 long messages fits, a pasted file does not
MAX_HISTORY_IDS = 1_000  # purchase history ids accepted when creating a session
REPLAY_USER_MESSAGES = 3  # OpenAI endpoint, unknown conversation: earlier user messages replayed into a new session
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


class ApiError(HTTPException):
    """An HTTP error with an OpenAI-shaped JSON body {"error": {"message", "type"}}."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 headers: dict[str, str] | None = None):
        super().__init__(status, message, headers)
        self.kind = kind


class NewSession(BaseModel):
    """Body of POST /v1/sessions."""

    history: list[str] = Field(default_factory=list, max_length=MAX_HISTORY_IDS,
                               description="item ids a known customer bought before (unknown ids are ignored)")


class MessageIn(BaseModel):
    """Body of POST /v1/sessions/{id}/messages."""

    message: str = Field(description="what the shopper said")


class FeedbackIn(BaseModel):
    """Body of POST /v1/sessions/{id}/feedback."""

    item_id: str
    kind: Literal["like", "reject", "owned"]


class ChatMessage(BaseModel):
    """One OpenAI chat message; content may be a string or a list of text parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionIn(BaseModel):
    """OpenAI /v1/chat/completions request; sampling fields are accepted and ignored."""

    model: str = "convrec"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = Field(None, description="continue (or create) the session with this id")

    model_config = {"extra": "allow"}


def pick_json(pick: Pick) -> dict[str, Any]:
    """The wire shape of a pick."""
    item = pick.item
    return {"item_id": item.item_id, "title": item.title, "price": item.price, "category": item.category,
            "brand": item.brand, "reason": pick.reason, "score": round(float(pick.score), 4),
            "explore": pick.explore}


def turn_json(turn: Turn) -> dict[str, Any]:
    """The wire shape of a turn."""
    return {"role": turn.role, "text": turn.text, "picks": [pick_json(p) for p in turn.picks],
            "question": turn.question}


class TokenBuckets:
    """Per-key token bucket: `rate_per_minute` requests per minute, bursts up to the same number."""

    def __init__(self, rate_per_minute: int):
        self.capacity = float(rate_per_minute)
        self.refill = rate_per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend a token; returns 0 when allowed, else the seconds until one is available."""
        if self.capacity <= 0:
            return 0.0  # rate limiting off
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.refill


class BodyLimit:
    """ASGI middleware: refuse bodies over the limit with 413 before the JSON parser sees them."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen, too_large = 0, False

        async def counted():
            nonlocal seen, too_large
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                too_large = True  # the app sees a disconnect; whatever it answers is replaced by our 413
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not too_large:
                await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"error": {"message": f"request body over {self.limit} bytes; send shorter messages "
                                     "or less history", "type": "request_too_large"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class Service:
    """The agent, the session store and the locks behind the routes (one per app)."""

    def __init__(self, settings: Settings, agent, store: SessionStore):
        self.settings, self.agent, self.store = settings, agent, store
        self.locks = SessionLocks()
        # CPU-bound turns: more parallel turns than cores only adds memory and context switches
        self.slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))

    def check_text(self, text: str) -> str:
        """Refuse empty or oversize messages with the status the API promises (422 / 413)."""
        if not text or not text.strip():
            raise ApiError(422, "message is empty; send what the shopper said as a non-empty string")
        if len(text) > self.settings.max_message_chars:
            raise ApiError(413, f"message has {len(text)} characters, the limit is "
                                f"{self.settings.max_message_chars}; shorten it", "message_too_long")
        return text

    def load(self, session_id: str, owner: str) -> Session:
        """A stored session the caller may see (another key's session reads as unknown)."""
        try:
            if self.store.owner(session_id) != owner:
                raise UnknownSession(session_id)
            return self.store.get(session_id)
        except UnknownSession as e:
            raise ApiError(404, str(e), "not_found") from None

    def reply(self, session: Session, text: str, owner: str) -> Turn:
        """One turn, persisted before returning."""
        with self.slots:
            try:
                turn = self.agent.reply(session, text)
            except AgentInputError as e:
                raise ApiError(422, str(e)) from None
            except LLMUnavailable as e:
                raise ApiError(503, f"language model unavailable: {e}; retry, or run with --llm none",
                               "llm_unavailable") from None
        self.store.put(session, owner)
        return turn

    def locked(self, session_id: str):
        """The session's lock as a context manager; 409 when it stays busy."""
        try:
            lock = self.locks.acquire(session_id, timeout=120.0)
        except TimeoutError as e:
            raise ApiError(409, str(e), "session_busy") from None
        return _Held(self.locks, session_id, lock)


class _Held:
    def __init__(self, locks: SessionLocks, session_id: str, lock):
        self.locks, self.session_id, self.lock = locks, session_id, lock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.locks.release(self.session_id, self.lock)


def create_app(settings: Settings, agent=None, store: SessionStore | None = None) -> FastAPI:
    """The FastAPI app; agent None: agent.build_agent(settings); store None: settings.sessions_db."""
    if agent is None:
        from agent import build_agent

        agent = build_agent(settings)
    svc = Service(settings, agent, store or SessionStore(settings.sessions_db))
    buckets = TokenBuckets(settings.rate_limit_per_minute)
    keys = {k: hashlib.sha256(k.encode()).hexdigest()[:12] for k in settings.api_keys}
    app = FastAPI(title="convrec API", version="1", docs_url=None, redoc_url=None,
                  description="Conversational recommender sessions and an OpenAI-compatible chat endpoint.")
    app.state.service = svc
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        kind = getattr(exc, "kind", "invalid_request_error" if exc.status_code < 500 else "server_error")
        return JSONResponse({"error": {"message": str(exc.detail), "type": kind}}, exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": {"message": "malformed JSON body; send a JSON object with "
                                           "Content-Type: application/json", "type": "invalid_json"}}, 400)
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors[:5])
        return JSONResponse({"error": {"message": f"invalid request: {where}", "type": "invalid_request_error"}}, 422)

    def caller(request: Request, authorization: str | None = Header(None),
               x_api_key: str | None = Header(None)) -> str:
        """Authenticate and rate-limit; returns the owner label of the caller ('' when no keys configured)."""
        owner = ""
        if keys:
            given = x_api_key or (authorization[7:].strip() if authorization and
                                  authorization[:7].lower() == "bearer " else None)
            if not given:
                raise ApiError(401, "missing API key; send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                               "authentication_error", {"WWW-Authenticate": "Bearer"})
            owner = next((label for k, label in keys.items() if hmac.compare_digest(k, given)), "")
            if not owner:
                raise ApiError(401, "invalid API key; use one of the keys in CONVREC_API_KEYS",
                               "authentication_error", {"WWW-Authenticate": "Bearer"})
        wait = buckets.take(owner or (request.client.host if request.client else "local"))
        if wait > 0:
            raise ApiError(429, f"rate limit of {settings.rate_limit_per_minute} requests/minute reached; "
                                f"retry in {wait:.1f}s", "rate_limit_exceeded", {"Retry-After": str(int(wait) + 1)})
        return owner

    @app.get("/health", tags=["meta"])
    def health() -> dict:
        """Liveness and what the agent runs on (no key needed)."""
        return {"status": "ok", "agent": svc.agent.describe(), "sessions": svc.store.count()}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse((Path(__file__).parent / "static" / "api_docs.html").read_text())

    @app.post("/v1/sessions", status_code=201, tags=["sessions"])
    def create_session(body: NewSession | None = None, owner: str = Depends(caller)) -> dict:
        """Start a conversation, optionally with a known customer's purchase history."""
        session = svc.agent.new_session((body or NewSession()).history)
        svc.store.put(session, owner)
        return {"session_id": session.session_id, "history": list(session.state.history)}

    @app.get("/v1/sessions/{session_id}", tags=["sessions"])
    def get_session(session_id: str, owner: str = Depends(caller)) -> dict:
        """The conversation so far and what the shopper liked, rejected or owns."""
        session = svc.load(session_id, owner)
        st = session.state
        return {"session_id": session.session_id, "turns": [turn_json(t) for t in session.turns],
                "liked": st.liked, "rejected": st.rejected, "owned": st.owned, "history": st.history}

    @app.delete("/v1/sessions/{session_id}", status_code=204, tags=["sessions"])
    def delete_session(session_id: str, owner: str = Depends(caller)) -> Response:
        """Forget a conversation."""
        with svc.locked(session_id):
            svc.load(session_id, owner)
            svc.store.delete(session_id)
        return Response(status_code=204)

    @app.post("/v1/sessions/{session_id}/messages", tags=["sessions"])
    def post_message(session_id: str, body: MessageIn, owner: str = Depends(caller)) -> dict:
        """Send the shopper's message; returns the reply, the picks and the question asked, if any."""
        text = svc.check_text(body.message)
        with svc.locked(session_id):
            session = svc.load(session_id, owner)
            turn = svc.reply(session, text, owner)
        return {"session_id": session_id, "reply": turn.text, "picks": [pick_json(p) for p in turn.picks],
                "question": turn.question, "turn": len(session.turns) // 2}

    @app.post("/v1/sessions/{session_id}/feedback", tags=["sessions"])
    def post_feedback(session_id: str, body: FeedbackIn, owner: str = Depends(caller)) -> dict:
        """Record that the shopper liked, rejected or already owns an item; it shapes the next picks."""
        with svc.locked(session_id):
            session = svc.load(session_id, owner)
            try:
                svc.agent.feedback(session, body.item_id, body.kind)
            except UnknownItem as e:
                raise ApiError(404, f"{e}; use an item_id from the picks", "not_found") from None
            svc.store.put(session, owner)
        return {"session_id": session_id, "item_id": body.item_id, "kind": body.kind}

    @app.get("/v1/models", tags=["openai"])
    def models(owner: str = Depends(caller)) -> dict:
        """OpenAI-compatible model list: one model, `convrec`."""
        return {"object": "list", "data": [{"id": "convrec", "object": "model", "created": 0, "owned_by": "convrec"}]}

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatCompletionIn, owner: str = Depends(caller),
                         x_session_id: str | None = Header(None)):
        """OpenAI-compatible chat; the reply is the assistant content, picks are in the `convrec` field."""
        return _chat_completion(svc, body, owner, x_session_id)

    return app


def _content(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        return " ".join(str(p.get("text", "")) for p in message.content if p.get("type") == "text")
    return message.content or ""


def _fingerprint(owner: str, messages: list[tuple[str, str]]) -> str:
    # whitespace-normalised so a bot that trims or re-wraps our reply still continues the same session
    canon = json.dumps([owner] + [[r, " ".join(c.split())] for r, c in messages], ensure_ascii=False)
    return "fp:" + hashlib.sha256(canon.encode()).hexdigest()


def _with_picks(turn: Turn) -> str:
    """The assistant content: the reply, plus a plain list of picks the reply does not name (for text-only bots)."""
    missing = [p for p in turn.picks if p.item.title not in turn.text]
    if not missing:
        return turn.text
    lines = [f"{i}. {p.item.title}" + (f" (${p.item.price:.2f})" if p.item.price is not None else "")
             + f" — {p.reason}" for i, p in enumerate(missing, 1)]
    return turn.text.rstrip() + "\n\n" + "\n".join(lines)


def _chat_completion(svc: Service, body: ChatCompletionIn, owner: str, header_id: str | None):
    # system messages from the caller are ignored: the agent's own instructions are not negotiable
    convo = [(m.role, _content(m)) for m in body.messages if m.role in ("user", "assistant")]
    if not convo or convo[-1][0] != "user":
        raise ApiError(422, "the last message must be a non-empty 'user' message")
    text = svc.check_text(convo[-1][1])
    earlier = convo[:-1]
    sid = header_id or body.user
    if sid is not None and not _SESSION_ID.match(sid):
        raise ApiError(422, "session id (X-Session-Id or user) must be 1-128 letters, digits or _.:-")
    replay: list[str] = []
    if sid is None and earlier:
        sid = svc.store.resolve_alias(_fingerprint(owner, earlier))
        if sid is None:  # a conversation we never saw: rebuild its state from the shopper's last few messages
            replay = [c for r, c in earlier if r == "user" and c.strip()][-REPLAY_USER_MESSAGES:]
    sid = sid or uuid.uuid4().hex
    lock = svc.locked(sid)
    try:
        if svc.store.exists(sid):
            session = svc.load(sid, owner)
        else:
            session = replace(svc.agent.new_session(), session_id=sid)
        for old in replay:
            svc.reply(session, old[: svc.settings.max_message_chars], owner)
    except BaseException:
        lock.__exit__()
        raise
    cid, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())

    def finish(turn: Turn, content: str) -> dict:
        svc.store.set_alias(_fingerprint(owner, convo + [("assistant", content)]), sid)
        return {"session_id": sid, "picks": [pick_json(p) for p in turn.picks], "question": turn.question}

    if not body.stream:
        with lock:
            turn = svc.reply(session, text, owner)
            content = _with_picks(turn)
            extra = finish(turn, content)
        usage = {"prompt_tokens": sum(len(c.split()) for _, c in convo), "completion_tokens": len(content.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return JSONResponse({"id": cid, "object": "chat.completion", "created": created, "model": body.model,
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                          "finish_reason": "stop"}], "usage": usage, "convrec": extra},
                            headers={"X-Session-Id": sid})
    return StreamingResponse(_stream(svc, session, text, owner, lock, cid, created, body.model, finish),
                             media_type="text/event-stream", headers={"X-Session-Id": sid, "Cache-Control": "no-cache"})


def _stream(svc: Service, session: Session, text: str, owner: str, lock: _Held, cid: str, created: int,
            model: str, finish) -> Iterator[str]:
    """SSE chunks in the OpenAI shape. The turn runs in its own thread to the end (and is saved) even if the
    client disconnects, so a session never keeps half a turn or a held lock."""
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            with lock, svc.slots:
                final = None
                for part in svc.agent.reply_stream(session, text):
                    if isinstance(part, Turn):
                        final = part
                    else:
                        events.put(("text", part))
                assert final is not None, "reply_stream must end with the Turn"
                svc.store.put(session, owner)
                content = _with_picks(final)
                # the chunks spelled final.text; only the appended pick list is still to send
                tail = content[len(final.text.rstrip()):] if content != final.text else ""
                events.put(("final", (tail, finish(final, content))))
        except BaseException as e:  # reported to the client as an error event, then re-raised for the log
            events.put(("error", e))
            raise

    threading.Thread(target=work, daemon=True, name=f"turn-{session.session_id[:8]}").start()

    def chunk(delta: dict, finish_reason: str | None = None, **extra) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    while True:
        kind, value = events.get(timeout=600)
        if kind == "text":
            yield chunk({"content": value})
        elif kind == "final":
            tail, extra = value
            if tail:
                yield chunk({"content": tail})
            yield chunk({}, "stop", convrec=extra)
            break
        else:
            msg = value.detail if isinstance(value, HTTPException) else f"{type(value).__name__}: {value}"
            yield f"data: {json.dumps({'error': {'message': str(msg), 'type': 'server_error'}})}\n\n"
            break
    yield "data: [DONE]\n\n"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings) -> int:
    """Run the API with uvicorn until interrupted (`convrec serve`)."""
    import uvicorn

    if not settings.api_keys and not _loopback(settings.host):
        raise ValueError(f"refusing to serve on {settings.host} without API keys: set CONVREC_API_KEYS=key1,key2 "
                         "or bind to 127.0.0.1 (--host 127.0.0.1)")
    app = create_app(settings)
    print(f"convrec API on http://{settings.host}:{settings.port} (docs: /docs, OpenAI base URL: /v1)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", timeout_keep_alive=30)
    return 0
