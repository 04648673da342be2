"""Cross-storage copy: S3PutObjectCopy whose TargetResource names another storage.

No server-side copy spans two storages, so each object streams GET → PUT through
this worker, never held whole in memory: objects up to the target storage's
`multipart_threshold` in one PUT, larger ones as a multipart upload whose parts
(ranged GET → UploadPart) run in parallel. Every byte is verified, by the cheapest
evidence that covers it:

- a source whose ETag is its MD5 (one PUT, no SSE-KMS/SSE-C) goes in one PUT that carries
  that MD5 as Content-MD5: the target refuses bytes that differ (nothing is written), and its
  ETag must equal the source's;
- a source uploaded in parts of one size is copied in parts of that size, so the copy's
  parts must have the source's composite ETag (checked before the upload is completed,
  and again after);
- anything else is MD5-hashed here on its way through and checked against the target's
  ETags (a PUT's, or each part's and their composite) and the source's when it is an MD5.

A mismatch fails the task with ChecksumMismatch. A failed multipart upload is aborted,
leaving no parts behind. The first two move no byte through a hash in this process: the
storages computed those MD5s anyway (issue 25: hashing 512 MiB took ~0.8 s of a shared core).

Metadata, content type and tags follow the copy's directives as a server-side
copy would: copied from the source unless NewObjectMetadata / NewObjectTagging
replace them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, wait
from typing import ClassVar, NamedTuple
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.manifests import Task
from cosbatch.models import PutObjectCopy
from cosbatch.operations.copy_args import copy_object_args, source_args
from cosbatch.operations.part_pool import PartPool
from cosbatch.operations.verify import CHECKSUM_MODE, ObjectState, mismatch, verify_copy
from cosbatch.storage import Storage
from cosbatch.storage.lean import LeanS3Client, copy_headers, http_date
from cosbatch.storage.raw_http import RawStream

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
#: Bodies up to this size are read whole and PUT over a pooled keep-alive connection (a streamed
#: body goes on a new connection, a TCP handshake an object: most of a 1 KiB object's cost).
SMALL_BODY = 1024 * 1024


#: Server-side encryption under which an object's ETag is not the MD5 of its content.
_NOT_MD5_SSE = ("aws:kms", "aws:kms:dsse")


def etags_comparable(source: Mapping[str, str], put_headers: Mapping[str, str]) -> bool:
    """Whether the source's ETag and the copy's are both MD5-based (of the content, or of its
    parts' MD5s): not so under SSE-KMS or SSE-C, on either side."""
    for headers in (source, put_headers):
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("x-amz-server-side-encryption") in _NOT_MD5_SSE or \
                "x-amz-server-side-encryption-customer-algorithm" in lowered:
            return False
    return True


def composite_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives an object uploaded in these parts (the MD5 of their MD5s, "-N"), or None
    if a part's ETag is not an MD5."""
    if not all(_MD5.match(e) for e in part_etags):
        return None
    digest = hashlib.md5(b"".join(bytes.fromhex(e) for e in part_etags), usedforsecurity=False).hexdigest()
    return f"{digest}-{len(part_etags)}"


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


class _Relay:
    """The body of a streamed GET answer as chunks for a PUT: read into one reused buffer
    (`readinto`, no copy in Python) and MD5-hashed as they pass (hashlib releases the GIL on
    buffers this large, so the other transfers' threads run meanwhile)."""

    def __init__(self, stream: RawStream, hashed: bool = True, block: int = READ_BLOCK) -> None:
        self.stream = stream
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.hashed = hashed
        self.length = 0
        self._block = block

    def chunks(self) -> Iterator[memoryview]:
        """Each chunk is sent before the next is read into the same buffer (allocated here, not
        for a small body read whole: zeroing 1 MiB an object was a third of a 1 KiB copy's CPU)."""
        view = memoryview(bytearray(min(self._block, max(self.stream.length, 1))))
        while n := self.stream.readinto(view):
            chunk = view[:n]
            if self.hashed:
                self.md5.update(chunk)
            self.length += n
            yield chunk

    def whole(self) -> bytes:
        """The whole body of a small answer, read at once (hashed if `hashed`); its connection
        goes back to the pool."""
        body = bytearray(self.stream.length)
        view = memoryview(body)
        while self.length < len(body) and (n := self.stream.readinto(view[self.length:])):
            self.length += n
        self.release()
        data = bytes(view[:self.length])
        if self.hashed:
            self.md5.update(data)
        return data

    def release(self) -> None:
        self.stream.release()


def _not_modified(exc: ClientError) -> ClientError:
    """A refusal under If-Modified-Since (304) as the PreconditionFailed a CopyObject gives."""
    if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 304:
        return ClientError({"Error": {"Code": "PreconditionFailed", "Message": "not modified since the "
                                      "ModifiedSinceConstraint"}, "ResponseMetadata": {"HTTPStatusCode": 412}},
                           "CopyObject")
    return exc


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
        self._parts: PartPool | None = None

    def _pool(self) -> PartPool:
        """Shared by every copy of this operation: the largest object's parts go first."""
        with self._lock:
            if self._parts is None:
                self._parts = PartPool(self._part_threads)
            return self._parts

    def close(self) -> None:
        if self._parts is not None:
            self._parts.shutdown()

    def _source_conditions(self) -> dict[str, str]:
        """The headers a read of the source carries: the copy's Modified/UnmodifiedSince conditions,
        and the checksum mode (a verified copy compares the storage's checksums)."""
        conditions = {name: http_date(value) for name, value in self._conditions.items() if value is not None}
        conditions.update(CHECKSUM_MODE)
        return conditions

    def _head(self, client: LeanS3Client, task: Task) -> tuple[int, str, Mapping[str, str]]:
        """(size, ETag, headers) of the source, under the copy's Modified/UnmodifiedSince conditions."""
        try:
            head = client.head_object_headers(task.bucket, task.key, task.version_id, self._source_conditions())
        except ClientError as exc:
            raise _not_modified(exc) from None
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
                   part: Callable[[str, int, int, int], Part], expect_etag: str | None = None) -> tuple[str, int]:
        """(ETag, parts) of a multipart upload of `size` bytes whose part n covers bytes
        [start, end): `part(upload_id, n, start, end)` uploads it. With `expect_etag`, the
        composite of the parts' ETags must be it before the upload is completed (else
        ChecksumMismatch, and the upload is aborted: nothing is written)."""
        pool = self._pool()
        upload_id = target.create_multipart_upload(self.target_bucket, key, headers)
        futures: list[Future] = []
        try:
            futures = [pool.submit(size, part, upload_id, n + 1, start, min(size, start + chunk))
                       for n, start in enumerate(range(0, size, chunk))]
            parts = [f.result() for f in futures]
            if expect_etag is not None and (got := composite_etag([p.etag for p in parts])) != expect_etag:
                raise mismatch(f"the parts uploaded (composite ETag {got}) differ from the source (ETag "
                               f"{expect_etag})")
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
        #: Whether the last object was copied in parts: the next one likely is too (a job's objects
        #: tend to be alike), and is HEADed first, as a GET whose body is let go wastes the bytes the
        #: server sent meanwhile (measured: 8 x 64 MiB 0.87x rclone GET-first, 1.19x HEAD-first).
        #: True until an object says otherwise: a job's first objects start together, and a HEAD
        #: too many costs a small object less than a GET let go costs a large one.
        self._parts_likely = True

    def _target_client(self) -> LeanS3Client:
        with self._lock:
            if self._target is None:
                self._target = LeanS3Client(self.target_storage.tuned(max_attempts=1, max_pool_connections=64))
            return self._target

    def close(self) -> None:
        super().close()
        if self._target is not None:
            self._target.close()

    def _open(self, client: LeanS3Client, task: Task) -> RawStream:
        """The source's GET under the copy's Modified/UnmodifiedSince conditions, its body unread:
        its headers say all a HEAD would (size, ETag, metadata, checksums), one request fewer an
        object. A body too large for one PUT is not read: `release` closes its connection."""
        try:
            return client.get_object_raw(task.bucket, task.key, task.version_id, self._source_conditions())
        except ClientError as exc:
            raise _not_modified(exc) from None

    def apply(self, client: LeanS3Client, task: Task) -> str:
        """The source's GET stands for its HEAD (small objects: one request fewer), unless the last
        object was copied in parts."""
        body: RawStream | None = None
        if self._parts_likely:
            size, source_etag, head = self._head(client, task)
        else:
            body = self._open(client, task)
            head, size, source_etag = body.headers, body.length, (body.headers.get("etag") or "").strip('"')
        try:
            one_put = size <= self.target_storage.multipart_threshold
            self._parts_likely = not one_put or _PARTS.match(source_etag) is not None
            if self._parts_likely and body is not None:
                # Copied in parts (ranged GETs of their own), most likely: read no more of this body.
                body.release()
                body = None
            return self._apply(client, task, body, size, source_etag, head)
        finally:
            if body is not None:
                body.release()

    def _apply(self, client: LeanS3Client, task: Task, body: RawStream | None, size: int, source_etag: str,
               head: Mapping[str, str]) -> str:
        """Copy `task` (`body`: its GET's unread body, None if it was not GOT or let go)."""
        target = self._target_client()
        key = self.params.target_key(task.key)
        one_put = size <= self.target_storage.multipart_threshold
        headers = self._put_headers(client, task, head)
        comparable = etags_comparable(head, headers)
        mirrored = comparable and _PARTS.match(source_etag) is not None and \
            source_part_size(client, task, size, source_etag)
        if comparable and _MD5.match(source_etag) and one_put:
            etag = self._put_checked(client, target, task, key, size, source_etag, headers, body)
            result = f"Successful: {size} bytes, ETag {etag}"
        elif mirrored:
            def mirror(upload_id: str, number: int, start: int, end: int) -> Part:
                return self._part(client, target, task, key, upload_id, number, start, end, source_etag, False)

            etag, parts = self._multipart(target, key, size, mirrored, headers, mirror, expect_etag=source_etag)
            if etag != source_etag:
                raise mismatch(f"target ETag {etag} differs from the source's {source_etag}")
            result = f"Successful: {size} bytes in {parts} parts, ETag {etag}"
        elif one_put:
            etag = self._put(client, target, task, key, size, source_etag, headers, body)
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

    def _send(self, target: LeanS3Client, key: str, reader: _Relay, size: int, headers: dict[str, str]) -> str:
        """One PUT of the source's body: a small one read whole and sent over a pooled connection,
        a larger one streamed chunk by chunk."""
        try:
            if size <= SMALL_BODY:
                return target.put_object_body(self.target_bucket, key, reader.whole(), headers)
            return target.put_object_chunks(self.target_bucket, key, reader.chunks(), size, headers)
        finally:
            reader.release()

    @staticmethod
    def _body(client: LeanS3Client, task: Task, source_etag: str, stream: RawStream | None) -> RawStream:
        """`stream` (the body of the GET that stood for the HEAD), or a new GET of the source whose
        ETag the HEAD showed (If-Match: the object read is the one HEADed)."""
        if stream is not None:
            return stream
        return client.get_object_raw(task.bucket, task.key, task.version_id,
                                     {"if-match": f'"{source_etag}"'} if source_etag else None)

    def _put(self, client: LeanS3Client, target: LeanS3Client, task: Task, key: str, size: int,
             source_etag: str, headers: dict[str, str], stream: RawStream | None) -> str:
        """One PUT of the body of the source's GET (`stream`; None: a new GET, If-Match the ETag),
        MD5-hashed here on its way through."""
        reader = _Relay(self._body(client, task, source_etag, stream))
        etag = self._send(target, key, reader, size, headers)
        digest = reader.md5.hexdigest()
        if reader.length != size:
            raise mismatch(f"read {reader.length} bytes of {size}")
        if _MD5.match(source_etag) and source_etag != digest:
            raise mismatch(f"bytes read (MD5 {digest}) differ from the source's ETag {source_etag}")
        if _MD5.match(etag) and etag != digest:
            raise mismatch(f"target ETag {etag} differs from the MD5 of the bytes sent ({digest})")
        return etag

    def _put_checked(self, client: LeanS3Client, target: LeanS3Client, task: Task, key: str, size: int,
                     source_etag: str, headers: dict[str, str], stream: RawStream | None) -> str:
        """One PUT of the body of the source's GET (`stream`; None: a new GET, If-Match the ETag)
        whose ETag is its MD5, checked by the target: the PUT carries that MD5 as Content-MD5, so
        the target refuses bytes that differ (nothing is written) and its ETag, the MD5 of what it
        stored, must equal the source's. Nothing is hashed here."""
        reader = _Relay(self._body(client, task, source_etag, stream), hashed=False)
        checked = {**headers, "content-md5": base64.b64encode(bytes.fromhex(source_etag)).decode()}
        try:
            etag = self._send(target, key, reader, size, checked)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("BadDigest", "InvalidDigest"):
                raise mismatch(f"the bytes read differ from the source's ETag {source_etag} (the target "
                               f"refused them: {exc.response['Error']['Code']})") from None
            raise
        if reader.length != size:
            raise mismatch(f"read {reader.length} bytes of {size}")
        if etag != source_etag:
            raise mismatch(f"target ETag {etag} differs from the source's {source_etag}")
        return etag

    def _part(self, client: LeanS3Client, target: LeanS3Client, task: Task, key: str, upload_id: str,
              number: int, start: int, end: int, source_etag: str, hashed: bool = True) -> Part:
        """One part, ranged GET -> UploadPart. `hashed`: its MD5 is taken here and compared with
        the part's ETag; else the caller compares the parts' composite ETag with the source's."""
        headers = {"range": f"bytes={start}-{end - 1}"}
        if source_etag:
            headers["if-match"] = f'"{source_etag}"'  # the object must not change between parts
        reader = _Relay(client.get_object_raw(task.bucket, task.key, task.version_id, headers), hashed)
        try:
            etag = target.upload_part_chunks(self.target_bucket, key, upload_id, number, reader.chunks(), end - start)
        finally:
            reader.release()
        if reader.length != end - start:
            raise mismatch(f"part {number}: read {reader.length} bytes of {end - start}")
        if not hashed:
            return Part(number, etag)
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

    def copy(self, client: LeanS3Client, task: Task, above: int | None = None) -> str | None:
        """Copy `task` in parts; with `above`, None (nothing copied) if the object is not larger."""
        key = self.params.target_key(task.key)
        size, source_etag, head = self._head(client, task)
        if above is not None and size <= above:
            return None
        headers = self._put_headers(client, task, head)
        chunk = source_part_size(client, task, size, source_etag) or part_size(size, self.chunksize)

        def part(upload_id: str, number: int, start: int, end: int) -> Part:
            etag, checksums = client.upload_part_copy(self.target_bucket, key, upload_id, number, task.bucket,
                                                      task.key, task.version_id, start, end, source_etag)
            return Part(number, etag, None, checksums)

        etag, parts = self._multipart(client, key, size, chunk, headers, part)
        return f"Successful: {size} bytes in {parts} parts (multipart copy), ETag {etag}"
