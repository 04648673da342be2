"""Shared steps of integration tests: build requests, run a job to its end, read its report."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import quote_plus

from cosbatch.controller import JobService, Scheduler
from cosbatch.models import Job
from cosbatch.reports import parse_csv_row
from cosbatch.store.base import failure_codes
from cosbatch.wire.dialects import parse_create_job


def copy_request(manifest_bucket: str, manifest_key: str, target: str, report_bucket: str | None,
                 **over) -> dict:
    body = {
        "AccountId": "123456789012",
        "ClientRequestToken": over.pop("token", manifest_key),
        "Priority": over.pop("priority", 10),
        "RoleArn": "arn:aws:iam::123456789012:role/batch",
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": f"arn:aws:s3:::{manifest_bucket}/{manifest_key}"},
        },
        "Operation": {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{target}"}},
        "Report": {"Enabled": False}
        if report_bucket is None
        else {"Enabled": True, "Bucket": f"arn:aws:s3:::{report_bucket}", "Format": "Report_CSV_20180820",
              "Prefix": "reports", "ReportScope": "AllTasks"},
    }
    body.update(over)
    return body


def write_manifest(s3, bucket: str, key: str, rows: list[tuple[str, str]]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body="".join(f"{b},{quote_plus(k, safe='/')}\n" for b, k in rows).encode())


def create_and_run(store, settings, body: dict, timeout_s: float = 300) -> Job:
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(body))
    run_until_idle(store, settings, timeout_s)
    assert_counters_are_segment_sums(store, job.job_id)
    return service.describe_job(job.job_id)


def assert_counters_are_segment_sums(store, job_id: str) -> None:
    """The job's totals kept with it (what DescribeJob, failures by code, retries and abandoned
    tasks read) are the sums over its segments: task counters, retries, abandoned tasks, and failed
    tasks by error code."""
    p = store.get_job(job_id).progress_summary
    segments = store.segments(job_id)
    assert (p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (
        sum(s.succeeded for s in segments), sum(s.failed for s in segments)), job_id
    row = store._one("SELECT skipped FROM jobs WHERE job_id = ?", (job_id,))
    assert row["skipped"] == sum(s.skipped for s in segments), job_id
    sums = store._one("SELECT COALESCE(SUM(retries), 0) AS retries, COALESCE(SUM(abandoned_tasks), 0) AS abandoned "
                      "FROM segments WHERE job_id = ?", (job_id,))
    assert (store.retries(job_id), store.abandoned_tasks(job_id)) == (sums["retries"], sums["abandoned"]), job_id
    codes = Counter()
    for s in segments:
        codes.update(failure_codes(s.result_files, strict=False))
    assert store.failure_codes(job_id) == {code: n for code, n in codes.items() if n}, job_id


def run_until_idle(store, settings, timeout_s: float = 120) -> None:
    """One Scheduler on the store, run until it has nothing left to do, then closed."""
    scheduler = Scheduler(store, settings)
    try:
        scheduler.run_until_idle(timeout_s=timeout_s)
    finally:
        scheduler.close()


def read_report(s3, bucket: str, job: Job, prefix: str = "reports") -> tuple[dict, list[dict], dict]:
    """(manifest.json, rows of every results file, job.json) of a job's report."""
    base = f"{prefix}/job-{job.job_id}"
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{base}/manifest.json")["Body"].read())
    rows = []
    for result in manifest["Results"]:
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode()
        rows.extend(parse_csv_row(line) for line in body.splitlines() if line)
    job_doc = json.loads(s3.get_object(Bucket=bucket, Key=f"{base}/job.json")["Body"].read())
    return manifest, rows, job_doc


def op_request(manifest_bucket: str, manifest_key: str, operation: dict, report_bucket: str | None,
               **over) -> dict:
    """A request for any operation (the copy request with its Operation replaced)."""
    body = copy_request(manifest_bucket, manifest_key, "unused-target", report_bucket, **over)
    body["Operation"] = operation
    return body
