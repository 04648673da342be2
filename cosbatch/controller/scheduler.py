"""Scheduler: takes jobs through their lifecycle, one `step()` at a time.

Each step: reap finished pipelines, prepare New jobs, settle jobs that are
draining (Pausing/Cancelling/Failing/Completing) or orphaned by a crashed
controller, stop jobs over the failure threshold, then start or preempt jobs by
priority within `capacity`. All state lives in the store, so a restarted
controller picks up exactly where the last one stopped.

The Scheduler is its parts: `lifecycle_steps` (the moves of jobs through their statuses),
`lease_and_workers` (who leads; dead pipeline workers), `rates_and_waits` (rate limits,
retries, waits for storage and runner). This module holds their shared state and the loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from cosbatch import logs
from cosbatch.controller.lease_and_workers import LeaseAndWorkers
from cosbatch.controller.lifecycle_steps import LifecycleSteps
from cosbatch.controller.notifier import Notifier
from cosbatch.controller.pipeline_run import Run
from cosbatch.controller.rates_and_waits import RatesAndWaits
from cosbatch.controller.runner_gate import RunnerGate, RunnerWorkers
from cosbatch.errors import (
    CosbatchError,
    StoreUnavailable,
)
from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job
from cosbatch.settings import Settings
from cosbatch.storage import Storage, StorageClients, StorageNotConfigured
from cosbatch.store.base import JobStore

S = JobStatus
#: How often a nap looks whether it was asked to stop (a wake-up ends it at once).
STOP_CHECK_S = 0.05
#: Statuses in which a job still needs the scheduler; idle means none is left.
_WORK = (S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.CANCELLING, S.FAILING, S.COMPLETING)


class Scheduler(LifecycleSteps, LeaseAndWorkers, RatesAndWaits):
    """One controller's scheduler: its state, the jobs and storages it drives, and the loop."""

    def __init__(self, store: JobStore, settings: Settings, lease_ttl_s: float = 10.0,
                 only_jobs: Collection[str] | None = None) -> None:
        """`only_jobs`: drive just these jobs (`create-job --wait`, `run --job-id`); others stay as they are."""
        self.store = store
        self.settings = settings
        self.only_jobs = frozenset(only_jobs) if only_jobs is not None else None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl_s = lease_ttl_s
        self.runs: dict[str, Run] = {}
        self._wake = threading.Event()  # set when a pipeline ends: the loop's next pass is due
        #: Pipelines given up on because a worker process died (their threads never return).
        self.lost_runs: list[Run] = []
        self._failures: dict[str, int] = {}  # job id → pipeline runs failed in a row
        self._retry_at: dict[str, float] = {}  # job id → monotonic time before which not to relaunch
        self._dead_worker_seen: dict[str, float] = {}
        self.clients = StorageClients(settings.storages)
        self.runner_gate = RunnerGate(settings.runner)
        self.runner_workers = RunnerWorkers(settings.runner)
        self._rates: dict[str, float | None] = {}  # job id → rate per worker last written
        self._rates_at = 0.0
        self._unreachable_noted: set[str] = set()
        #: Trial jobs this controller saw their first results of: (when, tasks run then).
        self._first_results: dict[str, tuple[datetime, int]] = {}
        self._leader = False  # whether the last step held the scheduler lease
        #: Delivers job notifications while this controller leads (with a signing secret only:
        #: without one, notifications wait in the store for a controller that has it).
        self.notifier = Notifier(store, settings, lambda: self._leader) if settings.notify_secret else None

    def storage_of(self, job: Job) -> Storage:
        """The job's own storage, from this process's config; StorageNotConfigured if it lacks it.
        A job created before storages had names runs on the default storage."""
        return self.settings.storages.get(job.storage or self.settings.storages.default_name)

    def target_storage_of(self, job: Job) -> Storage | None:
        return self.settings.storages.get(job.target_storage) if job.target_storage else None

    def client_for(self, job: Job) -> Any:
        """A boto3 client on the job's own storage (manifest, buckets, report), one per storage."""
        return self.clients.get(job.storage)

    def _mine(self, jobs: list[Job]) -> list[Job]:
        """The jobs this scheduler drives: those asked for (all by default) whose storages this
        process has. A job bound to a storage this process lacks is left untouched, never run
        against another storage; a process that has its storage will run it."""
        out = []
        for job in jobs:
            if self.only_jobs is not None and job.job_id not in self.only_jobs:
                continue
            try:
                self.storage_of(job)
                self.target_storage_of(job)
            except StorageNotConfigured as exc:
                if job.job_id not in self._unreachable_noted:
                    self._unreachable_noted.add(job.job_id)
                    logs.event("job_storage_not_configured", level=logging.WARNING, job_id=job.job_id,
                               error=exc.message)
                continue
            out.append(job)
        return out

    def _jobs_in(self, statuses: tuple[JobStatus, ...]) -> list[Job]:
        return self._mine(self.store.jobs_in(statuses))

    @property
    def skipped_jobs(self) -> set[str]:
        """Jobs left alone because this process lacks their storage."""
        return set(self._unreachable_noted)

    def step(self) -> bool:
        """One pass over all jobs. False if another live controller holds the store."""
        if not self._hold_lease():
            return False
        if self.notifier is not None:
            self.notifier.start()
        self._reap_finished()
        self._watch_workers()
        self.runner_workers.watch([job_id for job_id, run in self.runs.items() if not run.done.is_set()])
        self._share_rates()
        self._prepare_new()
        self._settle()
        self._check_thresholds()
        self._schedule()
        return True

    def idle(self) -> bool:
        return not self.runs and not self._jobs_in(_WORK)

    def run_until_idle(
        self,
        on_tick: Callable[[], None] | None = None,
        timeout_s: float | None = None,
        done: Callable[[], bool] | None = None,
    ) -> None:
        """Step until every job is final or waits for a user (Suspended), or until `done()`."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        finished = done or self.idle
        never = threading.Event()
        unavailable_since: float | None = None
        try:
            while True:
                try:
                    self.step()
                    if on_tick is not None:
                        on_tick()
                    if finished():
                        return
                    unavailable_since = None
                except StoreUnavailable as exc:
                    now = time.monotonic()
                    unavailable_since = unavailable_since or now
                    if now - unavailable_since > self.settings.store_patience_s:
                        raise
                    self._store_down(exc)
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("jobs still running after the timeout")
                self._nap(never)
        finally:
            self._release_lease()

    def serve_forever(self, stop: threading.Event) -> None:
        """Step until `stop` is set; an unavailable store is waited out, never fatal."""
        try:
            while not stop.is_set():
                try:
                    self.step()
                except StoreUnavailable as exc:
                    self._store_down(exc)
                except Exception as exc:  # an unexpected error in this pass: keep serving, retry
                    logs.event("scheduler_step_failed", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
                    stop.wait(min(5.0, 10 * self.settings.poll_s))
                self._nap(stop)
        finally:
            self._release_lease()

    def _nap(self, stop: threading.Event) -> None:
        """Wait for the next pass: poll_s, or busy_poll_s while pipelines run (their workers obey
        the store directly); a pipeline that ends, or `stop`, cuts the wait short."""
        deadline = time.monotonic() + (self.settings.busy_poll_s if self.runs else self.settings.poll_s)
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Blocks on the wake-up itself (a pipeline's end is acted on at once); `stop` is
            # looked at every STOP_CHECK_S.
            if self._wake.wait(min(remaining, STOP_CHECK_S)):
                break
        self._wake.clear()

    @staticmethod
    def _store_down(exc: StoreUnavailable) -> None:
        # Every step is a sequence of atomic, repeatable store writes: the next step redoes
        # whatever this one could not finish.
        logs.event("store_unavailable", level=logging.WARNING, error=exc.message)

    def pause_own_jobs(self, reason: str, grace_s: float) -> bool:
        """Pause the jobs this controller runs, now (Ctrl-C on `run`): Active → Pausing, wait up to
        `grace_s` for their pipelines to stop, unfinished segments back to pending, → Paused.
        The next run resumes them. True if some pipeline is still running after `grace_s`.

        Active jobs of this scheduler without a pipeline (interrupted as it was being started)
        are paused too, when this controller was the leader: no other controller runs them."""
        runs = dict(self.runs)
        own = set(runs)
        if self._leader:
            with contextlib.suppress(StoreUnavailable):
                own |= {job.job_id for job in self._jobs_in((S.ACTIVE,))}
        for job_id in own:
            with contextlib.suppress(CosbatchError):
                self.store.transition(job_id, S.ACTIVE, S.PAUSING, reason=reason)
        deadline = time.monotonic() + grace_s
        for run in runs.values():
            run.done.wait(max(0.0, deadline - time.monotonic()))
        for job_id in own:
            with contextlib.suppress(CosbatchError):
                self.store.reset_running_segments(job_id)
                if self.store.transition(job_id, S.PAUSING, S.PAUSED, reason=reason):
                    logs.event("job_paused", job_id=job_id, reason=reason)
        return any(run.thread is not None and run.thread.is_alive() for run in runs.values())

    def close(self) -> None:
        for run in self.runs.values():
            if run.thread is not None:
                run.thread.join(timeout=30)
        if self.notifier is not None:
            self.notifier.close(self.settings.notify_flush_s)
        self.clients.close()
