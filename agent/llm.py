"""LLM backends behind one interface, `LLM`, that declares every capability the agent uses.

Backends: an OpenAI-compatible server (vLLM in production), the embedded local transformers model (Gemma 3 270M
base; `LocalLLM` in agent/local_model.py), and `ScriptedLLM`, which replays queued replies (tests, recorded
tool-calling sessions). `make_llm(settings)` picks one. Each backend states what it can do (`supports_tools`,
`supports_batch`, `tuned`) so no caller sniffs attributes. Heavy imports (langchain, torch) happen only when a
backend is built.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Protocol, Sequence


class LLMUnavailable(RuntimeError):
    """The language model cannot answer (server down, timeout, not installed); callers fall back to templates."""


@dataclass(frozen=True)
class ToolCall:
    """A tool call requested by the model."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One chat message in the OpenAI shape."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # for role="tool": which call this answers


class LLM(Protocol):
    """What the agent needs from a language model, capabilities included."""

    name: str
    supports_tools: bool  # native tool calling (agentic mode needs it)
    supports_batch: bool  # complete_batch on raw prompts (the embedded model: reasons of all picks in one batch)
    tuned: bool  # trained on convrec's prompt formats (training/lora_format.py)

    def chat(self, messages: Sequence[Message], tools: Sequence[Any] | None = None,
             max_tokens: int = 256) -> Message:
        """One completion; raises LLMUnavailable when the model cannot answer."""
        ...

    def complete_batch(self, prompts: Sequence[str], max_tokens: int = 40, task: str | None = None) -> list[str]:
        """Greedy continuations of raw prompts, one line each; LLMUnavailable when the backend has no batch mode."""
        ...

    def stream(self, messages: Sequence[Message], max_tokens: int = 256) -> Iterator[str]:
        """The chat reply in text chunks as it is produced."""
        ...

    def warm_up(self) -> float:
        """Load or connect now rather than on the first message; returns seconds taken."""
        ...


class BaseLLM:
    """Defaults for the capabilities a backend lacks: no tools, no batch mode, not tuned, streaming in one chunk."""

    name: str = "llm"
    supports_tools: bool = False
    supports_batch: bool = False
    tuned: bool = False

    def chat(self, messages: Sequence[Message], tools: Sequence[Any] | None = None,
             max_tokens: int = 256) -> Message:
        """One completion (each backend implements it)."""
        raise NotImplementedError

    def complete_batch(self, prompts: Sequence[str], max_tokens: int = 40, task: str | None = None) -> list[str]:
        """Not offered by chat-only backends: say so the way an outage is said, so callers fall back."""
        raise LLMUnavailable(f"{self.name} does not complete raw prompts")

    def stream(self, messages: Sequence[Message], max_tokens: int = 256) -> Iterator[str]:
        """The whole reply as one chunk."""
        yield self.chat(messages, max_tokens=max_tokens).content

    def warm_up(self) -> float:
        """Nothing to load."""
        return 0.0


@dataclass
class ScriptedLLM(BaseLLM):
    """Replays queued replies in order and records what it was asked (tests, recorded sessions)."""

    replies: deque[Message] = field(default_factory=deque)
    name: str = "scripted"
    supports_tools: bool = True
    calls: list[list[Message]] = field(default_factory=list)

    @classmethod
    def of(cls, replies: Iterable[Message | str], supports_tools: bool = True) -> "ScriptedLLM":
        """A scripted model from messages or plain assistant texts."""
        queue = deque(r if isinstance(r, Message) else Message("assistant", r) for r in replies)
        return cls(replies=queue, supports_tools=supports_tools)

    def chat(self, messages: Sequence[Message], tools: Sequence[Any] | None = None,
             max_tokens: int = 256) -> Message:
        """Pop the next queued reply; an empty queue behaves like a dead server."""
        self.calls.append(list(messages))
        if not self.replies:
            raise LLMUnavailable("scripted LLM has no reply left")
        return self.replies.popleft()
