"""Undo: record what each task overwrites (cosbatch:undoable), and restore it (cosbatch:undo-of).

Recording is per segment, before the segment runs: the state of every task is read (one
GET per task) and written to the segment's `.pending.csv` record file, so a segment that runs
again after a crash or a pause reuses the state read before its first run, never the state
the job itself left. When the segment has run, the records of the tasks that succeeded go
to its `.csv` file, which is what the undo job reads (cosbatch.operations.undo_records).

An undo task first checks that the object is still as the job left it; if not, it fails with
ChangedSinceJob naming what changed, and leaves the object alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.manifests import Task
from cosbatch.operations.base import TaskResult, error_parts, is_retryable
from cosbatch.operations.undo_records import UndoRecord, parse_records, record_key, records_body

#: The operations a job may record for undo, and why others may not.
UNDOABLE_OPERATIONS = frozenset({"S3PutObjectTagging", "S3DeleteObjectTagging"})
NOT_UNDOABLE_WHY = {
    "Invoke": "a function's effects are its own: cosbatch cannot see or restore them",
    "S3InitiateRestoreObject": "a restore makes a temporary copy that expires by itself; there is nothing to undo",
    "S3ComputeObjectChecksum": "computing checksums changes nothing",
}


def changed_since_job(message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ChangedSinceJob", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 409}}, "Undo")


def _version(task: Task) -> dict[str, str]:
    return {"VersionId": task.version_id} if task.version_id else {}


def current_tags(client: Any, task: Task) -> list[list[str]]:
    """The object's tag set as sorted [key, value] pairs (lean client or boto3)."""
    answer = client.get_object_tagging(Bucket=task.bucket, Key=task.key, **_version(task))
    pairs = answer if isinstance(answer, list) else [(t["Key"], t["Value"]) for t in answer["TagSet"]]
    return sorted([k, v] for k, v in pairs)


def _shown(tags: Sequence[Sequence[str]]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in tags) + "}" if tags else "no tags"


class _Tagging:
    """Tagging: the tag set before, the tag set the job set; restore puts the old set back."""

    op = "tagging"

    def __init__(self, after: list[list[str]]) -> None:
        self.after = after

    def capture(self, client: Any, task: Task) -> UndoRecord:
        return UndoRecord(task, self.op, current_tags(client, task), self.after)


def recorder_kind(operation: Any) -> _Tagging:
    if operation.name == "S3PutObjectTagging":
        return _Tagging(sorted([t["Key"], t["Value"]] for t in operation.tagging["TagSet"]))
    if operation.name == "S3DeleteObjectTagging":
        return _Tagging([])
    raise ValueError(f"{operation.name} cannot be undone")


class UndoRecorder:
    """Wraps a job's operation: records each task's state before its segment runs."""

    def __init__(self, inner: Any, report_client: Callable[[], Any], bucket: str, undo_dir: str,
                 concurrency: int = 16) -> None:
        self.inner = inner
        self.name = inner.name
        self.client_kind = getattr(inner, "client_kind", "boto3")
        self.kind = recorder_kind(inner)
        self.report_client = report_client
        self.bucket = bucket
        self.undo_dir = undo_dir
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cosbatch-undo")
        self.records: dict[int, list[UndoRecord]] = {}
        self.unreadable: dict[Task, str] = {}

    def begin_segment(self, client: Any, seg_no: int, tasks: Sequence[Task]) -> None:
        """Read the state of the segment's tasks (or the state read before its first run)."""
        key = record_key(self.undo_dir, seg_no, pending=True)
        self.unreadable = {}
        try:
            data = self.report_client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
            self.records[seg_no] = parse_records(data)
            return
        except ClientError as exc:
            if error_parts(exc)[1] not in ("NoSuchKey", "404"):
                raise
        records = []
        for task, outcome in zip(tasks, self.pool.map(lambda t: self._capture(client, t), tasks), strict=True):
            if isinstance(outcome, UndoRecord):
                records.append(outcome)
            else:
                self.unreadable[task] = outcome
        self.report_client().put_object(Bucket=self.bucket, Key=key, Body=records_body(records),
                                        ContentType="text/csv")
        self.records[seg_no] = records

    def _capture(self, client: Any, task: Task) -> UndoRecord | str:
        for attempt in range(5):
            try:
                return self.kind.capture(client, task)
            except ClientError as exc:
                status, code, message = error_parts(exc)
                if not is_retryable(exc) or attempt == 4:
                    return f"{code}: {message}"
            except BotoCoreError as exc:
                if attempt == 4:
                    return f"{type(exc).__name__}: {exc}"
        return "unreachable"

    def apply(self, client: Any, task: Task) -> str:
        why = self.unreadable.get(task)
        if why is not None:
            raise ClientError({"Error": {"Code": "UndoStateUnavailable",
                                         "Message": f"the state to record for undo could not be read ({why}); "
                                                    "the task was not run"},
                               "ResponseMetadata": {"HTTPStatusCode": 424}}, "Undo")
        return self.inner.apply(client, task)

    def end_segment(self, seg_no: int, results: Iterable[TaskResult]) -> None:
        """Write the records of the tasks that succeeded: what the undo job will restore."""
        records = self.records.pop(seg_no, [])
        succeeded = {(r.bucket, r.key, r.version_id) for r in results if r.succeeded}
        kept = [r for r in records if (r.task.bucket, r.task.key, r.task.version_id) in succeeded]
        self.report_client().put_object(Bucket=self.bucket, Key=record_key(self.undo_dir, seg_no),
                                        Body=records_body(kept), ContentType="text/csv")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        if hasattr(self.report_client, "close"):
            self.report_client.close()
        if hasattr(self.inner, "close"):
            self.inner.close()


class UndoOperation:
    """The operation of an undo job: restores each task's recorded state, unless it changed."""

    name: ClassVar[str] = "Undo"
    client_kind: ClassVar[str] = "lean"

    def __init__(self, read_segment: Callable[[int], bytes], close: Callable[[], None] | None = None) -> None:
        self.read_segment = read_segment  # seg_no → that segment's bytes of the undo manifest
        self.records: dict[tuple[str, str, str | None], list[UndoRecord]] = {}
        self._close = close

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def begin_segment(self, client: Any, seg_no: int, tasks: Sequence[Task]) -> None:
        for record in parse_records(self.read_segment(seg_no)):
            t = record.task
            self.records.setdefault((t.bucket, t.key, t.version_id), []).append(record)

    def end_segment(self, seg_no: int, results: Iterable[TaskResult]) -> None:
        for r in results:
            self.records.pop((r.bucket, r.key, r.version_id), None)

    def apply(self, client: Any, task: Task) -> str:
        found = self.records.get((task.bucket, task.key, task.version_id))
        if not found:
            raise ClientError({"Error": {"Code": "NoUndoRecord", "Message": "no undo record for this task"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "Undo")
        record = found[0]
        if record.op == "tagging":
            return self._tagging(client, task, record)
        raise ClientError({"Error": {"Code": "NoUndoRecord", "Message": f"unknown undo record {record.op!r}"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "Undo")

    @staticmethod
    def _tagging(client: Any, task: Task, record: UndoRecord) -> str:
        now = current_tags(client, task)
        if now == sorted(record.before) and now != sorted(record.after):
            # Restored already: this segment ran before (a restart), or someone did it by hand.
            return f"Successful: already as before the job ({_shown(record.before)})"
        if now != sorted(record.after):
            raise changed_since_job(f"tags changed since the job: the job set {_shown(record.after)}, "
                                    f"the object now has {_shown(now)}; left as it is")
        if record.before:
            tagging = {"TagSet": [{"Key": k, "Value": v} for k, v in record.before]}
            client.put_object_tagging(Bucket=task.bucket, Key=task.key, Tagging=tagging, **_version(task))
            return f"Successful: restored {_shown(record.before)}"
        client.delete_object_tagging(Bucket=task.bucket, Key=task.key, **_version(task))
        return "Successful: removed the tags (there were none before the job)"
