"""MG-ShopDial replay: real shoppers' messages, in order, against the MG-ShopDial catalog.

    python -m evals.bench_shopdial [--data ../shared/data] [--llm none|local] [--chroma-dir var/evals/chroma]

Every client message of the 33 dev dialogues is sent to the agent, one session per dialogue, as if convrec assisted
the human wizard: convrec suggests a reply to each client message (`Agent.suggest`, scored) and the wizard's
messages, the ones the client saw, are noted in the session (`Agent.note_assistant`: the items they name become
what is on screen), since the client's questions are about what the wizard showed. The same replay with the
client's messages alone, convrec answering every one itself, is reported beside it (`*_client_only`). The client's
`qa` messages were labelled once by hand (evals/conversations/shopdial_qa.jsonl: the fact a correct answer
states, taken from the wizard's reply and the catalog record, or "cannot_answer" for shipping, discounts and the
like); a reply is correct when it (text or pick cards) states that fact, or, for cannot_answer, says plainly what
it cannot do or marks a hand-off without inventing anything. A dead end is a reply with no picks, no answer and no
question. Prints one JSON line last: `shopdial_qa_turns`, `shopdial_qa_answered_correct_rate`,
`shopdial_deadend_rate`, `p95_ms_turn`, per-kind counts.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from agent import Settings, build_agent
from agent.catalog import open_catalog
from evals.lib.record import emit
from evals.lib.shopdial import load_qa_labels, load_shop_dialogues, replay


def run(settings: Settings, data_dir: Path) -> dict:
    """The replay's figures for one configuration (catalog built into settings.chroma_dir on first use): with the
    wizard's turns noted as a colleague's (the headline figures), and with the client's messages alone."""
    settings = replace(settings, collection="shopdial", data_dir=data_dir)
    agent = build_agent(settings, index=open_catalog(settings))
    dialogues, labels = load_shop_dialogues(data_dir), load_qa_labels()
    result = replay(agent, dialogues, labels)
    alone = replay(agent, dialogues, labels, wizard=False)
    return {"shopdial_qa_turns": result["qa_turns"],
            "shopdial_qa_answered_correct_rate": result["qa_answered_correct_rate"],
            "shopdial_qa_answered_correct_rate_client_only": alone["qa_answered_correct_rate"],
            "shopdial_deadend_rate_client_only": alone["deadend_rate"],
            "shopdial_deadend_rate": result["deadend_rate"], "p95_ms_turn": result["p95_ms"],
            "dialogues": result["dialogues"], "turns": result["turns"], "qa_by_kind": result["qa_by_kind"],
            "failures": result["failures"]}


def main(argv: list[str] | None = None) -> int:
    """Run the replay and print its JSON line."""
    ap = argparse.ArgumentParser(prog="python -m evals.bench_shopdial", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--llm", choices=["none", "local", "openai"], default="none")
    ap.add_argument("--chroma-dir", type=Path, default=Path("var/evals/chroma"))
    args = ap.parse_args(argv)
    if not (args.data / "mg-shopdial").exists():
        print(f"no MG-ShopDial data in {args.data}", file=sys.stderr)
        return 2
    settings = Settings.from_env(llm_backend=args.llm, chroma_dir=args.chroma_dir)
    result = run(settings, args.data)
    for f in result["failures"]:
        print(f"MISS [{f['kind']}] {f['text']!r} expected {f['expected']} -> {f['reply'][:160]!r}")
    emit({**{k: v for k, v in result.items() if k != "failures"}, "llm": args.llm})
    return 0


if __name__ == "__main__":
    sys.exit(main())
