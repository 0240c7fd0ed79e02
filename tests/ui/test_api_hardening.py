"""The review's findings against a real server: bad Unicode, invisible and absurd input, echoed ids, OpenAI
compatibility, caller-chosen ids per key, key HMACs, nosniff, turn cap and idle expiry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest

from retrieval.search import CatalogIndex
from tests.ui.test_api_sessions import AUTH, KEY, api_index, api_settings, catalog_dir, live_server  # noqa: F401
from ui.sessions import SessionStore

OTHER = {"X-API-Key": "other-key"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, api_index: CatalogIndex) -> Iterator[tuple[str, Path]]:
    """One server for the module and its SQLite file."""
    settings = api_settings(tmp_path_factory.mktemp("hard"))
    with live_server(settings, api_index) as url:
        yield url, settings.sessions_db


@pytest.fixture
def c(server: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], headers=AUTH, timeout=60) as client:
        yield client


@pytest.fixture
def sid(c: httpx.Client) -> str:
    return c.post("/v1/sessions").json()["session_id"]


def raw_json(c: httpx.Client, path: str, text: str, **headers: str) -> httpx.Response:
    """POST a body written by hand, so it can hold what json.dumps would not send (a lone surrogate)."""
    return c.post(path, content=text.encode(), headers={"Content-Type": "application/json", **headers})


def test_lone_surrogate_is_a_json_422_not_a_500(c: httpx.Client, sid: str) -> None:
    r = raw_json(c, f"/v1/sessions/{sid}/messages", '{"message": "drill \\ud800 x"}')
    assert r.status_code == 422 and "not valid Unicode" in r.json()["error"]["message"]
    body = '{"model": "convrec", "stream": true, "messages": [{"role": "user", "content": "drill \\ud800 x"}]}'
    streamed = raw_json(c, "/v1/chat/completions", body)
    assert streamed.status_code == 400 and streamed.json()["error"]["param"] == "messages"


@pytest.mark.parametrize("text", ["\x00", "\x00\x00 \x00", "\u200b\u200b", "\u200d\ufeff", "\u202e \u2060"])
def test_invisible_only_messages_are_refused(c: httpx.Client, sid: str, text: str) -> None:
    r = c.post(f"/v1/sessions/{sid}/messages", json={"message": text})
    assert r.status_code == 422 and "no visible characters" in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("text,says", [("a drill under $1e308", "exponent notation"),
                                       ("a drill under $" + "9" * 3000, "3000 digits"),
                                       ("a kettle for 123456789012345 dollars", "15 digits")])
def test_absurd_numbers_are_refused_with_a_reason(c: httpx.Client, sid: str, text: str, says: str) -> None:
    r = c.post(f"/v1/sessions/{sid}/messages", json={"message": text})
    assert r.status_code == 422 and says in r.json()["error"]["message"], r.text
    assert c.post(f"/v1/sessions/{sid}/messages", json={"message": "a drill under $1,000"}).status_code == 200


def test_echoed_ids_are_cut(c: httpx.Client, sid: str) -> None:
    huge = "x" * 200_000
    fb = c.post(f"/v1/sessions/{sid}/feedback", json={"item_id": huge, "kind": "like"})
    assert fb.status_code == 422 and len(fb.text) < 2_000
    gone = c.get("/v1/sessions/" + "y" * 5_000)
    assert gone.status_code == 404 and len(gone.text) < 1_000 and "(5000 characters)" in gone.text


def test_openai_errors_have_openai_shape(server: tuple[str, Path]) -> None:
    client = openai.OpenAI(base_url=f"{server[0]}/v1", api_key=KEY, max_retries=0, timeout=60)
    user = [{"role": "user", "content": "a kettle"}]
    with pytest.raises(openai.BadRequestError) as many:
        client.chat.completions.create(model="convrec", messages=user, n=3)
    assert many.value.body["param"] == "n" and many.value.body["code"]
    assert client.chat.completions.create(model="convrec", messages=user, n=1).choices
    explicit_null = httpx.post(f"{server[0]}/v1/chat/completions", headers=AUTH,
                               json={"model": "convrec", "messages": user, "n": None, "temperature": None})
    assert explicit_null.status_code == 200, explicit_null.text
    with pytest.raises(openai.BadRequestError) as hot:
        client.chat.completions.create(model="convrec", messages=user, temperature=5)
    assert hot.value.body["param"] == "temperature"
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=user)
    assert unknown.value.body["code"] == "model_not_found" and unknown.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as missing:
        client.chat.completions.create(model="convrec", messages=[])
    assert missing.value.body["param"] == "messages"
    assert client.models.retrieve("convrec").id == "convrec"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_stream_usage_chunk_on_request(server: tuple[str, Path]) -> None:
    client = openai.OpenAI(base_url=f"{server[0]}/v1", api_key=KEY, max_retries=0, timeout=60)
    chunks = list(client.chat.completions.create(model="convrec", stream=True, stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "an electric kettle"}]))
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert len({ch.id for ch in chunks}) == 1


def test_caller_chosen_ids_are_per_key(c: httpx.Client) -> None:
    """Key B's `user: customer-42` is B's own session: no 404 because A used it, no peek at A's turns."""
    def ask(headers: dict, text: str, **extra) -> httpx.Response:
        return c.post("/v1/chat/completions", headers=headers, json={
            "model": "convrec", "user": "customer-42", "messages": [{"role": "user", "content": text}], **extra})

    a = ask(AUTH, "an electric kettle")
    b = ask(OTHER, "a cordless drill")
    assert a.status_code == 200 and b.status_code == 200, b.text
    assert a.json()["convrec"]["session_id"] == b.json()["convrec"]["session_id"] == "customer-42"
    mine = c.get("/v1/sessions/customer-42", headers=OTHER).json()["turns"]
    assert [t["text"] for t in mine if t["role"] == "user"] == ["a cordless drill"]
    # no existence oracle: an id nobody used and an id another key used read the same
    assert c.get("/v1/sessions/never-used", headers=OTHER).status_code == 404
    third = {"X-API-Key": "third"}  # not a key: 401 before any lookup
    assert c.get("/v1/sessions/customer-42", headers=third).status_code == 401


def test_a_new_conversation_under_the_same_user_starts_over(c: httpx.Client) -> None:
    def ask(messages: list[dict], **headers) -> dict:
        r = c.post("/v1/chat/completions", headers=headers, json={
            "model": "convrec", "user": "crm-77", "messages": messages})
        assert r.status_code == 200, r.text
        return r.json()

    first = ask([{"role": "user", "content": "an electric kettle"}])
    ask([{"role": "user", "content": "an electric kettle"},
         {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
         {"role": "user", "content": "a glass one"}])
    ask([{"role": "user", "content": "a yoga mat"}])  # a new one-message conversation: a new session
    turns = c.get("/v1/sessions/crm-77").json()["turns"]
    assert [t["text"] for t in turns if t["role"] == "user"] == ["a yoga mat"]
    ask([{"role": "user", "content": "a thick one"}], **{"X-Session-Id": "crm-77"})  # the header continues
    assert len(c.get("/v1/sessions/crm-77").json()["turns"]) == 4


def test_keys_are_hmaced_and_headers_hardened(c: httpx.Client, server: tuple[str, Path], sid: str) -> None:
    owner = SessionStore(server[1]).owner(sid)
    assert owner and owner != hashlib.sha256(KEY.encode()).hexdigest()[:12] and KEY not in owner
    assert len(owner) == 32
    for r in (c.get(f"/v1/sessions/{sid}"), c.get("/v1/sessions/nope"), c.get("/health")):
        assert r.headers["x-content-type-options"] == "nosniff"
    assert (server[1].stat().st_mode & 0o777) == 0o600


def test_turn_cap(tmp_path: Path, api_index: CatalogIndex) -> None:
    """400 turns made a 1.7 MB row that GET returned whole: a session now has a turn cap."""
    with live_server(api_settings(tmp_path, max_session_turns=3), api_index) as url, \
            httpx.Client(base_url=url, headers=AUTH, timeout=60) as c:
        sid = c.post("/v1/sessions").json()["session_id"]
        for text in ("a kettle", "a glass one", "cheaper"):
            assert c.post(f"/v1/sessions/{sid}/messages", json={"message": text}).status_code == 200
        full = c.post(f"/v1/sessions/{sid}/messages", json={"message": "another"})
        assert full.status_code == 422 and full.json()["error"]["type"] == "session_full"
        assert "start a new session" in full.json()["error"]["message"]


def test_idle_sessions_expire(tmp_path: Path, api_index: CatalogIndex) -> None:
    settings = api_settings(tmp_path, session_idle_s=60.0)
    with live_server(settings, api_index) as url, httpx.Client(base_url=url, headers=AUTH, timeout=60) as c:
        sid = c.post("/v1/sessions").json()["session_id"]
        import sqlite3

        with sqlite3.connect(settings.sessions_db) as db:
            db.execute("UPDATE sessions SET updated = updated - 3600 WHERE session_id = ?", (sid,))
        r = c.post(f"/v1/sessions/{sid}/messages", json={"message": "a kettle"})
        assert r.status_code == 410 and r.json()["error"]["type"] == "session_expired"
        assert json.loads(r.text)["error"]["message"].endswith("start a new session (POST /v1/sessions)")


def test_openai_route_honours_idempotency_keys(c: httpx.Client) -> None:
    """A retried chat completion (plain or streamed) returns the stored answer; the turn is stored once."""
    body = {"model": "convrec", "user": "idem-user", "messages": [{"role": "user", "content": "a desk lamp"}]}
    first = c.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": "chat-1"})
    again = c.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": "chat-1"})
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    streamed = c.post("/v1/chat/completions", json={**body, "stream": True}, headers={"Idempotency-Key": "chat-1"})
    events = [json.loads(line[6:]) for line in streamed.text.splitlines()
              if line.startswith("data: {")]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]) == \
        first.json()["choices"][0]["message"]["content"]
    turns = c.get("/v1/sessions/idem-user").json()["turns"]
    assert [t["text"] for t in turns if t["role"] == "user"] == ["a desk lamp"]
    anonymous = {"model": "convrec", "messages": [{"role": "user", "content": "a yoga mat"}]}  # a new session each time
    one = c.post("/v1/chat/completions", json=anonymous, headers={"Idempotency-Key": "chat-2"})
    two = c.post("/v1/chat/completions", json=anonymous, headers={"Idempotency-Key": "chat-2"})
    assert two.status_code == 200 and two.json()["convrec"]["session_id"] == one.json()["convrec"]["session_id"]
