"""Lease and workers: which controller leads, and whether a running pipeline's workers live.

Owns the scheduler lease in the store (taken or renewed each pass; taken over at once from a
dead controller on this host) and the watch over pipeline worker processes, which register
themselves as leases: a pipeline whose worker died is given up and its job's unfinished
segments run again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time

from cosbatch import logs
from cosbatch.control import worker_lease_prefix
from cosbatch.controller.pipeline_run import Run
from cosbatch.errors import (
    StoreUnavailable,
)
from cosbatch.settings import Settings
from cosbatch.store.base import JobStore, SegmentState
from launch.base import runner_recovers_lost_workers

LEASE = "scheduler"
FINISHING_GRACE_S = 30.0  # see LeaseAndWorkers._worker_grace


def _proc_stat(pid: int) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the command name: state, parent pid, ...
    (OSError without the process or without /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return stat[stat.rindex(b")") + 2 :].split()


def _pid_alive(pid: int) -> bool:
    try:
        return _proc_stat(pid)[0] not in (b"Z", b"X")  # zombie: dead
    except FileNotFoundError:
        return False
    except (OSError, ValueError, IndexError):
        pass  # no /proc: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parent_pid(pid: int) -> int | None:
    try:
        return int(_proc_stat(pid)[1])
    except (OSError, ValueError, IndexError):
        return None


def _is_our_descendant(pid: int) -> bool:
    """Whether `pid` is a child, grandchild, ... of this process (a worker our runner started)."""
    me, seen = os.getpid(), 0
    while pid > 1 and seen < 64:
        parent = _parent_pid(pid)
        if parent is None:
            return False
        if parent == me:
            return True
        pid, seen = parent, seen + 1
    return False


def _owner_pid(owner: str) -> int | None:
    """PID of a `host:pid` lease owner on this host, else None."""
    host, _, pid = owner.rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


class LeaseAndWorkers:
    """The scheduler's lease and worker watch (a part of `Scheduler`; its state is the scheduler's)."""

    store: JobStore
    settings: Settings
    owner: str
    lease_ttl_s: float
    runs: dict[str, Run]
    lost_runs: list[Run]
    _dead_worker_seen: dict[str, float]
    _leader: bool

    def _release_lease(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            self.store.release_lease(LEASE, self.owner)

    def _hold_lease(self) -> bool:
        self._leader = self._take_lease()
        return self._leader

    def _take_lease(self) -> bool:
        if self.store.acquire_lease(LEASE, self.owner, self.lease_ttl_s):
            return True
        holder = self.store.lease_holder(LEASE)
        if holder is not None:
            host, pid, _ = (holder.split(":") + ["", "", ""])[:3]
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                # The last controller on this host died: take over without waiting out its lease.
                self.store.release_lease(LEASE, holder)
                return self.store.acquire_lease(LEASE, self.owner, self.lease_ttl_s)
        return False

    def _worker_grace(self, job_id: str) -> float:
        """How long a pipeline may run on with a worker gone before it is given up.

        While segments are unfinished, `worker_grace_s`: a lost bundle would hold them forever.
        Once every segment's results are persisted, the pipeline is shutting down (its workers
        exit before Beam returns, which takes seconds on a loaded machine): it is given
        FINISHING_GRACE_S, so a normal shutdown is not taken for a lost worker, and a pipeline
        that does hang there is still given up."""
        unfinished = self.store.segments(job_id, (SegmentState.PENDING, SegmentState.RUNNING))
        return self.settings.worker_grace_s if unfinished else max(self.settings.worker_grace_s, FINISHING_GRACE_S)

    def _watch_workers(self) -> None:
        """Give up on a pipeline whose worker process died.

        Beam's DirectRunner does not notice a dead multi-processing worker: it waits for
        the lost bundle forever. Workers register their PIDs (JobControl.register_worker);
        once one is gone for `worker_grace_s` while its pipeline still runs, the pipeline's
        other workers are stopped and the job's unfinished segments run again.
        """
        if runner_recovers_lost_workers(self.settings.runner):
            return  # the runner reruns a dead worker's tasks itself; a second pipeline would double them
        for job_id, run in list(self.runs.items()):
            if run.done.is_set() or run.thread is None:
                continue
            pids = [p for p in map(_owner_pid, self.store.leases(worker_lease_prefix(job_id)).values())
                    if p is not None]
            dead = sorted(p for p in pids if not _pid_alive(p))
            if not dead:
                self._dead_worker_seen.pop(job_id, None)
                continue
            seen = self._dead_worker_seen.setdefault(job_id, time.monotonic())
            if time.monotonic() - seen < self._worker_grace(job_id):
                continue  # a pipeline that is finishing stops its workers first
            del self.runs[job_id]
            self._dead_worker_seen.pop(job_id, None)
            self.lost_runs.append(run)
            for pid in pids:
                if pid not in dead and pid != os.getpid() and _is_our_descendant(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)  # it must not finish a segment we run again
            logs.event("worker_lost", level=logging.WARNING, job_id=job_id, dead=dead)
            self._pipeline_failed(job_id, f"pipeline worker process {', '.join(map(str, dead))} died")
