"""Pause (preemption) and resume, cancel and the failure threshold on the DaskRunner,
against a running 2-worker `distributed` cluster (as `--runner-option dask_client_address`)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import pytest

from cosbatch.controller import JobService
from cosbatch.dialects import parse_create_job
from cosbatch.lifecycle import JobStatus as S
from launch import RunnerConfig
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.integration.test_lifecycle_engine import count_objects, statuses


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
    wait_for(lambda: service.describe_job(b.job_id).status is S.COMPLETE, 60, what="B to complete")
    wait_for(lambda: service.describe_job(a.job_id).status is S.COMPLETE, 120, what="A to complete")

    assert statuses(service, a.job_id) == [
        S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.ACTIVE, S.COMPLETING, S.COMPLETE
    ]
    # Work redone after the pause: at most the segment each of the 2 workers had in hand.
    assert 0 <= store.abandoned_tasks(a.job_id) <= 2 * settings.segment_size
    for job, n in ((a, len(part)), (b, 20)):
        job = service.describe_job(job.job_id)
        assert job.progress_summary.number_of_tasks_succeeded == n
        _, rows, _ = read_report(s3, rep, job)
        assert len(rows) == n
        assert Counter(r["Key"] for r in rows).most_common(1)[0][1] == 1  # duplicate-free
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
    job = service.describe_job(job.job_id)
    ran = job.progress_summary.tasks_run
    assert 1000 <= ran < len(keys)  # the rest never ran
    time.sleep(1)
    assert count_objects(s3, dst) == job.progress_summary.number_of_tasks_succeeded
    _, rows, job_doc = read_report(s3, rep, job)
    assert len(rows) == ran and len({r["Key"] for r in rows}) == ran
    assert job_doc["Job"]["Status"] == "Cancelled"
    assert statuses(service, job.job_id)[-2:] == [S.CANCELLING, S.CANCELLED]


def test_failure_threshold_on_dask(s3, make_bucket, store, controller):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    present = [f"ok/{i}" for i in range(1000)]
    put_objects(s3, src, present)
    rows = []
    for i in range(1000):  # interleaved: 2 of every 3 tasks fail, wherever execution starts
        rows += [(src, present[i]), (src, f"missing/{2 * i}"), (src, f"missing/{2 * i + 1}")]
    write_manifest(s3, src, "bad.csv", rows)
    service = JobService(store)
    bad = service.create_job(parse_create_job(copy_request(src, "bad.csv", dst, rep, token="DT")))
    wait_for(lambda: service.describe_job(bad.job_id).status is S.FAILED, 120, what="threshold job Failed")

    bad = service.describe_job(bad.job_id)
    assert [f.failure_code for f in bad.failure_reasons] == ["FailureThresholdExceeded"]
    assert statuses(service, bad.job_id)[-3:] == [S.ACTIVE, S.FAILING, S.FAILED]
    p = bad.progress_summary
    assert p.tasks_run >= 1000 and p.number_of_tasks_failed / p.tasks_run > 0.5
    assert p.tasks_run < 3000  # it stopped issuing work
    _, report_rows, _ = read_report(s3, rep, bad)
    assert len(report_rows) == p.tasks_run  # every task that ran is in the report
