"""ReDial Recall@1/10/50 benchmark: `python -m evals.bench_redial [--limit N] [--agent] [--no-tune]`.

Prints progress, then one JSON object on the last stdout line (deduplicated protocol unless the key says
`_nodedup`; see evals/lib/redial.py for the protocol).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from agent import build_agent
from agent.config import Settings
from evals.lib.record import emit
from evals.lib.redial import open_redial_index, run_redial


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m evals.bench_redial", description=__doc__)
    parser.add_argument("--data", type=Path, help="shared data folder (default: settings / CONVREC_DATA_DIR)")
    parser.add_argument("--chroma-dir", type=Path, default=Path("var/evals/chroma"),
                        help="where the ReDial catalog is embedded once and cached (git-ignored)")
    parser.add_argument("--limit", type=int, help="only the first N test dialogues (quick check)")
    parser.add_argument("--no-tune", action="store_true", help="default mixing weights instead of tuning on train")
    parser.add_argument("--retune", action="store_true", help="tune the weights again even if cached in var/evals")
    parser.add_argument("--agent", action="store_true", help="mix in agent.rank through the public agent API")
    args = parser.parse_args(argv)
    settings = Settings.from_env(data_dir=args.data, chroma_dir=args.chroma_dir, collection="redial",
                                 llm_backend="none")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731 - keep stdout for the JSON line
    index = open_redial_index(settings)
    agent = None
    if args.agent:
        agent = build_agent(replace(settings, collection="redial"), index=index)
    result = run_redial(settings, limit=args.limit, agent=agent, tune=not args.no_tune, index=index, log=log,
                        retune=args.retune)
    result.pop("dedup_ranks", None)
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
