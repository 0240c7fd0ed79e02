"""ReDial-style Recall@K: rank the movie catalog at every recommender turn that mentions a movie.

Protocol (BASELINES.md): context = earlier messages with `@id` replaced by titles; candidates = every catalog
movie; deduplicated: movies mentioned earlier (either side) are removed from candidates and targets, turns left
without a target are skipped; Recall averaged over (turn, target) pairs, ties pessimistic (training/metrics.py).
The non-deduplicated figure (older papers) keeps every mentioned movie as a candidate and every movie of the turn
as a target.

Scoring = the movie prior (training/movies.py, fitted on train dialogues only) + MiniLM text similarity from
the catalog index; with an agent, its `agent.rank` list is mixed in as one more signal (the agent's ranking
takes no domain prior yet, see evals/REPORT.md).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agent.catalog import open_catalog
from evals.lib.dialogues import Dialogue, RecTurn, TitleMatcher, inspired_dev, rec_turns, redial_test, redial_train
from retrieval.search import CatalogIndex
from training.metrics import rank_of, recall_at
from training.movies import MixWeights, MovieInfo, MoviePrior, fit_movie_prior, movielens_cf, tune_weights

KS = (1, 10, 50)
CONTEXT_MESSAGES = 3  # text signal: the last few messages carry the current request; older ones drift
TUNE_TURNS = 1_200  # held-out train turns per fold for weight tuning (memory: turns x catalog x signals)
AGENT_WEIGHT = 0.3  # weight of the agent's rank list (1/rank) in the mix; not tuned (agent calls are slow)


@dataclass
class RecallResult:
    """Recall@K over (turn, target) pairs for one protocol."""

    recall: dict[int, float]
    turns: int
    pairs: int
    ranks: list[int] = field(default_factory=list, repr=False)  # rank of each target, 0-based (for plots)

    def as_dict(self, suffix: str = "") -> dict[str, Any]:
        """Flat JSON fields: recall_at_1{suffix}, ..., turns, pairs."""
        out: dict[str, Any] = {f"recall_at_{k}{suffix}": round(v, 4) for k, v in self.recall.items()}
        out[f"turns{suffix}"] = self.turns
        out[f"pairs{suffix}"] = self.pairs
        return out


def movie_infos(index: CatalogIndex) -> list[MovieInfo]:
    """Prior inputs from catalog items (genres, directors, stars, IMDb id in the item attributes)."""
    out = []
    for item in index.items:
        attrs = item.attributes
        split = lambda key: tuple(p.strip() for p in attrs.get(key, "").split(",") if p.strip())  # noqa: E731
        out.append(MovieInfo(item.item_id, tuple(g.lower() for g in split("genre")),
                             split("director") + split("stars"), attrs.get("imdb_id", "")))
    return out


def fit_dialogues(dialogues: Sequence[Dialogue]) -> list[list[tuple[bool, tuple[str, ...]]]]:
    """Dialogues as the prior's fit input: (is recommender, movie ids) per utterance."""
    return [[(u.speaker == "recommender", u.movies) for u in d.utterances] for d in dialogues]


class MovieRanker:
    """Scores the whole catalog for a dialogue context: prior signals + text similarity (+ agent ranks)."""

    def __init__(self, index: CatalogIndex, prior: MoviePrior):
        assert prior.ids == [i.item_id for i in index.items], "prior rows must follow the index rows"
        self.index = index
        self.prior = prior

    def context_text(self, turn: RecTurn) -> str:
        """The text signal's query: the last few messages."""
        return " ".join(u.text for u in turn.context[-CONTEXT_MESSAGES:])

    def signal_batch(self, turns: Sequence[RecTurn]) -> list[dict[str, np.ndarray]]:
        """All signals for many turns (context texts embedded in one batch)."""
        vectors = self.index.embedder.encode([self.context_text(t)[:2000] or "movie" for t in turns])
        out = []
        for turn, vec in zip(turns, vectors):
            text = " ".join(u.text for u in turn.context)
            signals = self.prior.signals(turn.mentioned, text)
            signals["text"] = _rescaled(self.index.embeddings @ vec)
            rows = [self.index.position[m] for m in turn.mentioned if m in self.index.position]
            signals["mentioned_text"] = (_rescaled(self.index.embeddings @ self.index.embeddings[rows].mean(axis=0))
                                         if rows else np.zeros(len(self.index), np.float32))
            out.append(signals)
        return out

    def excluded(self, turn: RecTurn) -> np.ndarray:
        """Rows removed from the candidates under the deduplicated protocol."""
        mask = np.zeros(len(self.index), dtype=bool)
        mask[[self.index.position[m] for m in turn.mentioned if m in self.index.position]] = True
        return mask


def build_prior(index: CatalogIndex, data_dir: Path, tune: bool = True, seed: int = 0, log=print,
                weights_cache: Path | None = None) -> tuple[MoviePrior, dict[str, Any]]:
    """Fit the prior on all train dialogues; mixing weights tuned by 2-fold cross-fitting on train only.

    Tuning takes minutes on a busy 2-core machine; with `weights_cache` the tuned weights are saved and reused
    while the train data and catalog size are unchanged (delete the file or pass tune=True with no cache to redo).
    """
    started = time.perf_counter()
    movies = movie_infos(index)
    train = redial_train(data_dir)
    cf = movielens_cf(movies, data_dir)
    info: dict[str, Any] = {"train_dialogues": len(train), "cf_pairs": int(cf.nnz)}
    weights = MixWeights()
    key = {"train_dialogues": len(train), "catalog": len(movies), "tune_turns": TUNE_TURNS, "seed": seed}
    cached = json.loads(weights_cache.read_text()) if weights_cache and weights_cache.exists() else None
    if tune and cached and cached.get("key") == key:
        weights = MixWeights(**cached["weights"])
        info.update(tuned_recall_at_10=cached.get("tuned_recall_at_10"), weights_source=f"cached: {weights_cache}")
        tune = False
    elif tune:
        info["weights_source"] = "tuned in this run"
    if tune:
        rng = random.Random(seed)
        shuffled = train[:]
        rng.shuffle(shuffled)
        halves = [shuffled[0::2], shuffled[1::2]]
        tuning = []
        for fold in (0, 1):
            prior = fit_movie_prior(movies, fit_dialogues(halves[1 - fold]), cf=cf)
            ranker = MovieRanker(index, prior)
            known = set(prior.ids)
            turns = [t for d in halves[fold] for t in rec_turns(d, known) if t.targets]
            turns = rng.sample(turns, min(TUNE_TURNS, len(turns)))
            for turn, sig in zip(turns, ranker.signal_batch(turns)):
                tuning.append((sig, ranker.excluded(turn), [index.position[m] for m in turn.targets]))
            log(f"  tuning fold {fold}: {len(turns)} held-out train turns")
        weights, score = tune_weights(ranker.prior, tuning)
        info.update(tuned_recall_at_10=round(score, 4), tuning_turns=len(tuning))
        del tuning
        if weights_cache is not None:
            weights_cache.parent.mkdir(parents=True, exist_ok=True)
            weights_cache.write_text(json.dumps({"key": key, "weights": weights.as_dict(),
                                                 "tuned_recall_at_10": round(score, 4)}))
    prior = fit_movie_prior(movies, fit_dialogues(train), cf=cf)
    prior.weights = weights
    info.update(weights=weights.as_dict(), seconds=round(time.perf_counter() - started, 1))
    return prior, info


def agent_scores(agent: Any, turn: RecTurn, n: int, position: dict[str, int]) -> np.ndarray:
    """The agent's view through its public API: liked = earlier mentions, seeker's words via reply, then rank."""
    session = agent.new_session()
    for movie in turn.mentioned:
        try:
            agent.feedback(session, movie, "like")
        except KeyError:  # UnknownItem: a mention outside the catalog
            continue
    seeker = [u.text for u in turn.context if u.speaker == "seeker"][-CONTEXT_MESSAGES:]
    if seeker:
        agent.reply(session, " ".join(seeker)[: agent.settings.max_message_chars])
    vec = np.zeros(n, dtype=np.float32)
    for rank, hit in enumerate(agent.rank(session, k=50, exclude_ids=turn.mentioned)):
        if hit.item.item_id in position:
            vec[position[hit.item.item_id]] = 1.0 / (1.0 + rank)
    return vec


def evaluate(ranker: MovieRanker, dialogues: Sequence[Dialogue], agent: Any = None, batch: int = 256,
             log=print) -> dict[str, Any]:
    """Recall@1/10/50 deduplicated and not, over every recommender turn with a catalog movie."""
    started = time.perf_counter()
    known = set(ranker.prior.ids)
    turns = [t for d in dialogues for t in rec_turns(d, known)]
    dedup: list[int] = []
    nodedup: list[int] = []
    latencies: list[float] = []
    weights = ranker.prior.weights.as_dict() | {"agent": AGENT_WEIGHT}
    for start in range(0, len(turns), batch):
        chunk = turns[start:start + batch]
        t_batch = time.perf_counter()
        batch_signals = ranker.signal_batch(chunk)
        per_turn = (time.perf_counter() - t_batch) / len(chunk)  # embedding and signals, amortised per turn
        for turn, signals in zip(chunk, batch_signals):
            t0 = time.perf_counter()
            if agent is not None:
                signals["agent"] = agent_scores(agent, turn, len(ranker.index), ranker.index.position)
            scores = sum(weights.get(k, 0.0) * v for k, v in signals.items())
            latencies.append(per_turn + time.perf_counter() - t0)
            nodedup += [rank_of(scores, ranker.index.position[m]) for m in turn.targets_nodedup]
            if turn.targets:
                masked = np.where(ranker.excluded(turn), -np.inf, scores)
                dedup += [rank_of(masked, ranker.index.position[m]) for m in turn.targets]
        if log:
            log(f"  {min(start + batch, len(turns))}/{len(turns)} turns")
    n_dedup_turns = sum(1 for t in turns if t.targets)
    return {"dedup": _result(dedup, n_dedup_turns), "nodedup": _result(nodedup, len(turns)),
            "dialogues": len(dialogues), "seconds": round(time.perf_counter() - started, 1),
            "latency_ms_p50": round(1000 * float(np.percentile(latencies, 50)), 2) if latencies else 0.0,
            "latency_ms_p95": round(1000 * float(np.percentile(latencies, 95)), 2) if latencies else 0.0}


def _result(ranks: list[int], turns: int) -> RecallResult:
    recall = {k: recall_at(np.array(ranks), k) for k in KS}
    return RecallResult(recall, turns, len(ranks), ranks)


def _rescaled(cos: np.ndarray) -> np.ndarray:
    # Cosines sit in a narrow band; map mean..max to 0..1 so weights mean the same across contexts.
    cos = cos.astype(np.float32)
    lo, hi = float(cos.mean()), float(cos.max())
    return np.clip((cos - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(cos)


def open_redial_index(settings: Any) -> CatalogIndex:
    """The ReDial movie catalog (ingested into settings.chroma_dir on first use, ~6,583 movies)."""
    return open_catalog(replace(settings, collection="redial"))


def run_redial(settings: Any, limit: int | None = None, agent: Any = None, tune: bool = True,
               index: CatalogIndex | None = None, log=print, retune: bool = False) -> dict[str, Any]:
    """ReDial test (deduplicated and not) and INSPIRED dev through the same ranker; JSON-ready results."""
    started = time.perf_counter()
    data_dir = Path(settings.data_dir)
    index = index or open_redial_index(settings)
    log(f"ReDial: fitting the movie prior on train dialogues ({'tuning weights' if tune else 'default weights'})")
    cache = Path(settings.chroma_dir).parent / "movie_weights.json"  # var/evals/ by default, git-ignored
    if retune:
        cache.unlink(missing_ok=True)
    prior, prior_info = build_prior(index, data_dir, tune=tune, log=log, weights_cache=cache)
    ranker = MovieRanker(index, prior)
    test = redial_test(data_dir)[:limit] if limit else redial_test(data_dir)
    log(f"ReDial: ranking {len(test)} test dialogues")
    result = evaluate(ranker, test, agent=agent, log=log)
    out: dict[str, Any] = {**result["dedup"].as_dict(), **result["nodedup"].as_dict("_nodedup"),
                           "dialogues": result["dialogues"], "ranking_seconds": result["seconds"],
                           "latency_ms_p50": result["latency_ms_p50"], "latency_ms_p95": result["latency_ms_p95"],
                           "with_agent": agent is not None, "prior": prior_info,
                           "dedup_ranks": result["dedup"].ranks}
    try:
        matcher = TitleMatcher({i.item_id: i.title for i in index.items})
        dialogues, mapping = matcher.resolve(inspired_dev(data_dir))
        ins = evaluate(ranker, dialogues, agent=agent, log=None)
        out["inspired"] = {**ins["dedup"].as_dict(), **ins["nodedup"].as_dict("_nodedup"),
                           "dialogues": ins["dialogues"], "title_mapping": mapping}
    except FileNotFoundError as e:
        out["inspired"] = {"skipped": str(e)}
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out
