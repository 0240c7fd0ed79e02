"""Choosing the language model backend the settings name."""

from __future__ import annotations

from agent.config import Settings
from agent.llm import LLM
from agent.llm_openai import OpenAICompatibleLLM
from agent.local_model import LocalLLM


def make_llm(settings: Settings) -> LLM | None:
    """The backend the settings name: "openai", "local" (embedded Gemma), or "none" (template wording only)."""
    backend = settings.llm_backend.strip().lower()
    if backend == "none":
        return None
    if backend == "openai":
        return OpenAICompatibleLLM.from_settings(settings)
    if backend == "local":
        return LocalLLM.from_settings(settings)
    raise ValueError(f"unknown llm_backend {settings.llm_backend!r}; set CONVREC_LLM_BACKEND to local, openai or none")
