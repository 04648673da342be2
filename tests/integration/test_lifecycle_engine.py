"""The lifecycle engine on SeaweedFS, on every runner: preemption, pause/resume, cancel,
failure threshold. Each test runs on DirectRunner (in this process) and on DaskRunner
(a running 2-worker `distributed` cluster, as `--runner-option dask_client_address`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import pytest

from cosbatch.control.plan import DEFAULT_CONCURRENCY
from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from launch import RunnerConfig
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.integration.lifecycle_checks import (
    check_cancelled_part_way,
    check_complete_exactly_once,
    check_failed_by_threshold,
    count_objects,
    job_state,
    statuses,
    write_threshold_manifest,
)

# Time bounds (a pause within 5 s), and the Dask variant asks for the session cluster.
pytestmark = pytest.mark.serial


@dataclass(frozen=True)
class Runner:
    """A runner the lifecycle tests run on, and what they may expect of it."""

    config: RunnerConfig
    segment_size: int
    workers: int  # pipeline workers: each may have one segment in hand when a job is paused
    preempted_job_tasks: int  # the preempted job's size: it must still be running when preempted
    preempt_after: int  # tasks the preempted job has run when the higher-priority job arrives
    cancelled_within_s: float
    concurrency: int = DEFAULT_CONCURRENCY  # object operations in flight per pipeline worker


@pytest.fixture(params=["direct", "dask"])
def runner(request) -> Runner:
    if request.param == "direct":
        return Runner(RunnerConfig(), segment_size=250, workers=1, preempted_job_tasks=20_000,
                      preempt_after=1500, cancelled_within_s=10)
    cluster = request.getfixturevalue("dask_cluster")
    # Segments of 500 tasks: Beam's DaskRunner sets every DoFn up again for each bag partition
    # (one per segment), tens of milliseconds each, which a job cancelled with 80 segments left
    # pays 80 times. Stopping takes a pass over the remaining partitions (2.5-7 s quiet), so the
    # cancel bound allows for a loaded CI machine.
    # 32 operations in flight per worker, not 128: with two workers at 128 the one SeaweedFS
    # server has 256 CopyObjects at once, each taking its per-object write lock through its
    # filer. With the machine's two cores also busy (reproduced with two busy loops
    # beside the tests), the server's answers came after the client's 30 s read timeout, the retries
    # queued behind the abandoned requests (83 connections in CLOSE-WAIT, 96 filer calls waiting
    # in its goroutine dump), and a pause, or the next job, stalled for a minute or more. These
    # tests are about the lifecycle on Dask, not about loading the server.
    return Runner(RunnerConfig("dask", {"dask_client_address": cluster.scheduler_address}), segment_size=500,
                  workers=2, preempted_job_tasks=5000, preempt_after=300, cancelled_within_s=90, concurrency=32)


@pytest.fixture()
def settings(settings, runner):
    """The test settings on the runner under test (the `controller` fixture runs jobs with these)."""
    return replace(settings, segment_size=runner.segment_size, runner=runner.config, concurrency=runner.concurrency)


def test_preemption_pause_and_automatic_resume(s3, make_bucket, store, controller, runner, big_source):
    src, keys = big_source
    part = keys[: runner.preempted_job_tasks]
    write_manifest(s3, src, f"first-{len(part)}.csv", [(src, k) for k in part])
    dst_a, dst_b, rep = make_bucket("dsta"), make_bucket("dstb"), make_bucket("rep")
    put_objects(s3, src, [f"small/{i}" for i in range(50)])
    write_manifest(s3, src, "small.csv", [(src, f"small/{i}") for i in range(50)])
    service = JobService(store)
    a = service.create_job(parse_create_job(copy_request(src, f"first-{len(part)}.csv", dst_a, rep, priority=1,
                                                         token="A")))
    wait_for(lambda: service.describe_job(a.job_id).progress_summary.tasks_run >= runner.preempt_after, 120,
             what="A to make progress")

    b = service.create_job(parse_create_job(copy_request(src, "small.csv", dst_b, rep, priority=10, token="B")))
    requested = time.monotonic()
    wait_for(lambda: service.describe_job(a.job_id).status is S.PAUSED, 30, what="A to be Paused",
             state=lambda: job_state(service, a.job_id))
    assert time.monotonic() - requested < 5.0
    paused_count = count_objects(s3, dst_a)
    wait_for(lambda: service.describe_job(b.job_id).status is S.COMPLETE, 60, what="B to complete",
             state=lambda: job_state(service, b.job_id))
    wait_for(lambda: service.describe_job(a.job_id).status is S.COMPLETE, 240, what="A to complete",
             state=lambda: job_state(service, a.job_id))

    # A went Active → Pausing → Paused, and resumed by itself once B was Complete.
    assert statuses(service, a.job_id) == [
        S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.ACTIVE, S.COMPLETING, S.COMPLETE
    ]
    pause_at = next(h.at for h in service.history(a.job_id) if h.to_status is S.PAUSED)
    resume_at = [h.at for h in service.history(a.job_id) if h.to_status is S.ACTIVE][1]
    b_done = next(h.at for h in service.history(b.job_id) if h.to_status is S.COMPLETE)
    assert pause_at <= b_done <= resume_at
    assert paused_count < len(part)  # it really was stopped part-way
    # Work redone after the pause: at most the segment each worker had in hand.
    assert 0 <= store.abandoned_tasks(a.job_id) <= runner.workers * runner.segment_size

    for job, n in ((a, len(part)), (b, 50)):
        check_complete_exactly_once(s3, service, rep, job.job_id, n)
    assert count_objects(s3, dst_a) == len(part)


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
    wait_for(lambda: service.describe_job(a.job_id).status in (S.PAUSED,), 30, what="A Paused",
             state=lambda: job_state(service, a.job_id))
    stopped_after = time.monotonic() - requested
    assert stopped_after < 5.0, f"pause took {stopped_after:.1f}s"
    frozen = count_objects(s3, dst)
    time.sleep(2)
    assert count_objects(s3, dst) == frozen  # no new operation on A's objects while Paused
    for job_id in (a.job_id, b.job_id, hold.job_id):
        service.update_job_status(job_id, "Cancelled", "test over")
    wait_for(lambda: all(service.describe_job(j).status is S.CANCELLED for j in (a.job_id, b.job_id, hold.job_id)),
             60, what="all cancelled")
    # Cancelled while Paused: every task A ran is in its counts and its report, those of the
    # segments the pause gave back (to run again, whole, on a resume that never came) too.
    cancelled = service.describe_job(a.job_id)
    assert cancelled.status_update_reason == "test over"
    assert count_objects(s3, dst) == cancelled.progress_summary.number_of_tasks_succeeded == frozen
    _, rows, _ = read_report(s3, rep, cancelled)
    assert len(rows) == cancelled.progress_summary.tasks_run == frozen
    assert len({r["Key"] for r in rows}) == frozen


def test_cancel_while_active(s3, make_bucket, store, controller, runner, big_source):
    src, keys = big_source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request(src, "all.csv", dst, rep, token="C")))
    wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 1000, 120, what="progress")
    service.update_job_status(job.job_id, "Cancelled", "wrong target")
    cancelled_at = time.monotonic()
    wait_for(lambda: service.describe_job(job.job_id).status is S.CANCELLED, runner.cancelled_within_s + 10,
             what="Cancelled", state=lambda: job_state(service, job.job_id))
    assert time.monotonic() - cancelled_at < runner.cancelled_within_s
    job = check_cancelled_part_way(s3, service, dst, rep, job.job_id, len(keys))
    assert job.status_update_reason == "wrong target"


def test_failure_threshold(s3, make_bucket, store, controller):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    write_threshold_manifest(s3, src, "bad.csv")
    # 998 of 999 missing: under the 1,000-task minimum no threshold applies. (One exists, so the
    # preflight, which fails a job whose sampled objects are all missing, lets it run.)
    write_manifest(s3, src, "small.csv", [(src, "ok/0")] + [(src, f"missing/x{i}") for i in range(998)])
    service = JobService(store)
    bad = service.create_job(parse_create_job(copy_request(src, "bad.csv", dst, rep, token="T1")))
    small = service.create_job(parse_create_job(copy_request(src, "small.csv", dst, rep, token="T2")))
    wait_for(lambda: service.describe_job(bad.job_id).status is S.FAILED, 120, what="threshold job Failed",
             state=lambda: job_state(service, bad.job_id))
    wait_for(lambda: service.describe_job(small.job_id).status is S.COMPLETE, 120, what="999-task job Complete",
             state=lambda: job_state(service, small.job_id))

    bad = check_failed_by_threshold(s3, service, rep, bad.job_id)
    assert "50% failure threshold" in bad.failure_reasons[0].failure_reason

    small = service.describe_job(small.job_id)
    assert small.progress_summary.number_of_tasks_failed == 998 and small.failure_reasons == []
