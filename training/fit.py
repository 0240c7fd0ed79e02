"""The training loop: mini-batches of sequences, full softmax, early stopping on valid NDCG@10."""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from training.data import Split
from training.metrics import evaluate_ranks, rank_split
from training.model import InterestNet, NetConfig, pad_batch


@dataclass
class FitResult:
    """The best weights and how we got there."""

    net: InterestNet
    best_epoch: int
    best_valid: dict[str, float]
    epochs_run: int
    seconds: float
    log: list[dict] = field(default_factory=list)


def net_scores(net: InterestNet, histories: list[list[int]], batch_size: int = 512) -> np.ndarray:
    """Logits (len(histories), n_items) of the net in eval mode."""
    net.eval()
    out = []
    with torch.no_grad():
        table = net.item_table()
        for start in range(0, len(histories), batch_size):
            seq = pad_batch(histories[start:start + batch_size], net.cfg.max_len)
            out.append((net.encode(seq, table)[:, -1] @ table[1:].T).numpy())
    return np.concatenate(out) if out else np.zeros((0, net.cfg.n_items), dtype=np.float32)


def fit(cfg: NetConfig, sequences: list[list[int]], valid: Split | None, text: torch.Tensor | None, *,
        epochs: int = 200, fixed_epochs: int | None = None, patience: int = 8, min_epochs: int = 0,
        batch_size: int = 128,
        lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0, max_steps: int | None = None,
        time_limit_s: float | None = None, log: Callable[[str], None] | None = None) -> FitResult:
    """Train on `sequences` (each predicts its items 2..L); early-stop on `valid` NDCG@10 unless `fixed_epochs`.

    `min_epochs`: never stop earlier (an ID-only model sits at popularity level for its first ~10 epochs).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = InterestNet(cfg, text)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    seqs = [s[-(cfg.max_len + 1):] for s in sequences if len(s) >= 2]
    # sort by length inside shuffled chunks so batches pad little but still vary from epoch to epoch
    best, best_epoch, best_valid, bad, step, history = None, 0, {}, 0, 0, []
    n_epochs = fixed_epochs or epochs
    t0 = time.perf_counter()
    epoch = 0
    for epoch in range(1, n_epochs + 1):
        net.train()
        order = rng.permutation(len(seqs))
        chunks = [sorted(order[i:i + batch_size * 16], key=lambda r: len(seqs[r]))
                  for i in range(0, len(order), batch_size * 16)]
        batches = [c[i:i + batch_size] for c in chunks for i in range(0, len(c), batch_size)]
        rng.shuffle(batches)
        losses = []
        for rows in batches:
            seq = pad_batch([seqs[r] for r in rows], cfg.max_len + 1)
            loss = net.loss(seq)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if max_steps and step >= max_steps:
                break
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - t0, 1)}
        if valid is not None and fixed_epochs is None:
            ranks = rank_split(lambda h: net_scores(net, h), valid)
            row.update(evaluate_ranks(ranks, (10,)))
            if row["ndcg_at_10"] > best_valid.get("ndcg_at_10", -1.0):
                best, best_epoch, best_valid, bad = copy.deepcopy(net.state_dict()), epoch, dict(row), 0
            else:
                bad += 1
        history.append(row)
        log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        out_of_time = time_limit_s is not None and time.perf_counter() - t0 > time_limit_s
        if (max_steps and step >= max_steps) or (bad >= patience and epoch >= min_epochs) or out_of_time:
            break
    if best is not None:
        net.load_state_dict(best)
    else:
        best_epoch = epoch
    net.eval()
    return FitResult(net, best_epoch, best_valid, epoch, time.perf_counter() - t0, history)
