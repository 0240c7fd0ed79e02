"""A throwaway PostgreSQL cluster for the tests and the load benchmark: initdb in a temp folder, a free port,
the unix socket in the same folder, trust auth for the one local user, removed on stop.

    with PostgresCluster() as pg:
        url = pg.create_database("t1")   # postgresql://convrec@/t1?host=/tmp/convrec-pg-xxx&port=5xxxx

Needs PostgreSQL's server binaries (`initdb`, `pg_ctl`; Debian: `apt-get install postgresql`). Run as root
(containers, CI), the cluster runs as the `postgres` user (else `nobody`), since PostgreSQL refuses root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "convrec"  # the cluster's superuser; trust auth over the private unix socket only


class PostgresMissing(RuntimeError):
    """initdb or pg_ctl is not on PATH."""


def _binary(name: str) -> str:
    found = shutil.which(name) or next((str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                                                               reverse=True)), None)
    if found is None:
        raise PostgresMissing(f"PostgreSQL's {name} is not installed; Debian/Ubuntu: apt-get install postgresql "
                              "(./bootstrap.sh --test does it when run as root)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """One PostgreSQL server process over a fresh data folder; listens only on its unix socket."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        self.dir = Path(tempfile.mkdtemp(prefix="convrec-pg-"))
        self.port = _free_port()
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            name = "postgres" if _has_user("postgres") else "nobody"
            self._as = ["runuser", "-u", name, "--"]
            shutil.chown(self.dir, user=name)

    def start(self) -> "PostgresCluster":
        """initdb and start; raises RuntimeError with the server log when either fails."""
        self._run([self.initdb, "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
        opts = (f"-k {self.dir} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=200 "
                "-c shared_buffers=32MB")
        self._run([self.pg_ctl, "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                   "-o", opts, "start"])
        return self

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for a database of this cluster, through the unix socket."""
        return f"postgresql://{USER}@/{database}?host={self.dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        """Create a database (dropped first if it exists); returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop at once (nothing here is worth a checkpoint) and remove the folder."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._as + [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(self._as + cmd, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if done.returncode != 0:
            log = self.dir / "server.log"
            raise RuntimeError(f"{' '.join(cmd[:1])} failed ({done.returncode}): {done.stderr[-2000:]}"
                               + (log.read_text()[-2000:] if log.exists() else ""))

    def __enter__(self) -> "PostgresCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
