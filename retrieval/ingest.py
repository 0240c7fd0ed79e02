"""Catalog ingest: validate rows, embed new or changed items, upsert into Chroma.

Idempotent and resumable: each stored item carries a content hash, and rows whose hash is already in
the store are skipped, so re-running an interrupted or repeated ingest only embeds what is missing.
Embedding (torch) and writing (Chroma) overlap: batch i is written in a background thread while batch
i+1 is encoded, so ingest runs close to raw encoder speed.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from retrieval.catalogs import DuplicateId, RowError
from retrieval.embed import Embedder
from retrieval.items import Item
from retrieval.store import CatalogStore


@dataclass
class IngestReport:
    """What an ingest did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)  # rejected rows
    duplicates: list[RowError] = field(default_factory=list)  # ids given more than once: the last row kept
    seconds: float = 0.0

    @property
    def written(self) -> int:
        """Items embedded and written in this run."""
        return self.added + self.updated

    def summary(self) -> str:
        """One line for the CLI."""
        dups = f", {len(self.duplicates)} duplicate ids (last row kept)" if self.duplicates else ""
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{len(self.errors)} rows rejected{dups}, in {self.seconds:.1f}s")


def ingest_items(store: CatalogStore, embedder: Embedder, rows: Iterable[Item | RowError],
                 batch_size: int = 256, progress: bool = True, total: int | None = None) -> IngestReport:
    """Embed and upsert every valid row; bad rows are collected in the report, never stop the run."""
    from tqdm import tqdm

    started = time.perf_counter()
    report = IngestReport()
    stored = store.content_hashes()
    seen: set[str] = set()
    batch: dict[str, Item] = {}  # by id: a repeated id inside one batch keeps the later row
    pending: Future | None = None
    bar = tqdm(total=total, unit="item", desc="ingest", disable=not progress)
    with ThreadPoolExecutor(max_workers=1) as writer:

        def flush() -> None:
            nonlocal pending, batch
            items = list(batch.values())
            vectors = embedder.encode([item.text() for item in items])
            if pending is not None:
                pending.result()  # keep at most one write in flight; re-raises a failed write
            pending = writer.submit(store.upsert, items, vectors)
            bar.update(len(items))
            batch = {}

        for row in rows:
            if isinstance(row, DuplicateId):
                report.duplicates.append(row)
                continue
            if isinstance(row, RowError):
                report.errors.append(row)
                continue
            again = row.item_id in seen  # only from a stream of Items: files report DuplicateId themselves
            if again:
                report.duplicates.append(RowError(0, f"duplicate id {row.item_id[:80]!r}: the later row is kept"))
            seen.add(row.item_id)
            old = stored.get(row.item_id)
            if old == row.content_hash():
                report.unchanged += not again
                bar.update(1)
                continue
            if again:
                pass  # counted once, when first seen
            elif old is None:
                report.added += 1
            else:
                report.updated += 1
            stored[row.item_id] = row.content_hash()
            batch[row.item_id] = row
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        if pending is not None:
            pending.result()
    bar.close()
    report.seconds = time.perf_counter() - started
    return report


def ingest_precomputed(store: CatalogStore, rows: Iterable[tuple[Item | str, np.ndarray]],
                       batch_size: int = 1_000) -> IngestReport:
    """Upsert (item, precomputed unit vector) pairs streamed in batches (nothing is embedded; memory holds one
    batch and the stored content hashes); a row given as a string is a rejection reason. Unchanged rows are
    skipped as in ingest_items."""
    started = time.perf_counter()
    report = IngestReport()
    stored = store.content_hashes()
    items: list[Item] = []
    vectors: list[np.ndarray] = []

    def flush() -> None:
        if items:
            store.upsert(items, np.asarray(np.stack(vectors), dtype=np.float32))
            items.clear()
            vectors.clear()

    for row, vector in rows:
        if isinstance(row, str):
            report.errors.append(RowError(0, row))
            continue
        old = stored.get(row.item_id)
        if old == row.content_hash():
            report.unchanged += 1
            continue
        if old is None:
            report.added += 1
        else:
            report.updated += 1
        stored[row.item_id] = row.content_hash()
        items.append(row)
        vectors.append(vector)
        if len(items) >= batch_size:
            flush()
    flush()
    report.seconds = time.perf_counter() - started
    return report
