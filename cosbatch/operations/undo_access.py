"""Undo of ACL, Object Lock retention and legal hold jobs: the value before and the value the job
left are both read from the storage (a GET before and after each task), so the check before a
restore compares like with like whatever the storage made of a canned ACL or a date.

COMPLIANCE retention cannot be shortened or removed by anyone before it expires: an undo task
that would have to is failed with NotUndoable, saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from cosbatch.manifests import Task
from cosbatch.operations.base import error_parts
from cosbatch.operations.undo_kinds import NotUndoable, changed_since_job
from cosbatch.operations.undo_records import UndoRecord

_NO_LOCK = ("NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError", "NoSuchObjectLegalHold",
            "NoSuchObjectRetention")


def _version(task: Task) -> dict[str, str]:
    return {"VersionId": task.version_id} if task.version_id else {}


class _ReadBeforeAndAfter:
    """A kind whose state is read from the storage before and after the task."""

    op = ""

    def read(self, client: Any, task: Task) -> Any:
        raise NotImplementedError

    def capture(self, client: Any, boto: Any, task: Task) -> UndoRecord:
        return UndoRecord(task, self.op, self.read(boto, task), None)

    def run(self, inner: Any, client: Any, boto: Any, task: Task, record: UndoRecord, rerun: bool) -> tuple[str, Any]:
        return inner.apply(client, task), self.read(boto, task)

    def restore(self, client: Any, boto: Any, task: Task, record: UndoRecord) -> str:
        now = self.read(boto, task)
        if now == record.before and now != record.after:
            return f"Successful: already as before the job ({self.shown(record.before)})"
        if now != record.after:
            raise changed_since_job(f"{self.what} changed since the job: the job left {self.shown(record.after)}, "
                                    f"the object now has {self.shown(now)}; left as it is")
        self.put_back(boto, task, record)
        return f"Successful: restored {self.shown(record.before)}"

    what = "the state"

    @staticmethod
    def shown(value: Any) -> str:
        return str(value)

    def put_back(self, client: Any, task: Task, record: UndoRecord) -> None:
        raise NotImplementedError


class AclUndo(_ReadBeforeAndAfter):
    op = "acl"
    what = "the ACL"

    def read(self, client: Any, task: Task) -> Any:
        acl = client.get_object_acl(Bucket=task.bucket, Key=task.key, **_version(task))
        grants = sorted(
            [g["Grantee"].get("Type", ""), g["Grantee"].get("ID") or g["Grantee"].get("URI")
             or g["Grantee"].get("EmailAddress") or "", g["Permission"]]
            for g in acl.get("Grants", []))
        return {"Owner": acl.get("Owner", {}).get("ID", ""), "Grants": grants}

    @staticmethod
    def shown(value: Any) -> str:
        grants = value["Grants"]
        return "grants " + ", ".join(f"{who.rsplit('/', 1)[-1] or kind}:{perm}" for kind, who, perm in grants) \
            if grants else "no grants"

    def put_back(self, client: Any, task: Task, record: UndoRecord) -> None:
        field = {"CanonicalUser": "ID", "Group": "URI", "AmazonCustomerByEmail": "EmailAddress"}
        grants = [{"Grantee": {"Type": kind, field.get(kind, "ID"): who}, "Permission": perm}
                  for kind, who, perm in record.before["Grants"]]
        client.put_object_acl(Bucket=task.bucket, Key=task.key, **_version(task),
                              AccessControlPolicy={"Grants": grants, "Owner": {"ID": record.before["Owner"]}})


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=0).isoformat()
    return str(value)


class RetentionUndo(_ReadBeforeAndAfter):
    op = "retention"
    what = "the retention"

    def read(self, client: Any, task: Task) -> Any:
        try:
            r = client.get_object_retention(Bucket=task.bucket, Key=task.key, **_version(task)).get("Retention") or {}
        except ClientError as exc:
            if error_parts(exc)[1] in _NO_LOCK:
                return None
            raise
        return [r["Mode"], _iso(r["RetainUntilDate"])] if r.get("Mode") else None

    @staticmethod
    def shown(value: Any) -> str:
        return f"{value[0]} until {value[1]}" if value else "no retention"

    def restore(self, client: Any, boto: Any, task: Task, record: UndoRecord) -> str:
        after, before = record.after, record.before
        if after and after[0] == "COMPLIANCE" and after != before:
            now = self.read(boto, task)
            if now == after:
                raise _not_undoable(f"the job set COMPLIANCE retention until {after[1]}, which nobody can shorten "
                                    f"or remove before it expires (not even with a bypass); it stays, instead of "
                                    f"{self.shown(before)}")
        return super().restore(client, boto, task, record)

    def put_back(self, client: Any, task: Task, record: UndoRecord) -> None:
        retention = {"Mode": record.before[0], "RetainUntilDate": record.before[1]} if record.before else {}
        client.put_object_retention(Bucket=task.bucket, Key=task.key, Retention=retention,
                                    BypassGovernanceRetention=True, **_version(task))


class LegalHoldUndo(_ReadBeforeAndAfter):
    op = "legal-hold"
    what = "the legal hold"

    def read(self, client: Any, task: Task) -> Any:
        try:
            return client.get_object_legal_hold(Bucket=task.bucket, Key=task.key,
                                                **_version(task))["LegalHold"]["Status"]
        except ClientError as exc:
            if error_parts(exc)[1] in _NO_LOCK:
                return "OFF"
            raise

    @staticmethod
    def shown(value: Any) -> str:
        return f"legal hold {value}"

    def put_back(self, client: Any, task: Task, record: UndoRecord) -> None:
        client.put_object_legal_hold(Bucket=task.bucket, Key=task.key, LegalHold={"Status": record.before},
                                     **_version(task))


def _not_undoable(message: str) -> ClientError:
    return ClientError({"Error": {"Code": "NotUndoable", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 403}}, "Undo")


__all__ = ["AclUndo", "LegalHoldUndo", "NotUndoable", "RetentionUndo"]
