"""Shared pieces of the interest benchmark: ranking every method, the cold-item and cross-scene slices, latency."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from training.data import COLD_MAX, Interactions, Split, cross_scene_rows, item_scenes
from training.interest import InterestModel
from training.metrics import evaluate_ranks, rank_split


def popularity_counts(data: Interactions, n_items: int) -> np.ndarray:
    """(n_items,) interaction counts over train + valid (the test histories; never a test target)."""
    return np.bincount(np.concatenate([np.asarray(h) for h in data.test.histories]), minlength=n_items)


def cold_rows(split: Split, counts: np.ndarray, max_count: int = COLD_MAX) -> np.ndarray:
    """Boolean mask (len(split),) of rows whose target has at most `max_count` training interactions."""
    return counts[split.targets] <= max_count


def scene_rows(data: Interactions, split: Split) -> np.ndarray:
    """Boolean mask (len(split),): the target's department (scene) is one the row's history never touched."""
    scene, names = item_scenes(data.items)
    return cross_scene_rows(split, scene, len(names))


def evaluate_all(scorers: dict[str, Callable[[list[list[int]]], np.ndarray]], split: Split,
                 slices: dict[str, np.ndarray]) -> dict:
    """Recall/NDCG@10/20 of every scorer on `split`, overall ("all") and on each slice's rows (boolean masks)."""
    out: dict = {"all": {}, **{name: {} for name in slices}}
    for name, scorer in scorers.items():
        t = time.perf_counter()
        ranks = rank_split(scorer, split)
        out["all"][name] = evaluate_ranks(ranks)
        for slice_name, mask in slices.items():
            out[slice_name][name] = evaluate_ranks(ranks[mask])
        out["all"][name]["seconds"] = round(time.perf_counter() - t, 1)
    return out


def latency(model: InterestModel, data: Interactions, n_calls: int = 300, n_candidates: int = 1000,
            seed: int = 0) -> dict[str, float]:
    """Milliseconds per `model.score(history, 1,000 candidate ids)` call on real test histories, one at a time."""
    rng = np.random.default_rng(seed)
    ids = model.item_ids
    rows = rng.choice(len(data.test), size=n_calls, replace=len(data.test) < n_calls)
    stated = model._stated_vector("cordless, under $50")  # encoded once, as the agent's cache would
    timings: dict[str, list[float]] = {"plain": [], "stated": []}
    for kind in timings:
        for r in rows:
            history = [ids[i] for i in data.test.histories[r]]
            candidates = [ids[i] for i in rng.choice(len(ids), size=n_candidates, replace=False)]
            t = time.perf_counter()
            model.score(history, candidates, stated=stated if kind == "stated" else None)
            timings[kind].append((time.perf_counter() - t) * 1000)
    return {
        "p50_ms_score_1000": round(float(np.percentile(timings["plain"], 50)), 2),
        "p95_ms_score_1000": round(float(np.percentile(timings["plain"], 95)), 2),
        "p95_ms_score_1000_stated": round(float(np.percentile(timings["stated"], 95)), 2),
    }
