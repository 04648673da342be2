"""Jobs waiting in Preparing for their storage to come back: when to try again, and until when.

The deadline is the store's (`Job.storage_wait`, set at the first failure): a restarted
controller continues the wait and gives up when the first one would have. The backoff between
attempts is this controller's memory only: a restarted one tries at once, then backs off afresh.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from cosbatch.models import Job, StorageWait
from cosbatch.store.base import JobStore

#: StatusUpdateReason of a job waiting for its storage: this, then the storage error.
WAITING = "waiting for storage: "


class StorageWaits:
    """Backoff (first_s, doubling up to max_s) for at most patience_s per job."""

    def __init__(self, store: JobStore, patience_s: float, first_s: float = 1.0, max_s: float = 10.0) -> None:
        self.store = store
        self.patience_s = patience_s
        self.first_s = first_s
        self.max_s = max_s
        self._backoff: dict[str, tuple[float, float]] = {}  # job id → (monotonic next try, delay)

    def due(self, job_id: str) -> bool:
        """Whether the job may be prepared now (it is not backing off)."""
        backoff = self._backoff.get(job_id)
        return backoff is None or time.monotonic() >= backoff[0]

    def failed(self, job: Job, reason: str, brief: str) -> tuple[bool, bool]:
        """Record a transient failure (`reason` in full, `brief` in a few words): (keep waiting?,
        is the reason not yet the job's StatusUpdateReason?). The first failure sets the deadline."""
        now = time.time()
        wait = job.storage_wait
        if wait is None:
            wait = StorageWait(since=_at(now), until=_at(now + self.patience_s), reason=brief)
            self.store.set_storage_wait(job.job_id, wait)
        elif wait.reason != brief:
            self.store.set_storage_wait(job.job_id, wait.model_copy(update={"reason": brief}))
        if now >= wait.until.timestamp():
            self._backoff.pop(job.job_id, None)
            return False, False
        delay = min(self.max_s, self._backoff.get(job.job_id, (0.0, self.first_s / 2))[1] * 2)
        # The last try is at the deadline, not up to max_s after it: the job gives up when it said.
        self._backoff[job.job_id] = (time.monotonic() + min(delay, wait.until.timestamp() - now), delay)
        return True, job.status_update_reason != (WAITING + reason)[:256]  # as transition() keeps it

    def done(self, job: Job) -> float | None:
        """The job got past its storage (or failed for good): seconds it waited (None if it never did)."""
        self._backoff.pop(job.job_id, None)
        if job.storage_wait is None:
            return None
        self.store.set_storage_wait(job.job_id, None)
        return time.time() - job.storage_wait.since.timestamp()


def _at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)
