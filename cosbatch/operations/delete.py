"""DeleteObject: delete each object (or the version the manifest names), in batches through
the multi-object delete API; per-key errors become failed tasks, transient ones are retried."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.manifests import Task
from cosbatch.models.operation_params import DeleteObject
from cosbatch.operations.base import (
    PERMANENT,
    TEMPORARY,
    RetryPolicy,
    TaskResult,
    error_parts,
    is_retryable,
    is_retryable_code,
    is_unavailable,
    wait_to_retry,
)


class DeleteOperation:
    name: ClassVar[str] = "S3DeleteObject"
    client_kind: ClassVar[str] = "lean"
    max_batch: ClassVar[int] = 1000  # the multi-object delete API's limit
    # Requests in flight at once (at most the job's concurrency): on SeaweedFS 32 requests of ~32
    # keys deleted 20,000 objects faster than 64 of ~16 or 16 of ~63 (benchmarks/, scenario b).
    batch_concurrency: ClassVar[int] = 32
    # A segment of 10,000 keys goes out as 32 requests of ~313 keys in one wave. With 1,000-task
    # segments each request carried ~31 keys and 20,000 deletes ran at 4.5-5.6k/s against
    # 6.4-7.5k/s with 10,000 (benchmarks/, scenario b). A delete that runs again after a crash
    # is harmless: deleting a deleted key succeeds.
    segment_tasks: ClassVar[int] = 10_000

    def __init__(self, params: DeleteObject) -> None:
        self.params = params

    def apply(self, client: Any, task: Task) -> str:
        client.delete_object(Bucket=task.bucket, Key=task.key,
                             **({"VersionId": task.version_id} if task.version_id else {}))
        return "Successful"

    def apply_batch(
        self, client: Any, tasks: Sequence[Task], policy: RetryPolicy, sleep: Callable[[float], object] = time.sleep,
        stopping: Callable[[], bool] = lambda: False,
    ) -> list[TaskResult]:
        """The results of the tasks deleted or refused; once `stopping()` says the job stopped, the
        tasks still waiting for a retry are given up and have none (as in run_with_retries)."""
        by_bucket: dict[str, list[Task]] = defaultdict(list)
        for t in tasks:
            by_bucket[t.bucket].append(t)
        results: list[TaskResult] = []
        for bucket, group in by_bucket.items():
            if stopping():
                break
            results.extend(self._delete_group(client, bucket, group, policy, sleep, stopping))
        return results

    def _delete_group(
        self, client: Any, bucket: str, tasks: list[Task], policy: RetryPolicy, sleep: Callable[[float], object],
        stopping: Callable[[], bool],
    ) -> list[TaskResult]:
        results: list[TaskResult] = []
        pending = tasks
        attempt = 0
        started = time.monotonic()
        while pending:
            objects = [{"Key": t.key, **({"VersionId": t.version_id} if t.version_id else {})} for t in pending]
            try:
                response = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            except (ClientError, BotoCoreError) as exc:
                if is_retryable(exc) and policy.retry(attempt + 1, started, is_unavailable(exc)):
                    attempt += 1
                    if not wait_to_retry(policy.delay(attempt), sleep, stopping):
                        return results  # the job stopped: no retry, no result for `pending`
                    continue
                status, code, message = error_parts(exc)
                kind = TEMPORARY if is_retryable(exc) else PERMANENT
                results += [TaskResult(t.bucket, t.key, t.version_id, False, status, code, message, kind, attempt)
                            for t in pending]
                return results
            errors = {(e.get("Key", ""), e.get("VersionId") or None): e for e in response.get("Errors", [])}
            retry: list[Task] = []
            for t in pending:
                err = errors.get((t.key, t.version_id)) or errors.get((t.key, None))
                if err is None:
                    results.append(TaskResult(t.bucket, t.key, t.version_id, True, 200, "", "Successful", "", attempt))
                elif is_retryable_code(err.get("Code", "")) and attempt + 1 < policy.max_attempts:
                    retry.append(t)
                else:
                    kind = TEMPORARY if is_retryable_code(err.get("Code", "")) else PERMANENT
                    results.append(TaskResult(t.bucket, t.key, t.version_id, False, None, err.get("Code", ""),
                                              err.get("Message", ""), kind, attempt))
            pending = retry
            if pending:
                attempt += 1
                if not wait_to_retry(policy.delay(attempt), sleep, stopping):
                    return results  # the job stopped: no retry, no result for `pending`
        return results
