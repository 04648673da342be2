"""The storage (SeaweedFS) stopped for 10 s and restarted in the middle of a 10,000-object job.

Tasks in flight keep retrying (an unreachable or restarting storage is retried for
RetryPolicy.outage_s, throttling only max_attempts times); a pipeline run that fails on
a manifest read or a report write is run again over the unfinished segments. The job
ends Complete, every object is copied, and the report has each task exactly once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus as S
from cosbatch.storage import StorageCatalog, implicit_storage
from cosbatch.storage.embedded import start_embedded_s3
from cosbatch.storage.lean import LeanS3Client
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import running_scheduler, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_exact_report, assert_legal_history

pytestmark = pytest.mark.reliability

N_OBJECTS = 10_000
OUTAGE_S = 10.0


def seed(endpoint: str, bucket: str, keys: list[str]) -> None:
    """PUT small objects through the lean SigV4 client (boto3 spends ~3x the CPU per request)."""
    client = LeanS3Client(implicit_storage(endpoint, max_pool_connections=32))
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda k: client._request("PutObject", "PUT", bucket, k, body=k.encode()), keys))
    client.close()


@pytest.fixture()
def own_s3(tmp_path):
    """A SeaweedFS of this test's own: stopping it must not disturb the session's server."""
    server = start_embedded_s3(tmp_path / "seaweedfs", buckets=("src", "dst", "rep"))
    yield server
    server.stop(timeout=3)  # its data is not read again


def test_storage_outage_mid_job(own_s3, store, settings):
    s3 = own_s3.client(max_pool_connections=32)
    keys = [f"o/{i:05d}" for i in range(N_OBJECTS)]
    t0 = time.monotonic()
    seed(own_s3.endpoint_url, "src", keys)
    seeded_s = time.monotonic() - t0
    write_manifest(s3, "src", "m.csv", [("src", k) for k in keys])
    cfg = replace(settings, storages=StorageCatalog.at(own_s3.endpoint_url, connect_timeout_s=1.0, read_timeout_s=10.0),
                  segment_size=500, pipeline_retry_s=0.5, pipeline_retry_max_s=4.0)
    service = JobService(store, cfg.storages)
    t0 = time.monotonic()
    job = service.create_job(parse_create_job(copy_request("src", "m.csv", "dst", "rep", token="outage")))
    scheduler = Scheduler(store.__class__(store.path), cfg)
    with running_scheduler(scheduler):
        wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 2000, 180,
                 interval_s=0.05, what="2,000 tasks before the outage")
        own_s3.stop(keep_data=True)  # SIGTERM: the server is gone, connections refused
        down_at = time.monotonic()
        at_stop = service.describe_job(job.job_id)
        time.sleep(OUTAGE_S)
        during = service.describe_job(job.job_id)
        own_s3.start()
        outage = time.monotonic() - down_at
        wait_for(lambda: service.describe_job(job.job_id).status in (S.COMPLETE, S.FAILED), 300,
                 what="the job to end after the outage")
    assert outage >= OUTAGE_S
    assert at_stop.status is S.ACTIVE and at_stop.progress_summary.tasks_run < N_OBJECTS
    assert during.status is S.ACTIVE  # the outage did not end the job
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, done.failure_reasons
    p = done.progress_summary
    assert p.total_number_of_tasks == p.number_of_tasks_succeeded == N_OBJECTS and p.number_of_tasks_failed == 0
    _, rows, _ = read_report(s3, "rep", done)
    assert_exact_report(rows, keys, N_OBJECTS, 0)
    copied = sum(pg.get("KeyCount", 0) for pg in s3.get_paginator("list_objects_v2").paginate(Bucket="dst"))
    assert copied == N_OBJECTS
    assert store.retries(job.job_id) > 0  # tasks in flight were retried through the outage
    assert [h.to_status for h in service.history(job.job_id)] == [
        S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING, S.COMPLETE]
    assert_legal_history(service.history(job.job_id))
    print(f"outage: seeded {N_OBJECTS} in {seeded_s:.1f}s; job {time.monotonic() - t0:.1f}s; storage down "
          f"{outage:.1f}s at task {at_stop.progress_summary.tasks_run}; {store.retries(job.job_id)} retries; "
          f"{len(rows)} report rows checked")


@pytest.mark.serial  # a time bound: Cancelled within 15 s
def test_cancel_during_an_outage_sends_no_more_retries(own_s3, store, settings):
    """Cancelled while the storage is down: the tasks waiting to be retried (an unreachable storage
    is retried for a minute) are given up at once, so the job is Cancelled within seconds, not
    when the outage allowance runs out; no task gets a failure result for it."""
    s3 = own_s3.client(max_pool_connections=32)
    keys = [f"c/{i:05d}" for i in range(N_OBJECTS // 2)]
    seed(own_s3.endpoint_url, "src", keys)
    write_manifest(s3, "src", "c.csv", [("src", k) for k in keys])
    cfg = replace(settings, storages=StorageCatalog.at(own_s3.endpoint_url, connect_timeout_s=1.0, read_timeout_s=10.0),
                  segment_size=500, pipeline_retry_s=0.5, pipeline_retry_max_s=4.0)
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(copy_request("src", "c.csv", "dst", None, token="cancel-outage")))
    scheduler = Scheduler(store.__class__(store.path), cfg)
    with running_scheduler(scheduler):
        wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 1000, 180,
                 interval_s=0.05, what="1,000 tasks before the outage")
        own_s3.stop(keep_data=True)  # connections refused: every task in flight retries
        time.sleep(2.0)  # the tasks in flight are in their retry loops now
        during = service.describe_job(job.job_id)
        asked = time.monotonic()
        service.update_job_status(job.job_id, S.CANCELLED, reason="outage")
        wait_for(lambda: service.describe_job(job.job_id).status is S.CANCELLED, 60, interval_s=0.05,
                 what="the job to be Cancelled", state=lambda: service.describe_job(job.job_id).status)
        took = time.monotonic() - asked
    assert during.status is S.ACTIVE and during.progress_summary.tasks_run < len(keys)
    # RetryPolicy.outage_s is 60 s: a task that kept retrying would hold the pipeline that long.
    assert took < 15.0, f"Cancelled {took:.1f} s after the request"
    done = service.describe_job(job.job_id)
    assert done.progress_summary.number_of_tasks_failed == 0  # no task failed for the outage
    assert [h.to_status for h in service.history(job.job_id)][-2:] == [S.CANCELLING, S.CANCELLED]
    assert_legal_history(service.history(job.job_id))
    print(f"cancel during outage: Cancelled {took:.1f} s after the request, "
          f"{done.progress_summary.tasks_run} tasks run")
