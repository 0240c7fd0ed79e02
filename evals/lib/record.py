"""The benchmarks' result line: one JSON object, last on stdout, with the machine it was measured on."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil


def _cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """What a figure was measured on: CPU model, cores, RAM, torch threads, Python, date, load at the end."""
    import torch  # heavy: only when a benchmark is finishing (most have loaded it already)

    return {"cpu": _cpu_model(), "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_average_1m": round(os.getloadavg()[0], 2)}  # other jobs on the box inflate latencies


def emit(result: dict[str, Any], out: Path | None = None) -> str:
    """Add `result["hardware"]` and print `result` as one JSON line, last on stdout; also write it to `out`.

    Entries a benchmark already put under "hardware" (library versions) are kept beside the common record.
    """
    result["hardware"] = {**hardware(), **result.get("hardware", {})}
    line = json.dumps(result)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(line + "\n")
    print(line, flush=True)
    return line
