"""A controller that dies while a job is Pausing, Cancelling, Failing or Completing: the next one
takes each job to its end status (and Paused jobs back to work), writing the report once."""

from __future__ import annotations

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus as S
from cosbatch.models import FailureReason
from cosbatch.store import SegmentState
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, read_report, write_manifest


def prepared_active_job(s3, make_bucket, store, settings, token):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k{i}" for i in range(600)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    service = JobService(store)
    job = service.create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token=token)))
    scheduler = Scheduler(store, settings)
    scheduler._prepare_new()  # Preparing → Ready, segments cut (250 tasks each → 3)
    assert store.transition(job.job_id, S.READY, S.ACTIVE)
    # As if a pipeline had finished segment 0 and was half-way through segment 1 when the controller died.
    store.update_segment(job.job_id, 0, SegmentState.DONE, 250, 0, [])
    store.update_segment(job.job_id, 1, SegmentState.RUNNING, 100, 0)
    return service, job, rep, keys


@pytest.mark.parametrize(
    ("draining", "final"),
    [(S.CANCELLING, S.CANCELLED), (S.FAILING, S.FAILED), (S.PAUSING, S.COMPLETE), (S.COMPLETING, S.COMPLETE)],
)
def test_restart_settles_draining_jobs(s3, make_bucket, store, settings, draining, final):
    service, job, rep, keys = prepared_active_job(s3, make_bucket, store, settings, f"drain-{draining}")
    if draining is S.COMPLETING:
        for seg in (1, 2):
            store.update_segment(job.job_id, seg, SegmentState.DONE, 250 if seg == 1 else 100, 0, [])
    failure = FailureReason.of("FailureThresholdExceeded", "x") if draining is S.FAILING else None
    assert store.transition(job.job_id, S.ACTIVE, draining, failure=failure)

    restarted = Scheduler(store, settings)
    restarted.run_until_idle(timeout_s=120)
    restarted.close()

    done = service.describe_job(job.job_id)
    assert done.status is final
    history = [h.to_status for h in service.history(job.job_id)]
    if draining is S.PAUSING:
        # Paused, then (nothing else to run) resumed: the half-done segment ran again, whole.
        assert history[-5:] == [S.PAUSING, S.PAUSED, S.ACTIVE, S.COMPLETING, S.COMPLETE]
        _, rows, _ = read_report(s3, rep, done)
        assert sorted(r["Key"] for r in rows) == sorted(keys[250:])  # segment 0 "ran" without report files
        assert done.progress_summary.number_of_tasks_succeeded == 600
    else:
        assert history[-2:] == [draining, final]
        # The half-run segment's live counters were dropped: only persisted segments count.
        expected = 600 if draining is S.COMPLETING else 250
        assert done.progress_summary.tasks_run == expected
        _, _, job_doc = read_report(s3, rep, done)
        assert job_doc["Job"]["Status"] == final.value
