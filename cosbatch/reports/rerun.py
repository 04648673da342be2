"""Re-running failed tasks: a finished job's failed results, gathered into one manifest.

A results file is already a valid CSV manifest (keys URL-encoded, Bucket, Key,
VersionId first), so the failed files are concatenated as they are (streamed:
cosbatch.reports.joined_manifest) and read with Fields [Bucket, Key, VersionId, Ignore x4].
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import TERMINAL
from cosbatch.models import Job
from cosbatch.reports.joined_manifest import object_chunks, write_joined_manifest
from cosbatch.reports.layout import ReportLocation
from cosbatch.store.base import TRIAL_TASKS_TAG

RESULTS_AS_MANIFEST_FIELDS = ["Bucket", "Key", "VersionId", "Ignore", "Ignore", "Ignore", "Ignore"]


def _read(client: Any, bucket: str, key: str) -> bytes:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise InvalidRequest(f"cannot read report object s3://{bucket}/{key}: {exc}") from None


def _as_csv(client: Any, bucket: str, key: str) -> Iterator[bytes]:
    """A results file's rows as manifest lines, a chunk at a time (Parquet results are converted,
    a file at a time: one segment's rows)."""
    try:
        if not key.endswith(".parquet"):
            yield from object_chunks(client, bucket, key)
            return
    except (ClientError, BotoCoreError) as exc:
        raise InvalidRequest(f"cannot read report object s3://{bucket}/{key}: {exc}") from None
    from cosbatch.reports.parquet import read_parquet_rows

    for row in read_parquet_rows(_read(client, bucket, key)):
        yield f"{row['Bucket']},{quote_plus(row['Key'], safe='/')},{row['VersionId'] or ''},,,,\n".encode()


def failed_tasks_manifest(client: Any, job: Job) -> tuple[str, str, str, int]:
    """Write `failed-tasks.csv` beside the job's report; returns (bucket, key, etag, task count)."""
    if job.status not in TERMINAL:
        raise InvalidRequest(f"job {job.job_id} is {job.status.value}; its report is written when it finishes")
    if not job.report.enabled:
        raise InvalidRequest(f"job {job.job_id} has no report, so its failed tasks are not known")
    location = ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)
    manifest = json.loads(_read(client, location.bucket, location.manifest_key))  # the list of results files
    failed = [r for r in manifest.get("Results", []) if r.get("TaskExecutionStatus") == "failed"]
    key = f"{location.job_dir}/failed-tasks.csv"
    rows = (chunk for r in failed for chunk in _as_csv(client, r["Bucket"], r["Key"]))
    etag, count = write_joined_manifest(client, location.bucket, key, rows,
                                        lambda: InvalidRequest(f"job {job.job_id} has no failed tasks to re-run"))
    return location.bucket, key, etag, count


def carried_tags(job: Job) -> list[dict[str, str]]:
    """The tags a re-run of `job` carries: all but a trial run's (a re-run tries nothing first unless
    asked again: the earlier trial's size need not even fit the failed tasks)."""
    return [t.wire() for t in job.tags if t.key != TRIAL_TASKS_TAG]


def rerun_request(job: Job, manifest_bucket: str, manifest_key: str, etag: str, **overrides: Any) -> dict:
    """A CreateJob body: the same operation, report and tags as `job`, over its failed tasks."""
    body: dict[str, Any] = {
        "AccountId": job.account_id,
        "ClientRequestToken": f"rerun-{job.job_id}-{etag[:16]}",
        "Priority": job.priority,
        "RoleArn": job.role_arn,
        "Description": f"re-run of the failed tasks of job {job.job_id}",
        "ConfirmationRequired": job.confirmation_required,
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": RESULTS_AS_MANIFEST_FIELDS},
            "Location": {"ObjectArn": f"arn:aws:s3:::{manifest_bucket}/{manifest_key}", "ETag": etag},
        },
        "Operation": job.operation.wire(),
        "Report": job.report.wire(),
    }
    if carried_tags(job):  # the job's tags and cosbatch: options (rate limit, failure threshold) carry over
        body["Tags"] = carried_tags(job)
    body.update({k: v for k, v in overrides.items() if v is not None})
    return body
