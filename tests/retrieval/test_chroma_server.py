"""The same store and search against a real Chroma server (HttpClient), started by the test."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from retrieval.catalogs import read_catalog_file
from retrieval.ingest import ingest_items
from retrieval.search import CatalogIndex
from retrieval.store import CatalogStore, ChromaLocation
from tests.conftest import TEST_CATALOG, venv_command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path):
    exe = venv_command("chroma")
    if exe is None:
        pytest.skip("the `chroma` command (chromadb package) is not on PATH")
    port = _free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_search_through_a_chroma_server(chroma_server, embedder):
    location = ChromaLocation(path=None, host="127.0.0.1", port=chroma_server, collection="shop")
    store = CatalogStore(location)
    report = ingest_items(store, embedder, read_catalog_file(TEST_CATALOG), progress=False)
    assert report.added == 24 and store.count() == 24
    index = CatalogIndex.from_store(CatalogStore(location), embedder)  # a second client sees the same data
    assert index.search("TQ-20X", k=1)[0].item.item_id == "t-drill-3"
    again = ingest_items(store, embedder, read_catalog_file(TEST_CATALOG), progress=False)
    assert again.unchanged == 24 and store.count() == 24
