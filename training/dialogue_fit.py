"""Fitting the conversation interest model (training/dialogue_interest.py) on ReDial train dialogues and MovieLens
ratings: signals from all train dialogues, mixing weights and the listwise re-ranker tuned by 2-fold
cross-fitting split by recommender, so nothing about the test dialogues is seen. `main` is `convrec train
--catalog redial`.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse

from retrieval.embed import Embedder
from retrieval.items import Item
from training.dialogue_interest import (FEATURES, DialogueInterest, DialogueRecord, ContextTurn, ExtraWeights,
                                        context_turns, item_years, movie_infos)
from training.dialogue_signals import ItemEmbedding, TurnMemory
from training.listwise import Reranker, fit_reranker, shortlist_features
from training.movies import SIGNALS, MixWeights, MovieInfo, _scaled, fit_movie_prior, movielens_cf

TUNE_TURNS = 1_500  # held-out train turns per fold for weight tuning (memory: turns x catalog x signals)
TUNE_KS = (1, 10, 50)  # tuning maximises the sum of these recalls: the first pick, the first page, the shortlist


def fit_dialogue_interest(items: Sequence[Item], vectors: np.ndarray, records: Sequence[DialogueRecord],
                          data_dir: Path | None, embed: Callable[[list[str]], np.ndarray], tune: bool = True,
                          seed: int = 0, log: Callable[[str], None] = print, rerank: bool = True) -> DialogueInterest:
    """Fit on `records` (train dialogues only); weights tuned by 2-fold cross-fitting over them."""
    started = time.perf_counter()
    infos = movie_infos(items)
    cf = movielens_cf(infos, data_dir) if data_dir else sparse.csr_matrix((len(items), len(items)), dtype=np.float32)
    years = item_years(items)
    rated = movielens_counts(infos, data_dir) if data_dir else np.zeros(len(items), np.float32)
    reranker = None
    meta: dict = {"train_dialogues": len(records), "cf_pairs": int(cf.nnz), "seed": seed,
                  "year_prior": year_prior(records, {it.item_id: y for it, y in zip(items, years)})}
    weights, extra = MixWeights(), ExtraWeights()
    embed = _cached(embed)
    if tune:
        rng = random.Random(seed)
        halves = split_halves(records, rng)
        meta["folds"] = "by recommender" if all(r.group for r in records) else "random"
        tuning: list[tuple[dict[str, np.ndarray], np.ndarray, list[int]]] = []
        known = {it.item_id for it in items}
        folds: list[tuple[DialogueInterest, list[ContextTurn]]] = []
        for fold in (0, 1):
            fold_meta = {"year_prior": year_prior(halves[1 - fold], {it.item_id: y for it, y in zip(items, years)})}
            model = DialogueInterest(fit_movie_prior(infos, _fit_input(halves[1 - fold]), cf=cf), vectors, years,
                                     fold_meta, None, rated, None, recommended_counts(halves[1 - fold], items),
                                     *learned_signals(halves[1 - fold], items, embed))
            every = [t for r in halves[fold] for t in context_turns(r, known)]
            folds.append((model, every))
            turns = rng.sample(every, min(TUNE_TURNS, len(every)))
            said_vecs = embed([t.said[:2000] or "movie" for t in turns])
            for turn, vec in zip(turns, said_vecs):
                sig = model.signals(turn.mentioned, turn.said, vec)
                mask = np.zeros(len(items), bool)
                mask[[model.index[m] for m in turn.mentioned if m in model.index]] = True
                tuning.append((sig, mask, [model.index[m] for m in turn.targets]))
            log(f"  tuning fold {fold}: {len(turns)} held-out train turns")
        weights, extra, score = tune_all(tuning)
        meta.update(tuned_recall_sum=round(score, 4), tuning_turns=len(tuning))
        del tuning  # the re-ranker reads every held-out turn's shortlist, not the full signals of a sample
        if rerank:
            lists = shortlists(folds, {**weights.as_dict(), **extra.as_dict()}, embed)
            reranker, info = train_reranker(lists, seed, log)
            meta.update(reranker=info, features=list(FEATURES))
    prior = fit_movie_prior(infos, _fit_input(records), cf=cf)
    prior.weights = weights
    meta.update(extra_weights=extra.as_dict(), fit_seconds=round(time.perf_counter() - started, 1))
    return DialogueInterest(prior, vectors, years, meta, None, rated, reranker, recommended_counts(records, items),
                            *learned_signals(records, items, embed))


def split_halves(records: Sequence[DialogueRecord], rng: random.Random) -> list[list[DialogueRecord]]:
    """Two halves for cross-fitting. When every record names its recommender, by recommender: the test split's
    recommenders never appear in train, and a recommender's favourites seen in both halves would make the signals
    that carry them (what follows what) look better than they are on new recommenders."""
    if records and all(r.group for r in records):
        return [[r for r in records if zlib.crc32(r.group.encode()) % 2 == half] for half in (0, 1)]
    shuffled = list(records)
    rng.shuffle(shuffled)
    return [shuffled[0::2], shuffled[1::2]]


def learned_signals(records: Sequence[DialogueRecord], items: Sequence[Item],
                    embed: Callable[[list[str]], np.ndarray]) -> tuple[ItemEmbedding, TurnMemory]:
    """The co-mention embedding and the memory of recommender turns, from `records` only."""
    pos = {it.item_id: i for i, it in enumerate(items)}
    mentions = [[pos[m] for _, _, ids in r.utterances for m in ids if m in pos] for r in records]
    turns = [(t.said, [pos[m] for m in t.targets]) for r in records for t in context_turns(r, set(pos))]
    return ItemEmbedding.fit(mentions, len(items)), TurnMemory.fit(turns, len(items), embed)


def _cached(embed: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """`embed` remembering texts already encoded (the folds and the final fit encode the same turns)."""
    memo: dict[str, np.ndarray] = {}

    def cached(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in memo]
        if new:
            memo.update(zip(new, np.asarray(embed(new), np.float32)))
        return np.stack([memo[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
    return cached


def recommended_counts(records: Iterable[DialogueRecord], items: Sequence[Item]) -> np.ndarray:
    """log(1 + times a recommender brought the movie up first in a dialogue), scaled to 0..1."""
    pos = {it.item_id: i for i, it in enumerate(items)}
    counts = np.zeros(len(items), np.float32)
    for r in records:
        seen: set[str] = set()
        for is_rec, _, ids in r.utterances:
            for m in ids:
                if is_rec and m not in seen and m in pos:
                    counts[pos[m]] += 1.0
                seen.add(m)
    return _scaled(np.log1p(counts))


def shortlists(folds: Sequence[tuple[DialogueInterest, Sequence[ContextTurn]]], weights: dict[str, float],
               embed: Callable[[list[str]], np.ndarray]) -> list[tuple[np.ndarray, list[int]]]:
    """Every held-out turn as (features of its linear shortlist, positions of its targets there): each fold's turns
    scored by the model fitted on the other fold, the linear mix with the tuned `weights`."""
    lists = []
    for model, turns in folds:
        said_vecs = embed([t.said[:2000] or "movie" for t in turns])
        for turn, vec in zip(turns, said_vecs):
            sig = model.signals(turn.mentioned, turn.said, vec)
            linear = sum(w * sig[name] for name, w in weights.items() if w and name in sig)
            mentioned = [model.index[m] for m in turn.mentioned if m in model.index]
            rows, _ = model.shortlist(sig, linear, mentioned, turn.said, len(mentioned))
            where = {int(r): n for n, r in enumerate(rows)}
            context = model.context_shape(sig, turn.said, len(mentioned))
            lists.append((shortlist_features(sig, FEATURES, linear, rows, context),
                          [where[model.index[m]] for m in turn.targets if model.index[m] in where]))
    return lists


def train_reranker(lists: list[tuple[np.ndarray, list[int]]], seed: int,
                   log: Callable[[str], None]) -> tuple[Reranker | None, dict]:
    """The listwise re-ranker on the held-out turns' shortlists; kept only when it beats the linear order on the
    held-out fifth of them (Recall@1 + @10 + @50)."""
    reranker, info = fit_reranker(lists, seed=seed, log=log)
    gain = sum(info["held_out_after"].values()) - sum(info["held_out_before"].values())
    info["kept"] = gain > 0
    return (reranker if gain > 0 else None), info


def year_prior(records: Iterable[DialogueRecord], years: dict[str, float]) -> dict[str, float]:
    """Release year -> how often recommenders brought up a movie of about that year (max 1; +-2 years smoothed)."""
    counts: dict[int, float] = {}
    for r in records:
        for is_rec, _, ids in r.utterances:
            for m in ids if is_rec else ():
                y = int(years.get(m, 0))
                if y:
                    counts[y] = counts.get(y, 0.0) + 1.0
    if not counts:
        return {}
    smooth = {y: sum(counts.get(y + d, 0.0) * (1.0 - abs(d) / 3) for d in range(-2, 3))
              for y in range(min(counts) - 2, max(counts) + 3)}
    top = max(smooth.values())
    return {str(y): round(v / top, 4) for y, v in smooth.items() if v > 0}


def movielens_counts(infos: Sequence[MovieInfo], data_dir: Path) -> np.ndarray:
    """log(1 + number of MovieLens ratings) per catalog movie (linked by IMDb id), scaled to 0..1."""
    import csv
    import gzip

    root = Path(data_dir) / "movielens-latest-small"
    if not (root / "links.csv.gz").exists():
        return np.zeros(len(infos), np.float32)
    by_imdb = {m.imdb_id: i for i, m in enumerate(infos) if m.imdb_id}
    with gzip.open(root / "links.csv.gz", "rt", newline="") as f:
        row_of = {row["movieId"]: by_imdb.get(f"tt{row['imdbId'].strip()}") for row in csv.DictReader(f)}
    counts = np.zeros(len(infos), np.float32)
    with gzip.open(root / "ratings.csv.gz", "rt", newline="") as f:
        for row in csv.DictReader(f):
            r = row_of.get(row["movieId"])
            if r is not None:
                counts[r] += 1.0
    return _scaled(np.log1p(counts))


def tune_all(turns: list[tuple[dict[str, np.ndarray], np.ndarray, list[int]]]) -> tuple[MixWeights, "ExtraWeights", float]:
    """Coordinate ascent over every weight (prior + extra) on held-out Recall@1 + Recall@10 + Recall@50."""
    names = [*SIGNALS, *ExtraWeights().as_dict()]
    grid = [0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
    n = len(turns[0][0]["popularity"])
    stacks = {s: np.stack([t[0].get(s, np.zeros(n, np.float32)) for t in turns]) for s in names}
    excluded = np.stack([t[1] for t in turns])
    targets = [t[2] for t in turns]
    best = {**MixWeights().as_dict(), **ExtraWeights().as_dict()}
    base = sum(best[s] * m for s, m in stacks.items())  # the current mix; a trial changes one weight of it
    best_score = _recall(base, excluded, targets)
    for _ in range(4):
        improved = False
        for name in names:
            for value in grid:
                if value == best[name]:
                    continue
                trial = base + (value - best[name]) * stacks[name]
                score = _recall(trial, excluded, targets)
                if score > best_score + 1e-9:
                    best, best_score, base, improved = {**best, name: value}, score, trial, True
        if not improved:
            break
    extra_names = set(ExtraWeights().as_dict())
    return (MixWeights(**{k: v for k, v in best.items() if k not in extra_names}),
            ExtraWeights(**{k: v for k, v in best.items() if k in extra_names}), best_score)


def _recall(scores: np.ndarray, excluded: np.ndarray, targets: list[list[int]]) -> float:
    scores = np.where(excluded, -np.inf, scores)
    turn_of = np.array([t for t, rows in enumerate(targets) for _ in rows])
    row_of = np.array([r for rows in targets for r in rows])
    if not len(row_of):
        return 0.0
    target_scores = scores[turn_of, row_of][:, None]
    ranks = (scores[turn_of] >= target_scores).sum(axis=1) - 1  # pessimistic ties
    return float(sum((ranks < k).mean() for k in TUNE_KS))


def _fit_input(records: Iterable[DialogueRecord]) -> list[list[tuple[bool, tuple[str, ...]]]]:
    return [[(is_rec, ids) for is_rec, _, ids in r.utterances] for r in records]


DEFAULT_OUT = Path("training/artifacts/redial-movies")


def main(argv: list[str], open_catalog: Callable[[Path | None], tuple[Sequence[Item], np.ndarray, Embedder]],
         load_records: Callable[[Path | None], list[DialogueRecord]], data_dir: Callable[[Path | None], Path]) -> int:
    """Fit and save the conversation interest model. The catalog and the dialogues are handed in by the CLI
    (training sits below the agent and the evals)."""
    import argparse

    parser = argparse.ArgumentParser(prog="convrec train --catalog redial",
                                     description="Fit the movie catalog's interest model on ReDial train dialogues "
                                                 "and MovieLens ratings (weights tuned on train dialogues only).")
    parser.add_argument("--data", type=Path, help="shared data folder (default: CONVREC_DATA_DIR)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-tune", action="store_true", help="default weights (seconds instead of minutes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    items, vectors, embedder = open_catalog(args.data)
    records = load_records(args.data)
    print(f"catalog: {len(items)} movies; {len(records)} train dialogues", flush=True)
    model = fit_dialogue_interest(items, vectors, records, data_dir(args.data), embedder.encode,
                                  tune=not args.no_tune, seed=args.seed)
    model.meta["catalog"] = "redial"
    path = model.save(args.out_dir)
    print(json.dumps({k: v for k, v in model.meta.items() if k != "item_ids"}), flush=True)
    print(f"saved {path}", flush=True)
    return 0
