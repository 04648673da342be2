"""A real Flink session cluster for tests (launch/flink_cluster.py): a JobManager and two
TaskManagers of two slots each, as separate JVMs on loopback, with a restart strategy so that a
lost TaskManager's tasks run again; every JVM is stopped after."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cosbatch.storage.orphan_guard import OrphanGuard
from launch import flink_cluster
from tests.support.api_server import free_port

TEST_CONF = {
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": "10",
    "restart-strategy.fixed-delay.delay": "1 s",
    # A SIGKILLed TaskManager is noticed in seconds rather than Flink's default 50 s.
    "heartbeat.interval": "1000",
    "heartbeat.timeout": "6000",
    # A job of parallelism 2 gets a slot on each TaskManager.
    "cluster.evenly-spread-out-slots": "true",
}


def require_java() -> None:
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: the Flink tests need it (apt-get install openjdk-17-jre-headless)")


@contextmanager
def flink_session(root: Path, taskmanagers: int = 2, slots: int = 2) -> Iterator[flink_cluster.Cluster]:
    require_java()
    root.mkdir(parents=True, exist_ok=True)
    # A test run killed before it could stop the cluster (SIGTERM, SIGKILL) leaves no JVM behind:
    # the guard stops every JVM the cluster's pids.json names at that moment.
    guard = OrphanGuard.of_pids_file(root / "pids.json")
    try:
        cluster = flink_cluster.start(free_port(), taskmanagers=taskmanagers, slots=slots, root=root,
                                      conf=TEST_CONF)
        try:
            yield cluster
        finally:
            flink_cluster.stop(cluster)
    finally:
        guard.stand_down()
