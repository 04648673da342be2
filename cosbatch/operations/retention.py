"""PutObjectRetention: set each object's Object Lock retention (mode and retain-until date)."""

from __future__ import annotations

from typing import Any, ClassVar

from cosbatch.manifests import Task
from cosbatch.models.operation_params import PutObjectRetention
from cosbatch.operations.tagging import version_of


class PutRetentionOperation:
    name: ClassVar[str] = "S3PutObjectRetention"
    client_kind: ClassVar[str] = "boto3"

    def __init__(self, params: PutObjectRetention) -> None:
        r = params.retention
        self.retention: dict[str, Any] = (
            {} if r.mode is None else {"Mode": r.mode.value, "RetainUntilDate": r.retain_until_date})
        self.bypass = {"BypassGovernanceRetention": True} if params.bypass_governance_retention else {}

    def apply(self, client: Any, task: Task) -> str:
        client.put_object_retention(Bucket=task.bucket, Key=task.key, Retention=self.retention,
                                    **self.bypass, **version_of(task))
        return "Successful"
