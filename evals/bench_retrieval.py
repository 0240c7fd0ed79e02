"""Retrieval benchmark: ingest speed, search latency, HNSW recall, exact-name hits, peak memory.

Run from the repo root: `python -m evals.bench_retrieval [--data ../shared/data] [--quick]`.
Part 1 uses the real Amazon Scientific catalog (4,385 items, real MiniLM embeddings); part 2 a synthetic
100,000-item catalog (real embeddings plus noise, synthetic metadata) for latency at scale.
Progress goes to stderr; the last stdout line is one JSON object with the figures, settings and hardware.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import psutil

from evals.lib.record import emit
from retrieval import search as search_module
from retrieval.catalogs import amazon_items
from retrieval.embed import Embedder
from retrieval.ingest import ingest_items
from retrieval.items import Item
from retrieval.search import CatalogIndex, Filters
from retrieval.store import HNSW, CatalogStore, ChromaLocation

K = 20  # results per search, as the agent asks
HIT_AT = 5  # exact-name queries must return the product in the top 5
UPSERT_CHUNK = 5_000  # under Chroma's max batch (5,461)
NOISE = 0.03  # per-dimension noise on real embeddings for synthetic items: cosine to the source ~0.8
# A digit run followed by a unit marks a size or rating ("12V", "3.5cc", "6.5-Peak", "2-in-1"), not a model number.
MEASURE = re.compile(r"\d(\.\d+)?-?(v|a|w|mm|cm|m|cc|ml|l|oz|ounce|inch|in|pound|lb|lbs|ft|feet|yd|yds|hole|prong|"
                     r"peak|pin|pcs|pc|pk|pack|gauge|ga|awg|mah|ma|mhz|hz|grit|kg|g|x|piece|count|ct|mil|ohm|rpm|psi|k|bit|pt|h|d)(?![a-z])"
                     r"|\d\.\d|^\d+/\d", re.I)  # also decimals ("4.125") and fractions ("1/4-20")
COUNT_WORDS = {"pcs", "pc", "pieces", "piece", "pack", "pk", "count", "ct", "sheets", "rolls", "feet", "ft", "yards"}
MAX_TOKEN_TITLES = 3  # a code in more titles than this is a spec or part family ("ASTM B221"), not a model number
SHOPPER_QUERIES = [
    "nitrile exam gloves large", "pla filament for 3d printer", "kapton tape for electronics",
    "digital multimeter", "stainless steel wood screws", "lab glass beakers set", "safety glasses anti fog",
    "heat shrink tubing assortment", "soldering station", "microscope slides", "dental floss picks",
    "hand sanitizer gel", "caliper for measuring", "petg filament black", "duct tape heavy duty",
    "respirator mask", "ph test strips", "zip ties", "silicone sealant clear", "thermometer probe",
]


def log(message: str) -> None:
    """Progress on stderr, so stdout ends with the JSON line only."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    """Resident memory now, MB."""
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency_ms(run: Callable[[object], object], queries: list, warmup: int = 5) -> dict[str, float]:
    """p50/p95/mean wall time of run(q) over the queries, after a few warm-up calls, plus CPU time.

    CPU time (all threads of this process) separates the work a query does from time spent waiting for a
    core, which dominates wall time when other processes share the 2 cores.
    """
    for q in queries[:warmup]:
        run(q)
    times, cpu = [], []
    for q in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        run(q)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return {"p50": round(float(np.percentile(times, 50)), 2), "p95": round(float(np.percentile(times, 95)), 2),
            "mean": round(float(np.mean(times)), 2), "n": len(times),
            "cpu_p50": round(float(np.percentile(cpu, 50)), 2), "cpu_p95": round(float(np.percentile(cpu, 95)), 2)}


def exact_top(matrix: np.ndarray, vector: np.ndarray, k: int, rows: np.ndarray | None = None) -> set[int]:
    """Brute-force top-k row numbers by cosine (rows are unit vectors), optionally among `rows` only."""
    rows = np.arange(len(matrix)) if rows is None else rows
    scores = matrix[rows] @ vector
    return {int(r) for r in rows[np.argpartition(-scores, min(k, len(rows) - 1))[:k]]}


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    """Mean share of the true top-k found."""
    return round(float(np.mean([len(f & t) / max(len(t), 1) for f, t in zip(found, truth)])), 4)


# ---------------------------------------------------------------- part 1: the Amazon catalog


def bench_ingest(items: list[Item], embedder: Embedder, root: Path) -> tuple[dict, CatalogStore]:
    """Raw encoder throughput vs ingest throughput on the same texts, in the same run."""
    texts = [i.text() for i in items]
    embedder.encode(texts[:64])  # warm-up: first call pays for lazy init
    raw_runs = []
    for attempt in (1, 2):  # once before and once after ingest, so drift (thermal, other load) shows
        if attempt == 2:
            store = CatalogStore(ChromaLocation(path=root / "amazon"))
            log(f"ingesting {len(items)} items into a fresh store")
            report = ingest_items(store, embedder, items, progress=False)
            assert report.added == len(items) and not report.errors, report.summary()
        start = time.perf_counter()
        embedder.encode(texts)
        raw_runs.append(len(texts) / (time.perf_counter() - start))
        log(f"raw encoder: {raw_runs[-1]:.1f} items/s")
    raw = float(np.mean(raw_runs))
    ingest = report.added / report.seconds
    log(f"ingest: {ingest:.1f} items/s in {report.seconds:.1f}s -> ratio {ingest / raw:.3f}")
    return {"ingest_ratio": round(ingest / raw, 3), "ingest_items_per_s": round(ingest, 1),
            "raw_encode_items_per_s": round(raw, 1), "raw_encode_runs_items_per_s": [round(r, 1) for r in raw_runs],
            "ingest_seconds": round(report.seconds, 2), "ingest_items": report.added}, store


def query_vectors(index: CatalogIndex, embedder: Embedder, n: int, seed: int) -> np.ndarray:
    """Held-out query vectors: the embedded titles (alone) of sampled items plus shopper-style queries."""
    rng = random.Random(seed)
    titles = [i.title for i in rng.sample(index.items, min(n, len(index.items)))]
    texts = (titles + SHOPPER_QUERIES)[:max(n, len(SHOPPER_QUERIES))]
    return embedder.encode(texts)


def bench_recall(index: CatalogIndex, vectors: np.ndarray) -> dict:
    """Recall@K of Chroma's HNSW (store.query) and of vector_search against brute force on the stored embeddings."""
    truth = [exact_top(index.embeddings, v, K) for v in vectors]
    hnsw = [{index.position[i] for i, _ in index.store.query(v, K)} for v in vectors]
    ours = [{index.position[s.item.item_id] for s in index.vector_search(v, k=K)} for v in vectors]
    return {"recall_at_20": recall(hnsw, truth), "recall_at_20_vector_search": recall(ours, truth),
            "recall_queries": len(vectors)}


def sweep_ef_search(index: CatalogIndex, queries: np.ndarray, values: tuple[int, ...] = (16, 32, 64, 128, 256)) -> dict:
    """Recall@K and latency of Chroma's HNSW at several ef_search values (the one knob Chroma can change in place)."""
    truth = [exact_top(index.embeddings, q, K) for q in queries]
    collection = index.store.collection
    out = {}
    try:
        for ef in values:
            collection.modify(configuration={"hnsw": {"ef_search": ef}})
            found = [{index.position[i] for i, _ in index.store.query(q, K)} for q in queries]
            ms = latency_ms(lambda q: index.store.query(q, K), list(queries))
            out[str(ef)] = {"recall_at_20": recall(found, truth), "p50_ms": ms["p50"], "p95_ms": ms["p95"]}
            log(f"  ef_search {ef}: {out[str(ef)]}")
    finally:
        collection.modify(configuration={"hnsw": {"ef_search": HNSW["ef_search"]}})
    return out


def model_tokens(title: str, brand: str = "") -> list[str]:
    """Model-number-like words of a title ("DW4524", "10-116", "740000801"), not sizes or counts ("12V", "100 Pack")."""
    words = [w.strip("()[],;:#\"'") for w in title.split()]
    found = []
    for at, word in enumerate(words):
        compact = re.sub(r"[-/.]", "", word)
        if len(compact) < 4 or not compact.isalnum() or sum(c.isdigit() for c in compact) < 2:
            continue
        if MEASURE.search(word) or word.lower() == brand.lower():
            continue
        if "/" in word and not all(any(c.isdigit() for c in side) for side in word.split("/")):
            continue  # "Box/100", "Inch/12.7"
        if compact.isdigit() and ((at + 1 < len(words) and words[at + 1].lower() in COUNT_WORDS)
                                  or (at > 0 and words[at - 1].lower() == "of")):
            continue  # "1000 Pcs", "Box of 1000"
        found.append(word)
    return found


def bench_exact_name(index: CatalogIndex, items: list[Item], n: int, seed: int) -> dict:
    """Share of sampled products found in the top HIT_AT when searched by brand + model-number words."""
    tokens = {i.item_id: model_tokens(i.title, i.brand or "") for i in items}
    titles_with: dict[str, int] = {}
    for found in tokens.values():
        for t in {t.lower() for t in found}:
            titles_with[t] = titles_with.get(t, 0) + 1
    candidates = [(i, [t for t in tokens[i.item_id] if titles_with[t.lower()] <= MAX_TOKEN_TITLES])
                  for i in items if i.brand]
    candidates = [(i, t) for i, t in candidates if t]
    sample = random.Random(seed).sample(candidates, min(n, len(candidates)))
    hits, misses = 0, []
    for item, tokens in sample:
        query = " ".join([item.brand, *tokens])
        top = [s.item.item_id for s in index.search(query, k=K)[:HIT_AT]]
        if item.item_id in top:
            hits += 1
        elif len(misses) < 10:
            misses.append({"query": query, "id": item.item_id, "title": item.title[:100]})
    return {"exact_name_hit_at_5": round(hits / max(len(sample), 1), 4), "exact_name_queries": len(sample),
            "exact_name_eligible": len(candidates), "exact_name_misses_sample": misses}


def bench_amazon(args: argparse.Namespace, embedder: Embedder, root: Path) -> tuple[dict, np.ndarray]:
    """Part 1. Returns the figures and the real embeddings (the seed for the synthetic catalog)."""
    items = amazon_items(args.data)
    if args.quick:
        items = items[:1_000]
    log(f"Amazon catalog: {len(items)} items")
    out, store = bench_ingest(items, embedder, root)
    start = time.perf_counter()
    index = CatalogIndex.from_store(store, embedder)
    out["index_build_seconds_amazon"] = round(time.perf_counter() - start, 2)
    vectors = query_vectors(index, embedder, args.queries, args.seed)
    out.update(bench_recall(index, vectors))
    log(f"recall@{K}: HNSW {out['recall_at_20']}, vector_search {out['recall_at_20_vector_search']}")
    out.update(bench_exact_name(index, items, args.exact_names, args.seed))
    log(f"exact-name hit@{HIT_AT}: {out['exact_name_hit_at_5']} of {out['exact_name_queries']}")
    rng = random.Random(args.seed)
    texts = SHOPPER_QUERIES + [" ".join(i.title.split()[:6]) for i in rng.sample(items, args.queries)]
    departments = [c for c, _ in _common([i.top_category for i in items if i.top_category])[:8]]
    # The Amazon rows have no prices, so the filtered hybrid case filters on category alone.
    filters = [Filters(categories=(departments[j % len(departments)],)) for j in range(len(texts))]
    out["hybrid_amazon_unfiltered_ms"] = latency_ms(lambda q: index.search(q, k=K), texts)
    out["hybrid_amazon_category_ms"] = latency_ms(lambda j: index.search(texts[j], filters[j], k=K),
                                                  list(range(len(texts))))
    log(f"hybrid search on Amazon: {out['hybrid_amazon_unfiltered_ms']} / category {out['hybrid_amazon_category_ms']}")
    out.update(bench_query_encode(embedder, texts))
    out["rss_mb_after_amazon"] = round(rss_mb(), 1)
    return out, index.embeddings


def bench_query_encode(embedder: Embedder, texts: list[str]) -> dict:
    """Query embedding time, the first step of every hybrid search, at the default and at one torch thread."""
    import torch

    threads = torch.get_num_threads()
    def encode(text: str):
        return embedder.encode_one(text, remember=False)  # a fresh encode every time, not a remembered vector

    out = {"query_encode_ms": latency_ms(encode, texts)}
    torch.set_num_threads(1)  # diagnosis: with another busy process on 2 cores, 2 threads wait on each other
    try:
        out["query_encode_ms_1_thread"] = latency_ms(encode, texts)
    finally:
        torch.set_num_threads(threads)
    log(f"query encode: {out['query_encode_ms']}, at 1 thread {out['query_encode_ms_1_thread']}")
    return out


def _common(values: list[str]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


# ---------------------------------------------------------------- part 2: a synthetic 100k catalog

DEPARTMENTS = 25  # top-level categories: one is 4% of the catalog
AISLES = 8  # sub-categories per department
WORDS = ("steel brass nylon cordless compact heavy duty mini pro digital manual rechargeable industrial lab "
         "portable precision waterproof adjustable universal replacement magnetic").split()
NOUNS = "drill clamp tape gloves filament sensor valve pump meter scale bottle brush cable screw kit".split()


def synthetic_catalog(base: np.ndarray, n: int, seed: int) -> tuple[list[Item], np.ndarray]:
    """n items whose vectors are real embeddings plus noise (clustered like a real catalog), with metadata."""
    rng = np.random.default_rng(seed)
    source = rng.integers(0, len(base), n)
    vectors = base[source] + rng.normal(0, NOISE, (n, base.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    prices = np.round(np.exp(rng.normal(3.6, 1.0, n)), 2)  # log-normal around $37
    dept = rng.integers(0, DEPARTMENTS, n)
    aisle = rng.integers(0, AISLES, n)
    brand = rng.integers(0, 800, n)
    words = rng.integers(0, len(WORDS), (n, 2))
    noun = rng.integers(0, len(NOUNS), n)
    items = [
        Item(item_id=f"syn-{r:06d}",
             title=f"Brand{brand[r]:03d} SX{r:06d} {WORDS[words[r, 0]]} {WORDS[words[r, 1]]} {NOUNS[noun[r]]}",
             category=f"Synthetic > Department {dept[r]:02d} > Aisle {dept[r]:02d}-{aisle[r]}",
             brand=f"Brand{brand[r]:03d}", price=float(prices[r]),
             description=f"A {WORDS[words[r, 1]]} {NOUNS[noun[r]]} for department {dept[r]} work.",
             attributes={"material": WORDS[words[r, 0]]})
        for r in range(n)
    ]
    return items, vectors


def noisy_queries(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Query vectors drawn like the catalog but not in it."""
    rng = np.random.default_rng(seed + 1)
    q = base[rng.integers(0, len(base), n)] + rng.normal(0, NOISE, (n, base.shape[1])).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def bench_scale(args: argparse.Namespace, embedder: Embedder, base: np.ndarray, root: Path) -> dict:
    """Part 2: upsert a synthetic catalog straight into Chroma, build the index, time filtered and unfiltered search."""
    n = args.n_synthetic
    items, vectors = synthetic_catalog(base, n, args.seed)
    store = CatalogStore(ChromaLocation(path=root / "synthetic"))
    log(f"upserting {n} synthetic items into Chroma")
    start = time.perf_counter()
    for at in range(0, n, UPSERT_CHUNK):
        store.upsert(items[at:at + UPSERT_CHUNK], vectors[at:at + UPSERT_CHUNK])
        if at and at % 25_000 == 0:
            log(f"  {at} upserted, {at / (time.perf_counter() - start):.0f} items/s")
    upsert_s = time.perf_counter() - start
    del items, vectors
    start = time.perf_counter()
    index = CatalogIndex.from_store(store, embedder)
    build_s = time.perf_counter() - start
    log(f"upsert {upsert_s:.1f}s, index build (load from Chroma + BM25) {build_s:.1f}s, RSS {rss_mb():.0f} MB")
    queries = noisy_queries(base, args.queries, args.seed)
    rng = random.Random(args.seed)
    narrow = [Filters(categories=(f"Department {rng.randrange(DEPARTMENTS):02d}",), min_price=10.0, max_price=100.0)
              for _ in queries]
    broad = [Filters(max_price=60.0) for _ in queries]  # about 60% of rows: takes the HNSW + post-filter path
    pairs = list(range(len(queries)))
    out = {"n_synthetic": n, "synthetic_upsert_items_per_s": round(n / upsert_s, 1),
           "index_build_seconds_100k": round(build_s, 2),
           "narrow_filter_share": round(float(index.allowed_rows(narrow[0]).mean()), 4),
           "broad_filter_share": round(float(index.allowed_rows(broad[0]).mean()), 4)}
    unfiltered = latency_ms(lambda j: index.vector_search(queries[j], k=K), pairs)
    filtered = latency_ms(lambda j: index.vector_search(queries[j], narrow[j], k=K), pairs)
    broad_ms = latency_ms(lambda j: index.vector_search(queries[j], broad[j], k=K), pairs)
    out.update({"p50_ms_unfiltered_100k": unfiltered["p50"], "p95_ms_unfiltered_100k": unfiltered["p95"],
                "p50_ms_filtered_100k": filtered["p50"], "p95_ms_filtered_100k": filtered["p95"],
                "p50_ms_broad_filtered_100k": broad_ms["p50"], "p95_ms_broad_filtered_100k": broad_ms["p95"]})
    log(f"vector_search at {n}: unfiltered {unfiltered}, category+price {filtered}, broad price {broad_ms}")
    where = [{"$and": [{"cat1": f.categories[0]}, {"price": {"$gte": f.min_price}}, {"price": {"$lte": f.max_price}}]}
             for f in narrow]
    few = pairs[:args.chroma_where_queries]
    chroma_plain = latency_ms(lambda j: index.store.query(queries[j], K), pairs)
    chroma_where = latency_ms(lambda j: index.store.query(queries[j], K, where=where[j]), few, warmup=2)
    out.update({"chroma_query_ms_100k": chroma_plain, "chroma_where_query_ms_100k": chroma_where})
    log(f"Chroma-native: plain {chroma_plain}, where category+price {chroma_where}")
    out["ef_search_sweep_100k"] = sweep_ef_search(index, queries[:100])
    out["recall_at_20_hnsw_100k"] = out["ef_search_sweep_100k"][str(HNSW["ef_search"])]["recall_at_20"]
    broad_rows = np.flatnonzero(index.allowed_rows(broad[0]))
    truth = [exact_top(index.embeddings, q, K, broad_rows) for q in queries[:100]]
    found = [{index.position[s.item.item_id] for s in index.vector_search(q, broad[0], k=K)} for q in queries[:100]]
    out["recall_at_20_broad_filtered_100k"] = recall(found, truth)
    log(f"recall@{K} at {n}: HNSW {out['recall_at_20_hnsw_100k']}, broad-filtered {out['recall_at_20_broad_filtered_100k']}")
    texts = [f"{WORDS[j % len(WORDS)]} {NOUNS[j % len(NOUNS)]}" for j in pairs]
    hybrid = latency_ms(lambda j: index.search(texts[j], k=K), pairs)
    hybrid_f = latency_ms(lambda j: index.search(texts[j], narrow[j], k=K), pairs)
    out.update({"hybrid_ms_unfiltered_100k": hybrid, "hybrid_ms_filtered_100k": hybrid_f})
    log(f"hybrid search at {n}: unfiltered {hybrid}, category+price {hybrid_f}")
    out["rss_mb_after_100k"] = round(rss_mb(), 1)
    return out


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; --quick shrinks everything for a fast smoke run."""
    p = argparse.ArgumentParser(prog="python -m evals.bench_retrieval", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder")
    p.add_argument("--n-synthetic", type=int, default=100_000, help="items in the synthetic scale catalog")
    p.add_argument("--queries", type=int, default=200, help="queries per latency and recall measurement")
    p.add_argument("--exact-names", type=int, default=200, help="products sampled for exact-name queries")
    p.add_argument("--chroma-where-queries", type=int, default=50, help="Chroma-native filtered queries (slow)")
    p.add_argument("--embed-model", type=Path, default=None, help="embedding model folder (default: shipped MiniLM)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="small fast run: 1,000 Amazon items, 10k synthetic")
    args = p.parse_args(argv)
    if args.quick:
        args.n_synthetic = min(args.n_synthetic, 10_000)
        args.queries, args.exact_names, args.chroma_where_queries = 50, 50, 10
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run both parts and print the JSON line."""
    args = parse_args(argv)
    if not (args.data / "amazon2018-industrial-scientific").exists():
        sys.exit(f"No Amazon catalog under {args.data}. Pass --data <folder holding amazon2018-industrial-scientific>.")
    started = time.perf_counter()
    embedder = Embedder(args.embed_model)
    import chromadb

    results: dict = {"load_avg_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bench_retrieval_") as tmp:
        amazon, base = bench_amazon(args, embedder, Path(tmp))
        results.update(amazon)
        results.update(bench_scale(args, embedder, base, Path(tmp)))
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["load_avg_at_end"] = round(os.getloadavg()[0], 2)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["settings"] = {
        "quick": args.quick, "k": K, "queries": args.queries, "seed": args.seed, "hnsw": HNSW,
        "exact_filter_rows": search_module.EXACT_FILTER_ROWS, "vector_weight": search_module.VECTOR_WEIGHT,
        "lexical_weight": search_module.LEXICAL_WEIGHT, "embed_model": embedder.name,
        "max_seq_length": embedder.model.max_seq_length, "encode_batch_size": embedder.batch_size,
        "synthetic_noise": NOISE}
    results["hardware"] = {"chromadb": chromadb.__version__}  # emit adds the common record beside it
    emit(results)
    return results


if __name__ == "__main__":
    main()
