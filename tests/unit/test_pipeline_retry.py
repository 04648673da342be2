"""A failed pipeline run is retried with backoff when the failure may pass (an outage, a lost
worker), and fails the job at once when it cannot (a bad configuration: every run would fail
the same way)."""

from __future__ import annotations

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.controller.pipeline_run import Run
from cosbatch.errors import ConfigError, InvalidRequest, StoreUnavailable
from cosbatch.lifecycle import JobStatus as S
from cosbatch.settings import Settings
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job
from tests.unit.test_models import s3_body

NEWER = ConfigError("store sqlite:///x.db has schema version 8, newer than this cosbatch understands (7); "
                    "upgrade cosbatch")


@pytest.fixture()
def active(tmp_path):
    """A scheduler and the id of a job of its store that is Active."""
    store = open_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    scheduler = Scheduler(store, Settings(store_url=store.url, pipeline_attempts=8))
    job = JobService(store).create_job(parse_create_job(s3_body()))
    for before, after in ((S.NEW, S.PREPARING), (S.PREPARING, S.READY), (S.READY, S.ACTIVE)):
        assert store.transition(job.job_id, before, after)
    yield scheduler, job.job_id
    scheduler.close()
    store.close()


def _run_ends_with(scheduler: Scheduler, job_id: str, error: BaseException) -> None:
    run = Run(job_id, error=error)
    run.done.set()
    scheduler.runs[job_id] = run
    scheduler._reap_finished()


@pytest.mark.parametrize("error", [NEWER, InvalidRequest("bad request")], ids=["ConfigError", "InvalidRequest"])
def test_a_permanent_error_fails_the_job_at_once(active, error):
    scheduler, job_id = active
    _run_ends_with(scheduler, job_id, error)
    job = scheduler.store.get_job(job_id)
    assert job.status is S.FAILING
    (reason,) = job.failure_reasons
    assert reason.failure_code == "PipelineError"
    assert "retrying cannot fix" in reason.failure_reason and error.message[:60] in reason.failure_reason
    assert job_id not in scheduler._retry_at and job_id not in scheduler._failures


@pytest.mark.parametrize("error", [StoreUnavailable("store locked"), RuntimeError("worker lost")],
                         ids=["StoreUnavailable", "RuntimeError"])
def test_a_transient_error_is_retried_until_the_attempts_are_spent(active, error):
    scheduler, job_id = active
    for attempt in range(1, 8):
        _run_ends_with(scheduler, job_id, error)
        assert scheduler.store.get_job(job_id).status is S.ACTIVE
        assert scheduler._failures[job_id] == attempt and job_id in scheduler._retry_at
    _run_ends_with(scheduler, job_id, error)
    job = scheduler.store.get_job(job_id)
    assert job.status is S.FAILING and "failed 8 times in a row" in job.failure_reasons[0].failure_reason
