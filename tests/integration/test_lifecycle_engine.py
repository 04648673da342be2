"""The lifecycle engine on SeaweedFS: preemption, pause/resume, cancel, failure threshold."""

from __future__ import annotations

import time
from collections import Counter

from cosbatch.controller import JobService
from cosbatch.dialects import parse_create_job
from cosbatch.lifecycle import JobStatus as S
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest


def count_objects(s3, bucket: str) -> int:
    return sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))


def statuses(service, job_id):
    return [h.to_status for h in service.history(job_id)]


def test_preemption_pause_and_automatic_resume(s3, make_bucket, store, settings, controller, big_source):
    src, keys = big_source
    dst_a, dst_b, rep = make_bucket("dsta"), make_bucket("dstb"), make_bucket("rep")
    put_objects(s3, src, [f"small/{i}" for i in range(50)])
    write_manifest(s3, src, "small.csv", [(src, f"small/{i}") for i in range(50)])
    service = JobService(store)
    a = service.create_job(parse_create_job(copy_request(src, "all.csv", dst_a, rep, priority=1, token="A")))
    wait_for(lambda: service.describe_job(a.job_id).progress_summary.tasks_run >= 1500, 120, what="A to make progress")

    b = service.create_job(parse_create_job(copy_request(src, "small.csv", dst_b, rep, priority=10, token="B")))
    wait_for(lambda: service.describe_job(a.job_id).status is S.PAUSED, 30, what="A to be Paused")
    paused_count = count_objects(s3, dst_a)
    wait_for(lambda: service.describe_job(b.job_id).status is S.COMPLETE, 60, what="B to complete")
    wait_for(lambda: service.describe_job(a.job_id).status is S.COMPLETE, 240, what="A to complete")

    # A went Active → Pausing → Paused, and resumed by itself once B was Complete.
    history_a = statuses(service, a.job_id)
    assert history_a == [S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.ACTIVE, S.COMPLETING, S.COMPLETE]
    pause_at = next(h.at for h in service.history(a.job_id) if h.to_status is S.PAUSED)
    resume_at = [h.at for h in service.history(a.job_id) if h.to_status is S.ACTIVE][1]
    b_done = next(h.at for h in service.history(b.job_id) if h.to_status is S.COMPLETE)
    assert pause_at <= b_done <= resume_at
    assert paused_count < len(keys)  # it really was stopped part-way
    # Work redone after the pause: at most the one segment the (single) worker had in hand.
    assert 0 <= store.abandoned_tasks(a.job_id) <= settings.segment_size

    for job, n in ((a, len(keys)), (b, 50)):
        job = service.describe_job(job.job_id)
        assert job.progress_summary.number_of_tasks_succeeded == n
        _, rows, _ = read_report(s3, rep, job)
        assert len(rows) == n
        assert Counter(r["Key"] for r in rows).most_common(1)[0][1] == 1  # duplicate-free
    assert count_objects(s3, dst_a) == len(keys)


def test_pause_stops_new_operations_within_5s(s3, make_bucket, store, controller, big_source):
    src, keys = big_source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    service = JobService(store)
    a = service.create_job(parse_create_job(copy_request(src, "all.csv", dst, rep, priority=1, token="P")))
    wait_for(lambda: service.describe_job(a.job_id).progress_summary.tasks_run >= 500, 120, what="progress")
    live = service.describe_job(a.job_id).progress_summary
    assert live.number_of_tasks_succeeded >= 500 and live.timers.elapsed_time_in_active_seconds >= 0
    # A higher-priority job that waits for confirmation preempts nothing until confirmed ...
    hold = service.create_job(parse_create_job(copy_request(src, "all.csv", make_bucket("h"), None, priority=5,
                                                            token="H", ConfirmationRequired=True)))
    wait_for(lambda: service.describe_job(hold.job_id).status is S.SUSPENDED, 60, what="Suspended")
    assert service.describe_job(a.job_id).status is S.ACTIVE
    # ... raising a Ready job's priority does.
    b = service.create_job(parse_create_job(copy_request(src, "all.csv", make_bucket("b"), None, priority=0,
                                                         token="B0")))
    wait_for(lambda: service.describe_job(b.job_id).status is S.READY, 60, what="B Ready")
    requested = time.monotonic()
    service.update_job_priority(b.job_id, 9)
    wait_for(lambda: service.describe_job(a.job_id).status in (S.PAUSED,), 30, what="A Paused")
    stopped_after = time.monotonic() - requested
    assert stopped_after < 5.0, f"pause took {stopped_after:.1f}s"
    frozen = count_objects(s3, dst)
    time.sleep(2)
    assert count_objects(s3, dst) == frozen  # no new operation on A's objects while Paused
    for job_id in (a.job_id, b.job_id, hold.job_id):
        service.update_job_status(job_id, "Cancelled", "test over")
    wait_for(lambda: all(service.describe_job(j).status is S.CANCELLED for j in (a.job_id, b.job_id, hold.job_id)),
             60, what="all cancelled")


def test_cancel_while_active(s3, make_bucket, store, controller, big_source):
    src, keys = big_source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request(src, "all.csv", dst, rep, token="C")))
    wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 1000, 120, what="progress")
    service.update_job_status(job.job_id, "Cancelled", "wrong target")
    cancelled_at = time.monotonic()
    wait_for(lambda: service.describe_job(job.job_id).status is S.CANCELLED, 20, what="Cancelled")
    assert time.monotonic() - cancelled_at < 10
    job = service.describe_job(job.job_id)
    ran = job.progress_summary.tasks_run
    assert 1000 <= ran < len(keys)  # the rest never ran
    assert job.status_update_reason == "wrong target" and job.termination_date is not None
    time.sleep(1)
    assert count_objects(s3, dst) == job.progress_summary.number_of_tasks_succeeded
    _, rows, job_doc = read_report(s3, rep, job)
    assert len(rows) == ran and len({r["Key"] for r in rows}) == ran
    assert job_doc["Job"]["Status"] == "Cancelled"
    assert statuses(service, job.job_id)[-2:] == [S.CANCELLING, S.CANCELLED]


def test_failure_threshold(s3, make_bucket, store, controller):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    present = [f"ok/{i}" for i in range(1000)]
    put_objects(s3, src, present)
    rows = []
    for i in range(1000):  # interleaved: 2 of every 3 tasks fail, wherever execution starts
        rows += [(src, present[i]), (src, f"missing/{2 * i}"), (src, f"missing/{2 * i + 1}")]
    write_manifest(s3, src, "bad.csv", rows)
    write_manifest(s3, src, "small.csv", [(src, f"missing/x{i}") for i in range(999)])
    service = JobService(store)
    bad = service.create_job(parse_create_job(copy_request(src, "bad.csv", dst, rep, token="T1")))
    small = service.create_job(parse_create_job(copy_request(src, "small.csv", dst, rep, token="T2")))
    wait_for(lambda: service.describe_job(bad.job_id).status is S.FAILED, 120, what="threshold job Failed")
    wait_for(lambda: service.describe_job(small.job_id).status is S.COMPLETE, 120, what="999-task job Complete")

    bad = service.describe_job(bad.job_id)
    assert [f.failure_code for f in bad.failure_reasons] == ["FailureThresholdExceeded"]
    assert "50% failure threshold" in bad.failure_reasons[0].failure_reason
    assert statuses(service, bad.job_id)[-3:] == [S.ACTIVE, S.FAILING, S.FAILED]
    p = bad.progress_summary
    assert p.tasks_run >= 1000 and p.number_of_tasks_failed / p.tasks_run > 0.5
    assert p.tasks_run < 3000  # it stopped issuing work
    _, report_rows, job_doc = read_report(s3, rep, bad)
    assert len(report_rows) == p.tasks_run  # every task that ran is in the report
    assert job_doc["Job"]["FailureReasons"][0]["FailureCode"] == "FailureThresholdExceeded"

    small = service.describe_job(small.job_id)
    assert small.progress_summary.number_of_tasks_failed == 999 and small.failure_reasons == []
