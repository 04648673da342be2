"""Rates and waits: how fast each running job may go, and when a held-up job is tried again.

Owns the sharing of rate limits among running jobs' workers (the job's own ceiling and its
storages' ceilings split over the jobs on them), the backoff and deadline of jobs waiting for
their storage in Preparing (`storage_waits`), pipeline runs retried with backoff after a
failure, and Active jobs paused while their runner cannot be used.
"""

from __future__ import annotations

import functools
import logging
import time

from cosbatch import logs
from cosbatch.control import worker_lease_prefix
from cosbatch.controller.pipeline_run import Run
from cosbatch.controller.runner_gate import RunnerGate
from cosbatch.controller.storage_waits import StorageWaits
from cosbatch.lifecycle import JobStatus
from cosbatch.models import FailureReason
from cosbatch.settings import Settings
from cosbatch.store.base import JobStore

S = JobStatus
#: How often running jobs' rate limits are re-shared among their workers.
RATE_REFRESH_S = 0.5


class RatesAndWaits:
    """The scheduler's rates, retries and waits (a part of `Scheduler`; its state is the scheduler's)."""

    store: JobStore
    settings: Settings
    runs: dict[str, Run]
    runner_gate: RunnerGate
    _failures: dict[str, int]
    _retry_at: dict[str, float]
    _rates: dict[str, float | None]
    _rates_at: float

    def _wait_for_runner(self, job_id: str, reason: str | None) -> bool:
        """An Active job whose runner cannot be used now is paused, with the reason in its history;
        `_schedule` resumes it once the runner answers. Never counted as a failed pipeline."""
        if reason is None:
            return False
        if not self.store.transition(job_id, S.ACTIVE, S.PAUSING,
                                     reason=f"waiting for the runner: {reason}; resumes when it answers"):
            return False
        self._failures.pop(job_id, None)
        logs.event("job_waiting_for_runner", level=logging.WARNING, job_id=job_id, reason=reason)
        return True

    def _pipeline_failed(self, job_id: str, error: str, *, permanent: bool = False) -> None:
        """A pipeline run failed (a storage or store outage, a lost worker): run the job's
        unfinished segments again, with backoff, up to `pipeline_attempts` runs in a row.

        Finished segments keep their persisted results; a segment the failed run had in
        hand runs again whole and overwrites its own results file, so no task is lost or
        reported twice. After the last attempt, or at once on a `permanent` error (a bad
        configuration: every run would fail the same way), the job fails with PipelineError.
        """
        failures = self._failures.get(job_id, 0) + 1
        self._failures[job_id] = failures
        if not permanent and failures < self.settings.pipeline_attempts:
            delay = min(self.settings.pipeline_retry_max_s, self.settings.pipeline_retry_s * 2 ** (failures - 1))
            self._retry_at[job_id] = time.monotonic() + delay
            logs.event("pipeline_retry", level=logging.WARNING, job_id=job_id, attempt=failures + 1,
                       in_s=delay, error=error)
            return
        self._failures.pop(job_id, None)
        logs.event("pipeline_failed", job_id=job_id, error=error, permanent=permanent)
        why = ("failed with an error that retrying cannot fix" if permanent
               else f"failed {failures} times in a row; last")
        self.store.transition(
            job_id, S.ACTIVE, S.FAILING, failure=FailureReason.of("PipelineError", f"the job's pipeline {why}: {error}"),
        )

    def _share_rates(self, force: bool = False) -> None:
        """Give each worker process of each running job its share of the limits: the job's own
        ceiling, and its storage's ceiling split evenly over the jobs running on that storage.
        Written before a pipeline starts (`force`), so its first operations are limited too."""
        if not force and time.monotonic() - self._rates_at < RATE_REFRESH_S:
            return
        self._rates_at = time.monotonic()
        jobs = [self.store.get_job(job_id) for job_id in self.runs]
        on_storage: dict[str, int] = {}
        for job in jobs:
            for storage in (self.storage_of(job), self.target_storage_of(job)):
                if storage is not None:
                    on_storage[storage.name] = on_storage.get(storage.name, 0) + 1
        for job in jobs:
            limits = [job.max_ops_per_second]
            for storage in (self.storage_of(job), self.target_storage_of(job)):
                if storage is not None and storage.max_ops_per_second is not None:
                    limits.append(storage.max_ops_per_second / on_storage[storage.name])
            rate = min((x for x in limits if x is not None), default=None)
            if rate is not None:
                rate /= max(1, len(self.store.leases(worker_lease_prefix(job.job_id))))
            if self._rates.get(job.job_id, -1.0) != rate:
                self.store.set_worker_rate(job.job_id, rate)
                self._rates[job.job_id] = rate

    @functools.cached_property
    def _storage_waits(self) -> StorageWaits:
        """Jobs whose storage was unreachable while preparing: backoff and patience."""
        return StorageWaits(self.store, self.settings.storage_patience_s, self.settings.pipeline_retry_s,
                            self.settings.prepare_retry_max_s)
