"""The inference API the agent calls: score items for a history, stated preferences and in-session feedback.

Scores are fused log-probabilities of "this is the next item": a mixture of the sequence model's softmax, the
co-occurrence kNN distribution, the text neighbours of the history (also carrying items with few interactions) and
a new-scene term (training/fusion.py), times a product-of-experts term for stated text, minus a penalty for items
like disliked ones. Higher is better; only the order within one call is meaningful.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors.torch import load_file

from retrieval.embed import Embedder, shared_embedder
from retrieval.items import Item
from training.fusion import (
    EPS,
    FusionWeights,
    fuse,
    scene_distribution,
    softmax,
    text_neighbours,
)
from training.knn import KnnParams
from training.model import InterestNet, NetConfig, pad_batch
from training.train import FORMAT, FORMAT_VERSION

READS_VERSIONS = (1, FORMAT_VERSION)  # 1: the kNN weight only (no text/scene terms, knn_weight in config.json)

DISLIKED = -1e4       # score given to a disliked item itself (ranked after everything else, still finite)
DISLIKE_PENALTY = 20.0  # log-score removed per unit cosine between an item and the closest disliked item


class CheckpointError(RuntimeError):
    """The checkpoint folder is missing, or from another format version."""


class InterestModel:
    """A trained interest model over a catalog; item ids are the catalog's `Item.item_id` strings."""

    def __init__(self, net: InterestNet, meta: dict, item_ids: list[str], item_text: np.ndarray,
                 knn_idx: np.ndarray, knn_val: np.ndarray, popularity: np.ndarray,
                 items: dict[str, Item] | None = None, embedder: Embedder | None = None,
                 item_scene: np.ndarray | None = None, scene_transitions: np.ndarray | None = None):
        self.net, self.meta, self.item_ids = net.eval(), meta, item_ids
        self.index = {item_id: i for i, item_id in enumerate(item_ids)}
        self.items = items or {}
        self.item_text = item_text.astype(np.float32)          # (n, 384) L2-normalised MiniLM vectors
        self._text_t = torch.from_numpy(self.item_text)         # same memory; torch matvec stays on 1 thread
        self.knn_idx, self.knn_val = knn_idx.astype(np.int64), knn_val.astype(np.float32)  # (n, k)
        self.knn_params = KnnParams(**meta["knn"]) if meta.get("knn") else None
        knn_weight = float(meta.get("knn_weight", 0.0)) if self.knn_params else 0.0
        # format 1 has no "fusion": its mixture is the kNN weight alone
        self.fusion = FusionWeights(**meta["fusion"]) if meta.get("fusion") else FusionWeights(knn=knn_weight)
        self.stated_weight = float(meta.get("stated_weight", 20.0))
        self.popularity = popularity.astype(np.float32)         # (n,) interaction counts, 0 for new items
        self._pop_dist = (self.popularity + 1.0) / (self.popularity + 1.0).sum()
        self._log_pop = np.log(self._pop_dist)
        self.item_scene, self.scene_transitions = item_scene, scene_transitions  # None in format 1
        self._embedder = embedder
        with torch.no_grad():
            self._table = net.item_table()                      # (n + 1, d) tokens/output weights, eval mode

    @property
    def knn_weight(self) -> float:
        """Weight of the co-occurrence kNN distribution in the mixture (0: sequence model, text and scenes)."""
        return self.fusion.knn

    @knn_weight.setter
    def knn_weight(self, value: float) -> None:
        self.fusion = replace(self.fusion, knn=float(value))

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, checkpoint_dir: Path | str, items: Sequence[Item] | None = None,
             embedder: Embedder | None = None, threads: int = 1) -> "InterestModel":
        """Load a checkpoint; `items` not in it are added as text-only (cold) items, embedded with `embedder`."""
        path = Path(checkpoint_dir)
        if not (path / "config.json").exists() or not (path / "model.safetensors").exists():
            raise CheckpointError(f"No interest checkpoint in {path}. Run: convrec train --out-dir {path}")
        meta = json.loads((path / "config.json").read_text())
        if meta.get("format") != FORMAT or meta.get("format_version") not in READS_VERSIONS:
            raise CheckpointError(f"{path} is format {meta.get('format')} v{meta.get('format_version')}; "
                                  f"this code reads {FORMAT} v{' and v'.join(map(str, READS_VERSIONS))}. "
                                  f"Retrain: convrec train --out-dir {path}")
        torch.set_num_threads(threads)  # scoring one user is latency-bound; more threads only add overhead
        t = load_file(str(path / "model.safetensors"))
        item_ids = list(meta["item_ids"])
        text = t["item_text"].float().numpy()
        knn_idx, knn_val, pop = t["knn_idx"].numpy(), t["knn_val"].float().numpy(), t["popularity"].numpy()
        id_weight = t["net.id_emb.weight"].float()
        scene = t["item_scene"].numpy().astype(np.int64) if "item_scene" in t else None
        by_id = {it.item_id: it for it in items or []}
        new = [it for it in items or [] if it.item_id not in set(item_ids)]
        if new:  # cold items: no ID vector, no co-occurrence, only their text
            if embedder is None:
                embedder = shared_embedder()
            text = np.concatenate([text, embedder.encode([it.text() for it in new])])
            item_ids += [it.item_id for it in new]
            id_weight = torch.cat([id_weight, torch.zeros(len(new), id_weight.shape[1])])
            knn_idx = np.concatenate([knn_idx, np.zeros((len(new), knn_idx.shape[1]), knn_idx.dtype)])
            knn_val = np.concatenate([knn_val, np.zeros((len(new), knn_val.shape[1]), knn_val.dtype)])
            pop = np.concatenate([pop, np.zeros(len(new), pop.dtype)])
            if scene is not None:
                where = {name: i for i, name in enumerate(meta.get("scenes", []))}
                none = len(where)
                scene = np.concatenate([scene, [where.get(it.category_path[1], none) if len(it.category_path) > 1
                                                else none for it in new]]).astype(np.int64)
        cfg = NetConfig(**{**meta["net"], "n_items": len(item_ids)})
        net = InterestNet(cfg, torch.from_numpy(text) if cfg.text_dim else None)
        state = {k[len("net."):]: v.float() for k, v in t.items() if k.startswith("net.")}
        state["id_emb.weight"] = id_weight
        net.load_state_dict(state)
        transitions = t["scene_transitions"].numpy() if "scene_transitions" in t else None
        return cls(net, meta, item_ids, text, knn_idx, knn_val, pop, by_id, embedder, scene, transitions)

    # ------------------------------------------------------------------ scoring

    def score(self, history: Sequence[str], candidates: Sequence[str], stated: str | np.ndarray | None = None,
              liked: Sequence[str] = (), disliked: Sequence[str] = ()) -> np.ndarray:
        """Scores (len(candidates),) float32 for one shopper; unknown candidate ids score -inf."""
        full = self.score_all(history, stated, liked, disliked)
        idx = np.array([self.index.get(c, -1) for c in candidates], dtype=np.int64)
        out = np.full(len(candidates), -np.inf, dtype=np.float32)
        out[idx >= 0] = full[idx[idx >= 0]]
        return out

    def score_all(self, history: Sequence[str], stated: str | np.ndarray | None = None,
                  liked: Sequence[str] = (), disliked: Sequence[str] = ()) -> np.ndarray:
        """Scores (n_items,) over the whole catalog, in `item_ids` order. Unknown ids in the inputs are ignored.

        history: item ids, oldest first (purchases, or items viewed in this session); liked ones are appended.
        stated: free text the shopper said ("cordless, under $50"), or its MiniLM vector; matched by meaning only,
            so hard limits such as a price ceiling belong in the catalog search filters.
        disliked: items the shopper rejected; they drop to the bottom and similar items are pushed down.
        """
        hist = self._indices(list(history) + list(liked))
        scores = self.score_histories([hist])[0]
        return self._adjust(scores, stated, self._indices(disliked))

    def score_histories(self, histories: list[list[int]], batch_size: int = 512) -> np.ndarray:
        """Batch scoring by catalog index: (len(histories), n_items) fused log-probabilities.

        An empty history falls back to popularity. This is what the benchmark ranks with.
        """
        n = len(self.item_ids)
        w = self.fusion
        out = np.empty((len(histories), n), dtype=np.float32)
        for start in range(0, len(histories), batch_size):
            chunk = histories[start:start + batch_size]
            with torch.no_grad():
                seq = pad_batch(chunk, self.net.cfg.max_len)
                logits = (self.net.encode(seq, self._table)[:, -1] @ self._table[1:].T).numpy()  # (b, n)
            knn = self._knn(chunk) if w.knn else None
            text = (text_neighbours(self._text_t, chunk, w.text_tau, w.text_recency, w.text_last)
                    if w.text or w.text_cold else None)
            scenes = (scene_distribution(chunk, self.item_scene, self.scene_transitions, self.popularity,
                                         w.scene_sharpen) if w.scene and self.item_scene is not None else None)
            fused = fuse(logits, knn, text, scenes, self.popularity, w, self._pop_dist, chunk)
            empty = np.array([len(h) == 0 for h in chunk])
            fused[empty] = self._log_pop                                       # cold start: popularity
            out[start:start + len(chunk)] = fused
        return out

    def user_vector(self, history: Sequence[str], stated: str | np.ndarray | None = None,
                    liked: Sequence[str] = (), disliked: Sequence[str] = (), top: int = 50) -> np.ndarray:
        """The shopper's interest as a (384,) L2-normalised MiniLM vector, usable as a Chroma cosine query.

        It is the score-weighted mean of the text vectors of the `top` items predicted next (history excluded),
        plus the stated text's vector, so it lives in the same space as the catalog's document embeddings.
        """
        scores = self.score_all(history, stated, liked, disliked)
        seen = self._indices(list(history) + list(liked))
        scores[seen] = -np.inf
        top_idx = np.argpartition(-scores, min(top, len(scores)) - 1)[:top]
        w = softmax(scores[top_idx].astype(np.float64))
        vec = (w[:, None] * self.item_text[top_idx]).sum(axis=0)
        if stated is not None:
            vec = vec / max(np.linalg.norm(vec), EPS) + self._stated_vector(stated)
        return (vec / max(np.linalg.norm(vec), EPS)).astype(np.float32)

    def recommend(self, history: Sequence[str], k: int = 10, stated: str | np.ndarray | None = None,
                  liked: Sequence[str] = (), disliked: Sequence[str] = ()) -> list[tuple[str, float]]:
        """The k best (item_id, score) not already in history, liked or disliked, best first."""
        scores = self.score_all(history, stated, liked, disliked)
        scores[self._indices(list(history) + list(liked) + list(disliked))] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        return [(self.item_ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]

    def most_popular(self, k: int = 10) -> list[tuple[str, float]]:
        """The k items with the most training interactions, as (item_id, count)."""
        top = np.argsort(-self.popularity, kind="stable")[:k]
        return [(self.item_ids[i], float(self.popularity[i])) for i in top]

    # ------------------------------------------------------------------ helpers

    def _indices(self, ids: Sequence[str]) -> list[int]:
        return [self.index[i] for i in ids if i in self.index]

    def _knn(self, histories: list[list[int]]) -> np.ndarray:
        """(b, n) co-occurrence scores from the last items of each history, normalised (zeros when none co-occur);
        fuse() gives rows without any co-occurrence the popularity distribution."""
        p = self.knn_params
        out = np.zeros((len(histories), len(self.item_ids)), dtype=np.float32)
        for r, hist in enumerate(histories):
            for k, item in enumerate(hist[::-1][:p.last_n]):
                np.add.at(out[r], self.knn_idx[item], (p.recency ** k) * self.knn_val[item])
        total = out.sum(axis=1, keepdims=True)
        return out / np.maximum(total, EPS)

    def _adjust(self, scores: np.ndarray, stated: str | np.ndarray | None, disliked: list[int]) -> np.ndarray:
        if stated is not None and (not isinstance(stated, str) or stated.strip()):
            scores = scores + self.stated_weight * self._cosine(self._stated_vector(stated)[None])[0]
        if disliked:
            closest = self._cosine(self.item_text[disliked]).max(axis=0)   # (n,) cosine to the nearest dislike
            scores = scores - DISLIKE_PENALTY * np.clip(closest, 0.0, None)
            scores[disliked] = DISLIKED
        return scores.astype(np.float32)

    def _cosine(self, vecs: np.ndarray) -> np.ndarray:
        """(m, 384) unit vectors -> (m, n) cosine to every item. numpy's BLAS spins threads: 20 ms vs 0.3 ms here."""
        with torch.no_grad():
            return (torch.from_numpy(np.ascontiguousarray(vecs, dtype=np.float32)) @ self._text_t.T).numpy()

    def _stated_vector(self, stated: str | np.ndarray) -> np.ndarray:
        if not isinstance(stated, str):
            vec = np.asarray(stated, dtype=np.float32).reshape(-1)
            return vec / max(float(np.linalg.norm(vec)), EPS)
        return _encode_cached(self._get_embedder(), " ".join(stated.split()))

    def _get_embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_embedder()
        return self._embedder


def _encode_cached(embedder: Embedder, text: str) -> np.ndarray:
    # the agent re-scores on every turn with the same stated text; the embedder remembers recent texts
    return embedder.encode_one(text)
