"""Rate limits inside a worker process: one token bucket per job, shared by every DoFn
instance and thread of the process, its rate set by the controller (JobControl.rate).

The controller gives each worker process of a job an equal share of the job's limit
(the job's own, and its share of its storage's), so the limits hold across workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Longest single wait, so a raised limit or a stop is noticed promptly.
MAX_WAIT_S = 0.2


class TokenBucket:
    """Operations per second, smoothed: a small burst (0.1 s of tokens), then debt that later
    callers wait out. A rate of None lets everything through."""

    def __init__(self, rate: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rate = rate
        self._tokens = 0.0
        self._at = clock()

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        with self._lock:
            self._refill()
            self._rate = rate if rate is None or rate > 0 else None

    def _refill(self) -> None:
        now = self._clock()
        if self._rate is not None:
            self._tokens = min(max(1.0, self._rate * 0.1), self._tokens + (now - self._at) * self._rate)
        self._at = now

    def try_acquire(self, n: int = 1) -> float:
        """Take `n` tokens and return 0, or return how long to wait before trying again."""
        with self._lock:
            if self._rate is None:
                return 0.0
            self._refill()
            if self._tokens >= -1e-9:  # (float rounding of a refill to exactly zero)
                self._tokens -= n  # may go into debt: the next callers wait it out
                return 0.0
            return max(1e-4, -self._tokens / self._rate)

    def acquire(self, n: int = 1, stop: threading.Event | None = None,
                sleep: Callable[[float], None] = time.sleep) -> bool:
        """Block until `n` operations may go; False if `stop` was set meanwhile."""
        while True:
            wait = self.try_acquire(n)
            if wait <= 0:
                return True
            if stop is not None and stop.is_set():
                return False
            sleep(min(wait, MAX_WAIT_S))


_BUCKETS: dict[str, TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for(job_id: str) -> TokenBucket:
    """This process's bucket for a job (made on first use, kept for the process's life)."""
    with _BUCKETS_LOCK:
        return _BUCKETS.setdefault(job_id, TokenBucket())
