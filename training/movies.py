"""Movie-domain prior for ReDial-style recommendation: popularity, co-mentions, MovieLens item-item CF, entities.

Fitted only on ReDial *train* dialogues (train_partial) and MovieLens ratings; never on test dialogues. Each
signal is a vector over the catalog for one dialogue context; `MixWeights` combines them (weights tuned by
`training.dialogue_interest.tune_all` on held-out train dialogues). Text similarity is computed by the caller from the catalog index
embeddings and passed in, so this module needs no embedder.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse

MOVIELENS = "movielens-latest-small"
RECENCY = 0.7  # weight of a mention k steps before the latest one: RECENCY**k (recent mentions steer the talk)
CF_NEIGHBOURS = 100  # MovieLens neighbours kept per movie; the tail is noise at 100k ratings
SIGNALS = ("popularity", "comention", "follow", "cf", "genre", "person", "text", "mentioned_text")
# Words shoppers use for genres -> the catalog's genre names (IMDb vocabulary in id2info).
GENRE_WORDS = {
    "horror": "horror", "scary": "horror", "creepy": "horror", "slasher": "horror", "frightening": "horror",
    "comedy": "comedy", "comedies": "comedy", "funny": "comedy", "hilarious": "comedy", "laugh": "comedy",
    "action": "action", "adventure": "adventure", "drama": "drama", "dramas": "drama", "crime": "crime",
    "romance": "romance", "romantic": "romance", "romcom": "romance", "thriller": "thriller",
    "thrillers": "thriller", "suspense": "thriller", "sci": "sci-fi", "scifi": "sci-fi", "space": "sci-fi",
    "mystery": "mystery", "fantasy": "fantasy", "family": "family", "kids": "family", "children": "family",
    "animated": "animation", "animation": "animation", "cartoon": "animation", "cartoons": "animation",
    "disney": "animation", "pixar": "animation", "documentary": "documentary", "documentaries": "documentary",
    "biography": "biography", "biopic": "biography", "war": "war", "western": "western", "westerns": "western",
    "musical": "musical", "musicals": "musical", "sports": "sport", "sport": "sport", "history": "history",
    "historical": "history", "superhero": "action", "zombie": "horror", "zombies": "horror",
}
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class MovieInfo:
    """What the prior needs to know about one catalog movie."""

    movie_id: str
    genres: tuple[str, ...] = ()
    people: tuple[str, ...] = ()  # directors and stars, as written
    imdb_id: str = ""


@dataclass
class MixWeights:
    """Weights of the signals in the final score (each signal is scaled to 0..1 per context first)."""

    popularity: float = 0.3
    comention: float = 1.0
    follow: float = 1.0
    cf: float = 0.5
    genre: float = 0.3
    person: float = 0.3
    text: float = 0.2
    mentioned_text: float = 0.2

    def as_dict(self) -> dict[str, float]:
        """Plain dict, for JSON reports."""
        return asdict(self)


# A dialogue for fitting: the ordered utterances as (speaker_is_recommender, movie ids mentioned).
FitDialogue = Sequence[tuple[bool, Sequence[str]]]


@dataclass
class MoviePrior:
    """Collaborative and entity signals over a fixed movie catalog (row order = `ids`)."""

    ids: list[str]
    popularity: np.ndarray  # (n,) log1p(train mention count), scaled to 0..1
    comention: sparse.csr_matrix  # (n, n) P(j mentioned | i mentioned) within a train dialogue
    follow: sparse.csr_matrix  # (n, n) P(j recommended next | i mentioned before), directed
    cf: sparse.csr_matrix  # (n, n) MovieLens item-item cosine, top CF_NEIGHBOURS per row
    genre_rows: dict[str, np.ndarray]  # genre -> rows having it
    person_rows: dict[str, np.ndarray]  # lower-cased person name -> rows
    weights: MixWeights = field(default_factory=MixWeights)

    def __post_init__(self) -> None:
        self.position = {m: i for i, m in enumerate(self.ids)}
        self._name_lengths = sorted({len(n.split()) for n in self.person_rows}, reverse=True)

    def signals(self, mentioned: Sequence[str], text: str) -> dict[str, np.ndarray]:
        """Each collaborative/entity signal as an (n,) vector for a context (earlier mentions, dialogue text)."""
        n = len(self.ids)
        rows = [self.position[m] for m in mentioned if m in self.position]
        weights = np.array([RECENCY ** k for k in range(len(rows))][::-1], dtype=np.float32)
        out = {"popularity": self.popularity}
        for name in ("comention", "follow", "cf"):
            matrix: sparse.csr_matrix = getattr(self, name)
            vec = np.zeros(n, dtype=np.float32)
            if rows:
                vec = np.asarray(matrix[rows].T @ weights).ravel().astype(np.float32)
            out[name] = _scaled(vec)
        out["genre"] = _scaled(self._genre_vector(text))
        out["person"] = _scaled(self._person_vector(text))
        return out

    def combine(self, signals: Mapping[str, np.ndarray], weights: MixWeights | None = None) -> np.ndarray:
        """Weighted sum of the signals present (text signals come from the caller)."""
        w = (weights or self.weights).as_dict()
        total = np.zeros(len(self.ids), dtype=np.float32)
        for name, vec in signals.items():
            total += w.get(name, 0.0) * vec
        return total

    def _genre_vector(self, text: str) -> np.ndarray:
        vec = np.zeros(len(self.ids), dtype=np.float32)
        words = _WORD.findall(text.lower())
        for genre in {GENRE_WORDS[w] for w in words if w in GENRE_WORDS}:
            vec[self.genre_rows.get(genre, [])] += 1.0
        return vec

    def _person_vector(self, text: str) -> np.ndarray:
        vec = np.zeros(len(self.ids), dtype=np.float32)
        words = _WORD.findall(text.lower())
        for size in self._name_lengths:
            for i in range(len(words) - size + 1):
                rows = self.person_rows.get(" ".join(words[i:i + size]))
                if rows is not None:
                    vec[rows] += 1.0
        return vec


def fit_movie_prior(movies: Sequence[MovieInfo], dialogues: Iterable[FitDialogue],
                    data_dir: Path | None = None, cf: sparse.csr_matrix | None = None) -> MoviePrior:
    """Count popularity and co-mentions in train dialogues; MovieLens CF from `cf` or data_dir when given."""
    ids = [m.movie_id for m in movies]
    pos = {m: i for i, m in enumerate(ids)}
    n = len(ids)
    mentions: Counter[int] = Counter()
    co: Counter[tuple[int, int]] = Counter()
    follow: Counter[tuple[int, int]] = Counter()
    for dialogue in dialogues:
        seen: list[int] = []
        for is_rec, movie_ids in dialogue:
            rows = [pos[m] for m in dict.fromkeys(movie_ids) if m in pos]
            new = [r for r in rows if r not in seen]
            if is_rec:
                follow.update((a, b) for a in seen for b in new)
            seen.extend(new)
        mentions.update(seen)
        co.update((a, b) for a in seen for b in seen if a != b)
    count = np.zeros(n, dtype=np.float32)
    for r, c in mentions.items():
        count[r] = c
    popularity = _scaled(np.log1p(count))
    prior = MoviePrior(ids, popularity, _conditional(co, count, n), _conditional(follow, count, n),
                       cf if cf is not None else (movielens_cf(movies, data_dir) if data_dir
                                                  else sparse.csr_matrix((n, n), dtype=np.float32)),
                       _postings(movies, lambda m: m.genres), _postings(movies, lambda m: [p.lower() for p in m.people]))
    return prior


def movielens_cf(movies: Sequence[MovieInfo], data_dir: Path) -> sparse.csr_matrix:
    """Item-item cosine over MovieLens ratings (mean-centred per user), linked to catalog rows by IMDb id."""
    n = len(movies)
    root = Path(data_dir) / MOVIELENS
    link = root / "redial_to_movielens.csv"
    if not link.exists():
        return sparse.csr_matrix((n, n), dtype=np.float32)
    pos = {m.movie_id: i for i, m in enumerate(movies)}
    by_imdb = {m.imdb_id: i for i, m in enumerate(movies) if m.imdb_id}
    ml_to_row: dict[int, int] = {}
    with open(link, newline="") as f:
        for row in csv.DictReader(f):
            if row["redial_movie_id"] in pos and row["movielens_movie_id"]:
                ml_to_row.setdefault(int(row["movielens_movie_id"]), pos[row["redial_movie_id"]])
    if (root / "links.csv.gz").exists():  # every catalog movie with an IMDb id, MovieLens-only ones included
        with gzip.open(root / "links.csv.gz", "rt", newline="") as f:
            for row in csv.DictReader(f):
                r = by_imdb.get(f"tt{row['imdbId'].strip()}")
                if r is not None:
                    ml_to_row.setdefault(int(row["movieId"]), r)
    users, items, values = [], [], []
    with gzip.open(root / "ratings.csv.gz", "rt", newline="") as f:
        for row in csv.DictReader(f):
            r = ml_to_row.get(int(row["movieId"]))
            if r is not None:
                users.append(int(row["userId"]))
                items.append(r)
                values.append(float(row["rating"]))
    u = np.array(users)
    v = np.array(values, dtype=np.float32)
    means = np.bincount(u, weights=v) / np.maximum(np.bincount(u), 1)
    # Centre per user so "rated it at all" and "loved it" differ; +0.5 keeps a watched-signal for flat raters.
    ratings = sparse.csr_matrix((v - means[u] + 0.5, (items, u)), shape=(n, int(u.max()) + 1), dtype=np.float32)
    norms = np.sqrt(np.asarray(ratings.multiply(ratings).sum(axis=1)).ravel())
    normed = sparse.diags(1.0 / np.maximum(norms, 1e-6)) @ ratings
    sim = (normed @ normed.T).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return _top_per_row(sim, CF_NEIGHBOURS)


def _conditional(pairs: Counter[tuple[int, int]], count: np.ndarray, n: int) -> sparse.csr_matrix:
    if not pairs:
        return sparse.csr_matrix((n, n), dtype=np.float32)
    (a, b), c = zip(*pairs.keys()), np.fromiter(pairs.values(), dtype=np.float32)
    a, b = np.array(a), np.array(b)
    # P(b | a) with add-2 smoothing on the denominator: one co-mention of a rare movie is weak evidence.
    return sparse.csr_matrix((c / (count[a] + 2.0), (a, b)), shape=(n, n), dtype=np.float32)


def _postings(movies: Sequence[MovieInfo], keys) -> dict[str, np.ndarray]:
    rows: dict[str, list[int]] = {}
    for i, m in enumerate(movies):
        for key in keys(m):
            if key:
                rows.setdefault(key, []).append(i)
    return {k: np.array(v) for k, v in rows.items()}


def _top_per_row(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for i in range(matrix.shape[0]):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        if end == start:
            continue
        data, idx = matrix.data[start:end], matrix.indices[start:end]
        keep = np.argsort(-data)[:k]
        keep = keep[data[keep] > 0]
        rows.extend([i] * len(keep))
        cols.extend(idx[keep])
        vals.extend(data[keep])
    return sparse.csr_matrix((vals, (rows, cols)), shape=matrix.shape, dtype=np.float32)


def _scaled(vec: np.ndarray) -> np.ndarray:
    top = float(vec.max()) if vec.size else 0.0
    return (vec / top).astype(np.float32) if top > 0 else np.zeros_like(vec, dtype=np.float32)
