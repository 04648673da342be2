"""What the lifecycle tests check on every runner: a cancelled job, a job stopped by the
failure threshold, a job that completed after a pause, each against its objects and report."""

from __future__ import annotations

import time
from collections import Counter

from cosbatch.lifecycle import JobStatus as S
from cosbatch.models import Job
from tests.conftest import put_objects
from tests.integration.helpers import read_report, write_manifest


def count_objects(s3, bucket: str) -> int:
    return sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))


def statuses(service, job_id: str) -> list[S]:
    return [h.to_status for h in service.history(job_id)]


def job_state(service, job_id: str) -> str:
    """A job's status, counters and status history, for a test's failure message."""
    job = service.describe_job(job_id)
    history = " -> ".join(h.to_status.value for h in service.history(job_id))
    return f"{job.status.value}, {job.progress_summary.tasks_run}/{job.progress_summary.total_number_of_tasks} run, {history}"


def write_threshold_manifest(s3, src: str, key: str) -> None:
    """3,000 copy tasks, 2 of every 3 missing, interleaved so that wherever execution starts
    the failure rate is over 50% once 1,000 tasks have run."""
    present = [f"ok/{i}" for i in range(1000)]
    put_objects(s3, src, present)
    rows = []
    for i in range(1000):
        rows += [(src, present[i]), (src, f"missing/{2 * i}"), (src, f"missing/{2 * i + 1}")]
    write_manifest(s3, src, key, rows)


def check_failed_by_threshold(s3, service, report_bucket: str, job_id: str) -> Job:
    job = service.describe_job(job_id)
    assert [f.failure_code for f in job.failure_reasons] == ["FailureThresholdExceeded"]
    assert statuses(service, job_id)[-3:] == [S.ACTIVE, S.FAILING, S.FAILED]
    p = job.progress_summary
    assert p.tasks_run >= 1000 and p.number_of_tasks_failed / p.tasks_run > 0.5
    assert p.tasks_run < 3000  # it stopped issuing work
    # The reason gives the counts when the job was stopped (tasks in flight then finished).
    reason = job.failure_reasons[0].failure_reason
    failed_then, _, rest = reason.partition(" of the first ")
    run_then = int(rest.split(" ", 1)[0])
    assert 1000 <= run_then <= p.tasks_run and int(failed_then) <= p.number_of_tasks_failed, reason
    assert reason.endswith("failure threshold; tasks already running were let finish"), reason
    _, report_rows, job_doc = read_report(s3, report_bucket, job)
    assert len(report_rows) == p.tasks_run  # every task that ran is in the report
    assert job_doc["Job"]["FailureReasons"][0]["FailureCode"] == "FailureThresholdExceeded"
    return job


def check_cancelled_part_way(s3, service, target: str, report_bucket: str, job_id: str, total: int) -> Job:
    job = service.describe_job(job_id)
    ran = job.progress_summary.tasks_run
    assert 1000 <= ran < total  # the rest never ran
    assert job.termination_date is not None
    time.sleep(1)
    assert count_objects(s3, target) == job.progress_summary.number_of_tasks_succeeded
    _, rows, job_doc = read_report(s3, report_bucket, job)
    assert len(rows) == ran and len({r["Key"] for r in rows}) == ran
    assert job_doc["Job"]["Status"] == "Cancelled"
    assert statuses(service, job_id)[-2:] == [S.CANCELLING, S.CANCELLED]
    return job


def check_complete_exactly_once(s3, service, report_bucket: str, job_id: str, n: int) -> None:
    job = service.describe_job(job_id)
    assert job.progress_summary.number_of_tasks_succeeded == n
    _, rows, _ = read_report(s3, report_bucket, job)
    assert len(rows) == n
    assert Counter(r["Key"] for r in rows).most_common(1)[0][1] == 1  # duplicate-free
