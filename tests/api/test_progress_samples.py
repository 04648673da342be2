"""The throughput chart's samples: framed by the job's first Active time and its end."""

from __future__ import annotations

import uuid
from datetime import timedelta

from cosbatch.api.samples import MAX_JOBS, ProgressSampler
from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job, ProgressSummary, utcnow
from cosbatch.store.base import StatusChange


def _job(status: JobStatus, succeeded: int, failed: int = 0, ended=None) -> Job:
    return Job.model_construct(job_id=str(uuid.uuid4()), status=status, termination_date=ended,
                               progress_summary=ProgressSummary(number_of_tasks_succeeded=succeeded,
                                                                number_of_tasks_failed=failed))


def _history(job: Job, active_at) -> list[StatusChange]:
    return [StatusChange(job.job_id, 1, JobStatus.NEW, JobStatus.PREPARING, active_at - timedelta(seconds=1), None),
            StatusChange(job.job_id, 2, JobStatus.READY, JobStatus.ACTIVE, active_at, None)]


def test_a_series_starts_at_zero_when_active_and_ends_at_termination(store):
    sampler = ProgressSampler(store)
    start = utcnow() - timedelta(minutes=1)
    running = _job(JobStatus.ACTIVE, 10)
    t0 = start.timestamp()
    sampler.record(running, t0 + 2)
    sampler.record(_job(JobStatus.ACTIVE, 30).model_copy(update={"job_id": running.job_id}), t0 + 4)
    sampler.record(running, t0 + 3)  # out of order: ignored
    done = _job(JobStatus.COMPLETE, 45, 5, ended=start + timedelta(seconds=6)).model_copy(
        update={"job_id": running.job_id})
    assert sampler.series(done, _history(done, start)) == [(t0, 0), (t0 + 2, 10), (t0 + 4, 30), (t0 + 6, 50)]
    # A job that never became Active has no series; one still Active ends at "now" with its count.
    assert sampler.series(_job(JobStatus.READY, 0), []) == []
    live = sampler.series(running, _history(running, start))
    assert live[0] == (t0, 0) and live[-1][1] == 10 and live[-1][0] >= t0 + 4


def test_the_sampler_forgets_the_least_recently_sampled_jobs_first(store):
    sampler = ProgressSampler(store)
    first = _job(JobStatus.ACTIVE, 1)
    sampler.record(first, 1.0)
    for n in range(MAX_JOBS):
        sampler.record(_job(JobStatus.ACTIVE, n), 2.0 + n)
    start = utcnow() - timedelta(days=1)
    assert sampler.series(first, _history(first, start))[1:-1] == []  # only the frame is left
