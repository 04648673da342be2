"""JobControl: the one channel between a running pipeline and the controller.

Workers ask "should I stop, and why?" (cheap: cached for `poll_s`) and write each
segment's absolute progress. It sits on the Store, so it works from any process
that can open the store (threads, multiprocessing workers, Dask workers on the host),
or on the controller's HTTP worker channel for workers elsewhere (Flink, Dataflow).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from enum import StrEnum

from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.store import SegmentState, open_store
from cosbatch.store.base import JobStore


class StopSignal(StrEnum):
    PAUSE = "pause"  # abandon the segment in hand; it runs again on resume
    CANCEL = "cancel"  # keep what ran; run nothing more
    FAIL = "fail"  # as cancel, because the job is failing


_SIGNALS = {
    JobStatus.PAUSING: StopSignal.PAUSE,
    JobStatus.PAUSED: StopSignal.PAUSE,
    JobStatus.CANCELLING: StopSignal.CANCEL,
    JobStatus.FAILING: StopSignal.FAIL,
}


#: Worker registrations live as leases named `worker:<job id>:<host>:<pid>`, held by `<host>:<pid>`.
WORKER_LEASE_TTL_S = 24 * 3600.0


def worker_lease_prefix(job_id: str) -> str:
    return f"worker:{job_id}:"


def signal_for(status: JobStatus) -> StopSignal | None:
    if status in TERMINAL:
        return StopSignal.CANCEL
    return _SIGNALS.get(status)


class JobControl:
    def __init__(self, store: JobStore, job_id: str, poll_s: float = 0.5) -> None:
        self.store = store
        self.job_id = job_id
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._signal: StopSignal | None = None
        #: Object operations per second this worker process may make (None: no limit); the
        #: controller sets it from the job's and the storage's limits and the job's worker count.
        self.rate: float | None = None

    @classmethod
    def open(cls, store_url: str, job_id: str, poll_s: float = 0.5) -> JobControl:
        """Over the store itself, or over the controller's HTTP worker channel (an http(s) URL)."""
        from cosbatch.control.http_channel import HttpWorkerChannel, is_channel_url

        store = HttpWorkerChannel(store_url) if is_channel_url(store_url) else open_store(store_url)
        return cls(store, job_id, poll_s)  # type: ignore[arg-type]

    def stop_signal(self) -> StopSignal | None:
        """Why to stop, or None to go on. Reads the store at most once per poll_s."""
        now = time.monotonic()
        if now - self._checked_at < self.poll_s:
            return self._signal
        with self._lock:
            if now - self._checked_at >= self.poll_s:
                # A store that is briefly unavailable keeps the last answer.
                with contextlib.suppress(Exception):
                    status, self.rate = self.store.get_control(self.job_id)
                    self._signal = signal_for(status)
                self._checked_at = now
        return self._signal

    def segment_recorded(self, seg_no: int) -> bool:
        """Whether the segment's results are persisted already (DONE or STOPPED): a runner that
        recomputes lost work (Dask, after a worker died) must not run it or rewrite its files."""
        return self.store.segment_state(self.job_id, seg_no) in (SegmentState.DONE, SegmentState.STOPPED)

    def register_worker(self) -> None:
        """Record this process as one of the job's pipeline workers, so a controller can tell
        when the process is gone (a worker killed mid-bundle leaves the DirectRunner waiting)."""
        host, pid = socket.gethostname(), os.getpid()
        name = f"{worker_lease_prefix(self.job_id)}{host}:{pid}"
        self.store.acquire_lease(name, f"{host}:{pid}", WORKER_LEASE_TTL_S)

    def segment_progress(self, seg_no: int, state: SegmentState, succeeded: int, failed: int,
                         result_files: list[dict] | None = None, retries: int = 0, skipped: int = 0) -> None:
        self.store.update_segment(self.job_id, seg_no, state, succeeded, failed, result_files, retries, skipped)

    def abandon_segment(self, seg_no: int, tasks_run: int) -> None:
        self.store.abandon_segment(self.job_id, seg_no, tasks_run)

    def close(self) -> None:
        self.store.close()
