"""The OpenAI-compatible backend against real servers: `transformers serve` on the converted local
Gemma (a real OpenAI-compatible server), a port with nothing listening, and a socket that never answers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from agent.backends import make_llm
from agent.config import Settings
from agent.llm import LLMUnavailable, Message, ToolCall
from agent.llm_openai import OpenAICompatibleLLM, from_langchain, to_langchain
from tests.conftest import venv_command

# The base model has no chat template, and /v1/chat/completions needs one: the served folder links the
# converted weights and adds a plain transcript template (the same shape LocalLLM renders).
TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
            "{% elif m['role'] == 'user' %}Shopper: {{ m['content'] }}\n{% else %}Assistant: {{ m['content'] }}\n"
            "{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`transformers serve` on the converted local model; yields its /v1 base URL."""
    exe = venv_command("transformers")
    if exe is None:
        pytest.skip("the `transformers` CLI is not on PATH (pip install 'transformers[serving]')")
    from training.gemma import convert

    model_dir = Settings.from_env().resolved_local_model_dir
    convert(model_dir)  # once per machine; minutes the first time
    folder = tmp_path_factory.mktemp("served")
    for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"):
        if (model_dir / name).exists():
            (folder / name).symlink_to(model_dir / name)
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": TEMPLATE}))
    port = free_port()
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([exe, "serve", str(folder), "--host", "127.0.0.1",
                             "--port", str(port), "--device", "cpu"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300  # a loaded 2-core machine needs a minute or more to load torch + weights
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited: {(folder / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("transformers serve did not become ready in 300 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.slow
def test_completion_from_a_real_openai_compatible_server(served_model: str) -> None:
    llm = make_llm(Settings(llm_backend="openai", llm_base_url=served_model, llm_model="", llm_timeout_s=240))
    assert isinstance(llm, OpenAICompatibleLLM)
    reply = llm.chat([Message("system", "You help shoppers choose tools."),
                      Message("user", "I need a drill for concrete walls.")], max_tokens=12)
    assert reply.role == "assistant" and reply.content.strip()
    assert reply.tool_calls == ()
    assert llm.model() == httpx.get(f"{served_model}/models").json()["data"][0]["id"]  # discovered
    assert llm.name.startswith("openai:")


@pytest.mark.slow
def test_streaming_from_a_real_server(served_model: str) -> None:
    llm = OpenAICompatibleLLM(served_model, timeout_s=240, retries=0)
    chunks = list(llm.stream([Message("user", "Recommend a glue for wood.")], max_tokens=8))
    assert chunks and all(isinstance(c, str) for c in chunks)
    assert "".join(chunks).strip()


def test_dead_server_fails_fast_with_a_clear_message() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    llm = OpenAICompatibleLLM(url, model="any", timeout_s=5, retries=1)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as err:
        llm.chat([Message("user", "hello")])
    assert time.monotonic() - started < 10
    assert url in str(err.value) and "CONVREC_LLM_BACKEND" in str(err.value)


def test_model_discovery_on_a_dead_server_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailable, match="127.0.0.1"):
        OpenAICompatibleLLM(url, model="", timeout_s=2).model()


def test_a_server_that_never_answers_times_out() -> None:
    # A real listening socket that accepts and then stays silent, as a hung server does.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    try:
        llm = OpenAICompatibleLLM(url, model="m", timeout_s=1.0, retries=0)
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="timed out"):
            llm.chat([Message("user", "hello")])
        assert time.monotonic() - started < 6
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


class _ToolCallingServer(BaseHTTPRequestHandler):
    """A tiny real HTTP server answering /chat/completions with one fixed tool call. No tool-calling
    model runs on this CPU machine (vLLM needs a GPU), so this checks our request and parsing only."""

    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        payload = {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                       "role": "assistant", "content": None, "tool_calls": [{
                           "id": "call_7", "type": "function",
                           "function": {"name": "search_catalog", "arguments": '{"query": "drill", "max_price": 80}'}}]}}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_tools_are_sent_and_tool_calls_parsed() -> None:
    from langchain_core.tools import tool

    @tool(parse_docstring=True)
    def search_catalog(query: str, max_price: float | None = None) -> str:
        """Search the catalog.

        Args:
            query: What the shopper wants.
            max_price: Price ceiling in USD.
        """
        return query

    server = ThreadingHTTPServer(("127.0.0.1", 0), _ToolCallingServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        llm = OpenAICompatibleLLM(f"http://127.0.0.1:{server.server_port}/v1", model="tool-model", timeout_s=5)
        history = [Message("user", "a drill under $80"),
                   Message("assistant", "", tool_calls=(ToolCall("call_1", "search_catalog", {"query": "x"}),)),
                   Message("tool", "3 items found", tool_call_id="call_1")]
        reply = llm.chat(history, tools=[search_catalog], max_tokens=64)
    finally:
        server.shutdown()
    sent = _ToolCallingServer.requests[-1]
    assert [t["function"]["name"] for t in sent["tools"]] == ["search_catalog"]
    assert sent["messages"][1]["tool_calls"][0]["id"] == "call_1"
    assert sent["messages"][2] == {"role": "tool", "content": "3 items found", "tool_call_id": "call_1"}
    assert reply.tool_calls == (ToolCall("call_7", "search_catalog", {"query": "drill", "max_price": 80}),)


def test_message_conversion_round_trips_tool_calls() -> None:
    original = Message("assistant", "checking", tool_calls=(ToolCall("c9", "filter", {"brand": "Acme"}),))
    converted = to_langchain([original])[0]
    assert from_langchain(converted) == original


def test_make_llm_choices() -> None:
    assert make_llm(Settings(llm_backend="none")) is None
    with pytest.raises(ValueError, match="CONVREC_LLM_BACKEND"):
        make_llm(Settings(llm_backend="gpt-9"))
