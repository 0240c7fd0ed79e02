"""Keeping a serving agent current: catalog updates and shopper events through the shared feed.

The feed (retrieval/feed.py) lives in the session database, so every worker of `convrec serve --workers N` (and
`convrec ingest --live`) shares it. A writer validates and embeds changed rows once, writes them to the Chroma
store and appends them to the feed; each worker's `LiveSync.sync()` (run before every request, at most every
SYNC_EVERY_S) applies new changes to its index and folds new events into its popularity / co-occurrence signals.
Events name an opaque shopper key (a hash of the session), an item and a kind; never message text.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.catalog import embedder as settings_embedder
from agent.config import Settings
from agent.errors import UnknownItem
from retrieval.feed import Feed, event_sequences
from retrieval.items import InvalidRow, Item, item_from_row
from retrieval.search import CatalogIndex
from retrieval.shared import SharedIndex, build_shared_index, read_rows, vectors_for

SYNC_EVERY_S = 0.0  # a worker looks for new changes and events before every request: one indexed MAX() query
# (~0.1 ms on SQLite), so a deletion acknowledged by any worker holds for every later request on all of them
MAX_UPDATE_ROWS = 5_000  # rows (and deletions) accepted in one update request
REFRESH_MAX_ITEMS = 300_000  # above this, re-reading the vocabulary after each change costs too much: a new brand
# is then understood after a restart (its items are found by meaning at once)

__all__ = ["CatalogUpdateError", "LiveSync", "UpdateReport", "event_sequences", "ingest_live", "ingest_shared",
           "open_feed", "open_index", "shopper_key", "update_catalog"]


class CatalogUpdateError(ValueError):
    """A catalog update that was refused as a whole (nothing was stored); `errors` lists every problem."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} problem(s), nothing was changed: " + "; ".join(errors[:20]))
        self.errors = errors


@dataclass
class UpdateReport:
    """What a catalog update did."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    seq: int = 0  # the feed position of the last change
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"added": self.added, "updated": self.updated, "deleted": self.deleted, "seq": self.seq}


def open_feed(sessions_url: str, sessions_db: Path | str) -> Feed:
    """The feed in the session database: PostgreSQL when sessions_url is set, else the SQLite file."""
    return Feed(sessions_url or sessions_db)


def open_index(settings: Settings, shared_dir: Path | str):
    """The shared memory-mapped index in shared_dir (for large catalogs), with the settings' embedder."""
    return SharedIndex(shared_dir, settings_embedder(settings))


def shopper_key(owner: str, session_id: str) -> str:
    """An opaque per-session shopper key for the event log (nothing identifying leaves the deployment)."""
    return hashlib.sha256(f"{owner}\0{session_id}".encode()).hexdigest()[:24]


def parse_rows(rows: Iterable[Any], deletions: Iterable[Any], index: CatalogIndex) -> tuple[list[Item], list[str]]:
    """Validated items and deletion ids; raises CatalogUpdateError naming every bad row or unknown id."""
    rows, deletions = list(rows), list(deletions)
    errors: list[str] = []
    if len(rows) + len(deletions) > MAX_UPDATE_ROWS:
        raise CatalogUpdateError([(f"{len(rows) + len(deletions)} changes in one update; send at most "
                                   f"{MAX_UPDATE_ROWS} per request")])
    items: dict[str, Item] = {}
    for n, row in enumerate(rows, start=1):
        if isinstance(row, dict) and row.get("deleted") is True:
            deletions.append(row.get("id", row.get("item_id")))
            continue
        try:
            item = item_from_row(row)
        except InvalidRow as e:
            errors.append(f"row {n}: {e}")
            continue
        items[item.item_id] = item  # a repeated id: the later row
    gone: list[str] = []
    for item_id in deletions:
        if not isinstance(item_id, str) or not item_id:
            errors.append(f"deletion {item_id!r}: not an item id")
        elif item_id not in index.position:
            errors.append(f"deletion {item_id[:80]!r}: unknown item id")
        elif item_id in items:
            errors.append(f"{item_id[:80]!r} is both updated and deleted")
        else:
            gone.append(item_id)
    if errors:
        raise CatalogUpdateError(errors)
    return list(items.values()), list(dict.fromkeys(gone))


def update_catalog(index: CatalogIndex, feed: Feed, rows: Iterable[Any], deletions: Iterable[Any] = (),
                   sync: LiveSync | None = None) -> UpdateReport:
    """Add / update rows and delete ids: validate all first (CatalogUpdateError: nothing stored), embed the
    changed items once, write them to the Chroma store, append them to the feed, then apply them here."""
    items, gone = parse_rows(rows, deletions, index)
    report = UpdateReport()
    if not items and not gone:
        return report
    vectors = index.embedder.encode([i.text() for i in items]) if items else None
    if index.store is not None:
        if items:
            index.store.upsert(items, vectors)
        index.store.delete(gone)
    changes = [(item.item_id, item, vectors[n]) for n, item in enumerate(items)] + [(i, None, None) for i in gone]
    report.seq = feed.append_changes(changes)
    report.added = sum(i.item_id not in index.position for i in items)
    report.updated = len(items) - report.added
    report.deleted = len(gone)
    report.ids = [i.item_id for i in items] + gone
    if sync is not None:
        sync.sync(force=True)
    return report


class LiveSync:
    """Applies the feed's new catalog changes and events to one index (and its signals), at most every
    SYNC_EVERY_S unless forced; thread-safe."""

    def __init__(self, index: CatalogIndex, feed: Feed, every_s: float = SYNC_EVERY_S,
                 on_change: Callable[[], None] | None = None):
        self.index, self.feed, self.every_s = index, feed, every_s
        self.on_change = on_change  # run (in a background thread, coalesced) after catalog changes were applied
        self._last = 0.0
        self._lock = threading.Lock()
        self._refresh = threading.Lock()
        self._again = False

    def sync(self, force: bool = False) -> bool:
        """Catch up with the feed; True when something was applied."""
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return False
        with self._lock:
            self._last = now
            changes_head, events_head = self.feed.heads()
            applied = False
            changed = False
            while self.index.applied_seq < changes_head:
                batch = self.feed.changes_since(self.index.applied_seq)
                if not batch:
                    break
                changed |= self.index.apply_changes(batch) > 0
            if changed and self.on_change is not None and len(self.index) <= REFRESH_MAX_ITEMS:
                threading.Thread(target=self._changed, daemon=True).start()
            applied = changed
            while self.index.signals.applied_seq < events_head:
                batch = self.feed.events_since(self.index.signals.applied_seq)
                if not batch:
                    break
                applied |= self.index.signals.apply(batch) > 0
            return applied

    def _changed(self) -> None:
        self._again = True
        if not self._refresh.acquire(blocking=False):
            return  # one refresh at a time; the running one repeats if more changes came meanwhile
        try:
            while self._again:
                self._again = False
                self.on_change()
        finally:
            self._refresh.release()

    def record(self, shopper: str, item_id: str, kind: str) -> int:
        """Append one event (like / reject / owned / purchase) for a catalog item; raises UnknownItem."""
        if item_id not in self.index.position:
            raise UnknownItem(item_id)
        return self.feed.append_events([(shopper, item_id, kind)])


def ingest_shared(settings: Settings, source: Path | str, folder: Path | str, progress=None) -> tuple[dict, list[str]]:
    """Build the shared index in `folder` from a JSONL catalog, streamed: vectors from the `.npy` next to it when
    there is one (one row per non-blank line), else embedded in batches. Returns (meta, rejected rows)."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"No catalog file at {source}")
    vectors = vectors_for(source)
    rejected: list[str] = []
    encoder = settings_embedder(settings)

    def rows():
        batch: list[Item] = []
        for ordinal, row in read_rows(source):
            if isinstance(row, str):
                rejected.append(row)
                continue
            if vectors is not None:
                if ordinal >= len(vectors):
                    raise ValueError(f"{source.with_suffix('.npy')} has {len(vectors)} rows but the catalog has more "
                                     "lines; give one vector per non-blank line")
                yield row, vectors[ordinal]
                continue
            batch.append(row)
            if len(batch) == 256:
                yield from zip(batch, encoder.encode([i.text() for i in batch]))
                batch = []
        if batch:
            yield from zip(batch, encoder.encode([i.text() for i in batch]))

    return build_shared_index(folder, rows(), progress=progress), rejected


def ingest_live(index: CatalogIndex, feed: Feed, source: Path | str) -> UpdateReport:
    """Apply a JSONL file of changed rows to a serving catalog (rows with `"deleted": true` delete their id), in
    chunks of MAX_UPDATE_ROWS; each chunk is all-or-nothing (CatalogUpdateError names every problem)."""
    total = UpdateReport()
    chunk: list[Any] = []

    def flush() -> None:
        report = update_catalog(index, feed, chunk)
        total.added, total.updated, total.deleted = (total.added + report.added, total.updated + report.updated,
                                                     total.deleted + report.deleted)
        total.seq = report.seq or total.seq
        chunk.clear()

    with open(source, encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                chunk.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise CatalogUpdateError([f"line {line_no}: invalid JSON ({e.msg})"]) from None
            if len(chunk) >= MAX_UPDATE_ROWS:
                flush()
    if chunk:
        flush()
    return total
