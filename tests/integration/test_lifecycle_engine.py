"""The lifecycle engine on SeaweedFS: preemption, pause/resume, cancel, failure threshold."""

from __future__ import annotations

import time

from cosbatch.controller import JobService
from cosbatch.dialects import parse_create_job
from cosbatch.lifecycle import JobStatus as S
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, write_manifest
from tests.integration.lifecycle_checks import (
    check_cancelled_part_way,
    check_complete_exactly_once,
    check_failed_by_threshold,
    count_objects,
    statuses,
    write_threshold_manifest,
)


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
        check_complete_exactly_once(s3, service, rep, job.job_id, n)
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
    job = check_cancelled_part_way(s3, service, dst, rep, job.job_id, len(keys))
    assert job.status_update_reason == "wrong target"


def test_failure_threshold(s3, make_bucket, store, controller):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    write_threshold_manifest(s3, src, "bad.csv")
    write_manifest(s3, src, "small.csv", [(src, f"missing/x{i}") for i in range(999)])
    service = JobService(store)
    bad = service.create_job(parse_create_job(copy_request(src, "bad.csv", dst, rep, token="T1")))
    small = service.create_job(parse_create_job(copy_request(src, "small.csv", dst, rep, token="T2")))
    wait_for(lambda: service.describe_job(bad.job_id).status is S.FAILED, 120, what="threshold job Failed")
    wait_for(lambda: service.describe_job(small.job_id).status is S.COMPLETE, 120, what="999-task job Complete")

    bad = check_failed_by_threshold(s3, service, rep, bad.job_id)
    assert "50% failure threshold" in bad.failure_reasons[0].failure_reason

    small = service.describe_job(small.job_id)
    assert small.progress_summary.number_of_tasks_failed == 999 and small.failure_reasons == []
