"""A real PostgreSQL server for tests: Debian's binaries, a temp data dir, a free loopback port.

`initdb` refuses to run as root, so as root the server runs as the `postgres` user
(`runuser -u postgres --`) with its directories handed to that user. Trust auth, the socket
in the temp dir, listening on 127.0.0.1 only. `stop()` is `pg_ctl stop -m fast`; `start()`
brings the same cluster back (on the same port), for outage tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path


def pg_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb (.ci/install-postgres.sh installs it)."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql: run .ci/install-postgres.sh")
    newest = max(found, key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parent.parent.name)] or [0])
    return Path(newest).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    root: Path
    port: int
    bin_dir: Path
    user: str = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", self.user, "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the server (if running) and delete its directory."""
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_postgres(root: Path | None = None) -> PostgresServer:
    """Init and start a server in `root` (default: a new dir under /tmp, which the postgres user
    can reach, unlike pytest's private tmp dirs when running as root)."""
    import tempfile

    root = root or Path(tempfile.mkdtemp(prefix="cosbatch-pg-"))
    server = PostgresServer(root=root, port=_free_port(), bin_dir=pg_bin_dir())
    server.init()
    server.start()
    return server
