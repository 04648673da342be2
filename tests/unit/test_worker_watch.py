"""The scheduler's watch over pipeline workers (LeaseAndWorkers._watch_workers): a worker gone
while segments are unfinished gives the pipeline up after `worker_grace_s`; a worker gone once
every segment's results are persisted is a pipeline shutting down, not a lost one."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from cosbatch.control import worker_lease_prefix
from cosbatch.controller import JobService, Scheduler
from cosbatch.controller.pipeline_run import Run
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog
from cosbatch.store import Segment, SegmentState, open_store
from cosbatch.wire.dialects import parse_create_job
from tests.unit.test_models import s3_body


@pytest.fixture()
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'watch.db'}")
    yield s
    s.close()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _watched(store, states: list[SegmentState]) -> tuple[Scheduler, str, threading.Event]:
    """A scheduler holding a running pipeline of a job with `states` segments, one of whose
    registered workers has exited."""
    job_id = JobService(store).create_job(parse_create_job(s3_body())).job_id
    store.replace_segments(job_id, [Segment(job_id, i, "{}", 0, 1, 1 + 10 * i, 10) for i in range(len(states))])
    for i, state in enumerate(states):
        if state is not SegmentState.PENDING:
            store.update_segment(job_id, i, state, 10 if state is SegmentState.DONE else 0, 0, [])
    pid = _dead_pid()
    owner = f"{socket.gethostname()}:{pid}"
    store.acquire_lease(f"{worker_lease_prefix(job_id)}{owner}", owner, 60)
    settings = Settings(store_url=store.url, storages=StorageCatalog.at("http://127.0.0.1:1"), worker_grace_s=0.0)
    scheduler = Scheduler(store, replace(settings, pipeline_attempts=5))
    hold = threading.Event()
    run = Run(job_id)
    run.thread = threading.Thread(target=hold.wait, daemon=True)
    run.thread.start()
    scheduler.runs[job_id] = run
    return scheduler, job_id, hold


@pytest.mark.parametrize("states", [[SegmentState.DONE, SegmentState.PENDING],
                                    [SegmentState.DONE, SegmentState.RUNNING]])
def test_a_dead_worker_with_segments_unfinished_gives_the_pipeline_up(store, states):
    scheduler, job_id, hold = _watched(store, states)
    try:
        scheduler._watch_workers()  # first seen dead
        scheduler._watch_workers()  # grace (0 s) over
        assert [r.job_id for r in scheduler.lost_runs] == [job_id] and job_id not in scheduler.runs
    finally:
        hold.set()
        scheduler.close()


def test_a_worker_gone_after_every_segment_finished_is_a_shutdown_not_a_loss(store):
    """Seen with a loaded machine: the re-run's workers exited, Beam took over a second to return,
    and the watch gave a finished pipeline up a second time."""
    scheduler, job_id, hold = _watched(store, [SegmentState.DONE, SegmentState.DONE])
    try:
        scheduler._watch_workers()
        scheduler._watch_workers()
        assert scheduler.lost_runs == [] and job_id in scheduler.runs
        assert scheduler._worker_grace(job_id) >= 30  # a pipeline that hangs there is still given up, later
    finally:
        hold.set()
        scheduler.close()
