"""The interest model of a catalog whose interaction data is conversations: who mentioned what, in which order.

Fitted by `convrec train --catalog redial` on ReDial *train* dialogues (co-mentions, what a recommender brought up
after what) and MovieLens ratings (item-item CF, linked by IMDb id), never on test dialogues. At run time it scores
every catalog item for a shopper from the items they liked or bought (most recent first), the items they rejected,
and what they said (genre words, people's names, the MiniLM vector of their words), through the same interface as
the sequence model (`training/interest.py`): `score_all`, `score`, `user_vector`.

The signals are the movie prior's (training/movies.py) plus three about the liked items themselves (their genres,
their release years, their text); the mixing weights are tuned by 2-fold cross-fitting on train dialogues, so
nothing about the test dialogues is seen. Fitting lives in training/dialogue_fit.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from scipy import sparse

from retrieval.embed import Embedder
from retrieval.items import Item
from training.dialogue_signals import ItemEmbedding, TurnMemory
from training.listwise import SHORTLIST, Reranker, shortlist_features
from training.movies import SIGNALS, MixWeights, MovieInfo, MoviePrior, _postings, _scaled

FORMAT = "convrec-dialogue-interest"
FORMAT_VERSION = 1
SAID_MESSAGES = 3  # the shopper's last few messages carry the current request; older ones drift
DISLIKED = -1e4
FEATURES = (*SIGNALS, "mentioned_genre", "mentioned_year", "rated", "year_prior", "recommended", "dense", "said_knn")
FEATURES_V1 = FEATURES[:-2]  # what a re-ranker saved before the co-mention embedding and the turn memory reads
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


def _rescaled(cos: np.ndarray) -> np.ndarray:
    # Cosines sit in a narrow band; map mean..max to 0..1 so weights mean the same across contexts.
    cos = cos.astype(np.float32)
    lo, hi = float(cos.mean()), float(cos.max())
    return np.clip((cos - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(cos)


# ---------------------------------------------------------------- `convrec train --catalog redial`
