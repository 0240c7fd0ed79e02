"""Opening and filling the catalog named by the settings (the one place that wires store + embedder)."""

from __future__ import annotations

from pathlib import Path

from agent.config import Settings
from retrieval.catalogs import amazon_items, movie_items, read_catalog_file, shopdial_items
from retrieval.demo import generate_demo_catalog
from retrieval.embed import Embedder, shared_embedder
from retrieval.ingest import IngestReport, ingest_items
from retrieval.items import Item
from retrieval.search import CatalogIndex
from retrieval.store import CatalogNotIngested, CatalogStore, ChromaLocation

BUILTIN = ("demo", "amazon", "redial", "shopdial")  # catalogs convrec can build itself


def location(settings: Settings, collection: str | None = None) -> ChromaLocation:
    """Where the settings say the catalog lives."""
    return ChromaLocation(path=Path(settings.chroma_dir), host=settings.chroma_host or None,
                          port=settings.chroma_port, collection=collection or settings.collection)


def embedder(settings: Settings) -> Embedder:
    """The embedding model (loaded once per process)."""
    return shared_embedder(settings.embed_model)


def builtin_items(name: str, settings: Settings) -> list[Item]:
    """Items of a catalog convrec knows how to build: demo (generated), amazon, redial (ReDial + MovieLens movies),
    shopdial (from data_dir)."""
    if name == "demo":
        return generate_demo_catalog(seed=settings.seed or 7)
    data = Path(settings.data_dir)
    if name == "amazon":
        return amazon_items(data)
    if name == "redial":
        return movie_items(data)
    if name == "shopdial":
        return shopdial_items(data)
    raise ValueError(f"unknown built-in catalog {name!r}; choose one of {', '.join(BUILTIN)}")


def ingest(settings: Settings, source: str | Path, progress: bool = True) -> IngestReport:
    """Ingest a built-in catalog name or a JSONL/CSV file into the settings' collection."""
    store = CatalogStore(location(settings))
    if str(source) in BUILTIN:
        items = builtin_items(str(source), settings)
        return ingest_items(store, embedder(settings), items, progress=progress, total=len(items))
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"No catalog file at {path}. Give a .jsonl/.csv file or one of {', '.join(BUILTIN)}")
    return ingest_items(store, embedder(settings), read_catalog_file(path), progress=progress)


def open_catalog(settings: Settings, build_if_empty: bool = True) -> CatalogIndex:
    """The search index over the settings' collection; a built-in catalog is ingested on first use."""
    store = CatalogStore(location(settings))
    if store.count() == 0:
        if not (build_if_empty and settings.collection in BUILTIN):
            raise CatalogNotIngested(
                f"No items in {location(settings).describe()}. Run: convrec ingest items.jsonl "
                f"--collection {settings.collection}")
        items = builtin_items(settings.collection, settings)
        ingest_items(store, embedder(settings), items, progress=True, total=len(items))
    return CatalogIndex.from_store(store, embedder(settings))
