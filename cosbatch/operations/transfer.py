"""Cross-storage copy: S3PutObjectCopy whose TargetResource names another storage.

No server-side copy spans two storages, so each object streams GET → PUT through
this worker, never held whole in memory: objects up to the target storage's
`multipart_threshold` in one PUT, larger ones as a multipart upload whose parts
(ranged GET → UploadPart) run in parallel. Every byte is hashed on its way
through; the target's ETag (MD5 for a PUT or a part) and the source's (when it is
a plain MD5) are checked against it, and a mismatch fails the task with
ChecksumMismatch. A failed multipart upload is aborted, leaving no parts behind.
Metadata, content type and tags follow the copy's directives as a server-side
copy would: copied from the source unless NewObjectMetadata / NewObjectTagging
replace them.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.manifests import Task
from cosbatch.models import PutObjectCopy
from cosbatch.operations.copy_args import copy_object_args, source_args
from cosbatch.operations.verify import CHECKSUM_MODE, ObjectState, mismatch, verify_copy
from cosbatch.storage import Storage
from cosbatch.storage.lean import LeanS3Client, copy_headers, http_date

#: S3's limits on multipart uploads.
MIN_PART = 5 * 1024**2
MAX_PARTS = 10_000
#: Source headers a copy with the COPY metadata directive carries over.
_CARRIED = ("content-type", "cache-control", "content-disposition", "content-encoding", "content-language",
            "expires")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_PARTS = re.compile(r"^[0-9a-f]{32}-(\d+)$")
MAX_PART = 5 * 1024**3
READ_BLOCK = 1024 * 1024


def part_size(size: int, chunksize: int) -> int:
    """The part size for an object of `size` bytes: `chunksize`, raised so no more than
    10,000 parts are needed, at least 5 MiB."""
    need = -(-size // MAX_PARTS)
    return max(MIN_PART, chunksize, -(-need // MIN_PART) * MIN_PART)


class Part(NamedTuple):
    """One uploaded part: its number, ETag, the MD5 of its bytes when they passed through here,
    and its checksum when the upload was created with a checksum algorithm."""

    number: int
    etag: str
    md5: bytes | None = None
    checksums: dict[str, str] = {}


class _HashingReader:
    """Reads a streamed GET answer as a file, hashing what passes, no content decoding."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.length = 0

    def read(self, amt: int | None = None) -> bytes:
        data = self.response.read(amt or READ_BLOCK, decode_content=False)
        self.md5.update(data)
        self.length += len(data)
        return data

    def release(self) -> None:
        self.response.drain_conn()
        self.response.release_conn()


class _DirectedCopy:
    """What every copy that is not one CopyObject shares: the copy's directives as request
    headers, the source's HEAD (with the copy's conditions), and a multipart upload whose
    parts run on a pool of threads, completed, or aborted on any failure."""

    def __init__(self, params: PutObjectCopy, part_threads: int) -> None:
        self.params = params
        self.target_bucket = params.target_bucket
        args = copy_object_args(params)
        self._conditions = {"if-modified-since": args.pop("CopySourceIfModifiedSince", None),
                            "if-unmodified-since": args.pop("CopySourceIfUnmodifiedSince", None)}
        self._replace_metadata = args.pop("MetadataDirective", None) == "REPLACE"
        self._replace_tags = args.pop("TaggingDirective", None) == "REPLACE"
        self._headers = copy_headers(args)  # storage class, ACL, grants, new metadata and tags
        self._lock = threading.Lock()
        self._part_threads = part_threads
        self._parts: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._parts is None:
                self._parts = ThreadPoolExecutor(self._part_threads, thread_name_prefix="cosbatch-part")
            return self._parts

    def close(self) -> None:
        if self._parts is not None:
            self._parts.shutdown(wait=True)

    def _head(self, client: LeanS3Client, task: Task) -> tuple[int, str, Mapping[str, str]]:
        """(size, ETag, headers) of the source, under the copy's Modified/UnmodifiedSince conditions."""
        conditions = {name: http_date(value) for name, value in self._conditions.items() if value is not None}
        conditions.update(CHECKSUM_MODE)  # a verified copy compares the storage's checksums
        try:
            head = client.head_object_headers(task.bucket, task.key, task.version_id, conditions)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 304:  # If-Modified-Since
                raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "not modified since the "
                                             "ModifiedSinceConstraint"}, "ResponseMetadata": {"HTTPStatusCode": 412}},
                                  "CopyObject") from None
            raise
        return int(head.get("content-length") or 0), (head.get("etag") or "").strip('"'), head

    def _put_headers(self, client: LeanS3Client, task: Task, source: Mapping[str, str]) -> dict[str, str]:
        """The new object's headers, as a server-side copy with these directives would make it."""
        headers = dict(self._headers)
        if not self._replace_metadata:
            for name in _CARRIED:
                if source.get(name) is not None:
                    headers[name] = source[name]
            headers.update({k.lower(): v for k, v in source.items() if k.lower().startswith("x-amz-meta-")})
        tagged = int(source.get("x-amz-tagging-count") or 0) > 0
        headers.update(copy_headers(source_args(client, task, self.params, tagged)))
        if not self._replace_tags and tagged:
            tags = client.get_object_tagging(task.bucket, task.key, task.version_id)
            headers["x-amz-tagging"] = urlencode(tags)
        return headers

    def _multipart(self, target: LeanS3Client, key: str, size: int, chunk: int, headers: dict[str, str],
                   part: Callable[[str, int, int, int], Part]) -> tuple[str, int]:
        """(ETag, parts) of a multipart upload of `size` bytes whose part n covers bytes
        [start, end): `part(upload_id, n, start, end)` uploads it."""
        pool = self._pool()
        upload_id = target.create_multipart_upload(self.target_bucket, key, headers)
        futures: list[Future] = []
        try:
            futures = [pool.submit(part, upload_id, n + 1, start, min(size, start + chunk))
                       for n, start in enumerate(range(0, size, chunk))]
            parts = [f.result() for f in futures]
            etag = target.complete_multipart_upload(self.target_bucket, key, upload_id,
                                                    [(p.number, p.etag, p.checksums) for p in parts])
        except BaseException:
            for f in futures:
                f.cancel()
            wait(futures)  # parts still in flight end before the upload is aborted
            # Suppressed: the upload is gone already, or the storage is down (its lifecycle rules clean up).
            with contextlib.suppress(ClientError, BotoCoreError):
                target.abort_multipart_upload(self.target_bucket, key, upload_id)
            raise
        digests = [p.md5 for p in parts]
        if all(d is not None for d in digests) and "-" in etag:
            expected = f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(parts)}"  # type: ignore[arg-type]
            if etag != expected:
                raise mismatch(f"target ETag {etag} differs from the parts' composite MD5 {expected}")
        return etag, len(parts)


class CrossStorageCopyOperation(_DirectedCopy):
    name: ClassVar[str] = "S3PutObjectCopy"
    client_kind: ClassVar[str] = "lean"

    def __init__(self, params: PutObjectCopy, target: Storage, part_threads: int = 8, verify: bool = False) -> None:
        super().__init__(params, part_threads)
        self.target_storage = target
        self.verify = verify
        self._target: LeanS3Client | None = None

    def _target_client(self) -> LeanS3Client:
        with self._lock:
            if self._target is None:
                self._target = LeanS3Client(self.target_storage.tuned(max_attempts=1, max_pool_connections=64))
            return self._target

    def close(self) -> None:
        super().close()
        if self._target is not None:
            self._target.close()

    def apply(self, client: LeanS3Client, task: Task) -> str:
        target = self._target_client()
        key = self.params.target_key(task.key)
        size, source_etag, head = self._head(client, task)
        headers = self._put_headers(client, task, head)
        if size <= self.target_storage.multipart_threshold:
            etag = self._put(client, target, task, key, size, source_etag, headers)
            result = f"Successful: {size} bytes, ETag {etag}"
        else:
            chunk = part_size(size, self.target_storage.multipart_chunksize)

            def part(upload_id: str, number: int, start: int, end: int) -> Part:
                return self._part(client, target, task, key, upload_id, number, start, end, source_etag)

            etag, parts = self._multipart(target, key, size, chunk, headers, part)
            result = f"Successful: {size} bytes in {parts} parts, ETag {etag}"
        if not self.verify:
            return result
        how = verify_copy(client, task, ObjectState.of(head), target, self.target_bucket, key)
        return f"{result}; verified by {how}"

    def _put(self, client: LeanS3Client, target: LeanS3Client, task: Task, key: str, size: int,
             source_etag: str, headers: dict[str, str]) -> str:
        reader = _HashingReader(client.get_object_stream(task.bucket, task.key, task.version_id,
                                                         {"if-match": f'"{source_etag}"'} if source_etag else None))
        try:
            etag = target.put_object_stream(self.target_bucket, key, reader, size, headers)  # type: ignore[arg-type]
        finally:
            reader.release()
        digest = reader.md5.hexdigest()
        if reader.length != size:
            raise mismatch(f"read {reader.length} bytes of {size}")
        if _MD5.match(source_etag) and source_etag != digest:
            raise mismatch(f"bytes read (MD5 {digest}) differ from the source's ETag {source_etag}")
        if _MD5.match(etag) and etag != digest:
            raise mismatch(f"target ETag {etag} differs from the MD5 of the bytes sent ({digest})")
        return etag

    def _part(self, client: LeanS3Client, target: LeanS3Client, task: Task, key: str, upload_id: str,
              number: int, start: int, end: int, source_etag: str) -> Part:
        headers = {"range": f"bytes={start}-{end - 1}"}
        if source_etag:
            headers["if-match"] = f'"{source_etag}"'  # the object must not change between parts
        reader = _HashingReader(client.get_object_stream(task.bucket, task.key, task.version_id, headers))
        try:
            etag = target.upload_part_stream(self.target_bucket, key, upload_id, number, reader,  # type: ignore[arg-type]
                                             end - start)
        finally:
            reader.release()
        if reader.length != end - start:
            raise mismatch(f"part {number}: read {reader.length} bytes of {end - start}")
        if _MD5.match(etag) and etag != reader.md5.hexdigest():
            raise mismatch(f"part {number}: target ETag {etag} differs from the MD5 of the bytes sent")
        return Part(number, etag, reader.md5.digest())


def source_part_size(client: LeanS3Client, task: Task, size: int, etag: str) -> int | None:
    """The part size of a source uploaded in equal parts (all but the last), so that its copy,
    cut the same way, gets the same ETag (a verified copy is then settled by the ETags); None
    for a source not uploaded in parts, or whose parts S3's limits or its size rule out."""
    parts = _PARTS.match(etag)
    if parts is None:
        return None
    count = int(parts.group(1))
    try:
        first = client.head_part_size(task.bucket, task.key, task.version_id, 1)
    except ClientError:
        return None  # a storage without ?partNumber: the copy's own part size
    if first is None or not MIN_PART <= first <= MAX_PART or count > MAX_PARTS:
        return None
    return first if (count - 1) * first < size <= count * first else None


class LargeObjectCopy(_DirectedCopy):
    """A server-side copy too large for one CopyObject (S3 and COS refuse sources over 5 GiB):
    CreateMultipartUpload, UploadPartCopy of byte ranges in parallel, CompleteMultipartUpload.
    A source uploaded in equal parts is copied in parts of its own size (the copy keeps its
    ETag); any other in `chunksize` parts. Its parts run on their own pool, so a few huge
    objects in a job of small ones take threads of their own instead of holding up the job's."""

    def __init__(self, params: PutObjectCopy, chunksize: int, part_threads: int = 8) -> None:
        super().__init__(params, part_threads)
        self.chunksize = chunksize

    def copy(self, client: LeanS3Client, task: Task) -> str:
        key = self.params.target_key(task.key)
        size, source_etag, head = self._head(client, task)
        headers = self._put_headers(client, task, head)
        chunk = source_part_size(client, task, size, source_etag) or part_size(size, self.chunksize)

        def part(upload_id: str, number: int, start: int, end: int) -> Part:
            etag, checksums = client.upload_part_copy(self.target_bucket, key, upload_id, number, task.bucket,
                                                      task.key, task.version_id, start, end, source_etag)
            return Part(number, etag, None, checksums)

        etag, parts = self._multipart(client, key, size, chunk, headers, part)
        return f"Successful: {size} bytes in {parts} parts (multipart copy), ETag {etag}"
