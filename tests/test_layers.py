"""The layers hold: import-linter's contracts (pyproject.toml) and the figures of `python -m evals.bench_layers`."""

from __future__ import annotations

import subprocess
import sys

from evals.bench_layers import cycles, measure, violates
from tests.support import ROOT, venv_command


def test_import_contracts_are_kept() -> None:
    """retrieval < training < agent < (ui | evals), the CLI on top, no cycles: a wrong arrow fails here."""
    lint = venv_command("lint-imports")
    assert lint, "import-linter is part of the test extras (./bootstrap.sh --test)"
    run = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_bench_layers_reports_no_cycle_and_no_violation() -> None:
    figures = measure(ROOT)
    assert figures["import_cycles"] == 0, figures["cycles"]
    assert figures["layer_violations"] == 0, figures["violations"]
    assert figures["modules"] > 50


def test_the_checks_themselves_can_fail() -> None:
    """The measuring code finds a planted cycle and wrong arrows (so a 0 above means something)."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert violates("training.lora", "agent.local_model")
    assert violates("retrieval.search", "training.model")
    assert violates("ui.api", "evals.scripted") and violates("evals.report", "ui.api")
    assert violates("agent.core", "ui.cli")
    assert not violates("ui.cli", "evals.report") and not violates("agent.core", "training.gemma")


def test_bench_layers_prints_one_json_line() -> None:
    run = subprocess.run([sys.executable, "-m", "evals.bench_layers"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("{") and '"import_cycles": 0' in last and '"layer_violations": 0' in last
