"""Preparing: resolve the manifest, validate every line, count tasks, cut segments,
and check the buckets the job writes to exist. Any problem is a typed error that
fails the job with a FailureCode and FailureReason."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import ManifestError
from cosbatch.manifests import CsvLayout, ManifestSource, SegmentSource, scan_csv
from cosbatch.models import Job
from cosbatch.operations import operation_for
from cosbatch.store.base import Segment


def _check_bucket(client: Any, bucket: str, code: str, what: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            raise ManifestError(f"{what} bucket {bucket!r} does not exist", code=code) from None
        if status == 403:
            raise ManifestError(f"access denied to {what} bucket {bucket!r}", code=code) from None
        raise ManifestError(f"cannot check {what} bucket {bucket!r}: {exc}", code=code) from None
    except BotoCoreError as exc:
        raise ManifestError(f"cannot reach storage to check {what} bucket {bucket!r}: {exc}", code=code) from None


def prepare_job(job: Job, client: Any, segment_size: int) -> tuple[int, list[Segment]]:
    """(total tasks, segments) of the job's manifest; ManifestError if it cannot be used."""
    try:
        operation_for(job.operation)  # e.g. an Invoke function that cannot be imported
    except Exception as exc:
        raise ManifestError(f"operation {job.operation.name} cannot run: {exc}", code="InvalidOperation") from None
    spec = job.manifest.spec
    location = job.manifest.location
    if not spec.format.is_csv:
        raise ManifestError(
            f"manifest format {spec.format.value} is not supported yet; use a CSV manifest",
            code="UnsupportedManifestFormat",
        )
    source = ManifestSource(location.ref, client, location.object_version_id).resolve(location.e_tag)
    fields = tuple(spec.fields) if spec.fields else None
    total, scanned = scan_csv(source.chunks(), CsvLayout(fields), segment_size)
    seg_source = SegmentSource(
        url=source.url,
        etag=source.etag,
        version_id=location.object_version_id,
        format="csv",
        fields=tuple(f.value for f in fields) if fields else None,
    ).to_json()
    params = job.operation.params
    target_bucket = getattr(params, "target_bucket", None)
    if target_bucket:
        _check_bucket(client, target_bucket, "TargetBucketNotFound", "target")
    if job.report.enabled:
        _check_bucket(client, job.report.bucket_name, "ReportBucketNotFound", "report")
    segments = [
        Segment(
            job_id=job.job_id,
            seg_no=i,
            source=seg_source,
            start=s.start,
            end=s.end,
            first_line=s.first_line,
            task_count=s.task_count,
        )
        for i, s in enumerate(scanned)
    ]
    return total, segments
