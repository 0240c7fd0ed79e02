"""The shopper acceptance suites run end to end against the real agent: a regression in understanding fails CI.

Every check is a fact of the catalog (evals/lib/facts.py). The demo suite runs on the generated demo catalog; the
MG-ShopDial suite needs ../shared/data (its 57-item catalog) and skips with the reason where that is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import Settings, build_agent
from evals.lib.scripted import load_suite, run_suite, summarize
from retrieval.catalogs import shopdial_items
from tests.conftest import _index_from

SUITES = Path(__file__).resolve().parents[2] / "evals" / "conversations" / "acceptance"
BAR = 0.95  # the bar on the whole acceptance suite; each catalog's suite must reach it


def _check(summary: dict) -> None:
    rate = 1 - summary["checks_failed"] / summary["checks"]
    assert summary["invented_items"] == 0 and summary["rejected_rerecommended"] == 0
    assert rate >= BAR, f"pass rate {rate:.3f} < {BAR}; failures:\n" + "\n".join(summary["failures"][:40])


@pytest.mark.slow
def test_demo_acceptance_suite(demo_index) -> None:
    agent = build_agent(Settings(llm_backend="none", collection="demo"), index=demo_index, llm=None)
    suite = load_suite(SUITES / "demo.yaml")
    summary = summarize(run_suite(agent, suite))
    assert summary["conversations"] >= 40 and summary["checks"] >= 500
    _check(summary)


@pytest.mark.slow
def test_shopdial_acceptance_suite(tmp_path_factory: pytest.TempPathFactory, embedder, data_dir: Path) -> None:
    index = _index_from(shopdial_items(data_dir), tmp_path_factory.mktemp("shopdial"), embedder, "shopdial")
    agent = build_agent(Settings(llm_backend="none", collection="shopdial", data_dir=data_dir), index=index, llm=None)
    summary = summarize(run_suite(agent, load_suite(SUITES / "shopdial.yaml")))
    assert summary["conversations"] >= 15
    _check(summary)
