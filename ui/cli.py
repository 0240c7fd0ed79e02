"""The `convrec` command: ingest, search, demo, chat, serve, train, lora, eval.

The top of the layers: it may import every package and nothing imports it. Subcommands import what they run
only when chosen, so `convrec --help` does not load torch, Gradio or the models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from agent.config import Settings


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `convrec` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["train"], ["lora"], ["eval"]):  # these parse their own flags
        return _forward(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    settings = Settings.from_env(
        collection=getattr(args, "collection", None),
        chroma_dir=getattr(args, "chroma_dir", None),
        chroma_host=getattr(args, "chroma_host", None),
        chroma_port=getattr(args, "chroma_port", None),
        data_dir=getattr(args, "data", None),
        llm_backend=getattr(args, "llm", None),
        mode=getattr(args, "mode", None),
    )
    try:
        return args.run(args, settings)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="convrec", description="Conversational recommender for e-commerce.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--collection", help="catalog (Chroma collection) name; default: demo")
        sp.add_argument("--chroma-dir", type=Path, help="embedded Chroma folder; default: var/chroma")
        sp.add_argument("--chroma-host", help="use a Chroma server at this host instead of the folder")
        sp.add_argument("--chroma-port", type=int, help="Chroma server port; default 8000")
        sp.add_argument("--data", type=Path, help="shared datasets folder; default ../shared/data")

    sp = sub.add_parser("ingest", help="add or update a catalog: a .jsonl/.csv file, or demo|amazon|redial|shopdial")
    common(sp)
    sp.add_argument("source", help="catalog file, or the name of a built-in catalog: demo, amazon, redial, shopdial")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.add_argument("--shared-index", type=Path, metavar="DIR",
                    help="build the shared memory-mapped index for large catalogs in DIR (streamed; uses the .npy "
                         "of embeddings next to the .jsonl when there is one); serve it with --shared-index DIR")
    sp.add_argument("--live", action="store_true",
                    help="apply the rows as changes to the serving catalog (rows with \"deleted\": true delete); "
                         "every `convrec serve` worker on the same sessions database sees them at its next request")
    sp.set_defaults(run=_ingest)

    sp = sub.add_parser("search", help="search the catalog (hybrid: meaning + exact names)")
    common(sp)
    sp.add_argument("query", nargs="?", help="what to look for; omit for an interactive prompt")
    sp.add_argument("-k", type=int, default=5)
    sp.add_argument("--category", action="append", default=[])
    sp.add_argument("--brand", action="append", default=[])
    sp.add_argument("--min-price", type=float)
    sp.add_argument("--max-price", type=float)
    sp.add_argument("--json", action="store_true", help="print JSON lines")
    sp.set_defaults(run=_search)

    for name, helptext in (("demo", "build the demo catalog if needed and open the chat UI"),
                           ("chat", "open the chat UI (or --cli for the terminal)"),
                           ("serve", "run the HTTP API for customer-service bots")):
        sp = sub.add_parser(name, help=helptext)
        common(sp)
        sp.add_argument("--llm", choices=["local", "openai", "none"], help="language model backend")
        sp.add_argument("--mode", choices=["auto", "guided", "agentic"])
        sp.add_argument("--host")
        sp.add_argument("--port", type=int)
        if name != "serve":
            sp.add_argument("--cli", action="store_true", help="chat in the terminal instead of the browser")
        else:
            sp.add_argument("--workers", type=int, help="worker processes on one port (default 1; with several, "
                            "set CONVREC_SESSIONS_URL=postgresql://... for the sessions)")
            sp.add_argument("--shared-index", type=Path, metavar="DIR",
                            help="serve the shared index built by `convrec ingest FILE --shared-index DIR` (workers "
                                 "share its memory-mapped files)")
        sp.set_defaults(run=_surface)

    sub.add_parser("train", help="train the interest model (see `convrec train --help`)")
    sub.add_parser("lora", help="build data for and train the local model's LoRA adapter (see `convrec lora --help`)")
    sub.add_parser("eval", help="run the offline evaluation and write a report (see `convrec eval --help`)")
    return p


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from agent.catalog import ingest, location

    if args.shared_index or args.live:
        return _ingest_scale(args, settings)
    npy = Path(args.source).with_suffix(".npy")
    if Path(args.source).suffix.lower() == ".jsonl" and npy.exists():  # precomputed embeddings: nothing to encode
        from retrieval.ingest import ingest_precomputed
        from retrieval.shared import read_rows, vectors_for
        from retrieval.store import CatalogStore

        vectors = vectors_for(Path(args.source))
        rows = ((row, vectors[o]) for o, row in read_rows(Path(args.source)) if o < len(vectors))
        report = ingest_precomputed(CatalogStore(location(settings)), rows)
    else:
        report = ingest(settings, args.source, progress=not args.quiet)
    for dup in report.duplicates[:50]:
        print(f"note: {dup}", file=sys.stderr)
    for err in report.errors[:50]:
        print(f"rejected: {err}", file=sys.stderr)
    if len(report.errors) > 50:
        print(f"... and {len(report.errors) - 50} more rejected rows", file=sys.stderr)
    print(f"{location(settings).describe()}: {report.summary()}")
    return 0


def _ingest_scale(args: argparse.Namespace, settings: Settings) -> int:
    """`--shared-index DIR` builds the shared index; `--live` applies changed rows to the serving catalog."""
    from agent.catalog import open_catalog
    from agent.live import (
        CatalogUpdateError,
        ingest_live,
        ingest_shared,
        open_feed,
        open_index,
    )

    if not args.live:
        say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
        meta, rejected = ingest_shared(settings, args.source, args.shared_index, progress=say)
        for err in rejected[:50]:
            print(f"rejected: {err}", file=sys.stderr)
        print(f"{args.shared_index}: {meta['rows']} items in {meta['cells']} cells, {len(rejected)} rows rejected")
        return 0
    index = open_index(settings, args.shared_index) if args.shared_index else open_catalog(settings)
    try:
        report = ingest_live(index, open_feed(settings.sessions_url, settings.sessions_db), args.source)
    except CatalogUpdateError as e:
        for err in e.errors[:50]:
            print(f"rejected: {err}", file=sys.stderr)
        print("error: nothing of the refused chunk was changed; fix the rows and run again", file=sys.stderr)
        return 2
    print(f"live catalog: {report.added} added, {report.updated} updated, {report.deleted} deleted (feed seq "
          f"{report.seq})")
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from agent.catalog import open_catalog
    from retrieval.search import Filters

    index = open_catalog(settings)
    filters = Filters(categories=tuple(args.category), brands=tuple(args.brand),
                      min_price=args.min_price, max_price=args.max_price)
    queries = [args.query] if args.query is not None else _prompt_lines("search> ")
    for query in queries:
        for hit in index.search(query, filters, k=args.k):
            if args.json:
                print(json.dumps({"id": hit.item.item_id, "title": hit.item.title, "price": hit.item.price,
                                  "category": hit.item.category, "score": round(hit.score, 4)}))
            else:
                print(f"{hit.score:5.2f}  {hit.item.summary()}")
    return 0


def _surface(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port,
                       workers=getattr(args, "workers", None) or settings.workers)
    if args.command == "serve":
        from ui.api import serve

        if getattr(args, "shared_index", None):
            os.environ["CONVREC_SHARED_INDEX"] = str(args.shared_index)  # read by every worker (ui/api.py)
        return serve(settings)
    if getattr(args, "cli", False):
        from ui.terminal import run_terminal_chat

        return run_terminal_chat(settings)
    from ui.chat import launch

    return launch(settings)


def _train(argv: list[str]) -> int:
    """`convrec train --catalog amazon|redial`: each catalog's interest model from the data it has."""
    catalog = "amazon"
    if "--catalog" in argv:
        at = argv.index("--catalog")
        catalog = argv[at + 1] if at + 1 < len(argv) else ""
        argv = argv[:at] + argv[at + 2:]
    if catalog == "amazon":
        from training.train import main as train_main

        return train_main(argv)
    if catalog == "redial":  # the dialogues and the embedded catalog are handed in (training sits below both)
        from agent.catalog import open_catalog
        from evals.lib.dialogues import redial_train
        from training.dialogue_interest import DialogueRecord
        from training.dialogue_fit import main as movies_main

        def settings(data: Path | None) -> Settings:
            return Settings.from_env(data_dir=data, collection="redial", llm_backend="none")

        def catalog_of(data: Path | None):
            index = open_catalog(settings(data))
            return index.items, index.embeddings, index.embedder

        def records(data: Path | None) -> list[DialogueRecord]:
            return [DialogueRecord(tuple((u.speaker == "recommender", u.text, u.movies) for u in d.utterances),
                                   d.recommender) for d in redial_train(Path(settings(data).data_dir))]

        return movies_main(argv, catalog_of, records, lambda data: Path(settings(data).data_dir))
    print(f"error: no interest model for catalog {catalog!r}; choose amazon or redial", file=sys.stderr)
    return 2


def _forward(command: str, argv: list[str]) -> int:
    if command == "train":
        return _train(argv)
    if command == "lora":  # training sits below the agent and the evals: the parser and dialogues are handed in
        from agent.understand import parse_message
        from evals.lib.dialogues import seeker_texts
        from training.lora import main as lora_main

        return lora_main(argv, read=parse_message, seekers=seeker_texts)
    from evals.lib.report import main as eval_main

    return eval_main(argv)


def _prompt_lines(prompt: str):
    while True:
        try:
            line = input(prompt)
        except EOFError:
            return
        if line.strip():
            yield line


if __name__ == "__main__":
    raise SystemExit(main())
