"""What undo records and restores, per operation: tagging, delete on a versioned bucket, and a
copy into a versioned bucket.

Each kind reads the state a task is about to overwrite (`capture`), runs the task and says what
the job left (`run`), and later puts the earlier state back (`restore`) if, and only if, the
object is still as the job left it; otherwise ChangedSinceJob, naming what changed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from cosbatch.manifests import Task
from cosbatch.operations.undo_records import UndoRecord


class NotUndoable(Exception):
    """This task could not be undone; it is failed before it changes anything."""


def changed_since_job(message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ChangedSinceJob", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 409}}, "Undo")


def _version(task: Task) -> dict[str, str]:
    return {"VersionId": task.version_id} if task.version_id else {}


# -- tagging ---------------------------------------------------------------------------------

def current_tags(client: Any, task: Task) -> list[list[str]]:
    """The object's tag set as sorted [key, value] pairs (lean client or boto3)."""
    answer = client.get_object_tagging(Bucket=task.bucket, Key=task.key, **_version(task))
    pairs = answer if isinstance(answer, list) else [(t["Key"], t["Value"]) for t in answer["TagSet"]]
    return sorted([k, v] for k, v in pairs)


def _shown(tags: Sequence[Sequence[str]]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in tags) + "}" if tags else "no tags"


class TaggingUndo:
    """The tag set before, the tag set the job set; restore puts the old set back."""

    op = "tagging"

    def __init__(self, after: list[list[str]] | None = None) -> None:
        self.after = after or []

    def capture(self, client: Any, boto: Any, task: Task) -> UndoRecord:
        return UndoRecord(task, self.op, current_tags(client, task), self.after)

    def run(self, inner: Any, client: Any, boto: Any, task: Task, record: UndoRecord, rerun: bool) -> tuple[str, Any]:
        return inner.apply(client, task), record.after

    @staticmethod
    def restore(client: Any, boto: Any, task: Task, record: UndoRecord) -> str:
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


# -- versions (delete, copy) -----------------------------------------------------------------

class Versioning:
    """Whether buckets are versioned, asked once per bucket."""

    def __init__(self) -> None:
        self._known: dict[str, bool] = {}
        self._lock = threading.Lock()

    def enabled(self, boto: Any, bucket: str) -> bool:
        with self._lock:
            known = self._known.get(bucket)
        if known is None:
            known = boto.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
            with self._lock:
                self._known[bucket] = known
        return known


def latest(boto: Any, bucket: str, key: str) -> tuple[str, bool] | None:
    """(version id, is a delete marker) of the key's current version, or None if it has none."""
    marker: dict[str, str] = {}
    while True:
        page = boto.list_object_versions(Bucket=bucket, Prefix=key, MaxKeys=100, **marker)
        for kind, entries in (("version", page.get("Versions", [])), ("marker", page.get("DeleteMarkers", []))):
            for e in entries:
                if e["Key"] == key and e.get("IsLatest"):
                    return str(e.get("VersionId")), kind == "marker"
        keys = [e["Key"] for e in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if not page.get("IsTruncated") or (keys and max(keys) > key):
            return None
        marker = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page.get("NextVersionIdMarker", "")}


def _latest_shown(now: tuple[str, bool] | None) -> str:
    if now is None:
        return "the key has no version now"
    return f"its latest version is now {'a delete marker ' if now[1] else ''}{now[0]}"


class DeleteUndo:
    """A delete on a versioned bucket leaves a delete marker; undo removes it, so the version
    that was current is current again."""

    op = "delete"

    def __init__(self, versioning: Versioning) -> None:
        self.versioning = versioning

    def capture(self, client: Any, boto: Any, task: Task) -> UndoRecord:
        if task.version_id:
            raise NotUndoable(f"deleting version {task.version_id} removes it for good: it cannot be undone "
                              "(undoable deletes name no version and leave a delete marker)")
        if not self.versioning.enabled(boto, task.bucket):
            raise NotUndoable(f"bucket {task.bucket} is not versioned: a delete there cannot be undone")
        now = latest(boto, task.bucket, task.key)
        if now is None or now[1]:
            raise NotUndoable("the object does not exist (no current version): there is nothing to delete")
        return UndoRecord(task, self.op, now[0], None)

    def run(self, inner: Any, client: Any, boto: Any, task: Task, record: UndoRecord, rerun: bool) -> tuple[str, Any]:
        if rerun:  # the segment ran before: a marker made then is this job's (never stack a second one)
            now = latest(boto, task.bucket, task.key)
            if now is not None and now[1]:
                return "Successful", now[0]
        answer = boto.delete_object(Bucket=task.bucket, Key=task.key)
        if not answer.get("DeleteMarker") or not answer.get("VersionId"):
            raise NotUndoable("the storage made no delete marker")
        return "Successful", answer["VersionId"]

    @staticmethod
    def restore(client: Any, boto: Any, task: Task, record: UndoRecord) -> str:
        now = latest(boto, task.bucket, task.key)
        if now == (record.before, False):
            return f"Successful: already as before the job (version {record.before} is current)"
        if now != (record.after, True):
            raise changed_since_job(f"the key changed since the job: the job left the delete marker {record.after}, "
                                    f"{_latest_shown(now)}; left as it is")
        boto.delete_object(Bucket=task.bucket, Key=task.key, VersionId=record.after)
        return f"Successful: removed the delete marker {record.after}; version {record.before} is current again"


class CopyUndo:
    """A copy into a versioned bucket writes a new version of the target; undo deletes that
    version, so the earlier one (if any) is current again."""

    op = "copy"

    def __init__(self, params: Any, versioning: Versioning) -> None:
        self.params = params
        self.versioning = versioning

    def target(self, task: Task) -> tuple[str, str]:
        return self.params.target_bucket, self.params.target_key(task.key)

    def capture(self, client: Any, boto: Any, task: Task) -> UndoRecord:
        bucket, key = self.target(task)
        if not self.versioning.enabled(boto, bucket):
            raise NotUndoable(f"target bucket {bucket} is not versioned: an overwritten object cannot be restored")
        now = latest(boto, bucket, key)
        return UndoRecord(task, self.op, None if now is None or now[1] else now[0], None)

    def run(self, inner: Any, client: Any, boto: Any, task: Task, record: UndoRecord, rerun: bool) -> tuple[str, Any]:
        message = inner.apply(client, task)
        bucket, key = self.target(task)
        now = latest(boto, bucket, key)
        if now is None or now[1]:
            raise NotUndoable(f"the copy's version of {bucket}/{key} is not there after the copy")
        return message, now[0]

    def restore(self, client: Any, boto: Any, task: Task, record: UndoRecord) -> str:
        bucket, key = self.target(task)
        now = latest(boto, bucket, key)
        if now is not None and now[0] == record.before and not now[1]:
            return f"Successful: already as before the job (version {record.before} is current)"
        if now is None and record.before is None:
            return "Successful: already as before the job (no object)"
        if now != (record.after, False):
            raise changed_since_job(f"the target {bucket}/{key} changed since the job: the job wrote version "
                                    f"{record.after}, {_latest_shown(now)}; left as it is")
        boto.delete_object(Bucket=bucket, Key=key, VersionId=record.after)
        if record.before is None:
            return f"Successful: deleted the version {record.after} the job wrote (there was no object before)"
        return f"Successful: deleted the version {record.after} the job wrote; version {record.before} is current again"


