"""Progress samples for the console's throughput chart: (time, tasks run) of a job.

What the store keeps for good makes a job's series: when it first became Active (no task run
yet), each recorded segment's completion time with the tasks it ran, and, once the job has
finished, its termination time with its final count. So every finished job, short or long,
shows its rate on any `serve` of the store, also after a restart. While a job is Active the
serve process also samples its live counters every few seconds (in memory), which show the
progress of segments still running; they follow the completions recorded before them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable

from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.models import Job
from cosbatch.store.base import JobStore, Segment, StatusChange

log = logging.getLogger("cosbatch.api")

INTERVAL_S = 2.0
MAX_SAMPLES_PER_JOB = 900  # 30 min at 2 s; older samples are dropped
MAX_JOBS = 500  # the least recently sampled jobs are forgotten first
MAX_COMPLETION_POINTS = 600  # a job of more segments is drawn from every n-th completion


def completions(segments: Iterable[Segment], after: float, before: float) -> list[tuple[float, int]]:
    """(time, tasks run by then) at the recorded segments' completions strictly between `after`
    and `before`: cumulative, one point per distinct time, at most MAX_COMPLETION_POINTS.

    Segments finished outside the window (another host's clock, or recorded without a time by an
    older cosbatch) count towards the next point instead."""
    done = sorted((s.finished_at, s.succeeded + s.failed) for s in segments if s.finished_at is not None)
    points: list[tuple[float, int]] = []
    total = 0
    for at, ran in done:
        total += ran
        if not after < at < before:
            continue
        if points and points[-1][0] == at:
            points[-1] = (at, total)
        else:
            points.append((at, total))
    if len(points) > MAX_COMPLETION_POINTS:
        step = len(points) / MAX_COMPLETION_POINTS
        points = [points[int(i * step)] for i in range(MAX_COMPLETION_POINTS - 1)] + [points[-1]]
    return points


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

    def series(self, job: Job, history: list[StatusChange], segments: Iterable[Segment] = ()) -> list[tuple[float, int]]:
        """The job's (unix time, tasks run) points, oldest first; `segments` are its segments as
        the store has them (their completion times)."""
        started = next((h.at.timestamp() for h in history if h.to_status is JobStatus.ACTIVE), None)
        if started is None:
            return []
        if job.status in TERMINAL and job.termination_date is not None:
            end = job.termination_date.timestamp()
            return [(started, 0), *completions(segments, started, end), (end, tasks_run(job))]
        with self._lock:
            live = [p for p in self._series.get(job.job_id, ()) if p[0] > started]
        now = time.time()
        recorded = completions(segments, started, live[0][0] if live else now)
        points = [(started, 0), *recorded, *live]
        if job.status is JobStatus.ACTIVE:
            points.append((now, tasks_run(job)))
        return points
