"""A `distributed` cluster as a user starts one: `dask scheduler` and `dask worker` commands,
each a separate OS process (its own process group) on loopback, on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.api_server import free_port

DASK = str(Path(sys.executable).with_name("dask"))
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DaskProcesses:
    address: str
    log_dir: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def worker_of(self, pid: int) -> subprocess.Popen:
        """The `dask worker` command whose process group holds `pid` (its nanny or worker process)."""
        group = os.getpgid(pid)
        return next(w for w in self.workers if w.pid == group)

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL the whole `dask worker` command, nanny and worker process, as losing its host would."""
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.log_dir.iterdir()))

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in [*self.workers, self.scheduler]:
            proc.wait(10)


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=os.environ.copy(),
                                start_new_session=True)


def _wait_for_workers(address: str, n: int, timeout_s: float) -> None:
    from distributed import Client

    with Client(address, timeout=timeout_s) as client:
        client.wait_for_workers(n, timeout=timeout_s)


@contextmanager
def dask_processes(log_dir: Path, n_workers: int = 2, timeout_s: float = 60) -> Iterator[DaskProcesses]:
    """`dask scheduler` plus `n_workers` × `dask worker --nworkers 1 --nthreads 1`; every process
    group is SIGKILLed on the way out."""
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    cluster = DaskProcesses(address, log_dir, _spawn(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        log_dir / "scheduler.log"))
    try:
        for i in range(n_workers):
            cluster.workers.append(_spawn(
                [DASK, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                 "--host", "127.0.0.1", "--name", f"w{i}"],
                log_dir / f"worker-{i}.log"))
        started = time.monotonic()
        try:
            _wait_for_workers(address, n_workers, timeout_s)
        except Exception as exc:
            raise AssertionError(f"dask cluster not up after {time.monotonic() - started:.0f}s: {exc}\n"
                                 f"{cluster.logs()}") from exc
        yield cluster
    finally:
        cluster.stop()
