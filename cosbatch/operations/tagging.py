"""PutObjectTagging and DeleteObjectTagging: replace or remove each object's tag set."""

from __future__ import annotations

from typing import Any, ClassVar

from cosbatch.manifests import Task
from cosbatch.models.operation_params import DeleteObjectTagging, PutObjectTagging


def version_of(task: Task) -> dict[str, str]:
    return {"VersionId": task.version_id} if task.version_id else {}


class PutTaggingOperation:
    name: ClassVar[str] = "S3PutObjectTagging"
    client_kind: ClassVar[str] = "lean"

    def __init__(self, params: PutObjectTagging) -> None:
        self.tagging = {"TagSet": [{"Key": t.key, "Value": t.value} for t in params.tag_set]}

    def apply(self, client: Any, task: Task) -> str:
        client.put_object_tagging(Bucket=task.bucket, Key=task.key, Tagging=self.tagging, **version_of(task))
        return "Successful"


class DeleteTaggingOperation:
    name: ClassVar[str] = "S3DeleteObjectTagging"
    client_kind: ClassVar[str] = "lean"

    def __init__(self, params: DeleteObjectTagging) -> None:
        self.params = params

    def apply(self, client: Any, task: Task) -> str:
        client.delete_object_tagging(Bucket=task.bucket, Key=task.key, **version_of(task))
        return "Successful"
