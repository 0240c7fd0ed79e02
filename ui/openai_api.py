"""The OpenAI-compatible part of the HTTP API: `/v1/models` and `/v1/chat/completions` (streaming too).

A bot platform that speaks the OpenAI protocol can use convrec as if it were a model: the reply is the
assistant content and the picks ride in an extra `convrec` field. Which session a request continues:
`X-Session-Id` or `user` when given; otherwise a fingerprint of the earlier messages (a conversation we
answered); a conversation never seen starts a new session from its last few user messages.
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
from ui.service import SESSION_ID, HeldLock, InvalidInput, ServiceError, SessionService
from ui.wire import pick_json

REPLAY_USER_MESSAGES = 3  # unknown conversation: earlier user messages replayed into a new session


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


def add_openai_routes(app: FastAPI, svc: SessionService, caller: Callable[..., str]) -> None:
    """Mount /v1/models and /v1/chat/completions on the app, sharing its auth and session service."""

    @app.get("/v1/models", tags=["openai"])
    def models(owner: str = Depends(caller)) -> dict:
        """OpenAI-compatible model list: one model, `convrec`."""
        return {"object": "list", "data": [{"id": "convrec", "object": "model", "created": 0, "owned_by": "convrec"}]}

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatCompletionIn, owner: str = Depends(caller),
                         x_session_id: str | None = Header(None)):
        """OpenAI-compatible chat; the reply is the assistant content, picks are in the `convrec` field."""
        return _chat_completion(svc, body, owner, x_session_id)


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


def _chat_completion(svc: SessionService, body: ChatCompletionIn, owner: str, header_id: str | None):
    # system messages from the caller are ignored: the agent's own instructions are not negotiable
    convo = [(m.role, _content(m)) for m in body.messages if m.role in ("user", "assistant")]
    if not convo or convo[-1][0] != "user":
        raise InvalidInput("the last message must be a non-empty 'user' message")
    text = svc.check_text(convo[-1][1])
    earlier = convo[:-1]
    sid = header_id or body.user
    if sid is not None and not SESSION_ID.match(sid):
        raise InvalidInput("session id (X-Session-Id or user) must be 1-128 letters, digits or _.:-")
    replay: list[str] = []
    if sid is None and earlier:
        sid = svc.store.resolve_alias(_fingerprint(owner, earlier))
        if sid is None:  # a conversation we never saw: rebuild its state from the shopper's last few messages
            replay = [c for r, c in earlier if r == "user" and c.strip()][-REPLAY_USER_MESSAGES:]
    sid = sid or uuid.uuid4().hex
    lock = svc.locked(sid)
    try:
        session = svc.load_or_new(sid, owner)
        for old in replay:
            svc.reply(session, old[: svc.settings.max_message_chars], owner)
    except BaseException:
        lock.release()
        raise
    cid, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())

    def finish(turn: Turn, content: str) -> dict:
        svc.store.set_alias(_fingerprint(owner, convo + [("assistant", content)]), sid)
        return {"session_id": sid, "picks": [pick_json(p) for p in turn.picks], "question": turn.question,
                "act": turn.act, "handoff": turn.handoff}

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


def _stream(svc: SessionService, session: Session, text: str, owner: str, lock: HeldLock, cid: str, created: int,
            model: str, finish) -> Iterator[str]:
    """SSE chunks in the OpenAI shape. The turn runs in its own thread to the end (and is saved) even if the
    client disconnects, so a session never keeps half a turn or a held lock."""
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            with lock:
                final = None
                for part in svc.reply_stream(session, text, owner):  # stored before the Turn comes
                    if isinstance(part, Turn):
                        final = part
                    else:
                        events.put(("text", part))
                assert final is not None, "reply_stream must end with the Turn"
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
            if isinstance(value, ServiceError):
                error = {"message": str(value), "type": value.code}
            else:
                error = {"message": f"{type(value).__name__}: {value}", "type": "server_error"}
            yield f"data: {json.dumps({'error': error})}\n\n"
            break
    yield "data: [DONE]\n\n"
