"""Dry run: check each object exists (HEAD) and say what the job's operation would do.

Nothing is changed. The report is the one the real job would write, with each
row saying "would ..." or why the task would fail.
"""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.exceptions import ClientError

from cosbatch.manifests import Task
from cosbatch.operations.base import Operation

_HEAD_CODES = {404: "NoSuchKey", 403: "AccessDenied", 400: "BadRequest"}


class DryRunOperation:
    name: ClassVar[str] = "DryRun"
    client_kind: ClassVar[str] = "lean"

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        target = getattr(operation, "params", None)
        self.describe_target = getattr(target, "target_key", None)
        self.target_bucket = getattr(operation, "target_bucket", None)

    def apply(self, client: Any, task: Task) -> str:
        try:
            head = client.head_object(Bucket=task.bucket, Key=task.key,
                                      **({"VersionId": task.version_id} if task.version_id else {}))
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in _HEAD_CODES:  # HEAD answers carry no error body: name the code
                exc.response.setdefault("Error", {})["Code"] = _HEAD_CODES[status]
                exc.response["Error"]["Message"] = f"object s3://{task.bucket}/{task.key} cannot be read (HTTP {status})"
            raise
        action = f"would run {self.operation.name}"
        if self.describe_target and self.target_bucket:
            action += f" to s3://{self.target_bucket}/{self.describe_target(task.key)}"
        return f"DryRun: {action}; object exists ({head['ContentLength']} bytes)"
