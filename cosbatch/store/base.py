"""What every store offers (SQLite, PostgreSQL), and its value types."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.models import FailureReason, Job, StorageWait, Tag


class SegmentState(StrEnum):
    PENDING = "pending"  # not started, or started and abandoned (pause, crash): runs again; abandoned
    # by a pause, it keeps the results recorded of the tasks that ran until its next run replaces them
    RUNNING = "running"  # a worker is on it; progress counters are live
    DONE = "done"  # every task ran; results persisted
    STOPPED = "stopped"  # cancelled/failed mid-way; the tasks that ran are persisted
    HELD = "held"  # after a trial run (cosbatch:trial-tasks): runs once the job is confirmed


@dataclass(frozen=True)
class Segment:
    """A slice of the manifest: lines [first_line, first_line + task_count) at bytes [start, end)."""

    job_id: str
    seg_no: int
    source: str  # where its tasks are read from (manifest URL/path or data file)
    start: int
    end: int
    first_line: int
    task_count: int
    state: SegmentState = SegmentState.PENDING
    succeeded: int = 0
    failed: int = 0
    result_files: list[dict] = field(default_factory=list)
    finished_at: float | None = None  # epoch seconds when it was recorded DONE or STOPPED
    skipped: int = 0  # of `succeeded`: identical at the target already, so not copied (skip-identical)


#: Failed tasks whose error code no results file records (the job's report is disabled).
UNRECORDED = "Unrecorded"


def failure_codes(result_files: Iterable[Mapping], *, strict: bool = True) -> Counter[str]:
    """A segment's failed tasks by ErrorCode, as its result-file descriptors record them: each
    failed-results file carries its rows' codes ("ErrorCodes"); one without them (a job without a
    report) counts its rows under UNRECORDED. The store keeps each job's sum of these.

    A descriptor not so shaped raises ValueError (`strict`: a worker's report is then refused
    whole), or counts nothing (not `strict`: what an older store holds already, read the same way
    when its sums are filled and when the segment is written again)."""
    codes: Counter[str] = Counter()
    for f in result_files:
        if f.get("TaskExecutionStatus") == "failed":
            recorded = f.get("ErrorCodes") or {UNRECORDED: f.get("Rows", 0)}
            if not isinstance(recorded, Mapping) or not all(
                    isinstance(n, int) and not isinstance(n, bool) for n in recorded.values()):
                if not strict:
                    continue
                raise ValueError(f"a failed-results file's ErrorCodes must map codes to counts, not {recorded!r:.80}")
            codes.update({str(code): n for code, n in recorded.items()})
    return codes


@dataclass(frozen=True)
class StatusChange:
    job_id: str
    seq: int
    from_status: JobStatus | None
    to_status: JobStatus
    at: datetime
    reason: str | None


#: The job tag naming the URL notified of the job's statuses (registered in cosbatch_tags).
NOTIFY_URL_TAG = "cosbatch:notify-url"
#: The job tag asking for a trial run (registered in cosbatch_tags); a re-run of failed tasks drops it.
TRIAL_TASKS_TAG = "cosbatch:trial-tasks"
#: The job tag asking a copy to skip objects identical at the target (registered in cosbatch_tags):
#: such a job's ProgressSummary counts its skipped tasks.
SKIP_IDENTICAL_TAG = "cosbatch:skip-identical"
#: The statuses a job with a notify URL is notified of.
NOTIFIED: frozenset[JobStatus] = TERMINAL | {JobStatus.SUSPENDED}


class NotificationState(StrEnum):
    PENDING = "pending"  # to send (again) at next_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up on: every attempt failed, or the URL is no longer allowed


@dataclass(frozen=True)
class Notification:
    """A status a job reached, to POST to its notify URL: recorded by `transition` in the same
    transaction as the status, so neither a crash nor a restart loses it."""

    job_id: str
    seq: int  # the status change it reports (StatusChange.seq)
    url: str
    status: JobStatus
    at: datetime
    state: NotificationState = NotificationState.PENDING
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_token: str | None


class JobStore(Protocol):
    """Durable job state. Every method is atomic; status writes are compare-and-set."""

    url: str

    def insert_job(self, job: Job, request_hash: str) -> tuple[Job, bool]: ...
    def get_job(self, job_id: str, account_id: str | None = None) -> Job: ...
    def list_jobs(self, account_id: str | None, statuses: Sequence[JobStatus] = (),
                  text: str | None = None, created_after: datetime | None = None,
                  max_results: int = 1000, next_token: str | None = None) -> JobPage: ...
    def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]: ...
    def get_status(self, job_id: str) -> JobStatus: ...
    def transition(self, job_id: str, expected: JobStatus, target: JobStatus, *,
                   reason: str | None = None, suspended_cause: str | None = None,
                   failure: FailureReason | None = None, total_tasks: int | None = None) -> bool: ...
    def set_priority(self, job_id: str, priority: int, account_id: str | None = None) -> Job: ...
    def set_rate_limit(self, job_id: str, max_ops_per_second: float | None, account_id: str | None = None) -> Job: ...
    def set_worker_rate(self, job_id: str, rate: float | None) -> None: ...
    def set_estimate(self, job_id: str, estimate: dict | None) -> None:
        """Record the estimate the job shows while it waits in Suspended (None: none)."""
        ...
    def set_storage_wait(self, job_id: str, wait: StorageWait | None) -> None:
        """Record the job's wait in Preparing for its storage (None: it waits no more); a restarted
        controller continues it."""
        ...
    def get_job_tags(self, job_id: str, account_id: str | None = None) -> list[Tag]: ...
    def put_job_tags(self, job_id: str, tags: Sequence[Tag], account_id: str | None = None) -> Job:
        """Replace the job's tag set (an empty one removes every tag); NoSuchJob if absent."""
        ...
    def delete_job_tags(self, job_id: str, account_id: str | None = None) -> Job: ...
    def get_control(self, job_id: str) -> tuple[JobStatus, float | None]:
        """(status, object operations per second each pipeline worker process may make, or None)."""
        ...
    def add_failure(self, job_id: str, failure: FailureReason) -> None: ...
    def history(self, job_id: str) -> list[StatusChange]: ...
    def due_notifications(self, now: float, limit: int = 50) -> list[Notification]:
        """Pending notifications whose time has come (next_at ≤ now, epoch seconds), oldest first."""
        ...
    def notification_attempted(self, job_id: str, seq: int, error: str | None, retry_at: float | None) -> None:
        """Record an attempt: delivered (error None), to retry at `retry_at`, or given up (retry_at None)."""
        ...
    def notifications(self, job_id: str) -> list[Notification]: ...
    def replace_segments(self, job_id: str, segments: Sequence[Segment]) -> None: ...
    def segments(self, job_id: str, states: Iterable[SegmentState] = ()) -> list[Segment]: ...
    def segment_state(self, job_id: str, seg_no: int) -> SegmentState: ...
    def update_segment(self, job_id: str, seg_no: int, state: SegmentState, succeeded: int,
                       failed: int, result_files: list[dict] | None = None,
                       retries: int = 0, skipped: int = 0) -> None: ...
    def retries(self, job_id: str) -> int:
        """The sum of the job's segments' retries (kept with the job: reads no segment)."""
        ...
    def failure_codes(self, job_id: str) -> dict[str, int]:
        """The sum of the job's segments' `failure_codes` (kept with the job: reads no segment)."""
        ...
    def abandon_segment(self, job_id: str, seg_no: int, tasks_run: int) -> None: ...
    def abandoned_tasks(self, job_id: str) -> int:
        """The sum of the job's segments' abandoned tasks (kept with the job: reads no segment)."""
        ...
    def reset_running_segments(self, job_id: str) -> int: ...
    def release_held_segments(self, job_id: str) -> int:
        """HELD segments (those a trial run left for later) become PENDING; how many."""
        ...
    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool: ...
    def lease_holder(self, name: str) -> str | None: ...
    def release_lease(self, name: str, owner: str) -> None: ...
    def leases(self, prefix: str) -> dict[str, str]: ...
    def release_leases(self, prefix: str) -> int: ...
    def close(self) -> None: ...
