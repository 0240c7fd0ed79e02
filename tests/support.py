"""Helpers shared by test modules (fixtures live in conftest.py; plain functions here can be imported)."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_CATALOG = ROOT / "tests" / "data" / "catalog.jsonl"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_command(name: str) -> str | None:
    """A console script of this environment (beside the running python), else one on PATH.

    CI runs `.venv/bin/python -m pytest` without activating the venv, so PATH alone misses its scripts.
    """
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def shared_data_dir() -> Path | None:
    """../shared/data beside the repo (or CONVREC_DATA_DIR); None when absent, e.g. in a user's fresh clone."""
    path = Path(os.environ.get("CONVREC_DATA_DIR", ROOT.parent / "shared" / "data"))
    return path if (path / "amazon2018-industrial-scientific").exists() else None
