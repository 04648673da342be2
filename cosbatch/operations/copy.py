"""PutObjectCopy: server-side copy of each object into the target bucket.

One CopyObject per object; an object the storage refuses to copy in one request (over
5 GiB on S3 and COS), or above the storage's `multipart_copy_threshold` when one is set,
is copied in parts (UploadPartCopy). With `verify` each copy is then compared with its
source (cosbatch/operations/verify.py).

Mixed sizes (cosbatch/operations/sizing.py): per segment, a listing of the sources' key range
shows their sizes; the segment's tasks then run largest first, and an object above the
storage's `copy_split_threshold` goes in parts on the pool all of the worker's copies share.
A whole-object copy of known size first takes its bytes from the worker's budget
(`copy_bytes_in_flight`, cosbatch/operations/bytes_budget.py): large copies go a budget at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from cosbatch.manifests import Task
from cosbatch.models import PutObjectCopy
from cosbatch.operations.bytes_budget import BytesInFlight
from cosbatch.operations.copy_args import copy_object_args, source_args
from cosbatch.operations.sizing import Sizes, SourceSizes, largest_first
from cosbatch.operations.transfer import LargeObjectCopy
from cosbatch.operations.verify import ObjectState, head_state, verify_copy
from cosbatch.storage import Storage

DEFAULT_CHUNKSIZE = 16 * 1024**2


def refused_as_too_large(exc: ClientError) -> bool:
    """S3's (and COS's) answer to a CopyObject whose source is over 5 GiB."""
    err = exc.response.get("Error", {})
    message = str(err.get("Message", "")).lower()
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 400 and (
        "larger than the maximum allowable size" in message or "too large" in message
        or err.get("Code") == "EntityTooLarge")


class CopyOperation:
    name: ClassVar[str] = "S3PutObjectCopy"
    client_kind: ClassVar[str] = "lean"

    def __init__(self, params: PutObjectCopy, storage: Storage | None = None, verify: bool = False) -> None:
        self.params = params
        self.verify = verify
        self.target_bucket = params.target_bucket
        self._static = copy_object_args(params)
        self._threshold = storage.multipart_copy_threshold if storage is not None else None
        self._split = storage.copy_split_threshold if storage is not None else None
        self._sizes = SourceSizes(storage) if storage is not None and storage.copy_largest_first else None
        budget = storage.copy_bytes_in_flight if storage is not None else None
        self._budget = BytesInFlight(budget) if budget is not None else None
        self._large = LargeObjectCopy(params, storage.multipart_chunksize if storage is not None else DEFAULT_CHUNKSIZE)

    def close(self) -> None:
        self._large.close()
        if self._sizes is not None:
            self._sizes.close()

    def for_segment(self, client: Any, tasks: Sequence[Task]) -> CopyOperation | SizedSegmentCopy:
        """This copy for one segment: with its sources' sizes when the storage lists them."""
        if self._sizes is None:
            return self
        return SizedSegmentCopy(self, self._sizes.of_segment(tasks))

    def apply(self, client: Any, task: Task, size: int | None = None) -> str:
        """Copy one object; `size`, when a listing showed it, may send it in parts (no HEAD)."""
        head: ObjectState | None = None
        if self._threshold is not None or self.verify:
            head = head_state(client, task.bucket, task.key, task.version_id)
        result: str | None = None
        if head is not None and self._threshold is not None and head.size > self._threshold:
            result = self._large.copy(client, task)
        elif size is not None and self._split is not None and size > self._split:
            result = self._large.copy(client, task, above=self._split)  # None: it shrank since the listing
        if result is None:
            result = self._copy(client, task, head, head.size if head is not None else size)
        if head is None or not self.verify:
            return result
        how = verify_copy(client, task, head, client, self.target_bucket, self.params.target_key(task.key))
        return f"{result}; verified by {how}"

    def _copy(self, client: Any, task: Task, head: ObjectState | None, size: int | None) -> str:
        source: dict[str, str] = {"Bucket": task.bucket, "Key": task.key}
        if task.version_id:
            source["VersionId"] = task.version_id
        args = {**self._static, **source_args(client, task, self.params)}
        if head is not None and self.verify and head.etag:
            args["CopySourceIfMatch"] = head.etag  # the object verified is the one copied
        held = self._budget.hold(size) if self._budget is not None and size is not None else nullcontext()
        try:
            with held:
                client.copy_object(Bucket=self.target_bucket, Key=self.params.target_key(task.key),
                                   CopySource=source, size=size, **args)
        except ClientError as exc:
            if not refused_as_too_large(exc):
                raise
            return self._large.copy(client, task)
        return "Successful"


class SizedSegmentCopy:
    """The copy of one segment whose sources' sizes a listing showed: its tasks run largest first,
    and each is copied knowing its size (the large in shared parts)."""

    def __init__(self, copy: CopyOperation, sizes: Sizes) -> None:
        self.copy = copy
        self.sizes = sizes
        self.name = copy.name
        self.client_kind = copy.client_kind

    def order(self, tasks: Sequence[Task]) -> list[Task]:
        return largest_first(tasks, self.sizes)

    def apply(self, client: Any, task: Task) -> str:
        size = self.sizes.get((task.bucket, task.key)) if task.version_id is None else None
        return self.copy.apply(client, task, size)
