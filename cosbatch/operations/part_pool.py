"""The threads that run large copies' parts, the largest object's first.

Every large copy of a worker queues its parts here (UploadPartCopy, or ranged GET → UploadPart
across storages). A FIFO pool would serve the objects in the order their uploads happened to be
created, a race among their first requests (HEADs, CreateMultipartUpload): in a benchmark run the
2 GiB object's parts waited behind five smaller objects'. Here a part waits behind the parts of
larger objects only, so the largest object is never the one left to copy alone at the end.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class PartPool:
    """`threads` threads taking the waiting part with the largest `weight` (its object's size);
    equal weights in the order they came. `submit` returns a Future that `cancel` works on while
    the part waits."""

    def __init__(self, threads: int, name: str = "cosbatch-part") -> None:
        self._heap: list[tuple[int, int, Future, Callable[..., Any], tuple[Any, ...]]] = []
        self._ready = threading.Condition()
        self._order = itertools.count()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, weight: int, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the part pool is shut down")
            heapq.heappush(self._heap, (-weight, next(self._order), future, fn, args))
            self._ready.notify()
        return future

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._heap and not self._closed:
                    self._ready.wait()
                if not self._heap:
                    return
                _, _, future, fn, args = heapq.heappop(self._heap)
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the waiting copy, as ThreadPoolExecutor does
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Run what is queued, then stop the threads and wait for them."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()
