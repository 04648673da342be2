"""Reading manifest bytes from object storage or a local file, whole or by byte range.

A manifest resolved in Preparing is pinned by its ETag (and VersionId): workers
read their segments with If-Match, so a manifest overwritten mid-job fails loudly
instead of silently mixing two lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import ManifestError
from cosbatch.names import ObjectRef

CHUNK = 1 << 20


def _norm_etag(etag: str | None) -> str | None:
    return etag.strip().strip('"') if etag else None


@dataclass(frozen=True)
class SegmentSource:
    """Where a segment's bytes live; stored as JSON in the segment row, read by workers."""

    url: str  # s3://bucket/key or file:///abs/path
    etag: str | None = None
    version_id: str | None = None
    format: str = "csv"
    fields: tuple[str, ...] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SegmentSource:
        data = json.loads(text)
        if data.get("fields") is not None:
            data["fields"] = tuple(data["fields"])
        return cls(**data)

    @property
    def ref(self) -> ObjectRef:
        if self.url.startswith("file://"):
            return ObjectRef("", "", local_path=self.url[7:])
        bucket, key = self.url[5:].split("/", 1)
        return ObjectRef(bucket, key)


class ManifestSource:
    """One manifest object: HEAD it, check its ETag, stream its bytes."""

    def __init__(self, ref: ObjectRef, client: Any | None, version_id: str | None = None) -> None:
        self.ref = ref
        self.client = client
        self.version_id = version_id
        self.etag: str | None = None
        self.size: int | None = None

    @property
    def url(self) -> str:
        return f"file://{self.ref.local_path}" if self.ref.is_local else f"s3://{self.ref.bucket}/{self.ref.key}"

    def _bucket_missing(self) -> bool:
        """Whether the manifest's bucket is what is missing (a HEAD's 404 does not say): asked
        only once the manifest was not found."""
        head_bucket = getattr(self.client, "head_bucket", None)
        if head_bucket is None:
            return False
        try:
            head_bucket(Bucket=self.ref.bucket)
        except ClientError as exc:
            return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
        except BotoCoreError:
            return False
        return False

    def resolve(self, expected_etag: str | None = None) -> ManifestSource:
        """Check the manifest exists (and has the expected ETag); fills etag and size."""
        if self.ref.is_local:
            path = Path(self.ref.local_path or "")
            if not path.is_file():
                raise ManifestError(f"manifest file {path} does not exist", code="ManifestNotFound")
            self.size = path.stat().st_size
            return self
        try:
            kwargs = {"Bucket": self.ref.bucket, "Key": self.ref.key}
            if self.version_id:
                kwargs["VersionId"] = self.version_id
            head = self.client.head_object(**kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            if status == 404 or code in ("NoSuchKey", "NoSuchBucket", "404"):
                why = f" (its bucket {self.ref.bucket!r} does not exist)" if self._bucket_missing() else ""
                raise ManifestError(
                    f"manifest object {self.url} does not exist{why}", code="ManifestNotFound"
                ) from None
            if status == 403:
                raise ManifestError(
                    f"access denied reading manifest {self.url}", code="ManifestAccessDenied"
                ) from None
            raise ManifestError(f"cannot read manifest {self.url}: {code or status}", code="ManifestReadError") from None
        except BotoCoreError as exc:
            raise ManifestError(f"cannot reach storage for manifest {self.url}: {exc}", code="ManifestReadError") from None
        self.etag = _norm_etag(head.get("ETag"))
        self.size = head.get("ContentLength")
        if expected_etag and _norm_etag(expected_etag) != self.etag:
            raise ManifestError(
                f"manifest {self.url} has ETag {self.etag}, not the expected {_norm_etag(expected_etag)}",
                code="ManifestETagMismatch",
            )
        return self

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes [start, end) of the manifest, in chunks of about 1 MiB."""
        if self.ref.is_local:
            with open(self.ref.local_path or "", "rb") as fh:
                fh.seek(start)
                remaining = None if end is None else end - start
                while remaining is None or remaining > 0:
                    data = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
                    if not data:
                        break
                    if remaining is not None:
                        remaining -= len(data)
                    yield data
            return
        kwargs: dict[str, Any] = {"Bucket": self.ref.bucket, "Key": self.ref.key}
        if self.version_id:
            kwargs["VersionId"] = self.version_id
        if self.etag:
            kwargs["IfMatch"] = f'"{self.etag}"'
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            body = self.client.get_object(**kwargs)["Body"]
            yield from body.iter_chunks(CHUNK)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "PreconditionFailed":
                raise ManifestError(
                    f"manifest {self.url} changed after the job was prepared", code="ManifestETagMismatch"
                ) from None
            raise ManifestError(f"cannot read manifest {self.url}: {code}", code="ManifestReadError") from None


def open_segment_source(source: SegmentSource, client: Any) -> ManifestSource:
    src = ManifestSource(source.ref, client, source.version_id)
    src.etag = source.etag
    return src
