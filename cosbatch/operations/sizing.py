"""What a copy segment's objects weigh, and the order and shape that follows from it (issue 25,
item 3: mixed sizes without stragglers).

A manifest that mixes many tiny objects with a few multi-GiB ones must not end with one thread
copying a 2 GiB object alone while the rest wait. Three pieces, each usable alone:

- `SourceSizes`: the sizes of a segment's sources from a listing of the key range the segment
  spans (`ListingCursor`: about one ListObjectsV2 page per 1,000 keys, the next page fetched
  while the segment runs; a listing sparser than it is worth is given up and those tasks stay
  unsized). No request per object: a job of small objects pays about a page per segment.
- `largest_first`: a segment's tasks, the largest known first (unsized ones keep their manifest
  order, after them), so the long copies start at once and the small ones fill in around them.
- `byte_weighted_ranges`: where a manifest gives sizes, segments cut by bytes as well as by
  count, so that no segment (and no worker) carries a far larger share of the bytes.

The caller may rely on: sizes are only ever facts seen in a listing (never guessed), a task
whose size is not known is copied as before, and no function here drops or repeats a task.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch import logs
from cosbatch.manifests import Task
from cosbatch.operations.skip_identical import ListingCursor
from cosbatch.storage import Storage
from cosbatch.storage.lean import LeanS3Client

#: A segment's source sizes: (bucket, key) → bytes, for the tasks a listing covered.
Sizes = Mapping[tuple[str, str], int]


def largest_first(tasks: Sequence[Task], sizes: Sizes) -> list[Task]:
    """`tasks` with the sized ones first, largest first; ties and unsized tasks keep their order."""
    sized = [(i, t) for i, t in enumerate(tasks) if t.version_id is None and (t.bucket, t.key) in sizes]
    known = {i for i, _ in sized}
    sized.sort(key=lambda it: (-sizes[(it[1].bucket, it[1].key)], it[0]))
    return [t for _, t in sized] + [t for i, t in enumerate(tasks) if i not in known]


def byte_weighted_ranges(sizes: Sequence[int], max_tasks: int, max_bytes: int) -> list[tuple[int, int]]:
    """[start, end) ranges over `sizes` (the manifest's objects in order), each at most `max_tasks`
    long and, unless it holds one object, at most `max_bytes` heavy: a new range starts where the
    next object would take it over either limit. Every index is in exactly one range."""
    if max_tasks < 1 or max_bytes < 1:
        raise ValueError("max_tasks and max_bytes must be at least 1")
    ranges: list[tuple[int, int]] = []
    start, weight = 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start >= max_tasks or weight + size > max_bytes):
            ranges.append((start, i))
            start, weight = i, 0
        weight += size
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


#: A segment is never cut by bytes below this weight: jobs of small objects keep their segments.
MIN_SEGMENT_BYTES = 1024**3


def segment_byte_limit(total_bytes: int, tasks: int, segment_size: int) -> int:
    """The most bytes a segment may carry: what a segment cut by count alone carries on average,
    and at least MIN_SEGMENT_BYTES."""
    segments = max(1, -(-tasks // max(1, segment_size)))
    return max(MIN_SEGMENT_BYTES, -(-total_bytes // segments))


class SourceSizes:
    """Sizes of each segment's sources, from listings kept from segment to segment (one cursor per
    bucket; segments in key order cost about one page each, fetched ahead)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._lister: LeanS3Client | None = None
        self._cursors: dict[str, ListingCursor] = {}
        self._lock = threading.Lock()
        self._ahead = ThreadPoolExecutor(1, thread_name_prefix="cosbatch-size-list")

    def _cursor(self, bucket: str) -> ListingCursor:
        with self._lock:
            if self._lister is None:
                self._lister = LeanS3Client(self.storage.tuned(max_attempts=1))
            if bucket not in self._cursors:
                self._cursors[bucket] = ListingCursor(self._lister, bucket, self._ahead)
            return self._cursors[bucket]

    def of_segment(self, tasks: Sequence[Task]) -> dict[tuple[str, str], int]:
        """The sizes a listing shows for these tasks (one bucket, no versions; else none). A listing
        refused or cut off costs the segment its sizes, never its tasks."""
        buckets = {t.bucket for t in tasks}
        if len(buckets) != 1 or any(t.version_id for t in tasks):
            return {}
        bucket = next(iter(buckets))
        cursor = self._cursor(bucket)
        try:
            listing = cursor.listing(sorted({t.key for t in tasks}))
        except (ClientError, BotoCoreError) as exc:
            logs.event("copy_sizes_listing_failed", logging.WARNING, bucket=bucket, error=str(exc)[:200])
            with self._lock:
                self._cursors.pop(bucket, None)
            return {}
        return {(bucket, t.key): seen.size for t in tasks
                if listing.covers(t.key) and (seen := listing.objects.get(t.key)) is not None}

    def close(self) -> None:
        self._ahead.shutdown(wait=True)
        if self._lister is not None:
            self._lister.close()


__all__ = ["MIN_SEGMENT_BYTES", "SourceSizes", "Sizes", "byte_weighted_ranges", "largest_first", "segment_byte_limit"]
