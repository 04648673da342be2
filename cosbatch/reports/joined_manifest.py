"""A manifest joined from many objects (undo records, failed results), written as it is read.

The undo job's manifest (cosbatch.reports.undo_manifest) and a re-run's (cosbatch.reports.rerun)
are other objects' bytes concatenated as they are. A job of millions of tasks has millions of
such lines, so nothing holds them all: the pieces are read in chunks and uploaded in parts as
they come (one PUT where the whole fits in one part), and the lines are counted on the way.
Memory stays about one part (PART_BYTES) plus one chunk, whatever the manifest's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: Bytes uploaded per part of a multipart upload (S3 and COS want at least 5 MiB but the last).
PART_BYTES = 8 * 1024 * 1024
#: Bytes read from an object at a time.
CHUNK_BYTES = 1024 * 1024
_SPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() strips


def object_chunks(client: Any, bucket: str, key: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """An object's bytes, a chunk at a time."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        while chunk := body.read(chunk_bytes):
            yield chunk
    finally:
        body.close()


class LineCounter:
    """Counts the lines that are not blank (as `sum(1 for l in data.splitlines() if l.strip())`)
    of bytes fed in chunks cut anywhere."""

    def __init__(self) -> None:
        self.lines = 0
        self._open = False  # the current line has a character that is not whitespace

    def feed(self, chunk: bytes) -> None:
        pieces = chunk.replace(b"\r", b"\n").split(b"\n")  # bytes.splitlines' breaks: \n, \r, \r\n
        for ended in pieces[:-1]:  # each ends at a break
            if self._open or ended.strip(_SPACE):
                self.lines += 1
            self._open = False
        self._open = self._open or bool(pieces[-1].strip(_SPACE))

    def total(self) -> int:
        return self.lines + (1 if self._open else 0)


def write_joined_manifest(client: Any, bucket: str, key: str, chunks: Iterable[bytes],
                          if_empty: Callable[[], Exception], part_bytes: int = PART_BYTES) -> tuple[str, int]:
    """Write the concatenation of `chunks` (consumed lazily) to s3://bucket/key as CSV; returns
    (ETag, lines that are not blank). Nothing is left written, and `if_empty()` is raised, when
    there is no such line; an error while reading or writing aborts a multipart upload begun."""
    counter = LineCounter()
    buffer = bytearray()
    upload_id: str | None = None
    parts: list[dict[str, Any]] = []
    try:
        for chunk in chunks:
            counter.feed(chunk)
            buffer += chunk
            while len(buffer) >= part_bytes:
                if upload_id is None:
                    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key,
                                                               ContentType="text/csv")["UploadId"]
                body, buffer = bytes(buffer[:part_bytes]), buffer[part_bytes:]
                etag = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1,
                                          Body=body)["ETag"]
                parts.append({"ETag": etag, "PartNumber": len(parts) + 1})
        count = counter.total()
        if count == 0:
            raise if_empty()
        if upload_id is None:
            return client.put_object(Bucket=bucket, Key=key, Body=bytes(buffer),
                                     ContentType="text/csv")["ETag"].strip('"'), count
        if buffer:
            etag = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1,
                                      Body=bytes(buffer))["ETag"]
            parts.append({"ETag": etag, "PartNumber": len(parts) + 1})
        done = client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                                MultipartUpload={"Parts": parts})
        upload_id = None
        return done["ETag"].strip('"'), count
    finally:
        if upload_id is not None:  # an error (or no line at all) after parts were sent: nothing is left half written
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
