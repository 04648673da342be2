"""Undo: record what each task overwrites (cosbatch:undoable), and restore it (cosbatch:undo-of).

Recording is per segment, before the segment runs: the state of every task is read (one
GET per task for tagging) and written to the segment's `.pending.csv` record file, so a segment
that runs again after a crash or a pause reuses the state read before its first run, never the
state the job itself left. When the segment has run, the records of the tasks that succeeded
(with what the job left: a delete marker, a version written) go to its `.csv` file, which is
what the undo job reads (cosbatch.operations.undo_records). What is recorded and restored per
operation: cosbatch.operations.undo_kinds.

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
from cosbatch.operations.undo_access import AclUndo, LegalHoldUndo, RetentionUndo
from cosbatch.operations.undo_kinds import (
    CopyUndo,
    DeleteUndo,
    NotUndoable,
    TaggingUndo,
    Versioning,
)
from cosbatch.operations.undo_records import UndoRecord, parse_records, record_key, records_body

#: The operations a job may record for undo, and why others may not.
UNDOABLE_OPERATIONS = frozenset({"S3PutObjectTagging", "S3DeleteObjectTagging", "S3DeleteObject",
                                 "S3PutObjectCopy", "S3PutObjectAcl", "S3PutObjectRetention",
                                 "S3PutObjectLegalHold"})
NOT_UNDOABLE_WHY = {
    "Invoke": "a function's effects are its own: cosbatch cannot see or restore them",
    "S3InitiateRestoreObject": "a restore makes a temporary copy that expires by itself; there is nothing to undo",
    "S3ComputeObjectChecksum": "computing checksums changes nothing",
}


def changed_since_job(message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ChangedSinceJob", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 409}}, "Undo")


def _error(code: str, message: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Undo")


def recorder_kind(operation: Any, versioning: Versioning) -> Any:
    """What an undoable job of this operation records."""
    if operation.name == "S3PutObjectTagging":
        return TaggingUndo(sorted([t["Key"], t["Value"]] for t in operation.tagging["TagSet"]))
    if operation.name == "S3DeleteObjectTagging":
        return TaggingUndo([])
    if operation.name == "S3DeleteObject":
        return DeleteUndo(versioning)
    if operation.name == "S3PutObjectCopy":
        return CopyUndo(operation.params, versioning)
    simple = {"S3PutObjectAcl": AclUndo, "S3PutObjectRetention": RetentionUndo, "S3PutObjectLegalHold": LegalHoldUndo}
    if operation.name in simple:
        return simple[operation.name]()
    raise ValueError(f"{operation.name} cannot be undone")


def restorer_kinds(job_operation_params: Any, versioning: Versioning) -> dict[str, Any]:
    """Record kind → what restores it, for an undo job of an operation with these parameters."""
    kinds: dict[str, Any] = {"tagging": TaggingUndo(), "delete": DeleteUndo(versioning), "acl": AclUndo(),
                             "retention": RetentionUndo(), "legal-hold": LegalHoldUndo()}
    if hasattr(job_operation_params, "target_key"):
        kinds["copy"] = CopyUndo(job_operation_params, versioning)
    return kinds


class UndoRecorder:
    """Wraps a job's operation: records each task's state before its segment runs, and what the
    task left after it ran."""

    def __init__(self, inner: Any, report_client: Callable[[], Any], bucket: str, undo_dir: str,
                 concurrency: int = 16) -> None:
        self.inner = inner
        self.name = inner.name
        self.client_kind = getattr(inner, "client_kind", "boto3")
        self.kind = recorder_kind(inner, Versioning())
        self.report_client = report_client  # boto3, on the job's storage: record files, versions
        self.bucket = bucket
        self.undo_dir = undo_dir
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cosbatch-undo")
        self.records: dict[int, dict[Task, UndoRecord]] = {}
        self.unreadable: dict[Task, ClientError] = {}
        self.after: dict[Task, Any] = {}
        self.rerun = False

    def begin_segment(self, client: Any, seg_no: int, tasks: Sequence[Task]) -> None:
        """Read the state of the segment's tasks (or the state read before its first run)."""
        key = record_key(self.undo_dir, seg_no, pending=True)
        self.unreadable, self.after = {}, {}
        try:
            data = self.report_client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
            self.records[seg_no] = {r.task: r for r in parse_records(data)}
            self.rerun = True
            self.unreadable = {t: _error("UndoStateUnavailable", "its state was not recorded before the "
                                         "segment's first run; the task was not run", 424)
                               for t in tasks if t not in self.records[seg_no]}
            return
        except ClientError as exc:
            if error_parts(exc)[1] not in ("NoSuchKey", "404"):
                raise
        self.rerun = False
        records: dict[Task, UndoRecord] = {}
        for task, outcome in zip(tasks, self.pool.map(lambda t: self._capture(client, t), tasks), strict=True):
            if isinstance(outcome, UndoRecord):
                records[task] = outcome
            else:
                self.unreadable[task] = outcome
        self.report_client().put_object(Bucket=self.bucket, Key=key, Body=records_body(list(records.values())),
                                        ContentType="text/csv")
        self.records[seg_no] = records

    def _capture(self, client: Any, task: Task) -> UndoRecord | ClientError:
        for attempt in range(5):
            try:
                return self.kind.capture(client, self.report_client(), task)
            except NotUndoable as exc:
                return _error("NotUndoable", f"{exc}; the task was not run", 400)
            except ClientError as exc:
                status, code, message = error_parts(exc)
                if not is_retryable(exc) or attempt == 4:
                    return _error("UndoStateUnavailable", f"the state to record for undo could not be read "
                                  f"({code}: {message}); the task was not run", 424)
            except BotoCoreError as exc:
                if attempt == 4:
                    return _error("UndoStateUnavailable", f"the state to record for undo could not be read "
                                  f"({type(exc).__name__}: {exc}); the task was not run", 424)
        raise AssertionError("unreachable")

    def apply(self, client: Any, task: Task) -> str:
        refused = self.unreadable.get(task)
        if refused is not None:
            raise refused
        record = next((r[task] for r in self.records.values() if task in r), None)
        if record is None:  # not in this segment's records (a manifest that changed under the job)
            raise _error("UndoStateUnavailable", "no recorded state for this task; the task was not run", 424)
        try:
            message, after = self.kind.run(self.inner, client, self.report_client(), task, record, self.rerun)
        except NotUndoable as exc:
            raise _error("NotUndoable", str(exc), 400) from None
        self.after[task] = after
        return message

    def end_segment(self, seg_no: int, results: Iterable[TaskResult]) -> None:
        """Write the records of the tasks that succeeded, with what they left: what the undo restores."""
        records = self.records.pop(seg_no, {})
        kept = []
        for r in results:
            task = Task(r.bucket, r.key, r.version_id)
            if r.succeeded and task in records:
                record = records[task]
                kept.append(UndoRecord(task, record.op, record.before, self.after.get(task, record.after)))
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

    def __init__(self, read_segment: Callable[[int], bytes], boto: Callable[[], Any], kinds: dict[str, Any],
                 close: Callable[[], None] | None = None) -> None:
        self.read_segment = read_segment  # seg_no → that segment's bytes of the undo manifest
        self.boto = boto  # boto3, on the job's storage: versions
        self.kinds = kinds
        self.records: dict[Task, list[UndoRecord]] = {}
        self._close = close

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def begin_segment(self, client: Any, seg_no: int, tasks: Sequence[Task]) -> None:
        for record in parse_records(self.read_segment(seg_no)):
            self.records.setdefault(record.task, []).append(record)

    def end_segment(self, seg_no: int, results: Iterable[TaskResult]) -> None:
        for r in results:
            self.records.pop(Task(r.bucket, r.key, r.version_id), None)

    def apply(self, client: Any, task: Task) -> str:
        found = self.records.get(task)
        kind = self.kinds.get(found[0].op) if found else None
        if not found or kind is None:
            raise _error("NoUndoRecord", "no undo record this job can restore for this task", 400)
        return kind.restore(client, self.boto(), task, found[0])
