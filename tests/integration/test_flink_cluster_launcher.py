"""`python -m launch.flink_cluster` as a user runs it: `start` returns once Flink's REST API
reports the TaskManagers asked for, `status` says what runs, `stop` leaves no JVM behind, and a
port already serving Flink is refused with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from launch import flink_cluster
from tests.support.api_server import free_port
from tests.support.flink import require_java

pytestmark = pytest.mark.serial  # its own Flink cluster (four JVMs): alone on the machine


def _launcher(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launch.flink_cluster", *args], capture_output=True, text=True,
                          timeout=300, env=os.environ.copy())


def _processes_using(path: Path) -> list[int]:
    """Processes whose command line names `path` (the cluster's folder is on every JVM's: its config
    dir, or the job server's artifacts dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(path).encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def test_start_status_stop(tmp_path):
    require_java()
    port, root = free_port(), tmp_path / "cluster"
    started = _launcher("start", "--rest-port", str(port), "--taskmanagers", "1", "--dir", str(root))
    assert started.returncode == 0, started
    assert "with 1 TaskManager(s)" in started.stdout
    assert f"--runner-option flink_master=127.0.0.1:{port}" in started.stdout
    assert flink_cluster.overview(port)["taskmanagers"] == 1  # already up when start returned
    pids = json.loads((root / "pids.json").read_text())
    assert sorted(pids) == ["job-server", "jobmanager", "taskmanager-1"]
    assert "Beam's Flink job server for it at 127.0.0.1:" in started.stdout
    assert set(pids.values()) <= set(_processes_using(root))

    status = _launcher("status", "--rest-port", str(port))
    assert status.returncode == 0 and "1 TaskManager(s)" in status.stdout, status

    again = _launcher("start", "--rest-port", str(port), "--dir", str(tmp_path / "other"))
    assert again.returncode == 1 and again.stderr.startswith("flink_cluster: RunnerUnavailable: something already "
                                                            f"answers Flink's REST API at 127.0.0.1:{port}"), again

    stopped = _launcher("stop", "--rest-port", str(port), "--dir", str(root))
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped job-server, taskmanager-1, jobmanager"), stopped
    assert _processes_using(root) == []  # no JVM (nor anything it started) left
    assert flink_cluster.overview(port) is None
    down = _launcher("status", "--rest-port", str(port))
    assert down.returncode == 1 and f"no Flink answers at 127.0.0.1:{port}" in down.stdout
