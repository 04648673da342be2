"""Verifying a copy (the job tag `cosbatch:verify=true`, CLI `create-job --verify`): after each
copy the destination is compared with the source it was copied from, and a difference fails the
task with the error code ChecksumMismatch.

The cheapest evidence that settles it is used, in this order:

1. the sizes (different: a mismatch);
2. the ETags, when both are an MD5 of the content (single-part, not SSE-KMS or SSE-C): they
   must be equal; two equal multipart ETags (the MD5 of the same part MD5s) match too;
3. a whole-object checksum the storage gives for both (`x-amz-checksum-<algorithm>` of the
   same algorithm, FULL_OBJECT type): they must be equal;
4. otherwise a content hash: both objects are read, side by side, and their SHA-256 compared.

Source reads carry If-Match on the ETag the copy was made from, so a source that changes
meanwhile fails the task with PreconditionFailed instead of a false mismatch. Two multipart
ETags that differ prove nothing (the parts may be cut differently), so they go to step 3 or 4.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from cosbatch.manifests import Task

_MD5 = re.compile(r"^[0-9a-f]{32}$")
_COMPOSITE = re.compile(r"^[0-9a-f]{32}-\d+$")
#: Algorithms whose `x-amz-checksum-*` header a HEAD with checksum mode answers.
CHECKSUM_HEADERS = ("crc64nvme", "crc32c", "crc32", "sha256", "sha1")
CHECKSUM_MODE = {"x-amz-checksum-mode": "ENABLED"}
READ_BLOCK = 1024 * 1024


def mismatch(what: str) -> ClientError:
    """The task failure of a copy whose destination differs from its source."""
    return ClientError({"Error": {"Code": "ChecksumMismatch", "Message": what},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "CopyObject")


@dataclass(frozen=True)
class ObjectState:
    """What a HEAD says about an object: enough to compare two of them."""

    size: int
    etag: str
    headers: Mapping[str, str]

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> ObjectState:
        lowered = {k.lower(): v for k, v in headers.items()}
        return cls(int(lowered.get("content-length") or 0), (lowered.get("etag") or "").strip('"'), lowered)

    @property
    def etag_is_md5(self) -> bool:
        """Whether the ETag is the MD5 of the content (not with SSE-KMS or SSE-C)."""
        encrypted = self.headers.get("x-amz-server-side-encryption") == "aws:kms" or \
            "x-amz-server-side-encryption-customer-algorithm" in self.headers
        return not encrypted and bool(_MD5.match(self.etag))

    def checksum(self) -> tuple[str, str] | None:
        """(algorithm, value) of the storage's whole-object checksum, if it gives one."""
        if self.headers.get("x-amz-checksum-type", "FULL_OBJECT").upper() != "FULL_OBJECT":
            return None
        for algorithm in CHECKSUM_HEADERS:
            value = self.headers.get(f"x-amz-checksum-{algorithm}")
            if value and "-" not in value:  # "<value>-<parts>" is a composite checksum
                return algorithm, value
        return None


def head_state(client: Any, bucket: str, key: str, version_id: str | None = None,
               conditions: Mapping[str, str] | None = None) -> ObjectState:
    """HEAD an object through the lean client, asking for its checksum too."""
    return ObjectState.of(client.head_object_headers(bucket, key, version_id, {**CHECKSUM_MODE, **(conditions or {})}))


def _sha256(client: Any, bucket: str, key: str, version_id: str | None, etag: str) -> str:
    response = client.get_object_stream(bucket, key, version_id, {"if-match": f'"{etag}"'} if etag else None)
    digest = hashlib.sha256()
    try:
        while data := response.read(READ_BLOCK, decode_content=False):
            digest.update(data)
    finally:
        response.release_conn()
    return digest.hexdigest()


def verify_copy(source_client: Any, task: Task, source: ObjectState, target_client: Any, bucket: str,
                key: str) -> str:
    """Compare the copy at bucket/key with its source (as `source` was when copied); how it was
    verified ("ETag", "CRC32C checksum", "SHA-256 of the content"), or ChecksumMismatch."""
    target = head_state(target_client, bucket, key)
    if target.size != source.size:
        raise mismatch(f"the copy has {target.size} bytes, the source {source.size}")
    if source.etag_is_md5 and target.etag_is_md5:
        if target.etag != source.etag:
            raise mismatch(f"the copy's ETag {target.etag} differs from the source's {source.etag}")
        return "ETag"
    if _COMPOSITE.match(source.etag) and target.etag == source.etag:
        return "ETag"
    ours, theirs = source.checksum(), target.checksum()
    if ours is not None and theirs is not None and ours[0] == theirs[0]:
        if ours[1] != theirs[1]:
            raise mismatch(f"the copy's {ours[0].upper()} checksum {theirs[1]} differs from the source's {ours[1]}")
        return f"{ours[0].upper()} checksum"
    with ThreadPoolExecutor(2, thread_name_prefix="cosbatch-verify") as pool:
        theirs_hash = pool.submit(_sha256, target_client, bucket, key, None, "")  # whatever is there now
        ours_hash = _sha256(source_client, task.bucket, task.key, task.version_id, source.etag)
        if theirs_hash.result() != ours_hash:
            raise mismatch(f"the copy's content (SHA-256 {theirs_hash.result()}) differs from the source's "
                           f"({ours_hash})")
    return "SHA-256 of the content"
