"""The OpenAI-compatible part of the HTTP API: `/v1/models` and `/v1/chat/completions` (streaming too).

A bot platform that speaks the OpenAI protocol can use convrec as if it were a model: the reply is the
assistant content and the picks ride in an extra `convrec` field. Which session a request continues:
`X-Session-Id` or `user` when given (scoped to the API key: two keys using the same id never meet); a
request whose only message is the shopper's first starts over under a `user` id (X-Session-Id always
continues); otherwise a fingerprint of the earlier messages (a conversation we answered); a conversation
never seen starts a new session from its last few user messages. Errors have OpenAI's shape, with `param`
and `code`, and 400 for a bad request.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
import uuid
from typing import Any, Callable, Iterator

from fastapi import Depends, FastAPI, Header
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from agent import Session, Turn
from ui.inputs import check_unicode
from ui.service import HeldLock, Idempotency, InvalidInput, NotFound, ServiceError, SessionService
from ui.sessions import short
from ui.wire import pick_json

REPLAY_USER_MESSAGES = 3  # unknown conversation: its last user messages (and the replies between) rebuild a session
MODEL = "convrec"  # the one model this endpoint serves


def openai_error(message: str, kind: str, param: str | None, code: str | None) -> dict[str, Any]:
    """The body of an OpenAI-shaped error: {"message", "type", "param", "code"}."""
    return {"message": message, "type": kind, "param": param, "code": code}


class ModelNotFound(NotFound):
    """A `model` other than convrec."""

    code = "model_not_found"


class ChatMessage(BaseModel):
    """One OpenAI chat message; content may be a string or a list of text parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    """OpenAI stream_options: include_usage adds a last chunk with the token counts."""

    include_usage: bool = False


class ChatCompletionIn(BaseModel):
    """OpenAI /v1/chat/completions request; sampling fields are range-checked as OpenAI does, then ignored."""

    model: str = MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=128, description="continue (or create) the session with this id")
    n: int | None = Field(None, ge=1, le=1, description="convrec answers with one choice")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    model_config = {"extra": "allow"}


def add_openai_routes(app: FastAPI, svc: SessionService, caller: Callable[..., str]) -> None:
    """Mount /v1/models and /v1/chat/completions on the app, sharing its auth and session service."""

    model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "convrec"}

    @app.get("/v1/models", tags=["openai"])
    def models(owner: str = Depends(caller)) -> dict:
        """OpenAI-compatible model list: one model, `convrec`."""
        return {"object": "list", "data": [model]}

    @app.get("/v1/models/{model_id}", tags=["openai"])
    def get_model(model_id: str, owner: str = Depends(caller)) -> dict:
        """OpenAI-compatible model lookup."""
        if model_id != MODEL:
            raise ModelNotFound(f"the model {short(model_id)!r} does not exist", f"use model '{MODEL}'",
                                param="model")
        return model

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatCompletionIn, owner: str = Depends(caller),
                         x_session_id: str | None = Header(None), idempotency_key: str | None = Header(None)):
        """OpenAI-compatible chat; the reply is the assistant content, picks are in the `convrec` field."""
        return _chat_completion(svc, body, owner, x_session_id, idempotency_key)


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


def _chat_completion(svc: SessionService, body: ChatCompletionIn, owner: str, header_id: str | None,
                     idempotency_key: str | None):
    if body.model != MODEL:
        raise ModelNotFound(f"the model {short(body.model)!r} does not exist", f"use model '{MODEL}'", param="model")
    # system messages from the caller are ignored: the agent's own instructions are not negotiable
    convo = [(m.role, _content(m)) for m in body.messages if m.role in ("user", "assistant")]
    for i, (_, content) in enumerate(convo):
        try:
            check_unicode(content, f"messages[{i}].content")
        except ValueError as e:
            raise InvalidInput(str(e), param="messages") from None
    if not convo or convo[-1][0] != "user":
        raise InvalidInput("the last message must be a non-empty 'user' message", param="messages")
    text = svc.check_text(convo[-1][1])
    earlier = convo[:-1]
    caller_id = header_id or body.user
    sid = svc.scoped_id(caller_id, owner) if caller_id is not None else None
    starts_over = sid is not None and header_id is None and not earlier  # `user` with a first message only
    replay: list[tuple[str, str]] = []
    if sid is None and earlier:
        sid = svc.store.resolve_alias(_fingerprint(owner, earlier))
        if sid is None:  # a conversation we never saw (a colleague's, a bot's): rebuild it from its last messages
            replay = _tail(earlier)
    sid = sid or uuid.uuid4().hex
    shown_id = caller_id or sid
    cid, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
    usage = _usage(convo)
    finished: dict = {}

    def respond(turn: Turn) -> dict:
        content = _with_picks(turn)
        extra = {"session_id": shown_id, "picks": [pick_json(p) for p in turn.picks], "question": turn.question,
                 "act": turn.act, "handoff": turn.handoff}
        usage["completion_tokens"] = len(content.split())
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finished.update({"id": cid, "object": "chat.completion", "created": created, "model": MODEL,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                      "finish_reason": "stop"}], "usage": dict(usage), "convrec": extra})
        return finished

    # what was asked, not where it landed: a new conversation's session id is random on every attempt
    request = json.dumps([caller_id, convo, starts_over], ensure_ascii=False)
    idem = svc.idempotency(idempotency_key, "chat\0" + request, respond)
    lock = svc.locked(sid)
    try:
        done = svc.replayed(owner, idem)
        if done is not None:
            lock.release()
            return _replayed(done, body)
        if starts_over and svc.store.exists(sid):
            svc.delete(sid, owner)  # NotFound for another owner's id cannot happen: ids are scoped per key
        session = svc.load_or_new(sid, owner)
        for role, old in replay:  # the shopper's needs kept; what the other assistant named is what is on screen
            if role == "user":
                svc.agent.suggest(session, old[: svc.settings.max_message_chars])
            else:
                svc.agent.note_assistant(session, old)
    except BaseException:
        lock.release()
        raise

    def finish(turn: Turn) -> dict:
        svc.store.set_alias(_fingerprint(owner, convo + [("assistant", finished["choices"][0]["message"]["content"])]),
                            sid)
        return finished["convrec"]

    if not body.stream:
        with lock:
            turn = svc.reply(session, text, owner, idem)
            if not finished:  # without an Idempotency-Key the answer was not built for the store
                respond(turn)
            finish(turn)
        return JSONResponse(finished, headers={"X-Session-Id": shown_id})
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    turn_stream = _stream(svc, session, text, owner, lock, idem, lambda turn: finished or respond(turn), finish,
                          include_usage, {"id": cid, "created": created})
    return StreamingResponse(turn_stream, media_type="text/event-stream",
                             headers={"X-Session-Id": shown_id, "Cache-Control": "no-cache"})


def _tail(earlier: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The last REPLAY_USER_MESSAGES user messages of a conversation and the assistant messages after the first."""
    users = [i for i, (r, c) in enumerate(earlier) if r == "user" and c.strip()]
    start = users[-REPLAY_USER_MESSAGES] if len(users) >= REPLAY_USER_MESSAGES else (users[0] if users else len(earlier))
    return [(r, c) for r, c in earlier[start:] if c.strip()]


def _usage(convo: list[tuple[str, str]]) -> dict[str, int]:
    """Token counts in words (convrec has no tokenizer of the caller's model; words are a fair proxy)."""
    return {"prompt_tokens": sum(len(c.split()) for _, c in convo), "completion_tokens": 0, "total_tokens": 0}


def _replayed(done: dict, body: ChatCompletionIn):
    """The stored answer of an Idempotency-Key retry, in the shape the retry asked for."""
    headers = {"X-Session-Id": done["convrec"]["session_id"], "Idempotent-Replayed": "true"}
    if not body.stream:
        return JSONResponse(done, headers=headers)

    def events() -> Iterator[str]:
        base = {"id": done["id"], "object": "chat.completion.chunk", "created": done["created"], "model": MODEL}
        content = done["choices"][0]["message"]["content"]
        for delta, reason, extra in (({"role": "assistant", "content": ""}, None, {}), ({"content": content}, None, {}),
                                     ({}, "stop", {"convrec": done["convrec"]})):
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}], **extra}
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        if body.stream_options and body.stream_options.include_usage:
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': done['usage']})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _stream(svc: SessionService, session: Session, text: str, owner: str, lock: HeldLock, idem: Idempotency | None,
            respond: Callable[[Turn], dict], finish: Callable[[Turn], dict], include_usage: bool,
            meta: dict) -> Iterator[str]:
    """SSE chunks in the OpenAI shape. The turn runs in its own thread to the end (and is saved) even if the
    client disconnects, so a session never keeps half a turn or a held lock."""
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            with lock:
                final = None
                for part in svc.reply_stream(session, text, owner, idem):  # stored before the Turn comes
                    if isinstance(part, Turn):
                        final = part
                    else:
                        events.put(("text", part))
                assert final is not None, "reply_stream must end with the Turn"
                answer = respond(final)
                content = answer["choices"][0]["message"]["content"]
                # the chunks spelled final.text; only the appended pick list is still to send
                tail = content[len(final.text.rstrip()):] if content != final.text else ""
                events.put(("final", (tail, finish(final), answer)))
        except BaseException as e:  # reported to the client as an error event, then re-raised for the log
            events.put(("error", e))
            raise

    threading.Thread(target=work, daemon=True, name=f"turn-{session.session_id[:8]}").start()
    yield _chunk({"role": "assistant", "content": ""}, None, meta)
    while True:
        kind, value = events.get(timeout=600)
        if kind == "text":
            yield _chunk({"content": value}, None, meta)
        elif kind == "final":
            tail, extra, answer = value
            if tail:
                yield _chunk({"content": tail}, None, meta)
            yield _chunk({}, "stop", meta, convrec=extra)
            if include_usage:
                yield _chunk(None, None, meta, usage=answer["usage"])
            break
        else:
            if isinstance(value, ServiceError):
                error = openai_error(str(value), "invalid_request_error" if value.status < 500 else "server_error",
                                     value.param, value.code)
            else:
                error = openai_error(f"{type(value).__name__}: {value}", "server_error", None, "server_error")
            yield f"data: {json.dumps({'error': error}, ensure_ascii=False)}\n\n"
            break
    yield "data: [DONE]\n\n"


def _chunk(delta: dict | None, finish_reason: str | None, meta: dict, **extra) -> str:
    """One chat.completion.chunk event; delta None: the usage chunk (no choices)."""
    body = {"id": meta.get("id", ""), "object": "chat.completion.chunk", "created": meta.get("created", 0),
            "model": MODEL, "choices": [] if delta is None else
            [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
