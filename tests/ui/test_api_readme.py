"""The README's curl examples, run as printed (only the host and port changed) against a real server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from retrieval.search import CatalogIndex
from tests.support import ROOT
from tests.ui.test_api_sessions import api_index, api_settings, catalog_dir, live_server  # noqa: F401


def readme_curl_block() -> str:
    """The README's bash block that starts a session with curl."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    return next(b for b in blocks if "sid=$(curl" in b)


def test_readme_curl_examples_work_as_printed(tmp_path: Path, api_index: CatalogIndex) -> None:
    lines = [line for line in readme_curl_block().splitlines()
             if not line.startswith(("export ", ".venv/bin/convrec serve"))]  # the server runs here already
    with live_server(api_settings(tmp_path, api_keys=("key1",)), api_index) as url:
        script = "set -euo pipefail\n" + "\n".join(lines).replace("localhost:8080", url.removeprefix("http://"))
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"reply"' in out and '"picks"' in out and '"chat.completion"' in out and '"turns"' in out, out[:2000]
    assert '"error"' not in out, out[:2000]
