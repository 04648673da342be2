"""InitiateRestoreObject: ask for archived objects to be restored for some days."""

from __future__ import annotations

from typing import Any, ClassVar

from cosbatch.manifests import Task
from cosbatch.models.operation_params import InitiateRestoreObject


class RestoreOperation:
    name: ClassVar[str] = "S3InitiateRestoreObject"
    client_kind: ClassVar[str] = "boto3"

    def __init__(self, params: InitiateRestoreObject) -> None:
        request: dict[str, Any] = {}
        if params.expiration_in_days is not None:
            request["Days"] = params.expiration_in_days
        request["GlacierJobParameters"] = {"Tier": params.tier}
        self.request = request

    def apply(self, client: Any, task: Task) -> str:
        extra = {"VersionId": task.version_id} if task.version_id else {}
        resp = client.restore_object(Bucket=task.bucket, Key=task.key, RestoreRequest=self.request, **extra)
        status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return "Restore already in progress or done" if status == 200 else "Restore initiated"
