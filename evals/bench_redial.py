"""ReDial and INSPIRED Recall@K through the agent: `python -m evals.bench_redial [--limit N] [--dialogues PATH]`.

The agent a shopper talks to (catalog "redial": the ReDial movies plus the MovieLens movies ReDial lacks, with its
shipped conversation interest model) is driven through its public API only; see evals/lib/redial.py for the
protocol. Prints progress on stderr, then one JSON object on the last stdout line: `recall_at_1/10/50`
(deduplicated), `recall_at_10_nodedup`, `dialogues`, `seconds`, `through_agent`, and the INSPIRED dev figures
`inspired_recall_at_10_mapped`, `inspired_recall_at_10_all`, `inspired_mapped_rate`. With `--dialogues PATH`
(an utterance table like INSPIRED's, or ReDial JSONL) it evaluates that file instead and prints `recall_at_*`,
`mapped_rate` and `dialogues` for it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from agent import build_agent
from agent.config import Settings
from evals.lib.dialogues import load_dialogues
from evals.lib.record import emit
from evals.lib.redial import replay, resolve_titles, run_redial, uses_titles


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m evals.bench_redial", description=__doc__)
    parser.add_argument("--data", type=Path, help="shared data folder (default: settings / CONVREC_DATA_DIR)")
    parser.add_argument("--chroma-dir", type=Path, default=Path("var/evals/chroma"),
                        help="where the movie catalog is embedded once and cached (git-ignored)")
    parser.add_argument("--checkpoint", type=Path, help="interest model folder (default: the shipped one)")
    parser.add_argument("--limit", type=int, help="only the first N dialogues of each set (quick check)")
    parser.add_argument("--dialogues", type=Path, help="evaluate this dialogue file instead (.tsv[.gz] / .jsonl[.gz])")
    args = parser.parse_args(argv)
    settings = Settings.from_env(data_dir=args.data, chroma_dir=args.chroma_dir, collection="redial",
                                 llm_backend="none", interest_checkpoint=args.checkpoint)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731 - keep stdout for the JSON line
    started = time.perf_counter()
    agent = build_agent(settings)
    log(f"agent: {agent.describe()}")
    if args.dialogues:
        out = evaluate_file(agent, args.dialogues, args.limit, log)
    else:
        out = run_redial(agent, Path(settings.data_dir), args.limit, log)
        out.pop("dedup_ranks", None)
    out["seconds"] = round(time.perf_counter() - started, 1)
    emit(out)
    return 0


def evaluate_file(agent: Any, path: Path, limit: int | None, log) -> dict[str, Any]:
    """Any dialogue file, the same way: titles mapped to the catalog when it names movies by title."""
    dialogues = load_dialogues(path)
    dialogues = dialogues[:limit] if limit else dialogues
    mapped_rate = None
    if uses_titles(dialogues, agent.index.position):
        dialogues, mapping = resolve_titles(dialogues, {i.item_id: i.title for i in agent.index.items})
        mapped_rate = mapping["mapped_rate"]
    log(f"{path.name}: replaying {len(dialogues)} dialogues")
    res = replay(agent, dialogues, log=log)
    if mapped_rate is None:  # ids: the share of distinct mentioned ids the catalog has
        ids = {m for d in dialogues for u in d.utterances for m in u.movies}
        mapped_rate = round(sum(m in agent.index.position for m in ids) / len(ids), 4) if ids else 0.0
    return {**res["dedup"].as_dict(), "recall_at_10_all": res["dedup_all"].as_dict()["recall_at_10"],
            "recall_at_10_nodedup": res["nodedup"].as_dict()["recall_at_10"], "mapped_rate": mapped_rate,
            "dialogues": res["dialogues"], "through_agent": True}


if __name__ == "__main__":
    raise SystemExit(main())
