"""Report generation and regression diff on a tiny real run (simulator + ReDial-style ranking on the test catalog)."""

from __future__ import annotations

import copy
import json

from agent import build_agent
from agent.config import Settings
from evals.lib.dialogues import Dialogue, Utterance
from evals.lib.redial import replay
from evals.lib.report import diff, main, write_report
from evals.lib.simulator import run_simulation, summarise


def _tiny_redial(agent, index) -> dict:
    ids = [i.item_id for i in index.items]
    sims = index.embeddings @ index.embeddings[0]
    sims[0] = -1.0
    near = ids[int(sims.argmax())]  # the catalog's closest item to the liked one: a liked item's neighbour
    test = [Dialogue("x", "t", (Utterance("seeker", "I liked it", (ids[0],)),
                                Utterance("recommender", "try these", (near, ids[0]))))]
    result = replay(agent, test, log=None)
    assert result["dedup"].pairs == 1 and result["nodedup"].pairs == 2  # ids[0] was already mentioned
    assert result["dedup"].recall[50] == 1.0 and result["nodedup"].recall[50] == 0.5  # never re-recommended
    return {**result["dedup"].as_dict(), **result["nodedup"].as_dict("_nodedup"), "dialogues": 1,
            "rank_ms_p50": result["rank_ms_p50"], "rank_ms_p95": result["rank_ms_p95"],
            "dedup_ranks": result["dedup"].ranks, "interest": agent.interest.name}


def test_report_and_diff_on_a_tiny_run(small_index, tmp_path, capsys) -> None:
    agent = build_agent(Settings(chroma_dir=tmp_path, llm_backend="none"), index=small_index)
    episodes = run_simulation(agent, [(i, ()) for i in small_index.items[:3]], max_turns=2)
    sim = summarise(episodes, small_index, max_turns=2)
    summary = {"started": "2026-01-01T00:00:00+00:00", "quick": True, "episodes_per_setting": 3, "seconds": 12.0,
               "settings": Settings().to_dict(), "sections": {
                   "demo": {"main": sim, "sweep": {"0.0": dict(sim), "0.3": {**sim, "intra_list_diversity": 0.5}}},
                   "redial": _tiny_redial(agent, small_index), "scripted": {"skipped": "no suites"}}}
    out = tmp_path / "run1"
    report = write_report(summary, out)
    text = report.read_text()
    assert "## User simulator" in text and "| demo diversity=0.0 |" in text
    assert "## ReDial" in text and "KBRD" in text and "deduplicated" in text
    assert "scripted: skipped" in text
    assert {"success_at_turn.png", "diversity_vs_relevance.png", "redial_recall_at_k.png", "summary.json"} <= {
        p.name for p in out.iterdir()}
    # A later run with lower recall and higher latency shows both as regressions, and nothing else.
    worse = copy.deepcopy(summary)
    worse["sections"]["redial"]["recall_at_10"] = summary["sections"]["redial"]["recall_at_10"] / 2
    worse["sections"]["demo"]["main"]["latency_p50_s"] = sim["latency_p50_s"] * 3 + 1
    rows = {key: regressed for key, _, _, regressed in diff(worse, summary)}
    assert rows == {"redial.recall_at_10": True, "demo.main.latency_p50_s": True}
    assert diff(summary, worse) and not any(r[3] for r in diff(summary, worse))
    (tmp_path / "worse.json").write_text(json.dumps(worse))
    assert main(["--diff-only", str(tmp_path / "worse.json"), "--compare", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "REGRESSION redial.recall_at_10" in printed and "2 regressions" in printed
    assert main(["--compare", str(tmp_path / "nowhere")]) == 2
