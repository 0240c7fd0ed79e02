"""`convrec eval`: the whole offline evaluation in one command, written as a Markdown report with plots.

Sections: user simulator on the Amazon test split (returning customers and cold start) and on the demo
catalog (with a diversity sweep), A2's scripted suites (evals/conversations/*.yaml), ReDial Recall@K
(deduplicated and not) and INSPIRED dev. Output: results/<timestamp>/{report.md, summary.json, *.png}.
`--compare results/<old>` (or `--baseline summary.json`) prints the metrics that got worse.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent import build_agent
from agent.backends import make_llm
from agent.config import Settings
from evals.lib.redial import run_redial
from evals.lib.scripted import load_suite, run_suite, summarize
from evals.lib.simulator import run_simulation, summarise
from training.data import load_amazon
from training.metrics import recall_at

PUBLISHED = [  # ReDial Recall@1/10/50 as published, with the protocol each used
    ("KBRD (Chen et al. 2019)", .030, .163, .338, "original: mentioned movies not removed"),
    ("KGSF (Zhou et al. 2020)", .039, .183, .378, "original: mentioned movies not removed"),
    ("UniCRS (Wang et al. 2022)", .051, .224, .428, "original: mentioned movies not removed"),
    ("GPT-4 zero-shot (He et al. 2023)", .050, .201, None, "deduplicated, like ours"),
]
BASELINES = [("popularity (train mentions)", .013, .063, .158), ("MiniLM last 3 messages", .011, .035, .084),
             ("MiniLM mean of mentioned movies", .015, .060, .144), ("tuned mix of the three", .022, .126, .275)]
LOWER_IS_BETTER = ("latency", "invented", "violation", "rerecommended", "seconds", "turns_to_success", "named")
TOLERANCE = 0.02  # relative change below which a metric counts as unchanged (run-to-run noise)
DIVERSITY_SWEEP = (0.0, 0.3, 0.7)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation, write the report, print a summary (and regressions with --compare)."""
    args = _parser().parse_args(argv)
    if args.compare or args.baseline:
        baseline = Path(args.baseline) if args.baseline else Path(args.compare) / "summary.json"
        if not baseline.exists():
            print(f"No summary at {baseline}. Give a results folder of an earlier `convrec eval` run.", file=sys.stderr)
            return 2
    if args.diff_only:
        if not (args.compare or args.baseline):
            print("--diff-only needs --compare or --baseline", file=sys.stderr)
            return 2
        return _print_diff(json.loads(Path(args.diff_only).read_text()), json.loads(baseline.read_text()))
    settings = Settings.from_env(data_dir=args.data, chroma_dir=args.chroma_dir, llm_backend=args.llm)
    out_dir = Path(args.out) / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = run_all(settings, args, log=lambda m: print(m, file=sys.stderr, flush=True))
    summary["command"] = " ".join(["convrec eval", *(argv if argv is not None else sys.argv[1:])])
    write_report(summary, out_dir)
    print(f"report: {out_dir / 'report.md'}")
    print(json.dumps(_headline(summary)))
    if args.compare or args.baseline:
        return _print_diff(summary, json.loads(baseline.read_text()))
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="convrec eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small run (minutes): few episodes, 100 ReDial dialogues")
    p.add_argument("--data", type=Path, help="shared data folder (default: settings / CONVREC_DATA_DIR)")
    p.add_argument("--chroma-dir", type=Path, default=Path("var/evals/chroma"),
                   help="Chroma folder where the eval catalogs are embedded once (git-ignored)")
    p.add_argument("--out", default="results", help="results folder (a timestamped subfolder is created)")
    p.add_argument("--llm", default="none", help="agent LLM backend: none (template wording, fast) | local | openai")
    p.add_argument("--sim-llm", action="store_true", help="word the shopper's answers with the settings' LLM")
    p.add_argument("--episodes", type=int, help="simulated shoppers per setting (default 40, quick 8)")
    p.add_argument("--turns", type=int, default=5, help="shopper messages per episode at most")
    p.add_argument("--skip", action="append", default=[], choices=["amazon", "demo", "scripted", "redial"],
                   help="leave a section out (repeatable)")
    p.add_argument("--compare", help="an earlier results folder: print metrics that regressed")
    p.add_argument("--baseline", help="an earlier summary.json (instead of --compare)")
    p.add_argument("--diff-only", metavar="SUMMARY", help="no run: diff this summary.json against the baseline")
    return p


def run_all(settings: Settings, args: argparse.Namespace, log=print) -> dict[str, Any]:
    """Every section; a section that cannot run records why instead of failing the whole report."""
    started = time.perf_counter()
    episodes = args.episodes or (8 if args.quick else 40)
    summary: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "quick": bool(args.quick), "episodes_per_setting": episodes,
                               "settings": settings.to_dict(), "sections": {}}
    sections = summary["sections"]
    steps = [("amazon", lambda: _amazon(settings, args, episodes, log)),
             ("demo", lambda: _demo(settings, args, episodes, log)),
             ("scripted", lambda: _scripted(settings, log)),
             ("redial", lambda: _redial(settings, args, log))]
    for name, step in steps:
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        log(f"== {name}")
        try:
            sections[name] = step()
        except (FileNotFoundError, ImportError) as e:  # data or a component absent: say so in the report
            sections[name] = {"skipped": f"{type(e).__name__}: {e}"}
        sections[name]["seconds"] = round(time.perf_counter() - t0, 1)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary


def _agent(settings: Settings, collection: str, **overrides: Any):
    return build_agent(replace(settings, collection=collection, **overrides))


def _sim_llm(settings: Settings, args: argparse.Namespace):
    if not args.sim_llm:
        return None
    return make_llm(replace(settings, llm_backend=settings.llm_backend if settings.llm_backend != "none" else "openai"))


def _amazon(settings: Settings, args: argparse.Namespace, episodes: int, log) -> dict[str, Any]:
    data = load_amazon(settings.data_dir)
    agent = _agent(settings, "amazon")
    rows = random.Random(settings.seed).sample(range(len(data.test)), min(episodes, len(data.test)))
    ids = data.item_ids
    counts: dict[str, int] = {}
    for seq in data.full_sequences():  # popularity for novelty: train + valid interactions, no test target
        for i in seq:
            counts[ids[i]] = counts.get(ids[i], 0) + 1
    out: dict[str, Any] = {"agent": agent.describe(), "test_rows": len(data.test)}
    llm = _sim_llm(settings, args)
    for name, with_history in (("returning", True), ("cold_start", False)):
        targets = [(data.items[int(data.test.targets[r])],
                    [ids[i] for i in data.test.histories[r]] if with_history else []) for r in rows]
        log(f"  amazon {name}: {len(targets)} episodes")
        eps = run_simulation(agent, targets, args.turns, llm=llm, log=log)
        out[name] = summarise(eps, agent.index, args.turns, counts)
    return out


def _demo(settings: Settings, args: argparse.Namespace, episodes: int, log) -> dict[str, Any]:
    out: dict[str, Any] = {"sweep": {}}
    for diversity in (DIVERSITY_SWEEP[1:2] if args.quick else DIVERSITY_SWEEP):
        agent = _agent(settings, "demo", diversity=diversity)
        rng = random.Random(settings.seed)
        targets = [(item, []) for item in rng.sample(agent.index.items, min(episodes, len(agent.index)))]
        log(f"  demo diversity={diversity}: {len(targets)} episodes")
        result = summarise(run_simulation(agent, targets, args.turns, log=log), agent.index, args.turns)
        out["sweep"][str(diversity)] = result
        if diversity == settings.diversity or "main" not in out:
            out["main"] = result
    return out


def _scripted(settings: Settings, log) -> dict[str, Any]:
    folder = Path(__file__).resolve().parent.parent / "conversations"  # evals/conversations
    suites = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not suites:
        return {"skipped": f"no suites in {folder}"}
    out: dict[str, Any] = {}
    for path in suites:
        suite = load_suite(path)
        log(f"  suite {suite.name} ({len(suite.conversations)} conversations, catalog {suite.collection})")
        results = run_suite(_agent(settings, suite.collection), suite)
        out[suite.name] = summarize(results)
    return out


def _redial(settings: Settings, args: argparse.Namespace, log) -> dict[str, Any]:
    agent = _agent(replace(settings, llm_backend="none"), "redial")  # the agent a shopper talks to, its public API
    return run_redial(agent, Path(settings.data_dir), limit=100 if args.quick else None, log=log)


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The few numbers printed at the end and diffed first."""
    flat = _flatten(summary["sections"])
    keys = [k for k in flat if k.endswith(("success_rate", "recall_at_10", "recall_at_1", "recall_at_50",
                                           "recall_at_10_nodedup", "latency_p50_s", "invented_item_rate"))]
    return {"seconds": summary["seconds"], **{k: flat[k] for k in keys}}


def _flatten(obj: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}." if not isinstance(v, (int, float)) else f"{prefix}{k}"))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix.rstrip(".")] = float(obj)
    return out


def diff(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(metric, old, new, regressed) for every numeric metric both runs have that changed beyond noise."""
    a, b = _flatten(old.get("sections", {})), _flatten(new.get("sections", {}))
    rows = []
    for key in sorted(a.keys() & b.keys()):
        if key.endswith(("seconds", "episodes", "turns", "pairs", "dialogues", "picks")) or "ranks" in key:
            continue
        before, after = a[key], b[key]
        if abs(after - before) <= TOLERANCE * max(abs(before), 1e-9) or after == before:
            continue
        worse = after > before if any(w in key for w in LOWER_IS_BETTER) else after < before
        rows.append((key, before, after, worse))
    return rows


def _print_diff(new: dict[str, Any], old: dict[str, Any]) -> int:
    rows = diff(new, old)
    regressions = [r for r in rows if r[3]]
    for key, before, after, worse in rows:
        print(f"{'REGRESSION' if worse else 'improved  '} {key}: {before:g} -> {after:g}")
    print(f"{len(regressions)} regressions, {len(rows) - len(regressions)} improvements")
    return 1 if regressions else 0


def write_report(summary: dict[str, Any], out_dir: Path) -> Path:
    """report.md, summary.json and the plots into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = plots(summary, out_dir)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    path = out_dir / "report.md"
    path.write_text(markdown(summary, images))
    return path


def plots(summary: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """PNG plots (success@turn curves, diversity vs relevance, ReDial recall@k); name -> file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sec, images = summary["sections"], {}
    curves = [(f"amazon {n}", sec.get("amazon", {}).get(n)) for n in ("returning", "cold_start")]
    curves.append(("demo", sec.get("demo", {}).get("main")))
    curves = [(label, c) for label, c in curves if c and "success_at_turn" in c]
    if curves:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for label, c in curves:
            turns = sorted(c["success_at_turn"], key=int)
            ax.plot([int(t) for t in turns], [c["success_at_turn"][t] for t in turns], marker="o", label=label)
        ax.set(xlabel="shopper turn", ylabel="success@turn (target in picks)", ylim=(0, 1))
        ax.legend()
        images["success"] = _save(fig, out_dir / "success_at_turn.png")
    sweep = sec.get("demo", {}).get("sweep", {})
    if len(sweep) > 1:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        xs = [v["intra_list_diversity"] for v in sweep.values()]
        ax.plot(xs, [v["success_rate"] for v in sweep.values()], marker="o", label="success rate")
        ax.plot(xs, [v["recall_at_10"] for v in sweep.values()], marker="s", label="recall@10")
        for (d, v), x in zip(sweep.items(), xs):
            ax.annotate(f"diversity={d}", (x, v["success_rate"]), fontsize=7)
        ax.set(xlabel="intra-list diversity", ylabel="relevance")
        ax.legend()
        images["tradeoff"] = _save(fig, out_dir / "diversity_vs_relevance.png")
    ranks = sec.get("redial", {}).get("dedup_ranks")
    if ranks:
        ks = range(1, 51)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(ks, [recall_at(ranks, k) for k in ks], label="convrec (dedup)")
        for name, r1, r10, r50, _ in PUBLISHED[:3]:
            ax.plot([1, 10, 50], [r1, r10, r50], linestyle="--", marker=".", label=name.split(" (")[0])
        ax.set(xlabel="k", ylabel="Recall@k", title="ReDial test")
        ax.legend(fontsize=7)
        images["redial"] = _save(fig, out_dir / "redial_recall_at_k.png")
    return images


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


SIM_COLUMNS = [("episodes", "n"), ("success_at_turn.1", "S@1"), ("success_at_turn.3", "S@3"),
               ("success_rate", "S@end"), ("mean_turns_to_success", "turns"), ("recall_at_10", "R@10"),
               ("recall_at_50", "R@50"), ("invented_item_rate", "invented"), ("constraint_violation_rate", "viol."),
               ("rerecommended_rejections", "re-rec."), ("reason_groundedness", "grounded"),
               ("intra_list_diversity", "ILD"), ("category_coverage", "coverage"), ("novelty_bits", "novelty"),
               ("latency_p50_s", "p50 s"), ("latency_p95_s", "p95 s")]


def _cell(row: dict[str, Any], key: str) -> str:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "–"
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _sim_table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    lines = ["| run | " + " | ".join(h for _, h in SIM_COLUMNS) + " |", "|---" * (len(SIM_COLUMNS) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(_cell(r, k) for k, _ in SIM_COLUMNS) + " |" for name, r in rows]
    return lines


def markdown(summary: dict[str, Any], images: dict[str, str]) -> str:
    """The report text."""
    sec = summary["sections"]
    s = summary["settings"]
    md = [f"# convrec offline evaluation — {summary['started']}", "",
          f"Run time **{summary['seconds'] / 60:.1f} min** for the whole report ({'quick' if summary['quick'] else 'full'}"
          f" run, one command: `{summary.get('command', 'convrec eval')}`), agent LLM backend "
          f"`{s['llm_backend']}`, {summary['episodes_per_setting']} simulated shoppers per setting, seed {s['seed']}. "
          "Machine: 2 shared CPU cores (other jobs running; latencies are noisy).", ""]
    for name, body in sec.items():
        if "skipped" in body:
            md += [f"**{name}: skipped** — {body['skipped']}", ""]
    amazon, demo = sec.get("amazon", {}), sec.get("demo", {})
    if "returning" in amazon or "main" in demo:
        md += ["## User simulator", "",
               "A rule-based shopper with a hidden target (Amazon: sampled test-split targets, history = the "
               "test row's history for returning customers, none for cold start; demo: random catalog items) "
               "opens with the kind of product, answers questions from the target's attributes (brand, budget, "
               "describing words) "
               "without naming it, likes picks with embedding cosine ≥ 0.6 to the target and rejects the rest. "
               "S@t = target among the picks by shopper turn t; R@k = target in the final `agent.rank` top k.", ""]
        rows = [(f"amazon {n}", amazon[n]) for n in ("returning", "cold_start") if n in amazon]
        rows += [(f"demo diversity={d}", v) for d, v in demo.get("sweep", {}).items()]
        md += _sim_table(rows) + [""]
        md += [f"![success@turn]({images['success']})" if "success" in images else "",
               f"![diversity vs relevance]({images['tradeoff']})" if "tradeoff" in images else "", ""]
    scripted = {k: v for k, v in sec.get("scripted", {}).items() if isinstance(v, dict)}
    if scripted:
        md += ["## Scripted suites (evals/conversations, A2's runner)", "",
               "| suite | conversations passed | checks failed | invented | re-recommended | constraint ok | "
               "grounded | p50 ms | p95 ms |", "|---|---|---|---|---|---|---|---|---|"]
        for name, r in scripted.items():
            md.append(f"| {name} | {r['conversations_passed']}/{r['conversations']} | {r['checks_failed']}/"
                      f"{r['checks']} | {r['invented_items']} | {r['rejected_rerecommended']} | "
                      f"{r['constraint_ok_rate']} | {r['grounded_rate']} | {r['p50_ms_turn']} | {r['p95_ms_turn']} |")
        md.append("")
    md += _redial_markdown(sec.get("redial", {}), images)
    return "\n".join(md) + "\n"


def _redial_markdown(r: dict[str, Any], images: dict[str, str]) -> list[str]:
    if "recall_at_10" not in r:
        return []
    f = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    md = ["## ReDial (movies)", "",
          f"{r['dialogues']} test dialogues replayed into the agent through its public API (the seeker's messages "
          "through `suggest`, the recommender's through `note_assistant`, every mention as a like, `rank` before "
          f"each recommender message with a movie); deduplicated protocol (BASELINES.md): {r['turns']} recommender "
          f"turns, {r['pairs']} (turn, target) pairs, movies mentioned earlier never candidates nor targets; "
          "candidates = every movie of the ReDial catalog (id2info). Interest model: the movie catalog's "
          f"conversation model (`{r.get('interest')}`, training/dialogue_interest.py), fitted on the 3,458 "
          "available ReDial train dialogues + MovieLens ratings.", "",
          "| system | protocol | R@1 | R@10 | R@50 |", "|---|---|---|---|---|",
          f"| **convrec** | deduplicated | **{f(r['recall_at_1'])}** | **{f(r['recall_at_10'])}** | "
          f"**{f(r['recall_at_50'])}** |",
          f"| convrec | not deduplicated ({r.get('pairs_nodedup')} pairs; a movie mentioned before is never "
          f"re-recommended, so a lower bound) | {f(r.get('recall_at_1_nodedup'))} | "
          f"{f(r.get('recall_at_10_nodedup'))} | {f(r.get('recall_at_50_nodedup'))} |"]
    md += [f"| baseline: {n} | deduplicated | {f(a)} | {f(b)} | {f(c)} |" for n, a, b, c in BASELINES]
    md += [f"| {n} (published) | {p} | {f(a)} | {f(b)} | {f(c)} |" for n, a, b, c, p in PUBLISHED]
    md += ["", f"Ranking per recommender turn p50 {r.get('rank_ms_p50')} ms, p95 {r.get('rank_ms_p95')} ms "
               f"(2 shared CPU cores); section time {r.get('redial_seconds')} s.", ""]
    if "redial" in images:
        md += [f"![ReDial recall@k]({images['redial']})", ""]
    if "inspired_recall_at_10_mapped" in r:
        md += ["### INSPIRED dev (same agent, nothing tuned on it)", "",
               f"{r['inspired_dialogues']} dialogues; {100 * r['inspired_mapped_rate']:.1f} % of the mentioned "
               "titles map to the movie catalog (ReDial + MovieLens) by normalised title + year. Deduplicated R@10 "
               f"over mapped titles {f(r['inspired_recall_at_10_mapped'])} ({r['inspired_pairs_mapped']} pairs), "
               f"over all titles {f(r['inspired_recall_at_10_all'])} ({r['inspired_pairs_all']} pairs, unmapped "
               "counted as misses).", ""]
    return md
