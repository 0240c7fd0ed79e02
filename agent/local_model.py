"""The embedded local model as an `LLM`: Gemma 3 270M (base) on the CPU, with the shipped LoRA adapter merged in.

Conversion, loading and batched decoding live with the model in training/gemma.py; the adapter is found through
the artifact registry (training/artifacts.py). This module only adapts them to the agent's `LLM` interface.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from agent.config import Settings
from agent.llm import BaseLLM, LLMUnavailable, Message
from agent.prompts import FEW_SHOT
from training.artifacts import find
from training.gemma import ANSWER_TOKENS, LocalModelMissing, generate_batch, load

BASE_MODEL = "gemma-3-270m"


def default_adapter(use_adapter: bool) -> Path | None:
    """The shipped LoRA adapter folder when enabled and present, else None (base model)."""
    shipped = find("lora", base=BASE_MODEL)
    return shipped.folder if use_adapter and shipped is not None and shipped.present() else None


ROLE_NAMES = {"user": "Shopper", "assistant": "Assistant", "tool": "Tool result", "system": ""}
MAX_PROMPT_TOKENS = 1_024  # CPU prefill cost grows with the prompt; older turns are dropped first


class LocalLLM(BaseLLM):
    """The embedded Gemma 3 270M base model on CPU: plain-text prompts, greedy, short; no tool calling."""

    supports_tools = False  # a 270M base model cannot produce reliable tool calls: the agent runs guided
    supports_batch = True  # the picks' reasons decode together in one batch

    def __init__(self, model_dir: Path, adapter: Path | None = None, few_shot: str = FEW_SHOT,
                 half: bool = True):
        self.model_dir = Path(model_dir).expanduser()
        self.adapter = adapter
        self.half = half
        self.few_shot = few_shot
        self.name = "local:gemma-3-270m" + ("+lora" if adapter else "")
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()  # one generate at a time: two CPU cores gain nothing from more

    @classmethod
    def from_settings(cls, settings: Settings) -> "LocalLLM":
        """Built from resolved_local_model_dir and local_adapter (the shipped LoRA, when present)."""
        return cls(settings.resolved_local_model_dir, default_adapter(settings.local_adapter),
                   half=settings.local_bf16)

    def warm_up(self) -> float:
        """Load (converting on first use) now rather than on the first message; returns seconds taken."""
        started = time.perf_counter()
        self._ensure_loaded()
        return time.perf_counter() - started

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                try:
                    self._model, self._tokenizer = load(self.model_dir, self.adapter, self.half)
                except (LocalModelMissing, OSError, ValueError) as exc:
                    raise LLMUnavailable(
                        f"The local model could not be loaded from {self.model_dir} ({exc}). Delete that folder "
                        "to convert again, or set CONVREC_LLM_BACKEND=openai / none.") from exc

    def render(self, messages: Sequence[Any]) -> str:
        """Messages as a plain transcript ending in "Assistant:" (the base model has no chat template)."""
        system = "\n".join(m.content.strip() for m in messages if m.role == "system" and m.content.strip())
        lines = [f"{ROLE_NAMES[m.role]}: {' '.join(m.content.split())}" for m in messages if m.role != "system"]
        head = (system + "\n\n" if system else "") + self.few_shot
        return head + "\n".join(lines) + "\nAssistant:"

    def complete(self, prompt: str, max_tokens: int = 40, stop_at_newline: bool = True) -> str:
        """Greedy continuation of a raw prompt, cut at the first newline when asked."""
        import torch

        self._ensure_loaded()
        tok = self._tokenizer
        ids = tok(prompt, return_tensors="pt").input_ids
        if ids.shape[1] > MAX_PROMPT_TOKENS:  # keep the end: the question being answered is there
            ids = torch.cat([ids[:, :1], ids[:, -(MAX_PROMPT_TOKENS - 1):]], dim=1)
        # Newline tokens as end-of-sequence, not stop_strings=["\n"]: that scans the 262k vocabulary per call (3-8 s).
        extra = {"eos_token_id": self._stop_ids()} if stop_at_newline else {}
        with self._lock, torch.inference_mode():
            out = self._model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                                       do_sample=False, repetition_penalty=1.15,
                                       pad_token_id=tok.pad_token_id or tok.eos_token_id, **extra)
        text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        return text.split("\n")[0].strip() if stop_at_newline else text.strip()

    def complete_batch(self, prompts: Sequence[str], max_tokens: int = 40, task: str | None = None) -> list[str]:
        """Greedy answers to several raw prompts in one batch (the picks of a turn), each cut at its newline.

        `task` ("reason" / "extract"), with the tuned adapter: answers may use only the prompt's tokens and those
        the adapter's training answers used (answer_tokens.json): the same greedy answers, a third faster.
        """
        self._ensure_loaded()
        vocabulary = self._answer_tokens().get(task) if task else None
        with self._lock:
            return generate_batch(self._model, self._tokenizer, prompts, max_new_tokens=max_tokens,
                                  vocabulary=vocabulary)

    def _answer_tokens(self) -> dict[str, list[int]]:
        if not hasattr(self, "_answer_ids"):
            path = self.adapter / ANSWER_TOKENS if self.adapter else None
            self._answer_ids = json.loads(path.read_text()) if path and path.exists() else {}
        return self._answer_ids

    @property
    def tuned(self) -> bool:  # type: ignore[override]
        """Whether the LoRA adapter trained on convrec's prompt formats is loaded."""
        return self.adapter is not None

    def _stop_ids(self) -> list[int]:
        tok = self._tokenizer
        return [tok.eos_token_id] + [tok.encode(s, add_special_tokens=False)[0] for s in ("\n", "\n\n")]

    def chat(self, messages: Sequence[Message], tools: Sequence[Any] | None = None, max_tokens: int = 256) -> Message:
        """One assistant line for the conversation; tools are ignored (supports_tools is False)."""
        return Message("assistant", self.complete(self.render(messages), max_tokens=max_tokens))

    def stream(self, messages: Sequence[Any], max_tokens: int = 256) -> Iterator[str]:
        """The chat reply word by word as it is generated (for streaming UIs)."""
        import torch
        from transformers import TextIteratorStreamer

        self._ensure_loaded()
        tok = self._tokenizer
        ids = tok(self.render(messages), return_tensors="pt").input_ids[:, -MAX_PROMPT_TOKENS:]
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)

        def run() -> None:
            with self._lock, torch.inference_mode():
                self._model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                                     do_sample=False, repetition_penalty=1.15, streamer=streamer,
                                     eos_token_id=self._stop_ids(),
                                     pad_token_id=tok.pad_token_id or tok.eos_token_id)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        seen_newline = False
        for chunk in streamer:
            if seen_newline:
                continue  # drain the streamer so the worker can finish
            if "\n" in chunk:
                chunk, seen_newline = chunk.split("\n")[0], True
            if chunk:
                yield chunk
        worker.join()
