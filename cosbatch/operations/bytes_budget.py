"""How many bytes a worker's whole-object server-side copies may have in flight at once.

A CopyObject costs the storage its object's bytes; 128 of them at once (the job's threads) is
128 small copies or 8 GiB of 64 MiB ones. On SeaweedFS 64 concurrent 64 MiB copies took about 10%
longer than the same copies 16 at a time (benchmarks/results/many-large.md), while small copies
need all the threads to hide their latency. So a copy of known size first takes its bytes from this
budget: small ones never wait, large ones go a budget's worth at a time. An object larger than the
whole budget is counted as the whole budget: it starts once nothing else holds any, and runs alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BytesInFlight:
    """A budget of `limit` bytes shared by the threads of one worker's copies."""

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError("the bytes-in-flight limit must be positive")
        self.limit = limit
        self._used = 0
        self._peak = 0
        self._free = threading.Condition()

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """Wait until `size` bytes (at most the whole budget) fit, hold them while the body runs."""
        want = min(max(size, 0), self.limit)
        with self._free:
            while self._used and self._used + want > self.limit:
                self._free.wait()
            self._used += want
            self._peak = max(self._peak, self._used)
        try:
            yield
        finally:
            with self._free:
                self._used -= want
                self._free.notify_all()

    @property
    def peak(self) -> int:
        """The most bytes held at once so far."""
        return self._peak
