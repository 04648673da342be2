"""The watchdog that stops what a dead owner left running (cosbatch/storage/orphan_guard.py):
here its pids-file form, which the test Flink cluster uses (its JVMs change while it runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_OWNER = r"""
import json, subprocess, sys, time
from pathlib import Path
from cosbatch.storage.orphan_guard import OrphanGuard
pids = Path(sys.argv[1])
first = subprocess.Popen(["sleep", "600"], start_new_session=True)
pids.write_text(json.dumps({"first": first.pid}))
guard = OrphanGuard.of_pids_file(pids, grace_s=2)
# started after the guard: the file is read when the owner is gone, not when the guard starts
later = subprocess.Popen(["sleep", "600"], start_new_session=True)
pids.write_text(json.dumps({"first": first.pid, "later": later.pid}))
print(first.pid, later.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] == "Z"


def test_the_groups_the_pids_file_names_when_the_owner_dies_are_stopped(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(tmp_path / "pids.json")],
                             stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        pids = [int(p) for p in owner.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 10
        while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(p) for p in pids), pids
    finally:
        owner.kill()
        owner.wait()
        for pid in pids:
            if not _gone(pid):
                os.killpg(pid, signal.SIGKILL)


def test_a_guard_told_to_stand_down_touches_nothing(tmp_path: Path) -> None:
    from cosbatch.storage.orphan_guard import OrphanGuard

    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        (tmp_path / "pids.json").write_text(json.dumps({"s": sleeper.pid}))
        guard = OrphanGuard.of_pids_file(tmp_path / "pids.json", grace_s=1)
        guard_pid = guard.pid
        guard.stand_down()
        assert guard.pid is None and guard_pid is not None and _gone(guard_pid)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
