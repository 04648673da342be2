"""A watchdog that stops an embedded server whose owner died without stopping it.

The embedded server runs in its own session (a Ctrl-C in the terminal must reach its owner
first), so nothing stops it when its owner ends without running its exit handlers: SIGTERM's
default action, SIGKILL, `os._exit`. `OrphanGuard(pgid)` starts a small Python process, in a
session of its own too, that reads a pipe whose write end only the owner holds. The owner writes
STAND_DOWN before it stops the server itself; end of file without it means the owner is gone,
and the guard stops the server's process group: SIGCONT (a frozen server cannot act on SIGTERM),
SIGTERM, and SIGKILL if it is still there after GRACE_S.

`OrphanGuard.of_pids_file(path)` guards a set of process groups that changes while it runs (a
test's Flink cluster, whose TaskManagers are killed and started again): at its owner's end it
reads the JSON object of name -> pid in `path` and stops each of those groups.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

#: Seconds between the guard's SIGTERM and its SIGKILL.
GRACE_S = 10.0
STAND_DOWN = b"x"

# Run with `python -I -S -c`: no site, no cosbatch import, so it starts in a few milliseconds.
_GUARD = r"""
import json, os, signal, sys, time
target, grace = sys.argv[1], float(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    word = os.read(0, 1)
except OSError:
    word = b""
if word == b"x":
    sys.exit(0)
if target.startswith("@"):
    try:
        with open(target[1:]) as f:
            groups = [int(pid) for pid in json.load(f).values()]
    except (OSError, ValueError, AttributeError):
        groups = []
else:
    groups = [int(target)]
def send(sig):
    alive = False
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
            alive = True
        except (ProcessLookupError, PermissionError):
            pass
    return alive
send(signal.SIGCONT)
send(signal.SIGTERM)
deadline = time.monotonic() + grace
while time.monotonic() < deadline:
    if not send(0):
        sys.exit(0)
    time.sleep(0.1)
send(signal.SIGKILL)
"""


class OrphanGuard:
    """Stops process group `pgid` if this process ends before calling `stand_down()`."""

    def __init__(self, pgid: int, grace_s: float = GRACE_S, *, _target: str | None = None) -> None:
        self.pgid = pgid
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _GUARD, _target or str(pgid), str(grace_s)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @classmethod
    def of_pids_file(cls, path: Path, grace_s: float = GRACE_S) -> OrphanGuard:
        """Stops the process groups `path` names (a JSON object of name -> pid) when this process
        ends before `stand_down()`; the file is read then, not now."""
        return cls(-1, grace_s, _target=f"@{path}")

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def stand_down(self) -> None:
        """The owner stops the server itself (or it is gone already): the guard exits, touching nothing."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):  # a guard that died already: nothing to tell it
            proc.stdin.write(STAND_DOWN)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
