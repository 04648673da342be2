"""Preflight: a look at the first lines of a CSV manifest before a job is prepared.

- A first line that is a header row (its bucket cell is literally "Bucket", or its cells are
  the Spec field names) fails the job with `ManifestHeaderRow`: manifests have no header.
- The objects of the first few lines (at most SAMPLE) are HEADed. When every one of them is
  missing, the job fails with `ManifestObjectsNotFound` and a reason naming the likely cause:
  the bucket does not exist, the keys are not URL-encoded (a key with "+" or "%" that exists
  as written but not decoded), or the objects were deleted or live on another storage.
"""

from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.controller.storage_errors import StorageUnreachable, classify, status_of
from cosbatch.errors import ManifestError
from cosbatch.manifests import CsvLayout, ManifestSource
from cosbatch.manifests.csv_manifest import Task, iter_lines, parse_csv_line
from cosbatch.models import ManifestField
from cosbatch.storage import Storage

SAMPLE = 10
#: Bytes read from the start of the manifest for the preflight.
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class SampledLine:
    line_no: int
    task: Task
    raw_key: str  # the key cell as written, before URL-decoding


def _cells(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n").lstrip("\ufeff")
    if '"' in text:
        try:
            return next(csv.reader([text]))
        except (csv.Error, StopIteration):
            return text.split(",")
    return text.split(",")


def check_header_row(raw: bytes, layout: CsvLayout, line_no: int = 1) -> None:
    """ManifestHeaderRow if the manifest's first line names its columns instead of an object.
    ("Bucket" is no valid bucket name: S3 bucket names are lower case.)"""
    cells = [c.strip() for c in _cells(raw)]
    lowered = [c.lower() for c in cells]
    if layout.fields:
        header = lowered == [f.value.lower() for f in layout.fields]
    else:
        header = lowered in (["bucket", "key"], ["bucket", "key", "versionid"])
    # A line not of this layout's shape is left to the scan of the manifest to name.
    with contextlib.suppress(ManifestError, ValueError):
        header = header or cells[layout.columns(len(cells), 1).index(ManifestField.BUCKET)] == "Bucket"
    if header:
        raise ManifestError(
            f"manifest line {line_no} is a header row ({','.join(cells)}): a manifest lists objects only, "
            "with no header; remove that line", code="ManifestHeaderRow")


def first_lines(source: ManifestSource, layout: CsvLayout) -> list[SampledLine]:
    """The first SAMPLE tasks of the manifest's first HEAD_BYTES; ManifestHeaderRow if its first
    line is a header, ManifestError (InvalidManifest) if one of those lines is malformed."""
    size = source.size
    if size == 0:
        return []
    chunks = source.chunks(0, HEAD_BYTES if size is None or size > HEAD_BYTES else None)
    seen_first = False
    sample: list[SampledLine] = []
    for line_no, (_, end, raw) in enumerate(iter_lines(chunks), start=1):
        if end >= HEAD_BYTES and (size is None or size > HEAD_BYTES):
            break  # a line cut by the read limit
        if not seen_first and raw.strip():
            seen_first = True
            check_header_row(raw, layout, line_no)
        task = parse_csv_line(raw, layout, line_no)
        if task is None:
            continue
        cells = _cells(raw)
        key_cell = cells[layout.columns(len(cells), line_no).index(ManifestField.KEY)]
        sample.append(SampledLine(line_no, task, key_cell))
        if len(sample) >= SAMPLE:
            break
    return sample


def _exists(client: Any, storage: Storage, bucket: str, key: str, version_id: str | None = None) -> bool:
    """Whether the object is there; only a 404 says no (transient trouble: StorageUnreachable)."""
    kwargs = {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
    try:
        client.head_object(**kwargs)
        return True
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and status_of(exc)[0] == 404:
            return False
        better = classify(exc, storage, f"HEAD s3://{bucket}/{key}")
        if isinstance(better, StorageUnreachable) or (better is not None and _refuses_every_object(exc, better)):
            raise better from None
        return True  # e.g. 403 on one object: not evidence that the objects are missing


#: Answers about the keys themselves, not one object: every task of the job would fail with them.
_KEY_REFUSED = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch"})


def _refuses_every_object(exc: BaseException, error: ManifestError) -> bool:
    """No credentials at all, or keys the storage does not know: fail the job now, naming them."""
    return error.code == "CredentialsNotSet" or (isinstance(exc, ClientError) and status_of(exc)[1] in _KEY_REFUSED)


def _bucket_missing(client: Any, bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        return status_of(exc)[0] == 404
    except BotoCoreError:
        return False


def check_sample(client: Any, storage: Storage, sample: list[SampledLine]) -> None:
    """ManifestObjectsNotFound, naming the likely cause, when no sampled object exists."""
    if not sample or any(_exists(client, storage, s.task.bucket, s.task.key, s.task.version_id) for s in sample):
        return
    n = len(sample)
    head = f"none of the first {n} objects of the manifest exist on {storage.describe()}"
    missing = sorted({s.task.bucket for s in sample if _bucket_missing(client, s.task.bucket)})
    if missing:
        cause = f"bucket {', '.join(map(repr, missing))} does not exist there (wrong bucket or wrong storage?)"
    else:
        encoded = next((s for s in sample if s.raw_key != s.task.key
                        and _exists(client, storage, s.task.bucket, s.raw_key, s.task.version_id)), None)
        if encoded is not None:
            cause = (f"the keys look not URL-encoded: line {encoded.line_no} key {encoded.raw_key!r} exists as "
                     f"written, but a manifest's keys are URL-decoded, giving {encoded.task.key!r}; encode "
                     "them (e.g. '+' as %2B, a space as + or %20)")
        else:
            first = sample[0].task
            cause = (f"e.g. s3://{first.bucket}/{first.key} (line {sample[0].line_no}): deleted since the manifest "
                     "was made, or on another storage than the job's?")
    raise ManifestError(f"{head}: {cause}", code="ManifestObjectsNotFound")
