"""`convrec serve` as a subprocess for the load benchmark and the API tests: start it (N workers, SQLite or
PostgreSQL), wait for /health, SIGKILL one worker or the whole process group, restart on the same store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

KEY = "bench-key"
KEYS = (KEY, "bench-key-2")  # sessions alternate between two keys: ids and limits are per key


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`convrec serve` in its own process group: start, wait for /health, kill -9, restart on the same store."""

    def __init__(self, llm: str, collection: str, chroma_dir: Path | None, db: Path, log: Path, workers: int = 1,
                 sessions_url: str = "", rate_limit: int = 0, env: dict[str, str] | None = None):
        self.port, self.llm, self.collection, self.chroma_dir, self.db, self.log = \
            free_port(), llm, collection, chroma_dir, db, log
        self.workers, self.sessions_url, self.rate_limit, self.env = workers, sessions_url, rate_limit, env or {}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 900.0) -> dict:
        """Start and wait until healthy (the first start may build the demo catalog: minutes on 2 cores)."""
        cmd = [sys.executable, "-m", "ui.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--llm", self.llm, "--collection", self.collection, "--workers", str(self.workers)]
        if self.chroma_dir is not None:
            cmd += ["--chroma-dir", str(self.chroma_dir)]
        env = {**os.environ, "CONVREC_SESSIONS_DB": str(self.db), "CONVREC_SESSIONS_URL": self.sessions_url,
               "CONVREC_API_KEYS": ",".join(KEYS), "CONVREC_RATE_LIMIT_PER_MINUTE": str(self.rate_limit),
               "HF_HUB_OFFLINE": "1", **self.env}
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)  # its own group: kill() reaches every worker
        return self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 900.0) -> dict:
        """/health answered 200 and, with N workers, every worker has answered one (a replaced worker loads
        the agent for a while before it serves)."""
        deadline = time.monotonic() + timeout
        answered: set[int] = set()
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"convrec serve exited with {self.proc and self.proc.returncode}; see {self.log}")
            try:
                r = httpx.get(f"{self.url}/health", timeout=5)  # a new connection each time: any worker may take it
                if r.status_code == 200:
                    alive = set(worker_pids(self))
                    answered = (answered & alive) | {r.json().get("pid")}
                    if self.workers <= 1 or (len(alive) >= self.workers and alive <= answered):
                        return r.json()
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"convrec serve not healthy after {timeout:.0f}s; see {self.log}")

    def kill_one_worker(self) -> str:
        """SIGKILL one worker process (uvicorn's supervisor starts a new one); with one worker, the server,
        restarted here. Returns what was killed."""
        workers = worker_pids(self)
        if self.workers <= 1 or not workers:
            self.kill()
            self.start()
            return "server (restarted)"
        os.kill(workers[0], signal.SIGKILL)
        return f"worker pid {workers[0]} of {len(workers)}"

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hooks, no flush; what survives is what was committed."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)

    def stop(self) -> None:
        """Terminate politely (the supervisor stops its workers), then hard."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # workers a killed supervisor left behind
            except (ProcessLookupError, PermissionError):
                pass


def worker_pids(server: Server) -> list[int]:
    """The pids of the server's worker processes (the children uvicorn spawned; the server itself with one)."""
    if server.proc is None or server.proc.poll() is not None:
        return []
    if server.workers <= 1:
        return [server.proc.pid]
    try:
        children = psutil.Process(server.proc.pid).children()
    except psutil.NoSuchProcess:
        return []
    return [c.pid for c in children if "resource_tracker" not in " ".join(_cmdline(c))]


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
