"""An OpenAI-compatible chat endpoint as an `LLM` (vLLM in production), through langchain_openai.ChatOpenAI."""

from __future__ import annotations

import threading
from typing import Any, Iterator, Sequence

from agent.config import Settings
from agent.llm import BaseLLM, LLMUnavailable, Message, ToolCall


class OpenAICompatibleLLM(BaseLLM):
    """Any OpenAI-compatible chat endpoint (vLLM in production) through langchain_openai.ChatOpenAI."""

    supports_tools = True  # vLLM needs --enable-auto-tool-choice and a --tool-call-parser for this

    def __init__(self, base_url: str, model: str = "", api_key: str = "EMPTY", timeout_s: float = 30.0,
                 retries: int = 1, temperature: float = 0.2):
        try:
            import langchain_openai  # noqa: F401  (fail early with the extra's name)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise LLMUnavailable("langchain-openai is not installed. Run: pip install langchain-openai") from exc
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or "EMPTY"
        self.timeout_s = timeout_s
        self.retries = retries
        self.temperature = temperature
        self._model = model
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "OpenAICompatibleLLM":
        """Built from llm_base_url, llm_model, llm_api_key, llm_timeout_s and llm_retries."""
        return cls(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                   settings.llm_timeout_s, settings.llm_retries)

    @property
    def name(self) -> str:
        """Backend name for describe(): "openai:<model>" once the model is known."""
        return f"openai:{self._model}" if self._model else "openai"

    def model(self) -> str:
        """The model name: configured, else the first one the server's /models lists (asked once)."""
        with self._lock:
            if not self._model:
                self._model = self._discover_model()
            return self._model

    def _discover_model(self) -> str:
        import httpx

        url = f"{self.base_url}/models"
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {self.api_key}"},
                                 timeout=min(self.timeout_s, 10.0))
            response.raise_for_status()
            models = [m["id"] for m in response.json().get("data", []) if m.get("id")]
        except (httpx.HTTPError, ValueError, KeyError, AttributeError) as exc:
            raise LLMUnavailable(self._down_message(exc)) from exc
        if not models:
            raise LLMUnavailable(f"The LLM server at {self.base_url} lists no models; set CONVREC_LLM_MODEL "
                                 "to the served model name")
        return models[0]

    def _client(self, max_tokens: int) -> Any:
        from langchain_openai import ChatOpenAI

        model = self.model()
        with self._lock:  # one client per max_tokens, reused: each keeps its own HTTP connection pool
            if max_tokens not in self._clients:
                self._clients[max_tokens] = ChatOpenAI(
                    model=model, base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s,
                    max_retries=self.retries, temperature=self.temperature, max_tokens=max_tokens,
                    use_responses_api=False)
            return self._clients[max_tokens]

    def chat(self, messages: Sequence[Message], tools: Sequence[Any] | None = None,
             max_tokens: int = 256) -> Message:
        """One completion; tools (LangChain tools, functions or OpenAI dicts) are bound when given."""
        client = self._client(max_tokens)
        if tools:
            client = client.bind_tools(list(tools))
        try:
            reply = client.invoke(to_langchain(messages))
        except Exception as exc:  # classified below: outages become LLMUnavailable, our bugs still raise
            if _is_outage(exc):
                raise LLMUnavailable(self._down_message(exc)) from exc
            raise
        return from_langchain(reply)

    def stream(self, messages: Sequence[Message], max_tokens: int = 256) -> Iterator[str]:
        """Text chunks of one completion as the server produces them (no tools)."""
        try:
            for chunk in self._client(max_tokens).stream(to_langchain(messages)):
                text = _text(chunk.content)
                if text:
                    yield text
        except Exception as exc:
            if _is_outage(exc):
                raise LLMUnavailable(self._down_message(exc)) from exc
            raise

    def _down_message(self, exc: BaseException) -> str:
        kind = "timed out" if "timeout" in type(exc).__name__.lower() else "failed"
        return (f"The LLM server at {self.base_url} {kind} ({type(exc).__name__}: {str(exc)[:200]}). "
                "Start it (e.g. `vllm serve <model> --enable-auto-tool-choice --tool-call-parser <parser>`), "
                "fix CONVREC_LLM_BASE_URL, or set CONVREC_LLM_BACKEND=local or none; replies use templates meanwhile.")


def _is_outage(exc: BaseException) -> bool:
    """Connection errors, timeouts and server-side API errors: the model cannot answer now."""
    import httpx
    import openai

    return isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, openai.APIStatusError,
                            httpx.TransportError, ConnectionError, TimeoutError))


def to_langchain(messages: Sequence[Message]) -> list[Any]:
    """Our messages as LangChain messages, tool calls and tool results included."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    out: list[Any] = []
    for m in messages:
        if m.role == "system":
            out.append(SystemMessage(m.content))
        elif m.role == "user":
            out.append(HumanMessage(m.content))
        elif m.role == "assistant":
            calls = [{"name": c.name, "args": dict(c.arguments), "id": c.id, "type": "tool_call"}
                     for c in m.tool_calls]
            out.append(AIMessage(m.content, tool_calls=calls))
        elif m.role == "tool":
            out.append(ToolMessage(m.content, tool_call_id=m.tool_call_id or ""))
        else:
            raise ValueError(f"unknown message role {m.role!r}")
    return out


def from_langchain(reply: Any) -> Message:
    """A LangChain AIMessage as our assistant Message (tool calls with parsed arguments)."""
    calls = tuple(ToolCall(id=c.get("id") or f"call_{n}", name=c["name"], arguments=dict(c.get("args") or {}))
                  for n, c in enumerate(getattr(reply, "tool_calls", None) or []))
    return Message("assistant", _text(reply.content), tool_calls=calls)


def _text(content: Any) -> str:
    """Plain text from string content or a list of content blocks."""
    if isinstance(content, str):
        return content
    parts = [b if isinstance(b, str) else b.get("text", "") for b in content or [] if isinstance(b, (str, dict))]
    return "".join(parts)


