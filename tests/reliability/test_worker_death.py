"""A Beam worker process SIGKILLed mid-bundle (DirectRunner, multi_processing, 2 workers).

Beam's DirectRunner does not retry the lost bundle: it waits for it forever (seen with
Beam 2.77; see docs/reliability.md). cosbatch's scheduler notices the dead worker (workers
register their PIDs), gives the pipeline up, and runs the job's unfinished segments
again. The report and the job's counters stay exact: a re-run segment replaces its own
results file and its absolute counters, so nothing is counted twice.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest

from cosbatch.control import worker_lease_prefix
from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus as S
from cosbatch.store import SegmentState
from cosbatch.wire.dialects import parse_create_job
from launch.base import RunnerConfig
from tests.conftest import put_objects, running_scheduler, wait_for
from tests.integration.helpers import (
    assert_counters_are_segment_sums,
    copy_request,
    read_report,
    write_manifest,
)
from tests.reliability.checks import assert_exact_report, assert_legal_history

pytestmark = [
    pytest.mark.reliability,
    # The dead worker's gRPC streams end with errors in Beam's own threads: expected here.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
]

N_OBJECTS = 4000


def _worker_pids(store, job_id: str) -> list[int]:
    owners = store.leases(worker_lease_prefix(job_id)).values()
    return sorted({int(o.rpartition(":")[2]) for o in owners} - {os.getpid()})


def test_worker_killed_mid_bundle(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"w/{i:05d}" for i in range(N_OBJECTS)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    multi = replace(
        settings, segment_size=200, concurrency=16, worker_grace_s=1.0, pipeline_retry_s=0.2,
        runner=RunnerConfig(options={"direct_running_mode": "multi_processing", "direct_num_workers": "2"}),
    )
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token="worker-death")))
    scheduler = Scheduler(store.__class__(store.path), multi)
    with running_scheduler(scheduler):
        # Mid-bundle: both workers registered, a segment is running, the job is far from done.
        wait_for(lambda: len(_worker_pids(store, job.job_id)) == 2
                 and store.segments(job.job_id, (SegmentState.RUNNING,))
                 and service.describe_job(job.job_id).progress_summary.tasks_run >= 400,
                 180, interval_s=0.02, what="two workers with a segment in hand")
        victim = _worker_pids(store, job.job_id)[0]
        running_at_kill = len(store.segments(job.job_id, (SegmentState.RUNNING,)))
        done_at_kill = service.describe_job(job.job_id).progress_summary.tasks_run
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: service.describe_job(job.job_id).status in (S.COMPLETE, S.FAILED), 300,
                 what="the job to end after the worker died")
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, done.failure_reasons
    assert len(scheduler.lost_runs) == 1  # the pipeline was given up once, then re-run
    assert done_at_kill < N_OBJECTS and running_at_kill >= 1
    p = done.progress_summary
    assert p.total_number_of_tasks == p.number_of_tasks_succeeded == N_OBJECTS and p.number_of_tasks_failed == 0
    assert_counters_are_segment_sums(store, job.job_id)  # abandoned tasks and retries too, kept with the job
    _, rows, _ = read_report(s3, rep, done)
    assert_exact_report(rows, keys, N_OBJECTS, 0)
    assert_legal_history(service.history(job.job_id))
    assert [h.to_status for h in service.history(job.job_id)] == [
        S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING, S.COMPLETE]
    copied = sum(pg.get("KeyCount", 0) for pg in s3.get_paginator("list_objects_v2").paginate(Bucket=dst))
    assert copied == N_OBJECTS
    for pid in _worker_pids(store, job.job_id):
        assert pid != victim
    print(f"worker-death: killed pid {victim} with {running_at_kill} segment(s) running at task {done_at_kill}; "
          f"pipelines given up {len(scheduler.lost_runs)}; tasks redone {store.abandoned_tasks(job.job_id)}; "
          f"{len(rows)} report rows checked")
