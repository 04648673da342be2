"""Writing report files: one results file per segment and status, then the manifests.

Segment files are written whole, once the segment's tasks have run, under a name
fixed by the segment number: a re-run segment overwrites its own file, so every
task appears in the report exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import ReportError
from cosbatch.models import Job, ReportFormat, ReportScope
from cosbatch.operations import TaskResult
from cosbatch.reports.layout import REPORT_SCHEMA, ReportLocation, format_csv_row
from cosbatch.store.base import Segment


def _put(client: Any, bucket: str, key: str, body: bytes, content_type: str) -> None:
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (ClientError, BotoCoreError) as exc:
        raise ReportError(f"cannot write report object s3://{bucket}/{key}: {exc}") from exc


def write_segment_results(
    client: Any,
    location: ReportLocation,
    seg_no: int,
    results: Sequence[TaskResult],
    scope: ReportScope,
    fmt: ReportFormat = ReportFormat.S3_CSV,
) -> list[dict]:
    """Write this segment's results files; returns their descriptors for manifest.json."""
    files: list[dict] = []
    for status, wanted in (("failed", False), ("succeeded", True)):
        if wanted and scope is ReportScope.FAILED_TASKS_ONLY:
            continue
        chosen = [r for r in results if r.succeeded is wanted]
        if not chosen:
            continue
        if fmt is ReportFormat.PARQUET:
            from cosbatch.reports.parquet import parquet_bytes  # pyarrow only when asked for

            body, ext, content_type = parquet_bytes(chosen), "parquet", "application/vnd.apache.parquet"
        else:
            body, ext, content_type = "".join(format_csv_row(r) for r in chosen).encode(), "csv", "text/csv"
        key = location.results_key(seg_no, status, ext)
        _put(client, location.bucket, key, body, content_type)
        entry: dict = {"Key": key, "MD5Checksum": hashlib.md5(body).hexdigest(), "TaskExecutionStatus": status,
                       "Rows": len(chosen)}
        if not wanted:  # cosbatch: failed tasks by error code, for DescribeJob and the CLI summaries
            entry["ErrorCodes"] = dict(Counter(r.error_code or "Unknown" for r in chosen))
        files.append(entry)
    return files


def finalize_report(client: Any, job: Job, segments: Sequence[Segment]) -> ReportLocation:
    """Write manifest.json and job.json for a job that reached its final status."""
    location = ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)
    _write_manifests(client, job, segments, location, location.manifest_key, location.job_key)
    return location


def write_trial_report(client: Any, job: Job, segments: Sequence[Segment]) -> ReportLocation:
    """A trial run's report, next to the job's: trial/manifest.json (the results files of the
    trial's tasks, which the final report lists again) and trial/job.json (the job, Suspended)."""
    location = ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)
    _write_manifests(client, job, segments, location, location.trial_manifest_key, location.trial_job_key)
    return location


def _write_manifests(client: Any, job: Job, segments: Sequence[Segment], location: ReportLocation,
                     manifest_key: str, job_key: str) -> None:
    results = [
        {
            "TaskExecutionStatus": f["TaskExecutionStatus"],
            "Bucket": location.bucket,
            "MD5Checksum": f["MD5Checksum"],
            "Key": f["Key"],
        }
        for seg in sorted(segments, key=lambda s: s.seg_no)
        for f in seg.result_files
    ]
    manifest = {
        "Format": (job.report.format or ReportFormat.S3_CSV).value,
        "ReportCreationDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "Results": results,
        "ReportSchema": REPORT_SCHEMA,
    }
    _put(client, location.bucket, job_key, json.dumps({"Job": job.describe()}, indent=2).encode(), "application/json")
    _put(client, location.bucket, manifest_key, json.dumps(manifest, indent=2).encode(), "application/json")
