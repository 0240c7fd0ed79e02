"""Agent benchmark: the scripted suites against the Amazon and demo catalogs.

`python -m evals.bench_agent [--chroma-dir DIR] [--local-subset N]`. Reports invented items,
re-recommended rejected items, constraint and groundedness rates, and per-turn latency. The main runs
use no LLM at all (llm_backend "none"), so their latency is the turn latency excluding LLM generation;
a subset is replayed with the embedded local model for end-to-end latency. Agentic mode runs only when
a tool-calling OpenAI-compatible server is configured (CONVREC_LLM_BACKEND=openai). Last stdout line:
one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent import build_agent
from agent.backends import make_llm
from agent.config import Settings
from evals.lib.record import emit
from evals.lib.scripted import Suite, load_suite, run_suite, summarize

SUITES = Path(__file__).resolve().parent / "conversations"


def _agent(settings: Any, index: Any = None, llm: Any = None) -> Any:
    return build_agent(settings, index=index, llm=llm)


def _run(agent: Any, suite: Suite, label: str) -> dict[str, Any]:
    started = time.perf_counter()
    summary = summarize(run_suite(agent, suite, progress=True))
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    for line in summary["failures"]:
        print(f"[{label}] FAIL {line}", file=sys.stderr)
    return summary


def _local_speed(llm: Any, load_s: float | None) -> dict[str, Any]:
    """Cached load time, latency of a 40-token completion and decode speed of the embedded model."""
    prompt = "Shopper: I need a glue that works on wood and metal.\nAssistant:"
    llm.complete(prompt, max_tokens=4, stop_at_newline=False)  # first call pays one-time kernel setup
    started = time.perf_counter()
    text = llm.complete(prompt, max_tokens=40, stop_at_newline=False)
    elapsed = time.perf_counter() - started
    tokens = len(llm._tokenizer(text, add_special_tokens=False).input_ids)
    return {"load_s": round(load_s, 1) if load_s is not None else None, "ms_40_token_completion": round(elapsed * 1000),
            "tokens_generated": tokens, "tokens_per_s": round(tokens / elapsed, 2)}


def _subset(suite: Suite, n: int) -> Suite:
    return replace(suite, conversations=suite.conversations[:n])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one JSON line last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chroma-dir", type=Path, help="Chroma folder to reuse (default: a fresh temp dir)")
    parser.add_argument("--data", type=Path, help="shared datasets folder (default: settings)")
    parser.add_argument("--local-subset", type=int, default=2,
                        help="conversations replayed with the local model for end-to-end latency (0: skip)")
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    chroma = args.chroma_dir or Path(tempfile.mkdtemp(prefix="convrec-bench-"))
    base = Settings.from_env(chroma_dir=chroma, data_dir=args.data, llm_backend="none", mode="guided")
    if not (Path(base.data_dir) / "amazon2018-industrial-scientific").exists():
        print(f"No Amazon data under {base.data_dir}; pass --data or set CONVREC_DATA_DIR", file=sys.stderr)
        return 2
    amazon_suite, demo_suite = load_suite(SUITES / "amazon.yaml"), load_suite(SUITES / "demo.yaml")
    result: dict[str, Any] = {"bench": "agent", "settings": base.to_dict()}

    started = time.perf_counter()
    amazon = _agent(replace(base, collection="amazon"))  # ingests into chroma on first use
    result["amazon_build_s"] = round(time.perf_counter() - started, 1)
    guided = _run(amazon, amazon_suite, "amazon")
    result.update({k: guided[k] for k in ("conversations", "invented_items", "rejected_rerecommended",
                                          "constraint_ok_rate", "grounded_rate")})
    result["p95_ms_turn_no_llm"] = guided["p95_ms_turn"]
    result["p50_ms_turn_no_llm"] = guided["p50_ms_turn"]
    result["amazon_guided"] = guided

    demo = _agent(replace(base, collection="demo"))
    result["demo_guided"] = _run(demo, demo_suite, "demo")

    if os.environ.get("CONVREC_LLM_BACKEND", "").lower() == "openai":
        llm = make_llm(Settings.from_env(chroma_dir=chroma))
        agentic = _agent(replace(base, collection="amazon", llm_backend="openai", mode="agentic"), amazon.index, llm)
        result["amazon_agentic"] = _run(agentic, amazon_suite, "amazon-agentic")
    else:
        result["amazon_agentic"] = "not run: no tool-calling model here (set CONVREC_LLM_BACKEND=openai and a vLLM URL)"

    if args.local_subset > 0:
        local_settings = replace(base, collection="amazon", llm_backend="local")
        llm = make_llm(local_settings)
        load_s = llm.warm_up() if hasattr(llm, "warm_up") else None
        result["local_model"] = _local_speed(llm, load_s)
        local = _agent(local_settings, amazon.index, llm)
        summary = _run(local, _subset(amazon_suite, args.local_subset), "amazon-local")
        result["local_e2e"] = {"conversations": summary["conversations"], "turns": summary["turns"],
                               "p50_ms_turn": summary["p50_ms_turn"], "p95_ms_turn": summary["p95_ms_turn"],
                               **{k: summary[k] for k in ("invented_items", "rejected_rerecommended",
                                                          "grounded_rate", "checks_failed", "failures")}}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
