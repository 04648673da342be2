"""Progress samples for the console's throughput chart: (time, tasks run) of each Active job.

The serve process samples every Active job's counters every few seconds (in memory; a
restarted server starts afresh). A job's series is framed by what the store keeps for
good: when it first became Active (no task run yet) and, once it has finished, its
termination time with its final count, so a finished job always has an average rate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque

from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.models import Job
from cosbatch.store.base import JobStore, StatusChange

log = logging.getLogger("cosbatch.api")

INTERVAL_S = 2.0
MAX_SAMPLES_PER_JOB = 900  # 30 min at 2 s; older samples are dropped
MAX_JOBS = 500  # the least recently sampled jobs are forgotten first


def tasks_run(job: Job) -> int:
    return job.progress_summary.tasks_run


class ProgressSampler:
    def __init__(self, store: JobStore, interval_s: float = INTERVAL_S) -> None:
        self.store = store
        self.interval_s = interval_s
        self._series: OrderedDict[str, deque[tuple[float, int]]] = OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Sample in a daemon thread from now on (idempotent)."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._loop, name="progress-sampler", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:  # the store is briefly unreachable: the chart has a gap, the server goes on
                log.debug("progress sampling failed", exc_info=True)
            self._stop.wait(self.interval_s)

    def sample_once(self, now: float | None = None) -> None:
        for job in self.store.jobs_in([JobStatus.ACTIVE]):
            self.record(job, now)

    def record(self, job: Job, now: float | None = None) -> None:
        point = (now if now is not None else time.time(), tasks_run(job))
        with self._lock:
            series = self._series.get(job.job_id)
            if series is None:
                series = self._series[job.job_id] = deque(maxlen=MAX_SAMPLES_PER_JOB)
                while len(self._series) > MAX_JOBS:
                    self._series.popitem(last=False)
            self._series.move_to_end(job.job_id)
            if not series or point[0] > series[-1][0]:
                series.append(point)

    def series(self, job: Job, history: list[StatusChange]) -> list[tuple[float, int]]:
        """The job's (unix time, tasks run) points, oldest first."""
        started = next((h.at.timestamp() for h in history if h.to_status is JobStatus.ACTIVE), None)
        if started is None:
            return []
        with self._lock:
            points = [p for p in self._series.get(job.job_id, ()) if p[0] > started]
        points.insert(0, (started, 0))
        if job.status in TERMINAL and job.termination_date is not None:
            end = job.termination_date.timestamp()
            points = [p for p in points if p[0] < end] + [(end, tasks_run(job))]
        elif job.status is JobStatus.ACTIVE:
            points.append((time.time(), tasks_run(job)))
        return points
