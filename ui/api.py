"""HTTP API for customer-service bots (`convrec serve`): session endpoints and an OpenAI-compatible chat endpoint.

JSON becomes `Turn`/`Pick` only in the HTTP layer (this module, openai_api.py, their shapes in wire.py).
Sessions, locks and turns go through ui/service.py; its typed errors become the JSON errors here. Auth:
`Authorization: Bearer <key>` or `X-API-Key` against settings.api_keys; with no key configured the server
only binds to loopback. A key is known by its HMAC under a server secret (settings.api_secret, else one kept
in the sessions database), never stored. Every answered turn is written to the session store (SQLite, or
PostgreSQL for N workers) before the response leaves, so a restart (even kill -9) loses none. Rate limits and
failed-authentication throttling are token buckets in the same database, so N workers admit the configured
rate, not N times it. `Idempotency-Key` on a POST makes a retry return the stored answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from agent import Settings, build_agent
from agent.live import open_index
from ui.openai_api import add_openai_routes, openai_error
from ui.service import ServiceError, SessionService, is_loopback, open_store
from ui.sessions import SqlSessionStore, short
from ui.wire import pick_json, turn_json

MAX_BODY_BYTES = 256 * 1024  # whole request; a chat history of ~50 long messages fits, a pasted file does not
MAX_HISTORY_IDS = 1_000  # purchase history ids accepted when creating a session
MAX_ITEM_ID_CHARS = 256  # longer item ids are refused before they reach the agent (and are never echoed)


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

    item_id: str = Field(max_length=MAX_ITEM_ID_CHARS)
    kind: Literal["like", "reject", "owned"]


class PurchaseIn(BaseModel):
    """Body of POST /v1/sessions/{id}/purchase."""

    item_id: str = Field(max_length=MAX_ITEM_ID_CHARS)


class CatalogUpdateIn(BaseModel):
    """Body of POST /v1/admin/catalog: rows to add or update (the catalog file format) and ids to delete."""

    upsert: list[dict] = Field(default_factory=list, description="catalog rows: id, title, category, price, ...")
    delete: list[str] = Field(default_factory=list, description="item ids to delete")


def admin_keys(settings: Settings) -> tuple[str, ...]:
    """Keys allowed to change the catalog: settings.extra["admin_keys"], else CONVREC_ADMIN_KEYS (comma-separated)."""
    raw = settings.extra.get("admin_keys") or os.environ.get("CONVREC_ADMIN_KEYS", "")
    keys = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return tuple(k.strip() for k in keys if k.strip())


class NoSniff:
    """ASGI middleware: every response says `X-Content-Type-Options: nosniff` (JSON is never read as HTML)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_hardened(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, send_hardened)


class TokenBuckets:
    """Per-key token buckets kept in the session store, so every worker spends from the same ones:
    `rate_per_minute` requests a minute, bursts up to the same number; 0 turns limiting off."""

    def __init__(self, store: SqlSessionStore, rate_per_minute: int):
        self.store, self.rate = store, float(rate_per_minute)

    def take(self, key: str) -> float:
        """Spend a token; returns 0 when allowed, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        return self.store.take("rate:" + key, self.rate, self.rate)


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


def create_app(settings: Settings, agent=None, store: SqlSessionStore | None = None) -> FastAPI:
    """The FastAPI app; agent None: agent.build_agent(settings); store None: settings.sessions_url, else
    settings.sessions_db."""
    if agent is None:
        shared = settings.extra.get("shared_index") or os.environ.get("CONVREC_SHARED_INDEX", "")
        agent = build_agent(settings, index=open_index(settings, shared) if shared else None)
    svc = SessionService(settings, agent, store)
    buckets = TokenBuckets(svc.store, settings.rate_limit_per_minute)
    secret = (settings.api_secret or svc.store.secret()).encode()
    keys = {k: hmac.new(secret, k.encode(), hashlib.sha256).hexdigest()[:32] for k in settings.api_keys}
    app = FastAPI(title="convrec API", version="1", docs_url=None, redoc_url=None,
                  description="Conversational recommender sessions and an OpenAI-compatible chat endpoint.")
    app.state.service = svc
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(NoSniff)

    def openai_route(request: Request) -> bool:
        return request.url.path.startswith(("/v1/chat/", "/v1/models"))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        kind = getattr(exc, "kind", "invalid_request_error" if exc.status_code < 500 else "server_error")
        error = {"message": str(exc.detail), "type": kind}
        if openai_route(request):
            error = openai_error(str(exc.detail), kind, None, kind)
        return JSONResponse({"error": error}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        if openai_route(request):  # OpenAI clients expect 400 for a bad request, with param and code
            status = 400 if exc.status == 422 else exc.status
            body = openai_error(str(exc), "invalid_request_error" if status < 500 else "server_error",
                                exc.param, exc.code)
            return JSONResponse({"error": body}, status, headers=exc.headers)
        return JSONResponse({"error": {"message": str(exc), "type": exc.code}}, exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            message = "malformed JSON body; send a JSON object with Content-Type: application/json"
            if openai_route(request):
                return JSONResponse({"error": openai_error(message, "invalid_request_error", None, "invalid_json")},
                                    400)
            return JSONResponse({"error": {"message": message, "type": "invalid_json"}}, 400)
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors[:5])
        if openai_route(request):
            loc = [str(p) for p in errors[0].get("loc", ()) if p != "body"]
            return JSONResponse({"error": openai_error(f"invalid request: {short(where, 400)}",
                                                       "invalid_request_error", ".".join(loc) or None,
                                                       str(errors[0].get("type", "invalid_value")))}, 400)
        return JSONResponse({"error": {"message": f"invalid request: {short(where, 400)}",
                                       "type": "invalid_request_error"}}, 422)

    def caller(request: Request, authorization: str | None = Header(None),
               x_api_key: str | None = Header(None)) -> str:
        """Authenticate and rate-limit; returns the owner label of the caller ('' when no keys configured)."""
        owner = ""
        address = request.client.host if request.client else "local"
        if keys:
            given = x_api_key or (authorization[7:].strip() if authorization and
                                  authorization[:7].lower() == "bearer " else None)
            if not given:
                raise ApiError(401, "missing API key; send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                               "authentication_error", {"WWW-Authenticate": "Bearer"})
            per_minute = settings.auth_failures_per_minute
            if per_minute > 0:  # too many wrong keys from this address: no more guesses are even compared
                wait = svc.store.take("auth:" + address, per_minute, per_minute, cost=0)
                if wait > 0:
                    raise ApiError(429, f"too many failed authentications from {address}; retry in {wait:.0f}s",
                                   "rate_limit_exceeded", {"Retry-After": str(int(wait) + 1)})
            owner = next((label for k, label in keys.items() if hmac.compare_digest(k.encode(), given.encode())), "")
            if not owner:
                if per_minute > 0:
                    svc.store.take("auth:" + address, per_minute, per_minute)
                raise ApiError(401, "invalid API key; use one of the keys in CONVREC_API_KEYS",
                               "authentication_error", {"WWW-Authenticate": "Bearer"})
        wait = buckets.take(owner or address)
        if wait > 0:
            raise ApiError(429, f"rate limit of {settings.rate_limit_per_minute} requests/minute reached; "
                                f"retry in {wait:.1f}s", "rate_limit_exceeded", {"Retry-After": str(int(wait) + 1)})
        return owner

    @app.get("/health", tags=["meta"])
    def health() -> dict:
        """Liveness and what the agent runs on (no key needed)."""
        svc.live.sync()
        return {"status": "ok", "agent": svc.agent.describe(), "sessions": svc.store.count(), "pid": os.getpid(),
                "catalog_seq": svc.agent.index.applied_seq}

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
        session = svc.load(svc.resolve(session_id, owner), owner)
        st = session.state
        return {"session_id": session_id, "turns": [turn_json(t) for t in session.turns],
                "liked": st.liked, "rejected": st.rejected, "owned": st.owned, "history": st.history}

    @app.delete("/v1/sessions/{session_id}", status_code=204, tags=["sessions"])
    def delete_session(session_id: str, owner: str = Depends(caller)) -> Response:
        """Forget a conversation."""
        sid = svc.resolve(session_id, owner)
        with svc.locked(sid):
            svc.delete(sid, owner)
        return Response(status_code=204)

    @app.post("/v1/sessions/{session_id}/messages", tags=["sessions"])
    def post_message(session_id: str, body: MessageIn, owner: str = Depends(caller),
                     idempotency_key: str | None = Header(None)):
        """Send the shopper's message; returns the reply, the picks and the question asked, if any.
        With `Idempotency-Key`, a retry of a request that was answered (or stored) returns the same answer."""
        text = svc.check_text(body.message)
        sid = svc.resolve(session_id, owner)
        answer: dict = {}

        def respond(turn) -> dict:
            answer.update({"session_id": session_id, "reply": turn.text, "picks": [pick_json(p) for p in turn.picks],
                           "question": turn.question, "act": turn.act, "handoff": turn.handoff,
                           "turn": sum(t.role == "user" for t in session.turns)})
            return answer

        idem = svc.idempotency(idempotency_key, f"messages\0{sid}\0{body.message}", respond)
        with svc.locked(sid):
            done = svc.replayed(owner, idem)
            if done is not None:
                return JSONResponse(done, headers={"Idempotent-Replayed": "true"})
            session = svc.load(sid, owner)
            turn = svc.reply(session, text, owner, idem)
        return answer or respond(turn)

    @app.post("/v1/sessions/{session_id}/feedback", tags=["sessions"])
    def post_feedback(session_id: str, body: FeedbackIn, owner: str = Depends(caller),
                      idempotency_key: str | None = Header(None)):
        """Record that the shopper liked, rejected or already owns an item; it shapes the next picks."""
        return _record(session_id, owner, idempotency_key, body.item_id, body.kind,
                       lambda session, idem: svc.feedback(session, body.item_id, body.kind, owner, idem))

    @app.post("/v1/sessions/{session_id}/purchase", tags=["sessions"])
    def post_purchase(session_id: str, body: PurchaseIn, owner: str = Depends(caller),
                      idempotency_key: str | None = Header(None)):
        """The shop reports a purchase in this conversation; it is logged as an event that feeds popularity and
        co-occurrence for every shopper (no message text is logged)."""
        return _record(session_id, owner, idempotency_key, body.item_id, "purchase",
                       lambda session, idem: svc.purchase(session, body.item_id, owner, idem))

    def _record(session_id: str, owner: str, idempotency_key: str | None, item_id: str, kind: str, apply):
        """A feedback or purchase event on a session: once per Idempotency-Key, under the session's lock."""
        sid = svc.resolve(session_id, owner)
        answer = {"session_id": session_id, "item_id": item_id, "kind": kind}
        parts = ["purchase", sid, item_id] if kind == "purchase" else ["feedback", sid, item_id, kind]
        idem = svc.idempotency(idempotency_key, "\0".join(parts), lambda _: answer)  # the fingerprints as before
        with svc.locked(sid):
            done = svc.replayed(owner, idem)
            if done is not None:
                return JSONResponse(done, headers={"Idempotent-Replayed": "true"})
            apply(svc.load(sid, owner), idem)
        return answer

    admins = admin_keys(settings)

    @app.post("/v1/admin/catalog", tags=["admin"])
    def update_catalog(body: CatalogUpdateIn, request: Request, x_admin_key: str | None = Header(None),
                       authorization: str | None = Header(None)) -> dict:
        """Add, update and delete catalog items while serving (admin key only); every worker applies the change
        within a second. The whole update is refused (422, nothing stored) if any row is invalid or any id unknown."""
        if not admins:
            raise ApiError(403, "catalog updates are disabled; set CONVREC_ADMIN_KEYS to enable them",
                           "permission_error")
        given = x_admin_key or (authorization[7:].strip() if authorization and
                                authorization[:7].lower() == "bearer " else None)
        if not given:
            raise ApiError(401, "missing admin key; send 'X-Admin-Key: <key>'", "authentication_error")
        address = request.client.host if request.client else "local"
        per_minute = settings.auth_failures_per_minute
        if per_minute > 0 and svc.store.take("auth:" + address, per_minute, per_minute, cost=0) > 0:
            raise ApiError(429, f"too many failed authentications from {address}", "rate_limit_exceeded")
        if not any(hmac.compare_digest(k.encode(), given.encode()) for k in admins):
            if per_minute > 0:
                svc.store.take("auth:" + address, per_minute, per_minute)
            raise ApiError(401, "invalid admin key; use one of the keys in CONVREC_ADMIN_KEYS", "authentication_error")
        return svc.update_catalog(body.upsert, body.delete)

    add_openai_routes(app, svc, caller)
    return app


def app_from_env() -> FastAPI:
    """The app of one `convrec serve --workers N` worker: settings from the CONVREC_* environment that serve()
    exported (uvicorn starts each worker as a fresh process and calls this factory)."""
    return create_app(Settings.from_env())


def _export(settings: Settings) -> None:
    """Put every setting into the CONVREC_* environment, so worker processes rebuild exactly these settings."""
    for name, value in settings.to_dict().items():
        if name == "extra":
            continue
        text = "" if value is None else ",".join(value) if isinstance(value, (tuple, list)) else str(value)
        os.environ["CONVREC_" + name.upper()] = text


def serve(settings: Settings) -> int:
    """Run the API with uvicorn until interrupted (`convrec serve`); settings.workers > 1 runs that many
    processes on one port (uvicorn's supervisor restarts a worker that dies)."""
    import uvicorn

    if not settings.api_keys and not is_loopback(settings.host):
        raise ValueError(f"refusing to serve on {settings.host} without API keys: set CONVREC_API_KEYS=key1,key2 "
                         "or bind to 127.0.0.1 (--host 127.0.0.1)")
    if settings.workers > 1 and not settings.sessions_url:
        print(f"note: {settings.workers} workers share the SQLite file {settings.sessions_db}; for more than a few "
              "workers, or several hosts, set CONVREC_SESSIONS_URL=postgresql://...", flush=True)
    if settings.workers > 1:
        open_store(settings.sessions_url, settings.sessions_db).close()  # an unreachable store fails here, once
    print(f"convrec API on http://{settings.host}:{settings.port} (docs: /docs, OpenAI base URL: /v1, "
          f"{max(1, settings.workers)} worker(s))", flush=True)
    if settings.workers > 1:
        _export(settings)
        # health pings wait up to 30 s: a worker busy with turns on a small machine is slow, not dead
        uvicorn.run("ui.api:app_from_env", factory=True, workers=settings.workers, host=settings.host,
                    port=settings.port, log_level="warning", timeout_keep_alive=30, timeout_worker_healthcheck=30)
        return 0
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", timeout_keep_alive=30)
    return 0
