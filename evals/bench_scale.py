"""A million products, a live catalog and learning from events: `python -m evals.bench_scale [--items N]`.

1. A synthetic catalog (JSONL + precomputed .npy vectors, under var/bench_scale): category paths from the demo
   taxonomy widened to ~176 leaves, Zipf-popular brands tied to departments, log-normal prices per leaf, colour /
   material attributes, 2% out of stock. Item vectors live in MiniLM space (leaf + brand + colour embeddings plus
   noise), so real MiniLM queries find the right department.
2. Streaming ingest into the shared index (retrieval/shared.py) -> ingest_items_per_s.
3. Latency (p95, one process, index warm) and recall@20 against exact search under the same filters.
4. Four worker processes open the same index and the same SQLite feed; PSS per worker (shared pages count once).
5. Live catalog through the feed: an added item becomes findable on every worker (new_item_visible_s); deleted
   items are never returned in a replay of every query (deleted_item_recommended); a burst of likes raises an
   item's rank on every worker (event_to_rank_s).
6. Baselines: the in-RAM per-process CatalogIndex (memory at --baseline-items, scaled) and Chroma server
   pushdown of the filters (`where`) at --store-items.
7. Result-cache hit rate on a replay of the demo acceptance suite (scripted conversations).

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from agent import Settings, build_agent
from evals.lib.scripted import load_suite, run_suite
from evals.lib.simulator import run_simulation
from retrieval.demo import generate_demo_catalog
from retrieval.embed import DIM, shared_embedder
from retrieval.feed import Feed
from retrieval.items import Item
from retrieval.search import Filters
from retrieval.shared import SharedIndex, build_shared_index, read_rows, vectors_for
from retrieval.store import CatalogStore, ChromaLocation

COLOURS = ["black", "white", "red", "blue", "green", "grey", "silver", "pink", "brown", "yellow", "navy", "beige"]
MATERIALS = ["steel", "plastic", "wood", "cotton", "aluminium", "glass", "leather", "nylon"]
VARIANTS = ["Compact", "Professional", "Kids'", "Outdoor"]
SYLLABLES = ["ka", "zor", "vel", "mi", "tra", "lon", "qui", "bre", "dax", "sol", "fen", "rio", "ga", "nu", "pex"]


def log(msg: str) -> None:
    print(f"[bench_scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- synthetic catalog


def taxonomy(embedder) -> tuple[list[str], np.ndarray, list[float]]:
    """~176 leaf paths, their MiniLM vectors and a median price each."""
    demo = generate_demo_catalog(seed=7)
    medians: dict[str, list[float]] = {}
    for item in demo:
        medians.setdefault(item.category, []).append(item.price or 20.0)
    paths, prices = [], []
    for path, ps in sorted(medians.items()):
        leaf = path.split(" > ")[-1]
        for v in VARIANTS:
            paths.append(f"{path} > {v} {leaf}")
            prices.append(float(np.median(ps)) * (1.6 if v == "Professional" else 0.7 if v == "Kids'" else 1.0))
    return paths, embedder.encode([p.replace(" > ", ", ") for p in paths]), prices


def generate(n: int, folder: Path, embedder, seed: int = 0) -> tuple[Path, list[str]]:
    """Write n items to folder/items.jsonl and their vectors to folder/items.npy in chunks (bounded memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    jsonl, npy = folder / "items.jsonl", folder / "items.npy"
    rng = np.random.default_rng(seed)
    paths, leaf_vecs, medians = taxonomy(embedder)
    tops = sorted({p.split(" > ")[0] for p in paths})
    n_brands = 1_000
    brands = ["".join(rng.choice(SYLLABLES, 3)).capitalize() + f" {i % 97}" * (i >= 900) for i in range(n_brands)]
    brand_vecs = embedder.encode(brands)
    colour_vecs = embedder.encode(COLOURS)
    brand_tops = [set(rng.choice(len(tops), rng.integers(1, 3), replace=False)) for _ in range(n_brands)]
    leaf_p = 1.0 / np.arange(1, len(paths) + 1) ** 0.7
    leaf_p = rng.permutation(leaf_p / leaf_p.sum())
    brand_p = 1.0 / np.arange(1, n_brands + 1) ** 1.0
    brand_p /= brand_p.sum()
    by_top = {t: [b for b in range(n_brands) if t in brand_tops[b]] for t in range(len(tops))}
    if jsonl.exists() and npy.exists() and len(np.load(npy, mmap_mode="r")) == n:
        log(f"reusing {jsonl} ({n:,} items)")
        return jsonl, brands
    out = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(n, DIM))
    chunk = 50_000
    with open(jsonl, "w") as f:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            leaf = rng.choice(len(paths), m, p=leaf_p)
            colour = rng.integers(0, len(COLOURS), m)
            noise = rng.standard_normal((m, DIM)).astype(np.float32) / np.sqrt(DIM)
            brand = np.empty(m, dtype=np.int64)
            for j in range(m):
                top = tops.index(paths[leaf[j]].split(" > ")[0])
                pool = by_top[top] or list(range(n_brands))
                w = brand_p[pool] / brand_p[pool].sum()
                brand[j] = pool[int(np.searchsorted(np.cumsum(w), rng.random()))]
            vec = leaf_vecs[leaf] + 0.35 * brand_vecs[brand] + 0.25 * colour_vecs[colour] + 0.5 * noise
            out[start:start + m] = vec / np.linalg.norm(vec, axis=1, keepdims=True)
            prices = np.round(np.exp(rng.normal(np.log(np.array(medians)[leaf]), 0.45)), 2)
            stock = rng.random(m) >= 0.02
            for j in range(m):
                name = paths[leaf[j]].split(" > ")[-1]
                f.write(json.dumps({
                    "id": f"sku-{start + j:07d}", "title": f"{brands[brand[j]]} {COLOURS[colour[j]]} {name} "
                                                            f"{rng.integers(100, 9999)}",
                    "category": paths[leaf[j]], "brand": brands[brand[j]], "price": float(prices[j]),
                    "description": f"A {COLOURS[colour[j]]} {name.lower()} by {brands[brand[j]]}.",
                    "attributes": {"color": COLOURS[colour[j]], "material": MATERIALS[(leaf[j] + j) % len(MATERIALS)],
                                   "in_stock": "true" if stock[j] else "false"}}) + "\n")
            log(f"generated {start + m:,} of {n:,}")
    out.flush()
    return jsonl, brands


def queries(embedder, index: SharedIndex, brands: list[str], count: int, seed: int = 1):
    """(text, vector, filters | None) for `count` unfiltered and `count` filtered requests."""
    rng = np.random.default_rng(seed)
    leaves = [c for c in index.categories() if any(c.startswith(v) for v in VARIANTS)]
    tops = sorted({i.category_path[0] for i in generate_demo_catalog(seed=7)})
    unfiltered, filtered = [], []
    for i in range(count):
        leaf = leaves[rng.integers(len(leaves))]
        colour = COLOURS[rng.integers(len(COLOURS))]
        text = [f"{colour} {leaf.lower()}", f"a good {leaf.lower()} for a gift",
                f"{leaf.lower()} from {brands[rng.integers(50)]}"][i % 3]
        unfiltered.append((text, None))
        kind = i % 5
        if kind == 0:
            f = Filters(categories=(leaf,))
        elif kind == 1:
            f = Filters(categories=(tops[rng.integers(len(tops))],), max_price=float(rng.choice([25, 50, 100])))
        elif kind == 2:
            f = Filters(brands=(brands[rng.integers(30)],))
        elif kind == 3:
            f = Filters(categories=(leaf,), attributes={"color": colour})
        else:
            f = Filters(min_price=10.0, max_price=float(rng.choice([40, 80, 200])))
        filtered.append((text, f))
    texts = [t for t, _ in unfiltered + filtered]
    vecs = embedder.encode(texts)
    return [(t, v, f) for (t, f), v in zip(unfiltered + filtered, vecs)]


def exact_top(index: SharedIndex, qs, k: int = 20) -> list[list[int]]:
    """Exact top-k rows per query under its filters (one pass over the mapped matrix for all queries)."""
    masks = [index.allowed_rows(f) for _, _, f in qs]
    Q = np.stack([v for _, v, _ in qs]).T
    best = [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in qs]
    n = len(index.items)
    for start in range(0, n, 100_000):
        scores = np.asarray(index.embeddings[start:start + 100_000] @ Q)
        for j, mask in enumerate(masks):
            s = scores[:, j] if mask is None else np.where(mask[start:start + len(scores)], scores[:, j], -np.inf)
            part = np.argpartition(-s, k)[:k]
            rows = np.concatenate([best[j][0], part + start])
            vals = np.concatenate([best[j][1], s[part]])
            keep = np.argsort(-vals)[:k]
            best[j] = (rows[keep], vals[keep])
    return [[int(r) for r, v in zip(*b) if np.isfinite(v)] for b in best]


# ---------------------------------------------------------------- workers


def worker(folder: Path, feed_path: Path) -> None:
    """One serving process: the shared index, the embedder, a feed poller; answers JSON commands on stdin."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    embedder = shared_embedder(None)
    index = SharedIndex(folder, embedder)
    feed = Feed(feed_path)
    lock = threading.Lock()

    def poll() -> None:
        own = Feed(feed_path)
        while True:
            with lock:
                index.apply_changes(own.changes_since(index.applied_seq))
                index.signals.apply(own.events_since(index.signals.applied_seq))
            time.sleep(0.2)

    threading.Thread(target=poll, daemon=True).start()
    del feed
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "queries":  # run every query once (touches the index like real traffic)
            dead = set(cmd.get("dead", []))
            hits = 0
            for text, f in cmd["queries"]:
                filters = None if f is None else Filters(**f)
                hits += sum(s.item.item_id in dead for s in index.search(text, filters, 20))
            print(json.dumps({"dead_hits": hits, "applied": index.applied_seq}), flush=True)
        elif cmd["cmd"] == "wait_visible":
            vec = np.asarray(cmd["vector"], dtype=np.float32)
            while not any(s.item.item_id == cmd["id"] for s in index.vector_search(vec, None, 10)):
                time.sleep(0.02)
            print(json.dumps({"seen": time.time()}), flush=True)
        elif cmd["cmd"] == "wait_rank":
            while rank_of(index, cmd["text"], cmd["id"]) >= cmd["below"]:
                time.sleep(0.02)
            print(json.dumps({"seen": time.time()}), flush=True)
        elif cmd["cmd"] == "pss":
            print(json.dumps({"pss_mb": pss_mb(os.getpid())}), flush=True)


def rank_of(index, text: str, item_id: str, k: int = 40) -> int:
    """1-based rank of an item among the hits for text re-scored with the event signals (as agent/tools does)."""
    hits = index.search(text, None, k)
    ids = [s.item.item_id for s in hits]
    scores = np.array([s.score for s in hits]) + index.signals.boost(ids)
    order = [ids[o] for o in np.argsort(-scores, kind="stable")]
    return order.index(item_id) + 1 if item_id in order else k + 1


def pss_mb(pid: int) -> float:
    """Proportional set size of a process in MB (shared pages divided among the processes mapping them)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Worker:
    def __init__(self, folder: Path, feed_path: Path):
        self.proc = subprocess.Popen([sys.executable, "-m", "evals.bench_scale", "--worker", str(folder),
                                      "--feed", str(feed_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.pid = json.loads(self._line())["ready"]

    def _line(self) -> str:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("bench worker died")
            if line.startswith("{"):
                return line

    def send(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")

    def answer(self) -> dict:
        return json.loads(self._line())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# ---------------------------------------------------------------- baselines


def inram_baseline(jsonl: Path, n: int) -> dict:
    """Memory of the in-RAM per-process CatalogIndex over the first n items (run in a child process)."""
    code = ("import sys,json,numpy as np;from evals.bench_scale import pss_mb;from retrieval.shared import read_rows;"
            "from retrieval.search import CatalogIndex;import os;"
            f"n={n};V=np.array(np.load('{jsonl.with_suffix('.npy')}',mmap_mode='r')[:n]);"
            f"items=[it for _,it in zip(range(n),(r for _,r in read_rows('{jsonl}')))];"
            "ix=CatalogIndex(None,None,items,V);print(json.dumps({'pss_mb':pss_mb(os.getpid())}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pushdown_baseline(jsonl: Path, n: int, qs) -> dict:
    """Chroma server (`chroma run`) with the first n items: ingest rate and filtered query p95 with `where`."""
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        server = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", tmp, "--port",
                                   str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            store = _connect(ChromaLocation(path=None, host="127.0.0.1", port=port))
            vectors = np.load(jsonl.with_suffix(".npy"), mmap_mode="r")
            started, batch = time.perf_counter(), []
            for ordinal, item in read_rows(jsonl):
                if ordinal >= n:
                    break
                batch.append(item)
                if len(batch) == 1_000:
                    store.upsert(batch, np.asarray(vectors[ordinal - 999:ordinal + 1]))
                    batch = []
            if batch:
                store.upsert(batch, np.asarray(vectors[n - len(batch):n]))
            rate = n / (time.perf_counter() - started)
            times = []
            for _, vec, f in qs:
                if f is None or not f.categories:
                    continue
                where = {"cat4": f.categories[0]} if f.max_price is None else {
                    "$and": [{"cat0": f.categories[0]}, {"price": {"$lte": f.max_price}}]}
                t = time.perf_counter()
                store.query(vec, 20, where=where)
                times.append((time.perf_counter() - t) * 1000)
            return {"items": n, "chroma_server_ingest_items_per_s": round(rate, 1),
                    "p95_ms_filtered_where": round(float(np.percentile(times, 95)), 1) if times else None}
        finally:
            server.terminate()
            server.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect(location):
    for _ in range(120):
        try:
            return CatalogStore(location)
        except Exception:  # noqa: BLE001 - the server is still starting: any connection error means "wait"
            time.sleep(0.5)
    raise RuntimeError("chroma server did not start")


def cache_replay(episodes: int = 40) -> dict:
    """Result-cache and query-vector hit rates over the demo acceptance suite (scripted conversations)."""
    suite = load_suite(Path(__file__).resolve().parent / "conversations" / "acceptance" / "demo.yaml")
    agent = build_agent(replace(Settings.from_env(), llm_backend="none", collection="demo"))
    cache = agent.index.cache
    cache.hits = cache.misses = 0
    run_suite(agent, suite, progress=False)
    scripted = {"conversations": len(suite.conversations), "search_lookups": cache.hits + cache.misses,
                "search_hit_rate": round(cache.hit_rate, 3)}
    hits, misses = cache.hits, cache.misses
    rng = random.Random(7)
    targets = [(item, []) for item in rng.sample(list(agent.index.items), min(episodes, len(agent.index)))]
    run_simulation(agent, targets)
    simulated = {"episodes": len(targets), "search_lookups": cache.hits - hits + cache.misses - misses,
                 "search_hit_rate": round((cache.hits - hits) / max(cache.hits - hits + cache.misses - misses, 1), 3)}
    return {"scripted": scripted, "simulator": simulated, "search_hit_rate": round(cache.hit_rate, 3)}


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=60, help="unfiltered queries (and as many filtered)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--folder", type=Path, default=Path("var/bench_scale"))
    ap.add_argument("--store-items", type=int, default=20_000, help="items for the Chroma pushdown baseline (0: skip)")
    ap.add_argument("--baseline-items", type=int, default=100_000, help="items for the in-RAM baseline (0: skip)")
    ap.add_argument("--no-replay", action="store_true", help="skip the cache replay")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--feed", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.feed)
        return 0
    from threadpoolctl import threadpool_limits

    out: dict = {"items": args.items, "workers": args.workers, "cpus": os.cpu_count()}
    embedder = shared_embedder(None)
    folder = args.folder / f"n{args.items}"
    jsonl, brands = generate(args.items, folder, embedder)

    log("ingest: streaming JSONL + .npy into the shared index")
    started = time.perf_counter()
    vectors = vectors_for(jsonl)
    rows = ((item, vectors[o]) for o, item in read_rows(jsonl) if isinstance(item, Item))
    build_shared_index(folder / "index", rows, progress=log)
    out["ingest_items_per_s"] = round(args.items / (time.perf_counter() - started), 1)
    log(f"ingest {out['ingest_items_per_s']} items/s")

    index = SharedIndex(folder / "index", embedder)
    qs = queries(embedder, index, brands, args.queries)
    for text, _, _ in qs:
        embedder.encode_one(text)  # the query-vector LRU: latency below is the index's, encoding is reported apart
    enc = []
    for text, _, _ in qs[:40]:
        t = time.perf_counter()
        embedder.encode_one(text, remember=False)
        enc.append((time.perf_counter() - t) * 1000)
    out["p95_ms_query_encode"] = round(float(np.percentile(enc, 95)), 1)
    index.cache.size = 0  # measure the index, not the cache
    with threadpool_limits(1):
        for _ in range(2):
            lat = {"unfiltered": [], "filtered": []}
            for text, _, f in qs:
                t = time.perf_counter()
                index.search(text, f, 20)
                lat["filtered" if f else "unfiltered"].append((time.perf_counter() - t) * 1000)
    out["p95_ms_unfiltered"] = round(float(np.percentile(lat["unfiltered"], 95)), 1)
    out["p95_ms_filtered"] = round(float(np.percentile(lat["filtered"], 95)), 1)
    log(f"latency p95 unfiltered {out['p95_ms_unfiltered']} ms, filtered {out['p95_ms_filtered']} ms")
    exact = exact_top(index, qs)
    recalls = []
    for (_, vec, f), truth in zip(qs, exact):
        got = {index.position[s.item.item_id] for s in index.vector_search(vec, f, 20)}
        if truth:
            recalls.append(len(got & set(truth)) / len(truth))
    out["recall_at_20"] = round(float(np.mean(recalls)), 4)
    log(f"recall@20 {out['recall_at_20']}")

    feed_path = folder / "feed.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(feed_path) + suffix).unlink(missing_ok=True)
    feed = Feed(feed_path)
    log(f"starting {args.workers} workers")
    workers = [Worker(folder / "index", feed_path) for _ in range(args.workers)]
    try:
        wire = [(t, None if f is None else {"categories": list(f.categories), "min_price": f.min_price,
                                            "max_price": f.max_price, "brands": list(f.brands),
                                            "attributes": dict(f.attributes)}) for t, _, f in qs]
        for w in workers:
            w.send(cmd="queries", queries=wire)
        for w in workers:
            w.answer()
        # live: add one item near a query, delete the top 3 hits of 20 queries
        _, vec0, _ = qs[0]
        new = Item("sku-new-1", "Brand-new test product", index.items[0].category, "Zorblax", 9.99)
        doomed = sorted({s.item.item_id for t, _, f in qs[:20] for s in index.search(t, f, 3)})
        t0 = time.time()
        feed.append_changes([(new.item_id, new, vec0)] + [(i, None, None) for i in doomed])
        for w in workers:
            w.send(cmd="wait_visible", id=new.item_id, vector=[float(x) for x in vec0])
        out["new_item_visible_s"] = round(max(w.answer()["seen"] for w in workers) - t0, 2)
        for w in workers:
            w.send(cmd="queries", queries=wire, dead=doomed)
        answers = [w.answer() for w in workers]
        out["deleted_item_recommended"] = sum(a["dead_hits"] for a in answers)
        out["deleted_items"] = len(doomed)
        # events: a burst of likes for the item ranked 15th for a query
        index.apply_changes(feed.changes_since(0))
        text1 = qs[5][0]
        target = [s.item.item_id for s in index.search(text1, None, 40)][14]
        before = rank_of(index, text1, target)
        t0 = time.time()
        feed.append_events([(f"shopper-{i % 10}", target, "like") for i in range(30)])
        for w in workers:
            w.send(cmd="wait_rank", text=text1, id=target, below=before)
        out["event_to_rank_s"] = round(max(w.answer()["seen"] for w in workers) - t0, 2)
        index.signals.apply(feed.events_since(0))
        out["event_rank_before_after"] = [before, rank_of(index, text1, target)]
        for w in workers:
            w.send(cmd="pss")
        pss = [w.answer()["pss_mb"] for w in workers]
        out["pss_mb_per_worker"] = round(max(pss), 1)
        out["total_mb_all_workers"] = round(sum(pss), 1)
    finally:
        for w in workers:
            w.close()
    log(f"workers: pss {out['pss_mb_per_worker']} MB each, new item visible {out['new_item_visible_s']} s, "
        f"deleted recommended {out['deleted_item_recommended']}, event to rank {out['event_to_rank_s']} s")
    if args.baseline_items:
        b = min(args.baseline_items, args.items)
        base = inram_baseline(jsonl, b)
        out["baseline_inram"] = {"items": b, "pss_mb_one_process": round(base["pss_mb"], 1),
                                 "pss_mb_per_worker_scaled_to_items": round(base["pss_mb"] * args.items / b, 1)}
        log(f"in-RAM baseline {out['baseline_inram']}")
    if args.store_items:
        out["baseline_store_pushdown"] = pushdown_baseline(jsonl, min(args.store_items, args.items), qs)
        log(f"pushdown baseline {out['baseline_store_pushdown']}")
    if not args.no_replay:
        out["cache_replay"] = cache_replay()
        out["cache_hit_rate"] = out["cache_replay"]["search_hit_rate"]
        log(f"cache replay {out['cache_replay']}")
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
