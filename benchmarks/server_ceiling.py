"""The machine's own ceiling for a server-side copy (issue 25, item 4): the storage server copying
alone, sent by a bare client (cosbatch's LeanS3Client, no job, no listing, no HEAD, no pool of
ours), so that every ratio of a job has a physical limit beside it.

Two shapes, since a server may copy faster one way than the other:

- `copy_objects`: one CopyObject per object, `threads` at a time;
- `part_copy`: one object as a multipart copy, UploadPartCopy of `part` bytes, `threads` parts
  in flight, then CompleteMultipartUpload.

Each returns when the server has answered the last request; nothing is verified here (the caller
checks the copies' sizes outside the timing). A request the server answers with a transient error
(a 5xx such as SeaweedFS's occasional InternalError on a large CopyObject, throttling, a dropped
connection) is sent again under the job's own RetryPolicy, as a job would, so that one such answer
does not end a benchmark run; a refusal (4xx) or a request that keeps failing still raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from cosbatch.manifests import Task
from cosbatch.operations import RetryPolicy, run_with_retries
from cosbatch.storage import Storage
from cosbatch.storage.lean import LeanS3Client

T = TypeVar("T")

#: Retries the ceiling's requests had (read by the benchmarks to report them beside the figures).
retried: list[int] = []


def _client(storage: Storage, threads: int) -> LeanS3Client:
    return LeanS3Client(storage.tuned(max_attempts=1, max_pool_connections=max(threads, 1)))  # retries: _with_retries, as a job


def _with_retries(bucket: str, key: str, call: Callable[[], T]) -> T:
    """`call()`, sent again after a transient error as the job's RetryPolicy says; raises on a
    permanent one or when the policy gives up."""
    answer: list[T] = []
    result = run_with_retries(Task(bucket, key), lambda: answer.append(call()) or "", RetryPolicy())
    if result.retries:
        retried.append(result.retries)
    if not result.succeeded:
        raise RuntimeError(f"server ceiling: {key}: {result.error_code} {result.message} "
                           f"(after {result.retries} retries)")
    return answer[0]


def copy_objects(storage: Storage, src: str, keys: Sequence[tuple[str, int]], dst: str, threads: int) -> None:
    """CopyObject of each (key, size) from `src` into `dst` under the same key, `threads` at a time."""
    client = _client(storage, threads)
    try:
        def one(item: tuple[str, int]) -> None:
            key, size = item
            _with_retries(src, key, lambda: client.copy_object(Bucket=dst, Key=key,
                                                               CopySource={"Bucket": src, "Key": key}, size=size))

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, keys))
    finally:
        client.close()


def part_copy(storage: Storage, src: str, key: str, size: int, dst: str, part: int, threads: int) -> int:
    """A multipart copy of one object in `part`-byte UploadPartCopy parts, `threads` in flight;
    the number of parts."""
    client = _client(storage, threads)
    try:
        upload = _with_retries(src, key, lambda: client.create_multipart_upload(dst, key, {}))
        ranges = [(n + 1, start, min(size, start + part)) for n, start in enumerate(range(0, size, part))]

        def one(r: tuple[int, int, int]) -> tuple[int, str]:
            etag, _ = _with_retries(src, key, lambda: client.upload_part_copy(dst, key, upload, r[0], src, key,
                                                                              None, r[1], r[2]))
            return r[0], etag

        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(one, ranges))
        _with_retries(src, key, lambda: client.complete_multipart_upload(dst, key, upload, parts))
        return len(parts)
    finally:
        client.close()
