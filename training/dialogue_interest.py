"""The interest model of a catalog whose interaction data is conversations: who mentioned what, in which order.

Fitted by `convrec train --catalog redial` on ReDial *train* dialogues (co-mentions, what a recommender brought up
after what) and MovieLens ratings (item-item CF, linked by IMDb id), never on test dialogues. At run time it scores
every catalog item for a shopper from the items they liked or bought (most recent first), the items they rejected,
and what they said (genre words, people's names, the MiniLM vector of their words), through the same interface as
the sequence model (`training/interest.py`): `score_all`, `score`, `user_vector`.

The signals are the movie prior's (training/movies.py) plus three about the liked items themselves (their genres,
their release years, their text); the mixing weights are tuned by 2-fold cross-fitting on train dialogues, so
nothing about the test dialogues is seen.
"""

from __future__ import annotations

import json
import random
import re
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from scipy import sparse

from retrieval.embed import Embedder
from retrieval.items import Item
from training.dialogue_signals import ItemEmbedding, TurnMemory
from training.listwise import SHORTLIST, Reranker, fit_reranker, shortlist_features
from training.movies import (SIGNALS, MixWeights, MovieInfo, MoviePrior, _postings, _scaled, fit_movie_prior,
                             movielens_cf)

FORMAT = "convrec-dialogue-interest"
FORMAT_VERSION = 1
SAID_MESSAGES = 3  # the shopper's last few messages carry the current request; older ones drift
TUNE_TURNS = 1_500  # held-out train turns per fold for weight tuning (memory: turns x catalog x signals)
DISLIKED = -1e4
FEATURES = (*SIGNALS, "mentioned_genre", "mentioned_year", "rated", "year_prior", "recommended", "dense", "said_knn")
FEATURES_V1 = FEATURES[:-2]  # what a re-ranker saved before the co-mention embedding and the turn memory reads
TUNE_KS = (1, 10, 50)  # tuning maximises the sum of these recalls: the first pick, the first page, the shortlist
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True)
class DialogueRecord:
    """A training conversation: (speaker is the recommender, text, catalog ids mentioned) per message."""

    utterances: tuple[tuple[bool, str, tuple[str, ...]], ...]
    group: str = ""  # who recommended (a worker id): held-out folds never share one with the statistics


@dataclass(frozen=True)
class ContextTurn:
    """A recommender message that brings up new items, seen from just before it."""

    mentioned: tuple[str, ...]  # items mentioned earlier, either side, in order of first mention
    said: str  # the shopper's last messages
    targets: tuple[str, ...]  # items the message brings up that were not mentioned before


def context_turns(record: DialogueRecord, known: set[str]) -> Iterator[ContextTurn]:
    """Every recommender message with a new known item, with its context."""
    seen: dict[str, None] = {}
    said: list[str] = []
    for is_rec, text, ids in record.utterances:
        new = tuple(m for m in dict.fromkeys(ids) if m in known and m not in seen)
        if is_rec and new:
            yield ContextTurn(tuple(seen), " ".join(said[-SAID_MESSAGES:]), new)
        if not is_rec:
            said.append(text)
        for m in ids:
            seen.setdefault(m, None)


class DialogueInterest:
    """Scores over a catalog's rows (`item_ids`) from liked/bought/rejected items and the shopper's words."""

    def __init__(self, prior: MoviePrior, vectors: np.ndarray, years: np.ndarray, meta: dict,
                 embedder: Embedder | None = None, rated: np.ndarray | None = None,
                 reranker: Reranker | None = None, recommended: np.ndarray | None = None,
                 embedding: ItemEmbedding | None = None, memory: TurnMemory | None = None):
        self.prior, self.meta, self._embedder, self.reranker = prior, meta, embedder, reranker
        self.embedding, self.memory = embedding, memory
        n = len(prior.ids)
        self.rated = rated if rated is not None else np.zeros(n, np.float32)  # (n,) log ratings count, 0..1
        # (n,) log count of the times a recommender brought it up first (what recommenders reach for), 0..1
        self.recommended = recommended if recommended is not None else np.zeros(n, np.float32)
        table = {int(y): float(v) for y, v in meta.get("year_prior", {}).items()}
        self.year_prior = np.array([table.get(int(y), 0.0) for y in years], np.float32)
        self.item_ids = prior.ids
        self.index = prior.position
        self.item_text = np.asarray(vectors, dtype=np.float32)  # (n, 384) L2-normalised, rows = item_ids
        self.years = years  # (n,) release year, 0 when unknown
        self.popularity = prior.popularity
        self.extra = ExtraWeights(**meta.get("extra_weights", {}))
        self.features = tuple(meta.get("features", FEATURES_V1))  # the re-ranker's inputs, in its order

    # ------------------------------------------------------------------ scoring

    def signals(self, mentioned: Sequence[str], said: str, said_vec: np.ndarray | None) -> dict[str, np.ndarray]:
        """Every signal as an (n,) vector in 0..1 for this context."""
        out = self.prior.signals(mentioned, said)
        n = len(self.item_ids)
        out["rated"], out["year_prior"], out["recommended"] = self.rated, self.year_prior, self.recommended
        out["text"] = _rescaled(self.item_text @ said_vec) if said_vec is not None and said.strip() \
            else np.zeros(n, np.float32)
        rows = [self.index[m] for m in mentioned if m in self.index]
        out["dense"] = self.embedding.signal(rows) if self.embedding is not None else np.zeros(n, np.float32)
        out["said_knn"] = self.memory.signal(said, said_vec) if self.memory is not None else np.zeros(n, np.float32)
        if rows:
            out["mentioned_text"] = _rescaled(self.item_text @ self.item_text[rows].mean(axis=0))
            out["mentioned_genre"] = self._genre_overlap(rows)
            out["mentioned_year"] = self._year_closeness(rows)
        else:
            out["mentioned_text"] = out["mentioned_genre"] = out["mentioned_year"] = np.zeros(n, np.float32)
        return out

    def combine(self, signals: dict[str, np.ndarray]) -> np.ndarray:
        """The weighted sum of the signals (prior weights + the extra ones)."""
        total = self.prior.combine(signals)
        for name, w in self.extra.as_dict().items():
            if w and name in signals:
                total += w * signals[name]
        return total

    def score_all(self, history: Sequence[str], stated: str | np.ndarray | None = None,
                  liked: Sequence[str] = (), disliked: Sequence[str] = ()) -> np.ndarray:
        """(n,) scores, higher is better; history then liked items are the context (most recent last)."""
        said = stated if isinstance(stated, str) else ""
        vec = self._vector(stated)
        mentioned = [m for m in dict.fromkeys([*history, *liked]) if m in self.index]
        signals = self.signals(mentioned, said, vec)
        scores = self.combine(signals).astype(np.float64)
        bad = [self.index[m] for m in disliked if m in self.index]
        if self.reranker is not None:  # the network re-orders the linear mix's shortlist, which stays on top
            out = self.shortlist(signals, scores, [self.index[m] for m in mentioned] + bad, said, len(mentioned))
            rows, linear = out
            top = float(scores.max()) or 1.0
            scores = scores / top if top > 0 else scores
            r = self.reranker(shortlist_features(signals, self.features, linear, rows, self.context_shape(
                signals, said, len(mentioned))))
            scores[rows] = 2.0 + (r - r.min()) / (float(np.ptp(r)) + 1e-9)
        if bad:
            scores[bad] = DISLIKED
        return scores

    def shortlist(self, signals: dict[str, np.ndarray], linear: np.ndarray, excluded: list[int], said: str,
                  n_mentioned: int) -> tuple[np.ndarray, np.ndarray]:
        """The SHORTLIST best rows by the linear mix (excluded rows left out), best first, and the mix."""
        masked = linear.copy()
        masked[excluded] = -np.inf
        k = min(SHORTLIST, len(masked))
        rows = np.argpartition(-masked, k - 1)[:k]
        return rows[np.argsort(-masked[rows], kind="stable")], linear

    @staticmethod
    def context_shape(signals: dict[str, np.ndarray], said: str, n_mentioned: int) -> list[float]:
        """What the context holds: mentions, genre words, names, any words."""
        return [float(min(n_mentioned, 10)), float(signals["genre"].max() > 0), float(signals["person"].max() > 0),
                float(bool(said.strip()))]

    def score(self, history: Sequence[str], candidates: Sequence[str], stated: str | np.ndarray | None = None,
              liked: Sequence[str] = (), disliked: Sequence[str] = ()) -> np.ndarray:
        """Scores for `candidates` (ids the model lacks get -inf)."""
        full = self.score_all(history, stated, liked, disliked)
        return np.array([full[self.index[c]] if c in self.index else -np.inf for c in candidates])

    def user_vector(self, history: Sequence[str], stated: str | np.ndarray | None = None,
                    liked: Sequence[str] = (), disliked: Sequence[str] = ()) -> np.ndarray:
        """The score-weighted mean text vector of the 50 best items (context excluded), unit length."""
        scores = self.score_all(history, stated, liked, disliked)
        scores[[self.index[m] for m in [*history, *liked] if m in self.index]] = -np.inf
        top = np.argsort(-scores)[:50]
        w = np.exp(scores[top] - scores[top].max())
        vec = (w[:, None] * self.item_text[top]).sum(axis=0)
        return vec / max(float(np.linalg.norm(vec)), 1e-9)

    def most_popular(self, k: int = 10) -> list[tuple[str, float]]:
        """The k most mentioned items with their popularity (0..1)."""
        top = np.argsort(-self.popularity)[:k]
        return [(self.item_ids[i], float(self.popularity[i])) for i in top]

    def _genre_overlap(self, rows: list[int]) -> np.ndarray:
        vec = np.zeros(len(self.item_ids), np.float32)
        genres: dict[str, float] = {}
        for r in rows:
            for g in self.prior_genres[r]:
                genres[g] = genres.get(g, 0.0) + 1.0
        for g, c in genres.items():
            vec[self.prior.genre_rows.get(g, [])] += c
        return _scaled(vec)

    def _year_closeness(self, rows: list[int]) -> np.ndarray:
        known = [self.years[r] for r in rows if self.years[r] > 0]
        if not known:
            return np.zeros(len(self.item_ids), np.float32)
        gap = np.abs(self.years - float(np.median(known)))
        return np.where(self.years > 0, np.exp(-gap / 8.0), 0.0).astype(np.float32)

    @property
    def prior_genres(self) -> list[tuple[str, ...]]:
        if not hasattr(self, "_genres"):
            genres: list[list[str]] = [[] for _ in self.item_ids]
            for g, rows in self.prior.genre_rows.items():
                for r in rows:
                    genres[r].append(g)
            self._genres = [tuple(g) for g in genres]
        return self._genres

    def _vector(self, stated: str | np.ndarray | None) -> np.ndarray | None:
        if stated is None:
            return None
        if isinstance(stated, np.ndarray):
            return stated.astype(np.float32)
        if not stated.strip() or self._embedder is None:
            return None
        return self._embedder.encode_one(stated[:2000])

    # ------------------------------------------------------------------ files

    def save(self, folder: Path | str) -> Path:
        """config.json + arrays.npz (popularity and the three item-item matrices, float16 values)."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {"popularity": self.prior.popularity.astype(np.float32), "rated": self.rated.astype(np.float32),
                  "recommended": self.recommended.astype(np.float32)}
        for name in ("comention", "follow", "cf"):
            m: sparse.csr_matrix = getattr(self.prior, name).tocsr()
            arrays[f"{name}_data"] = m.data.astype(np.float16)
            arrays[f"{name}_indices"] = m.indices.astype(np.int32)
            arrays[f"{name}_indptr"] = m.indptr.astype(np.int64)
        if self.reranker is not None:
            arrays.update(self.reranker.arrays())
        if self.embedding is not None:
            arrays.update(dense_vectors=self.embedding.vectors.astype(np.float16), dense_known=self.embedding.known)
        if self.memory is not None:
            arrays.update(self.memory.arrays())
        np.savez_compressed(path / "arrays.npz", **arrays)
        meta = {**self.meta, "format": FORMAT, "format_version": FORMAT_VERSION, "item_ids": self.item_ids,
                "weights": self.prior.weights.as_dict(), "extra_weights": self.extra.as_dict()}
        (path / "config.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, folder: Path | str, items: Sequence[Item], vectors: np.ndarray,
             embedder: Embedder | None = None) -> "DialogueInterest":
        """Load onto a catalog's rows: `items` and their `vectors` in catalog order. Catalog items the model lacks
        get text and genre signals only; model items the catalog lacks are dropped."""
        path = Path(folder)
        meta = json.loads((path / "config.json").read_text())
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path} is format {meta.get('format')} v{meta.get('format_version')}; this code "
                             f"reads {FORMAT} v{FORMAT_VERSION}. Retrain: convrec train --catalog <name>")
        arrays = np.load(path / "arrays.npz")
        old_ids = list(meta["item_ids"])
        ids = [it.item_id for it in items]
        pos = {m: i for i, m in enumerate(ids)}
        remap = np.array([pos.get(m, -1) for m in old_ids])
        n = len(ids)
        pop = np.zeros(n, np.float32)
        keep = remap >= 0
        pop[remap[keep]] = arrays["popularity"][keep]
        rated = np.zeros(n, np.float32)
        rated[remap[keep]] = arrays["rated"][keep]
        recommended = np.zeros(n, np.float32)
        if "recommended" in arrays:
            recommended[remap[keep]] = arrays["recommended"][keep]
        mats = {}
        for name in ("comention", "follow", "cf"):
            m = sparse.csr_matrix((arrays[f"{name}_data"].astype(np.float32), arrays[f"{name}_indices"],
                                   arrays[f"{name}_indptr"]), shape=(len(old_ids), len(old_ids))).tocoo()
            ok = (remap[m.row] >= 0) & (remap[m.col] >= 0)
            mats[name] = sparse.csr_matrix((m.data[ok], (remap[m.row[ok]], remap[m.col[ok]])), shape=(n, n),
                                           dtype=np.float32)
        infos = movie_infos(items)
        prior = MoviePrior(ids, pop, mats["comention"], mats["follow"], mats["cf"],
                           _postings(infos, lambda m: m.genres), _postings(infos, lambda m: [p.lower() for p in m.people]),
                           MixWeights(**meta["weights"]))
        embedding = ItemEmbedding(arrays["dense_vectors"].astype(np.float32), arrays["dense_known"]).remapped(
            remap, n) if "dense_vectors" in arrays else None
        memory = TurnMemory.from_arrays(arrays, len(old_ids))
        return cls(prior, vectors, item_years(items), meta, embedder, rated, Reranker.from_arrays(arrays),
                   recommended, embedding, memory.remapped(remap, n) if memory is not None else None)


@dataclass
class ExtraWeights:
    """Weights of the signals about the liked items themselves."""

    mentioned_genre: float = 0.0
    mentioned_year: float = 0.0
    rated: float = 0.0  # how often MovieLens users rated it (popularity beyond the dialogues)
    recommended: float = 0.0  # how often recommenders brought it up first
    year_prior: float = 0.0  # how often recommenders bring up movies of its release year
    dense: float = 0.0  # closeness in the co-mention embedding to the liked movies
    said_knn: float = 0.0  # what recommenders brought up after similar words in train dialogues

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# ---------------------------------------------------------------- fitting


def movie_infos(items: Sequence[Item]) -> list[MovieInfo]:
    """What the prior reads off catalog items: genres, directors and stars, IMDb id (item attributes)."""
    out = []
    for item in items:
        attrs = item.attributes
        out.append(MovieInfo(item.item_id, tuple(g.lower() for g in _split(attrs, "genre")),
                             _split(attrs, "director") + _split(attrs, "stars"), attrs.get("imdb_id", "")))
    return out


def _split(attrs: dict[str, str], key: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in attrs.get(key, "").split(",") if p.strip())


def item_years(items: Sequence[Item]) -> np.ndarray:
    """Release year per item (attribute "year", else a "(1999)" in the title), 0 when unknown."""
    years = np.zeros(len(items), np.float32)
    for i, item in enumerate(items):
        m = _YEAR.fullmatch(item.attributes.get("year", "").strip()) or re.search(r"\((\d{4})\)\s*$", item.title)
        if m:
            years[i] = float(m.group(1))
    return years


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


def _rescaled(cos: np.ndarray) -> np.ndarray:
    # Cosines sit in a narrow band; map mean..max to 0..1 so weights mean the same across contexts.
    cos = cos.astype(np.float32)
    lo, hi = float(cos.mean()), float(cos.max())
    return np.clip((cos - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(cos)


# ---------------------------------------------------------------- `convrec train --catalog redial`

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
