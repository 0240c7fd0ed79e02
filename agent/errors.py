"""Errors the agent raises for bad input; `ui` maps them to HTTP 400 / a CLI message."""

from __future__ import annotations

from retrieval.store import UnknownItem


class AgentInputError(ValueError):
    """The shopper's message cannot be used (empty or too long); the message says what to do instead."""


__all__ = ["AgentInputError", "UnknownItem"]
