"""LLM backends behind one small interface: `chat(messages, tools) -> Message`.

Backends: an OpenAI-compatible server (vLLM in production), the embedded local transformers model,
and `ScriptedLLM`, which replays queued replies (tests, recorded tool-calling sessions).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Protocol, Sequence


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
    """What the agent needs from a language model."""

    name: str
    supports_tools: bool  # native tool calling (agentic mode needs it)

    def chat(self, messages: Sequence[Message], tools: Sequence[Any] | None = None,
             max_tokens: int = 256) -> Message:
        """One completion; raises LLMUnavailable when the model cannot answer."""
        ...


@dataclass
class ScriptedLLM:
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
