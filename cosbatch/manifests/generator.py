"""The manifest generator (S3JobManifestGenerator): list a bucket by prefix(es), keep the
objects the filter matches, and write them as a CSV manifest the job then runs on.

Listing streams page by page into a spooled file: memory stays flat for any bucket size.
"""

from __future__ import annotations

import re
import tempfile
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import ManifestError


@dataclass(frozen=True)
class KeyNameConstraint:
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    substrings: tuple[str, ...] = ()
    regex: str | None = None  # cosbatch: a Python regular expression the whole key must match

    def matches(self, key: str) -> bool:
        return (
            (not self.prefixes or key.startswith(self.prefixes))
            and (not self.suffixes or key.endswith(self.suffixes))
            and (not self.substrings or any(s in key for s in self.substrings))
            and (self.regex is None or re.fullmatch(self.regex, key) is not None)
        )


@dataclass(frozen=True)
class ObjectFilter:
    """JobManifestGeneratorFilter: every condition given must hold."""

    created_after: datetime | None = None
    created_before: datetime | None = None
    size_greater_than: int | None = None
    size_less_than: int | None = None
    storage_classes: tuple[str, ...] = ()
    key: KeyNameConstraint = field(default_factory=KeyNameConstraint)

    def matches(self, obj: dict) -> bool:
        modified: datetime = obj["LastModified"]
        size: int = obj["Size"]
        return (
            (self.created_after is None or modified > self.created_after)
            and (self.created_before is None or modified < self.created_before)
            and (self.size_greater_than is None or size > self.size_greater_than)
            and (self.size_less_than is None or size < self.size_less_than)
            and (not self.storage_classes or obj.get("StorageClass", "STANDARD") in self.storage_classes)
            and self.key.matches(obj["Key"])
        )


def _pages(client: Any, bucket: str, prefix: str) -> Iterator[dict]:
    """ListObjectsV2 pages, from boto3 or the lean client (the same arguments and page shape)."""
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = _page(client, args)
        yield page
        if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
            return
        args["ContinuationToken"] = page["NextContinuationToken"]


def _page(client: Any, args: dict[str, Any], attempts: int = 5) -> dict:
    """One page; a 5xx, throttling or a lost connection is tried again (with backoff) a few times."""
    for attempt in range(attempts):
        try:
            return client.list_objects_v2(**args)
        except (ClientError, BotoCoreError) as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, ClientError) \
                else 503
            if attempt == attempts - 1 or not (status or 0) >= 500:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def list_objects(client: Any, bucket: str, prefixes: Iterable[str]) -> Iterator[dict]:
    """Every object under the prefixes (the whole bucket without any), each listed once."""
    roots = sorted(set(prefixes)) or [""]
    # A prefix inside another adds nothing: drop it, so no key is listed twice.
    roots = [p for p in roots if not any(p != q and p.startswith(q) for q in roots)]
    for prefix in roots:
        try:
            for page in _pages(client, bucket, prefix):
                yield from page.get("Contents", [])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise ManifestError(f"cannot list bucket {bucket!r} for the manifest generator: {code}",
                                code="ManifestGeneratorError") from None
        except BotoCoreError as exc:
            raise ManifestError(f"cannot list bucket {bucket!r}: {exc}", code="ManifestGeneratorError") from None


#: Object metadata of a generated manifest: the total size of the objects it lists.
TOTAL_BYTES_META = "cosbatch-total-bytes"


class GeneratedManifest(NamedTuple):
    count: int
    etag: str
    sizes: array  # each object's size, in manifest order (8 bytes an object): segments by bytes


def generate_manifest(
    client: Any, bucket: str, object_filter: ObjectFilter, out_bucket: str, out_key: str, lister: Any = None
) -> GeneratedManifest:
    """Write the matching objects as a CSV manifest at s3://out_bucket/out_key.
    `lister`: the client that lists the bucket (the lean one parses pages ten times faster)."""
    count = size = 0
    sizes = array("q")
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        for obj in list_objects(lister or client, bucket, object_filter.key.prefixes):
            if object_filter.matches(obj):
                spool.write(f"{bucket},{quote_plus(obj['Key'], safe='/')}\n".encode())
                count += 1
                sizes.append(int(obj.get("Size") or 0))
                size += sizes[-1]
        spool.seek(0)
        try:
            # The listing gave every object's size: their sum goes with the manifest, for estimates.
            client.upload_fileobj(spool, out_bucket, out_key, ExtraArgs={
                "ContentType": "text/csv", "Metadata": {TOTAL_BYTES_META: str(size)}})
            etag = client.head_object(Bucket=out_bucket, Key=out_key)["ETag"].strip('"')
        except (ClientError, BotoCoreError) as exc:
            raise ManifestError(f"cannot save the generated manifest to s3://{out_bucket}/{out_key}: {exc}",
                                code="ManifestGeneratorError") from None
    return GeneratedManifest(count, etag, sizes)
