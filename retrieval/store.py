"""The Chroma catalog store: items with our own embeddings, embedded or on a Chroma server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from retrieval.embed import DIM
from retrieval.items import CATEGORY_SEP, Item

COLLECTION = "catalog"
# HNSW settings tuned with `python -m evals.bench_retrieval` (recall@20 vs brute force, README table):
# more neighbours and a wider build beam than Chroma's defaults (16/100) cost little at catalog sizes.
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200, "ef_search": 128}
PAGE = 5_000  # rows per Chroma get() page when loading the catalog into memory


class CatalogNotIngested(RuntimeError):
    """The store has no items yet."""


class UnknownItem(KeyError):
    """An item id that is not in the catalog."""

    def __str__(self) -> str:
        return f"unknown item id: {self.args[0]!r}"


@dataclass(frozen=True)
class ChromaLocation:
    """Where the catalog lives: a local folder (embedded Chroma) or a Chroma server."""

    path: Path | None = Path("var/chroma")
    host: str | None = None  # set to use a Chroma server (HttpClient) instead of the folder
    port: int = 8000
    collection: str = COLLECTION

    def describe(self) -> str:
        """Human-readable location for messages."""
        where = f"http://{self.host}:{self.port}" if self.host else str(self.path)
        return f"{where} (collection '{self.collection}')"


def open_client(location: ChromaLocation):
    """A Chroma client for the location: PersistentClient for a folder, HttpClient for a server."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if location.host:
        return chromadb.HttpClient(host=location.host, port=location.port, settings=settings)
    assert location.path is not None
    Path(location.path).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(location.path), settings=settings)


class CatalogStore:
    """Items in one Chroma collection. We always pass embeddings: Chroma's own embedder is never used."""

    def __init__(self, location: ChromaLocation, client=None):
        self.location = location
        self.client = client if client is not None else open_client(location)
        # embedding_function=None: Chroma must never embed (its default model would try to download).
        self.collection = self.client.get_or_create_collection(
            location.collection, configuration={"hnsw": HNSW}, embedding_function=None)

    def count(self) -> int:
        """Number of items stored."""
        return self.collection.count()

    def upsert(self, items: list[Item], embeddings: np.ndarray) -> None:
        """Insert or replace items (same id: replaced), with their embeddings of shape (n, DIM)."""
        if not items:
            return
        assert embeddings.shape == (len(items), DIM), embeddings.shape
        self.collection.upsert(
            ids=[i.item_id for i in items],
            embeddings=embeddings,
            documents=[i.text() for i in items],
            metadatas=[item_to_metadata(i) for i in items],
        )

    def content_hashes(self) -> dict[str, str]:
        """item id -> content hash for everything stored (used to skip unchanged rows on re-ingest)."""
        hashes: dict[str, str] = {}
        for batch in self._pages(include=["metadatas"]):
            for item_id, meta in zip(batch["ids"], batch["metadatas"]):
                hashes[item_id] = str((meta or {}).get("hash", ""))
        return hashes

    def get_items(self, ids: Iterable[str]) -> dict[str, Item]:
        """Fetch items by id; unknown ids are simply absent from the result."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["metadatas"])
        return {i: metadata_to_item(i, m) for i, m in zip(got["ids"], got["metadatas"])}

    def load_all(self) -> tuple[list[Item], np.ndarray]:
        """Every item and its embedding, in pages; shape of the matrix (n, DIM)."""
        items: list[Item] = []
        vectors: list[np.ndarray] = []
        for batch in self._pages(include=["metadatas", "embeddings"]):
            items.extend(metadata_to_item(i, m) for i, m in zip(batch["ids"], batch["metadatas"]))
            vectors.append(np.asarray(batch["embeddings"], dtype=np.float32).reshape(-1, DIM))
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, DIM), dtype=np.float32)
        return items, matrix

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Approximate nearest neighbours from Chroma's HNSW index: (id, cosine similarity) best first.

        k should not exceed the number of items (the index caps it; no count() round trip per query).
        """
        if k <= 0:
            return []
        res = self.collection.query(query_embeddings=vector.reshape(1, -1), n_results=k,
                                    where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def delete(self, ids: list[str]) -> None:
        """Remove items by id."""
        if ids:
            self.collection.delete(ids=ids)

    def _pages(self, include: list[str]) -> Iterator[dict]:
        offset = 0
        while True:
            batch = self.collection.get(include=include, limit=PAGE, offset=offset)
            if not batch["ids"]:
                return
            yield batch
            offset += len(batch["ids"])


def item_to_metadata(item: Item) -> dict:
    """Flat Chroma metadata for an item; category levels and lower-cased brand are kept for filtering."""
    meta: dict = {
        "title": item.title,
        "category": item.category,
        "top_category": item.top_category,
        "description": item.description,
        "attributes": json.dumps(dict(item.attributes), ensure_ascii=False),
        "hash": item.content_hash(),
    }
    for level, name in enumerate(item.category_path[:4]):
        meta[f"cat{level}"] = name
    if item.brand:
        meta["brand"] = item.brand
        meta["brand_lc"] = item.brand.lower()
    if item.price is not None:
        meta["price"] = float(item.price)
    if item.image:
        meta["image"] = item.image
    return meta


def metadata_to_item(item_id: str, meta: dict | None) -> Item:
    """Inverse of item_to_metadata: the only place Chroma metadata becomes an Item."""
    meta = meta or {}
    try:
        attrs = json.loads(meta.get("attributes") or "{}")
    except json.JSONDecodeError:
        attrs = {}
    return Item(
        item_id=item_id,
        title=str(meta.get("title", item_id)),
        category=str(meta.get("category", "")),
        brand=meta.get("brand"),
        price=float(meta["price"]) if meta.get("price") is not None else None,
        description=str(meta.get("description", "")),
        attributes={str(k): str(v) for k, v in attrs.items()},
        image=str(meta.get("image", "")),
    )


__all__ = ["CATEGORY_SEP", "CatalogNotIngested", "CatalogStore", "ChromaLocation", "UnknownItem", "open_client"]
