"""PutObjectLegalHold: turn each object's Object Lock legal hold on or off."""

from __future__ import annotations

from typing import Any, ClassVar

from cosbatch.manifests import Task
from cosbatch.models.operation_params import PutObjectLegalHold
from cosbatch.operations.tagging import version_of


class PutLegalHoldOperation:
    name: ClassVar[str] = "S3PutObjectLegalHold"
    client_kind: ClassVar[str] = "boto3"

    def __init__(self, params: PutObjectLegalHold) -> None:
        self.legal_hold = {"Status": params.legal_hold.status.value}

    def apply(self, client: Any, task: Task) -> str:
        client.put_object_legal_hold(Bucket=task.bucket, Key=task.key, LegalHold=self.legal_hold, **version_of(task))
        return "Successful"
