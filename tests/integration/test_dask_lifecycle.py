"""Pause (preemption) and resume, cancel and the failure threshold on the DaskRunner,
against a running 2-worker `distributed` cluster (as `--runner-option dask_client_address`)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from cosbatch.controller import JobService
from cosbatch.dialects import parse_create_job
from cosbatch.lifecycle import JobStatus as S
from launch import RunnerConfig
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, write_manifest
from tests.integration.lifecycle_checks import (
    check_cancelled_part_way,
    check_complete_exactly_once,
    check_failed_by_threshold,
    count_objects,
    job_state,
    statuses,
    write_threshold_manifest,
)


@pytest.fixture()
def settings(settings, dask_cluster):
    """The test settings on the DaskRunner (the `controller` fixture runs jobs with these).

    Segments of 500 tasks rather than 250: Beam's DaskRunner sets every DoFn up again for
    each bag partition (one per segment), tens of milliseconds each, which a job that is
    cancelled with 80 segments left pays 80 times.
    """
    return replace(settings, segment_size=500,
                   runner=RunnerConfig("dask", {"dask_client_address": dask_cluster.scheduler_address}))


def test_preemption_pauses_and_resumes_on_dask(s3, make_bucket, store, settings, controller, big_source):
    src, keys = big_source
    part = keys[:5000]
    write_manifest(s3, src, "dask-5000.csv", [(src, k) for k in part])
    put_objects(s3, src, [f"small/{i}" for i in range(20)])
    write_manifest(s3, src, "dask-small.csv", [(src, f"small/{i}") for i in range(20)])
    dst_a, dst_b, rep = make_bucket("dsta"), make_bucket("dstb"), make_bucket("rep")
    service = JobService(store)
    a = service.create_job(parse_create_job(copy_request(src, "dask-5000.csv", dst_a, rep, priority=1, token="DA")))
    wait_for(lambda: service.describe_job(a.job_id).progress_summary.tasks_run >= 300, 120, what="A to make progress")

    b = service.create_job(parse_create_job(copy_request(src, "dask-small.csv", dst_b, rep, priority=10, token="DB")))
    requested = time.monotonic()
    wait_for(lambda: service.describe_job(a.job_id).status is S.PAUSED, 30, what="A to be Paused")
    assert time.monotonic() - requested < 5.0
    frozen = count_objects(s3, dst_a)
    assert frozen < len(part)  # it really was stopped part-way
    wait_for(lambda: service.describe_job(b.job_id).status is S.COMPLETE, 60, what="B to complete",
             state=lambda: job_state(service, b.job_id))
    wait_for(lambda: service.describe_job(a.job_id).status is S.COMPLETE, 120, what="A to complete",
             state=lambda: job_state(service, a.job_id))

    assert statuses(service, a.job_id) == [
        S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.ACTIVE, S.COMPLETING, S.COMPLETE
    ]
    # Work redone after the pause: at most the segment each of the 2 workers had in hand.
    assert 0 <= store.abandoned_tasks(a.job_id) <= 2 * settings.segment_size
    for job, n in ((a, len(part)), (b, 20)):
        check_complete_exactly_once(s3, service, rep, job.job_id, n)
    assert count_objects(s3, dst_a) == len(part)


def test_cancel_while_active_on_dask(s3, make_bucket, store, controller, big_source):
    src, keys = big_source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request(src, "all.csv", dst, rep, token="DC")))
    wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 1000, 120, what="progress")
    service.update_job_status(job.job_id, "Cancelled", "wrong target")
    cancelled_at = time.monotonic()
    # Beam's DaskRunner sets every step up again per partition, so stopping takes a pass over the
    # remaining partitions (2.5-7 s quiet); the bound allows for a loaded CI machine.
    wait_for(lambda: service.describe_job(job.job_id).status is S.CANCELLED, 60, what="Cancelled")
    assert time.monotonic() - cancelled_at < 60
    check_cancelled_part_way(s3, service, dst, rep, job.job_id, len(keys))


def test_failure_threshold_on_dask(s3, make_bucket, store, controller):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    write_threshold_manifest(s3, src, "bad.csv")
    service = JobService(store)
    bad = service.create_job(parse_create_job(copy_request(src, "bad.csv", dst, rep, token="DT")))
    wait_for(lambda: service.describe_job(bad.job_id).status is S.FAILED, 120, what="threshold job Failed")

    check_failed_by_threshold(s3, service, rep, bad.job_id)
