"""Conversation benchmark: the shopper acceptance suites and the MG-ShopDial replay, in one run.

    python -m evals.bench_conversation [--data ../shared/data] [--chroma-dir var/evals/chroma] [--local-subset 8]

1. The acceptance suites (evals/conversations/acceptance/{demo,amazon,shopdial}.yaml: conversations written as
   shoppers talk, every check a fact of the catalog, evals/lib/facts.py) through the scripted runner with no LLM.
2. The MG-ShopDial replay (evals/bench_shopdial.py): real client messages in order, qa answers scored against
   hand labels, dead ends counted.
3. Turn latency: p95 over every acceptance turn without an LLM, and over the first `--local-subset`
   conversations of the demo suite with the embedded local model (reasons worded by the tuned Gemma).

Last stdout line: one JSON object with acceptance_checks, acceptance_pass_rate, shopdial_qa_turns,
shopdial_qa_answered_correct_rate, shopdial_deadend_rate, p95_ms_turn_no_llm, p95_ms_turn_local_llm.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent import Settings, build_agent
from agent.backends import make_llm
from evals import bench_shopdial
from evals.lib.record import emit
from evals.lib.scripted import ConversationResult, load_suite, run_suite, summarize

ACCEPTANCE = Path(__file__).resolve().parent / "conversations" / "acceptance"
SUITES = {"demo": "demo", "amazon": "amazon", "shopdial": "shopdial"}  # suite file -> catalog collection


def run_acceptance(base: Settings, names: list[str]) -> tuple[dict[str, Any], list[ConversationResult], Any]:
    """Every acceptance suite with no LLM: per-suite summaries, all results, and the demo agent for reuse."""
    out: dict[str, Any] = {}
    results: list[ConversationResult] = []
    demo_agent = None
    for name in names:
        suite = load_suite(ACCEPTANCE / f"{name}.yaml")
        agent = build_agent(replace(base, collection=SUITES[name]))
        if name == "demo":
            demo_agent = agent
        suite_results = run_suite(agent, suite, progress=False)
        results += suite_results
        summary = summarize(suite_results)
        for line in summary["failures"]:
            print(f"[{name}] FAIL {line}", file=sys.stderr)
        out[name] = {k: v for k, v in summary.items() if k != "failures"}
    return out, results, demo_agent


def main(argv: list[str] | None = None) -> int:
    """Run everything and print one JSON line last."""
    ap = argparse.ArgumentParser(prog="python -m evals.bench_conversation", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--chroma-dir", type=Path, default=Path("var/evals/chroma"))
    ap.add_argument("--local-subset", type=int, default=8, help="demo conversations replayed with the local model")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args(argv)
    base = Settings.from_env(chroma_dir=args.chroma_dir, data_dir=args.data, llm_backend="none", mode="guided")
    have_data = (args.data / "amazon2018-industrial-scientific").exists()
    names = ["demo", "amazon", "shopdial"] if have_data else ["demo"]
    per_suite, results, demo_agent = run_acceptance(base, names)
    total = summarize(results)
    result: dict[str, Any] = {
        "bench": "conversation", "suites": names,
        "acceptance_conversations": total["conversations"],
        "acceptance_checks": total["checks"],
        "acceptance_pass_rate": round(1 - total["checks_failed"] / max(total["checks"], 1), 4),
        "acceptance_expectations": sum(1 for r in results for c in r.checks if not c.name.startswith("no_")
                                       and c.name not in ("grounded", "reply")),
        "invented_items": total["invented_items"], "rejected_rerecommended": total["rejected_rerecommended"],
        "grounded_rate": total["grounded_rate"], "p95_ms_turn_no_llm": total["p95_ms_turn"],
        "p50_ms_turn_no_llm": total["p50_ms_turn"], "acceptance": per_suite,
        "failed_by_check": total["failed_by_check"],
    }
    if have_data and (args.data / "mg-shopdial").exists():
        replayed = bench_shopdial.run(base, args.data)
        result.update({k: replayed[k] for k in ("shopdial_qa_turns", "shopdial_qa_answered_correct_rate",
                                                 "shopdial_deadend_rate", "qa_by_kind")})
        result["shopdial_turns"] = replayed["turns"]
    if args.local_subset > 0 and demo_agent is not None:
        local_settings = replace(base, collection="demo", llm_backend="local")
        llm = make_llm(local_settings)
        llm.warm_up()
        local = build_agent(local_settings, index=demo_agent.index, llm=llm)
        suite = load_suite(ACCEPTANCE / "demo.yaml")
        summary = summarize(run_suite(local, replace(suite, conversations=suite.conversations[:args.local_subset]),
                                      progress=False))
        result["p95_ms_turn_local_llm"] = summary["p95_ms_turn"]
        result["p50_ms_turn_local_llm"] = summary["p50_ms_turn"]
        result["local_llm_turns"] = summary["turns"]
        result["local_llm_pass_rate"] = round(1 - summary["checks_failed"] / max(summary["checks"], 1), 4)
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
