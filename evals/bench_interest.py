"""Interest-model benchmark: full-ranking leave-one-out on Amazon Scientific test, our model vs. four baselines,
overall and on two slices: cold items (few interactions) and cross-scene rows (next item in a new department).

    python -m evals.bench_interest [--data-dir DIR] [--quick]

Trains everything in this run (our model via `training.train.train`, the ID-only SASRec with the same loop),
prints progress to stderr and one JSON object as the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from evals.lib.interest_eval import (
    COLD_MAX,
    cold_rows,
    evaluate_all,
    latency,
    popularity_counts,
    scene_rows,
)
from evals.lib.record import emit
from retrieval.embed import shared_embedder
from training.data import item_text_vectors, load_amazon
from training.fit import net_scores
from training.fusion import FusionWeights
from training.interest import InterestModel
from training.knn import cooccurrence, default_grid, knn_scores, tune_knn
from training.train import TrainConfig, fit_sequence_model, train


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stated_category_scorer(model: InterestModel, data) -> callable:
    """Score with a stated preference per row: the test target's most specific category, as a shopper might say."""
    leaf = [data.items[t].category_path[-1] if data.items[t].category_path else "" for t in data.test.targets]
    unique = sorted(set(leaf))
    vecs = dict(zip(unique, shared_embedder().encode(unique)))
    row_of = {id(h): r for r, h in enumerate(data.test.histories)}  # rank_split passes these same list objects

    def scorer(hists: list[list[int]]) -> np.ndarray:
        base = model.score_histories(hists)
        stated = np.stack([vecs[leaf[row_of[id(h)]]] for h in hists])   # (b, 384)
        return base + model.stated_weight * model._cosine(stated)
    return scorer


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the last stdout line is the JSON result."""
    p = argparse.ArgumentParser(prog="python -m evals.bench_interest", description=__doc__)
    p.add_argument("--data-dir", type=Path, default=os.environ.get("CONVREC_DATA"))
    p.add_argument("--out-dir", type=Path, default=Path("var/bench/interest"), help="checkpoint trained here")
    p.add_argument("--cache-dir", type=Path, default=Path("var/cache/interest"), help="item text vectors")
    p.add_argument("--quick", action="store_true", help="2,000 users, few epochs: a smoke run, not a result")
    p.add_argument("--methods", default="all",
                   help="comma list of methods to run (popularity,item_knn,text_similarity,model,sasrec); default all")
    args = p.parse_args(argv)
    wanted = set(args.methods.split(",")) if args.methods != "all" else None

    def want(name: str) -> bool:
        return wanted is None or name in wanted
    t_start = time.perf_counter()
    data = load_amazon(args.data_dir, 2000 if args.quick else None)
    n = len(data.items)
    log(f"{n} items, {len(data.test)} test users")
    t = time.perf_counter()
    text = item_text_vectors(data.items, cache_dir=args.cache_dir)
    embed_s = time.perf_counter() - t
    log(f"item text vectors in {embed_s:.0f} s")
    config = TrainConfig(data_dir=data.data_dir, out_dir=args.out_dir, cache_dir=args.cache_dir,
                         max_epochs=3 if args.quick else TrainConfig.max_epochs)
    meta: dict = {}
    results: dict = {"all": {}, "cold": {}, "cross_scene": {}}
    # -- most popular: train + valid interaction counts (the test histories)
    pop = popularity_counts(data, n)
    slices = {"cold": cold_rows(data.test, pop), "cross_scene": scene_rows(data, data.test)}

    def measure(name: str, scorer) -> None:
        # rank right away and log, so a run cut short still reports every method finished so far
        r = evaluate_all({name: scorer}, data.test, slices)
        for part, by_method in results.items():
            by_method.update(r[part])
        log(f"{name:22s} " + " ".join(f"{k}={v:.4f}" for k, v in r["all"][name].items())
            + f" cold_r10={r['cold'][name]['recall_at_10']:.4f} cross_r10={r['cross_scene'][name]['recall_at_10']:.4f}")

    if want("popularity"):
        measure("popularity", lambda h: np.broadcast_to(pop.astype(np.float32), (len(h), n)))

    knn_p = None
    if want("item_knn") or want("model"):
        # -- co-occurrence kNN, tuned on valid with train-only statistics, tested with train + valid statistics
        t = time.perf_counter()
        knn_p, knn_valid = tune_knn(data.train_sequences(), data.valid, n, default_grid(), log=log)
        sim = cooccurrence(data.test.histories, n, knn_p)
        measure("item_knn", lambda h: knn_scores(sim, h, knn_p))
        meta["item_knn"] = {"params": knn_p.__dict__, "valid": knn_valid, "seconds": round(time.perf_counter() - t, 1)}

    # -- MiniLM text similarity: mean of the last 3 history items' vectors (no training)
    def text_sim(hists: list[list[int]]) -> np.ndarray:
        q = np.stack([text[h[-3:]].mean(axis=0) if h else np.zeros(text.shape[1], np.float32) for h in hists])
        return q @ text.T
    if want("text_similarity"):
        measure("text_similarity", text_sim)

    train_s = load_s = None
    model = None
    if want("model"):
        # -- ours: train exactly as `convrec train` does, then rank through the inference API
        t = time.perf_counter()
        ckpt = train(config, data, knn_params=knn_p)  # same grid, same split: reuse the tuned kNN
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        model = InterestModel.load(ckpt)
        load_s = time.perf_counter() - t
        measure("model", model.score_histories)
        # ablation: our sequence model alone, without the kNN, text and scene terms
        seq_only = InterestModel.load(ckpt)
        seq_only.fusion = FusionWeights()
        measure("model_sequence_only", seq_only.score_histories)

    if want("sasrec"):
        # -- ID-only SASRec (after ours, so a slow box still yields our checkpoint first): the same loop and settings as our sequence model, without text, without kNN
        t = time.perf_counter()
        # same schedule as ours (early stopping on valid, refit on train + valid); fit_sequence_model gives the
        # ID-only net RecBole's 0.02 position init, without which it stalled at popularity level
        _, sasrec = fit_sequence_model(replace(config, use_text=False, id_dropout=0.0), data, text)
        measure("sasrec", lambda h: net_scores(sasrec.net, h))
        meta["sasrec"] = {"best_epoch": _.best_epoch, "valid": _.best_valid, "seconds": round(time.perf_counter() - t, 1)}

    # ours, when the shopper also states the kind of product they want (simulated: the target's leaf category)
    if model is not None:
        measure("model_stated_category", stated_category_scorer(model, data))

    lat = latency(model, data) if model is not None else dict.fromkeys(
        ("p50_ms_score_1000", "p95_ms_score_1000", "p95_ms_score_1000_stated"))
    ckpt_mb = sum(f.stat().st_size for f in Path(ckpt).iterdir()) / 1e6 if model is not None else None
    cfg = json.loads((Path(ckpt) / "config.json").read_text()) if model is not None else {}
    out = {
        "benchmark": "interest", "dataset": "amazon2018-industrial-scientific (UniSRec 'Scientific')",
        "protocol": "leave-one-out test, full ranking over all items, history items excluded, ties pessimistic",
        "n_test": len(data.test), "quick": args.quick,
        **{f"{metric}": {name: round(m[metric], 4) for name, m in results["all"].items()}
           for metric in ("recall_at_10", "ndcg_at_10", "recall_at_20", "ndcg_at_20")},
        "cold_items": {"definition": f"test target with <= {COLD_MAX} train+valid interactions",
                       "n": int(slices["cold"].sum()),
                       **{metric: {name: round(m[metric], 4) for name, m in results["cold"].items()}
                          for metric in ("recall_at_10", "ndcg_at_10")}},
        "cross_scene": {"definition": "test target in a top-level department none of the history items is in",
                        "n": int(slices["cross_scene"].sum()),
                        **{metric: {name: round(m[metric], 4) for name, m in results["cross_scene"].items()}
                           for metric in ("recall_at_10", "ndcg_at_10")}},
        "cold_item_recall_at_10": {name: round(m["recall_at_10"], 4) for name, m in results["cold"].items()},
        "cross_scene_recall_at_10": {name: round(m["recall_at_10"], 4) for name, m in results["cross_scene"].items()},
        "train_seconds": train_s and round(train_s, 1), "checkpoint_mb": ckpt_mb and round(ckpt_mb, 2),
        "load_seconds": load_s and round(load_s, 2), "methods": args.methods,
        "p95_ms_score_1000": lat["p95_ms_score_1000"], "p50_ms_score_1000": lat["p50_ms_score_1000"],
        "p95_ms_score_1000_stated": lat["p95_ms_score_1000_stated"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "embed_items_seconds": round(embed_s, 1), "total_seconds": round(time.perf_counter() - t_start, 1),
        "model": {k: cfg.get(k) for k in ("best_epoch", "fusion", "knn", "net", "train_config")},
        "baselines": meta,
        "load_average_1m": round(os.getloadavg()[0], 2),  # other jobs on the box inflate p95 latency
    }
    emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
