"""The throughput chart's samples: framed by the job's first Active time and its end, with the
recorded segments' completions between (from the store: any server, also after a restart)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from cosbatch.api.samples import MAX_COMPLETION_POINTS, MAX_JOBS, ProgressSampler, completions
from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job, ProgressSummary, utcnow
from cosbatch.store.base import Segment, SegmentState, StatusChange
from cosbatch.wire.dialects import parse_create_job
from tests.unit.test_models import s3_body


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
    # Still Active: the live samples, after the completions recorded before the first of them, up to "now".
    recorded = [_segment(0, 5, t0 + 1), _segment(1, 20, t0 + 3)]
    live = sampler.series(running, _history(running, start), recorded)
    assert live[:4] == [(t0, 0), (t0 + 1, 5), (t0 + 2, 10), (t0 + 4, 30)]
    assert live[-1][1] == 10 and live[-1][0] >= t0 + 4
    # Finished: the store's record alone (the same on every server), not this server's live samples.
    done = _job(JobStatus.COMPLETE, 45, 5, ended=start + timedelta(seconds=6)).model_copy(
        update={"job_id": running.job_id})
    recorded.append(_segment(2, 25, t0 + 5.5))
    assert sampler.series(done, _history(done, start), recorded) == [(t0, 0), (t0 + 1, 5), (t0 + 3, 25),
                                                                     (t0 + 5.5, 50), (t0 + 6, 50)]
    assert sampler.series(done, _history(done, start)) == [(t0, 0), (t0 + 6, 50)]  # no record: its average
    # A job that never became Active has no series.
    assert sampler.series(_job(JobStatus.READY, 0), []) == []


def test_the_sampler_forgets_the_least_recently_sampled_jobs_first(store):
    sampler = ProgressSampler(store)
    first = _job(JobStatus.ACTIVE, 1)
    sampler.record(first, 1.0)
    for n in range(MAX_JOBS):
        sampler.record(_job(JobStatus.ACTIVE, n), 2.0 + n)
    start = utcnow() - timedelta(days=1)
    assert sampler.series(first, _history(first, start))[1:-1] == []  # only the frame is left


def _segment(seg_no: int, ran: int, finished_at: float | None, failed: int = 0) -> Segment:
    return Segment("j", seg_no, "{}", 0, 1, 1, ran, SegmentState.DONE, ran - failed, failed, [], finished_at)


def test_completions_are_cumulative_in_time_order_and_only_inside_the_window():
    segments = [_segment(0, 100, 12.0), _segment(1, 100, 11.0, failed=3), _segment(2, 100, 12.0),
                _segment(3, 2, None), _segment(4, 50, 9.0), _segment(5, 7, 30.0)]
    # 9.0 is before the window: its tasks count towards the first point inside it; 12.0 twice is one point.
    assert completions(segments, 10.0, 20.0) == [(11.0, 150), (12.0, 350)]
    many = [_segment(i, 1, 100.0 + i) for i in range(5 * MAX_COMPLETION_POINTS)]
    points = completions(many, 0.0, 1e9)
    assert len(points) == MAX_COMPLETION_POINTS and points[-1] == (100.0 + 5 * MAX_COMPLETION_POINTS - 1,
                                                                   5 * MAX_COMPLETION_POINTS)
    assert all(b[0] > a[0] and b[1] > a[1] for a, b in zip(points, points[1:], strict=False))


@pytest.fixture()
def real_store(any_store):
    return any_store


def test_a_finished_job_is_drawn_from_its_recorded_segments_on_a_server_that_never_sampled_it(real_store):
    """What a restarted `serve`, or another one on the same store, sees: nothing in memory, the
    store's records only. Every recorded segment is a point between the first Active time and the end."""
    store = real_store
    job = JobService(store).create_job(parse_create_job(s3_body()))
    for a, b in [(JobStatus.NEW, JobStatus.PREPARING), (JobStatus.PREPARING, JobStatus.READY),
                 (JobStatus.READY, JobStatus.ACTIVE)]:
        assert store.transition(job.job_id, a, b)
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 1, 1, 100) for i in range(4)])
    store.update_segment(job.job_id, 0, SegmentState.RUNNING, 40, 0)  # not finished: no time of its own
    for seg_no, (ok, failed) in enumerate([(100, 0), (97, 3), (100, 0)], start=1):
        store.update_segment(job.job_id, seg_no, SegmentState.DONE, ok, failed)
    store.update_segment(job.job_id, 0, SegmentState.STOPPED, 60, 0)
    for a, b in [(JobStatus.ACTIVE, JobStatus.COMPLETING), (JobStatus.COMPLETING, JobStatus.COMPLETE)]:
        assert store.transition(job.job_id, a, b)
    done = store.get_job(job.job_id)
    history = store.history(job.job_id)
    started = next(h.at.timestamp() for h in history if h.to_status is JobStatus.ACTIVE)

    points = ProgressSampler(store).series(done, history, store.segments(job.job_id))
    assert points[0] == (started, 0) and points[-1] == (done.termination_date.timestamp(), 360)
    assert [n for _, n in points[1:-1]] == [100, 200, 300, 360]  # each segment as the store recorded it
    assert all(b[0] > a[0] for a, b in zip(points, points[1:], strict=False))
