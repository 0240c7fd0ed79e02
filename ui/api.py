"""HTTP API for customer-service bots (`convrec serve`): session endpoints and an OpenAI-compatible chat endpoint.

JSON becomes `Turn`/`Pick` only in the HTTP layer (this module, openai_api.py, their shapes in wire.py).
Sessions, locks and turns go through ui/service.py; its typed errors become the JSON errors here. Auth:
`Authorization: Bearer <key>` or `X-API-Key` against settings.api_keys; with no key configured the server
only binds to loopback. Every answered turn is written to the SQLite session store before the response
leaves, so a restart (even kill -9) loses none.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import threading
import time
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from agent import Settings, build_agent
from ui.openai_api import add_openai_routes
from ui.service import ServiceError, SessionService
from ui.sessions import SessionStore
from ui.wire import pick_json, turn_json

MAX_BODY_BYTES = 256 * 1024  # whole request; a chat history of ~50 long messages fits, a pasted file does not
MAX_HISTORY_IDS = 1_000  # purchase history ids accepted when creating a session


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


def create_app(settings: Settings, agent=None, store: SessionStore | None = None) -> FastAPI:
    """The FastAPI app; agent None: agent.build_agent(settings); store None: settings.sessions_db."""
    if agent is None:
        agent = build_agent(settings)
    svc = SessionService(settings, agent, store or SessionStore(settings.sessions_db))
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

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return JSONResponse({"error": {"message": str(exc), "type": exc.code}}, exc.status)

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
        session = svc.new_session(owner, (body or NewSession()).history)
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
            svc.delete(session_id, owner)
        return Response(status_code=204)

    @app.post("/v1/sessions/{session_id}/messages", tags=["sessions"])
    def post_message(session_id: str, body: MessageIn, owner: str = Depends(caller)) -> dict:
        """Send the shopper's message; returns the reply, the picks and the question asked, if any."""
        text = svc.check_text(body.message)
        with svc.locked(session_id):
            session = svc.load(session_id, owner)
            turn = svc.reply(session, text, owner)
        return {"session_id": session_id, "reply": turn.text, "picks": [pick_json(p) for p in turn.picks],
                "question": turn.question, "act": turn.act, "handoff": turn.handoff, "turn": len(session.turns) // 2}

    @app.post("/v1/sessions/{session_id}/feedback", tags=["sessions"])
    def post_feedback(session_id: str, body: FeedbackIn, owner: str = Depends(caller)) -> dict:
        """Record that the shopper liked, rejected or already owns an item; it shapes the next picks."""
        with svc.locked(session_id):
            session = svc.load(session_id, owner)
            svc.feedback(session, body.item_id, body.kind, owner)
        return {"session_id": session_id, "item_id": body.item_id, "kind": body.kind}

    add_openai_routes(app, svc, caller)
    return app


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
