"""Jobs waiting in Preparing for their storage to come back: when to try again, and until when.

Held in the scheduler's memory: a restarted controller starts each job's patience afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Wait:
    since: float
    next_at: float
    delay_s: float
    reason: str


class StorageWaits:
    """Backoff (first_s, doubling up to max_s) for at most patience_s per job."""

    def __init__(self, patience_s: float, first_s: float = 1.0, max_s: float = 10.0) -> None:
        self.patience_s = patience_s
        self.first_s = first_s
        self.max_s = max_s
        self._waits: dict[str, Wait] = {}

    def due(self, job_id: str) -> bool:
        """Whether the job may be prepared now (it is not backing off)."""
        wait = self._waits.get(job_id)
        return wait is None or time.monotonic() >= wait.next_at

    def failed(self, job_id: str, reason: str) -> tuple[bool, bool]:
        """Record a transient failure: (keep waiting?, is the reason new?)."""
        now = time.monotonic()
        wait = self._waits.get(job_id)
        if wait is None:
            wait = self._waits[job_id] = Wait(now, now, self.first_s / 2, "")
        if now - wait.since >= self.patience_s:
            self._waits.pop(job_id, None)
            return False, False
        wait.delay_s = min(self.max_s, wait.delay_s * 2)
        wait.next_at = now + wait.delay_s
        new = reason != wait.reason
        wait.reason = reason
        return True, new

    def done(self, job_id: str) -> float | None:
        """The job got past its storage: seconds it waited (None if it never did)."""
        wait = self._waits.pop(job_id, None)
        return None if wait is None else time.monotonic() - wait.since
