"""Scheduler: takes jobs through their lifecycle, one `step()` at a time.

Each step: reap finished pipelines, prepare New jobs, settle jobs that are
draining (Pausing/Cancelling/Failing/Completing) or orphaned by a crashed
controller, stop jobs over the failure threshold, then start or preempt jobs by
priority within `capacity`. All state lives in the store, so a restarted
controller picks up exactly where the last one stopped.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cosbatch import logs
from cosbatch.control import worker_lease_prefix
from cosbatch.control.http_channel import channel_url
from cosbatch.control.plan import JobPlan, ReportTarget, SegmentRef
from cosbatch.controller.cosbatch_tags import (
    SKIP_IDENTICAL,
    UNDO_OF,
    UNDOABLE,
    VERIFY,
    failure_threshold,
    option_value,
)
from cosbatch.controller.estimate import make_estimate
from cosbatch.controller.notifier import Notifier
from cosbatch.controller.preparer import generated_manifest_ref, prepare_job
from cosbatch.controller.runner_gate import RunnerGate
from cosbatch.controller.storage_errors import StorageUnreachable
from cosbatch.controller.storage_waits import StorageWaits
from cosbatch.controller.trial import SUSPENDED_CAUSE, trial_reason, trial_tasks
from cosbatch.controller.undo_checks import unversioned_delete_warning
from cosbatch.errors import (
    ConfigError,
    CosbatchError,
    InvalidRequest,
    ManifestError,
    StoreUnavailable,
)
from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.models import FailureReason, Job, ProgressSummary, ReportFormat, utcnow
from cosbatch.operations import segment_tasks_for
from cosbatch.reports import finalize_report, write_trial_report
from cosbatch.reports.summary import failures_by_code
from cosbatch.settings import Settings
from cosbatch.storage import Storage, StorageClients, StorageNotConfigured
from cosbatch.store import SegmentState
from cosbatch.store.base import JobStore
from launch import run_plan
from launch.base import runner_recovers_lost_workers

S = JobStatus
LEASE = "scheduler"
#: How often running jobs' rate limits are re-shared among their workers.
RATE_REFRESH_S = 0.5
#: How often a nap looks whether it was asked to stop (a wake-up ends it at once).
STOP_CHECK_S = 0.05
#: Statuses in which a job still needs the scheduler; idle means none is left.
#: StatusUpdateReason of a job that failed in Preparing, by failure code.
_PREPARE_FAILED = {
    "StorageUnreachable": "storage unreachable",
    "AccessDenied": "storage access denied",
    "CredentialsNotSet": "storage credentials not set",
    "ReportBucketNotFound": "report bucket not found",
    "TargetBucketNotFound": "target bucket not found",
    "InvalidRequest": "trial run refused",
}
_WORK = (S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.CANCELLING, S.FAILING, S.COMPLETING)


@dataclass
class _Run:
    """A pipeline running in a thread of this controller."""

    job_id: str
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def _proc_stat(pid: int) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the command name: state, parent pid, ...
    (OSError without the process or without /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return stat[stat.rindex(b")") + 2 :].split()


def _pid_alive(pid: int) -> bool:
    try:
        return _proc_stat(pid)[0] not in (b"Z", b"X")  # zombie: dead
    except FileNotFoundError:
        return False
    except (OSError, ValueError, IndexError):
        pass  # no /proc: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parent_pid(pid: int) -> int | None:
    try:
        return int(_proc_stat(pid)[1])
    except (OSError, ValueError, IndexError):
        return None


def _is_our_descendant(pid: int) -> bool:
    """Whether `pid` is a child, grandchild, ... of this process (a worker our runner started)."""
    me, seen = os.getpid(), 0
    while pid > 1 and seen < 64:
        parent = _parent_pid(pid)
        if parent is None:
            return False
        if parent == me:
            return True
        pid, seen = parent, seen + 1
    return False


def _owner_pid(owner: str) -> int | None:
    """PID of a `host:pid` lease owner on this host, else None."""
    host, _, pid = owner.rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


class Scheduler:
    def __init__(self, store: JobStore, settings: Settings, lease_ttl_s: float = 10.0,
                 only_jobs: Collection[str] | None = None) -> None:
        """`only_jobs`: drive just these jobs (`create-job --wait`, `run --job-id`); others stay as they are."""
        self.store = store
        self.settings = settings
        self.only_jobs = frozenset(only_jobs) if only_jobs is not None else None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl_s = lease_ttl_s
        self.runs: dict[str, _Run] = {}
        self._wake = threading.Event()  # set when a pipeline ends: the loop's next pass is due
        #: Pipelines given up on because a worker process died (their threads never return).
        self.lost_runs: list[_Run] = []
        self._failures: dict[str, int] = {}  # job id → pipeline runs failed in a row
        self._retry_at: dict[str, float] = {}  # job id → monotonic time before which not to relaunch
        self._dead_worker_seen: dict[str, float] = {}
        self.clients = StorageClients(settings.storages)
        self.runner_gate = RunnerGate(settings.runner)
        self._rates: dict[str, float | None] = {}  # job id → rate per worker last written
        self._rates_at = 0.0
        self._unreachable_noted: set[str] = set()
        #: Trial jobs this controller saw their first results of: (when, tasks run then).
        self._first_results: dict[str, tuple[datetime, int]] = {}
        self._leader = False  # whether the last step held the scheduler lease
        #: Delivers job notifications while this controller leads (with a signing secret only:
        #: without one, notifications wait in the store for a controller that has it).
        self.notifier = Notifier(store, settings, lambda: self._leader) if settings.notify_secret else None

    # -- jobs and their storages ---------------------------------------------
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

    # -- the loop ----------------------------------------------------------
    def step(self) -> bool:
        """One pass over all jobs. False if another live controller holds the store."""
        if not self._hold_lease():
            return False
        if self.notifier is not None:
            self.notifier.start()
        self._reap_finished()
        self._watch_workers()
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

    def _release_lease(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            self.store.release_lease(LEASE, self.owner)

    def _hold_lease(self) -> bool:
        self._leader = self._take_lease()
        return self._leader

    def _take_lease(self) -> bool:
        if self.store.acquire_lease(LEASE, self.owner, self.lease_ttl_s):
            return True
        holder = self.store.lease_holder(LEASE)
        if holder is not None:
            host, pid, _ = (holder.split(":") + ["", "", ""])[:3]
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                # The last controller on this host died: take over without waiting out its lease.
                self.store.release_lease(LEASE, holder)
                return self.store.acquire_lease(LEASE, self.owner, self.lease_ttl_s)
        return False

    # -- steps -------------------------------------------------------------
    def _reap_finished(self) -> None:
        for job_id, run in list(self.runs.items()):
            if not run.done.is_set():
                continue
            del self.runs[job_id]
            self._dead_worker_seen.pop(job_id, None)
            if run.error is not None:
                if self._wait_for_runner(job_id, self.runner_gate.recheck()):
                    continue  # the runner went away: not the job's fault
                self._pipeline_failed(job_id, repr(run.error))
            else:
                self._failures.pop(job_id, None)

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

    def _pipeline_failed(self, job_id: str, error: str) -> None:
        """A pipeline run failed (a storage or store outage, a lost worker): run the job's
        unfinished segments again, with backoff, up to `pipeline_attempts` runs in a row.

        Finished segments keep their persisted results; a segment the failed run had in
        hand runs again whole and overwrites its own results file, so no task is lost or
        reported twice. After the last attempt the job fails with PipelineError.
        """
        failures = self._failures.get(job_id, 0) + 1
        self._failures[job_id] = failures
        if failures < self.settings.pipeline_attempts:
            delay = min(self.settings.pipeline_retry_max_s, self.settings.pipeline_retry_s * 2 ** (failures - 1))
            self._retry_at[job_id] = time.monotonic() + delay
            logs.event("pipeline_retry", level=logging.WARNING, job_id=job_id, attempt=failures + 1,
                       in_s=delay, error=error)
            return
        self._failures.pop(job_id, None)
        logs.event("pipeline_failed", job_id=job_id, error=error)
        self.store.transition(
            job_id, S.ACTIVE, S.FAILING,
            failure=FailureReason.of(
                "PipelineError", f"the job's pipeline failed {failures} times in a row; last: {error}"
            ),
        )

    def _watch_workers(self) -> None:
        """Give up on a pipeline whose worker process died.

        Beam's DirectRunner does not notice a dead multi-processing worker: it waits for
        the lost bundle forever. Workers register their PIDs (JobControl.register_worker);
        once one is gone for `worker_grace_s` while its pipeline still runs, the pipeline's
        other workers are stopped and the job's unfinished segments run again.
        """
        if runner_recovers_lost_workers(self.settings.runner):
            return  # the runner reruns a dead worker's tasks itself; a second pipeline would double them
        for job_id, run in list(self.runs.items()):
            if run.done.is_set() or run.thread is None:
                continue
            pids = [p for p in map(_owner_pid, self.store.leases(worker_lease_prefix(job_id)).values())
                    if p is not None]
            dead = sorted(p for p in pids if not _pid_alive(p))
            if not dead:
                self._dead_worker_seen.pop(job_id, None)
                continue
            seen = self._dead_worker_seen.setdefault(job_id, time.monotonic())
            if time.monotonic() - seen < self.settings.worker_grace_s:
                continue  # a pipeline that is finishing stops its workers first
            del self.runs[job_id]
            self._dead_worker_seen.pop(job_id, None)
            self.lost_runs.append(run)
            for pid in pids:
                if pid not in dead and pid != os.getpid() and _is_our_descendant(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)  # it must not finish a segment we run again
            logs.event("worker_lost", level=logging.WARNING, job_id=job_id, dead=dead)
            self._pipeline_failed(job_id, f"pipeline worker process {', '.join(map(str, dead))} died")

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
        return StorageWaits(self.settings.storage_patience_s, self.settings.pipeline_retry_s,
                            self.settings.prepare_retry_max_s)

    def _prepare_new(self) -> None:
        waits = self._storage_waits
        for job in self._jobs_in((S.NEW, S.PREPARING)):
            if not waits.due(job.job_id):
                continue  # waiting for its storage: backing off
            if job.status is S.NEW and not self.store.transition(job.job_id, S.NEW, S.PREPARING):
                continue
            logs.event("job_preparing", job_id=job.job_id)
            try:
                size = segment_tasks_for(job.operation, self.settings.segment_size)
                target = self.clients.get(job.target_storage) if job.target_storage else None
                total, segments = prepare_job(job, self.client_for(job), size, target, storage=self.storage_of(job),
                                              target_storage=self.target_storage_of(job))
            except CosbatchError as exc:
                if isinstance(exc, StorageUnreachable):
                    keep, new = waits.failed(job.job_id, exc.message)
                    if keep:
                        if new:  # StatusUpdateReason says what it waits for; history once per reason
                            self.store.transition(job.job_id, S.PREPARING, S.PREPARING,
                                                  reason=f"waiting for storage: {exc.message}")
                        logs.event("job_waiting_for_storage", level=logging.WARNING, job_id=job.job_id,
                                   reason=exc.message)
                        continue
                waits.done(job.job_id)
                # Typed errors keep their code (ManifestError's, CredentialsNotSet, a trial's InvalidRequest, ...).
                code = exc.code if isinstance(exc, ManifestError | ConfigError | InvalidRequest) else "InvalidManifest"
                self.store.transition(
                    job.job_id, S.PREPARING, S.FAILED,
                    failure=FailureReason.of(code, exc.message), reason=_PREPARE_FAILED.get(code, "manifest could not be used"),
                )
                self._write_report(self.store.get_job(job.job_id))
                logs.event("job_failed", job_id=job.job_id, code=code, reason=exc.message)
                continue
            waited = waits.done(job.job_id)
            reason = None if waited is None else f"storage reachable again after {waited:.0f} s"
            warning = None if option_value(job.tags, UNDOABLE) else unversioned_delete_warning(job, self.client_for(job))
            if warning is not None:
                reason = warning if reason is None else f"{reason}; {warning}"
                logs.event("job_warning", level=logging.WARNING, job_id=job.job_id, warning=warning)
            self.store.replace_segments(job.job_id, segments)
            trial = trial_tasks(job)
            if trial is not None:  # a trial is itself the request to confirm: it runs at once
                first = f"Trial: running {trial} of {total} tasks, then waiting for confirmation"
                self.store.transition(job.job_id, S.PREPARING, S.READY, total_tasks=total,
                                      reason=first if reason is None else f"{reason}; {first}")
            elif job.confirmation_required:
                self._estimate(self.store.get_job(job.job_id).model_copy(update={"progress_summary": ProgressSummary(
                    total_number_of_tasks=total)}))
                self.store.transition(
                    job.job_id, S.PREPARING, S.SUSPENDED, total_tasks=total, reason=reason,
                    suspended_cause="Job requires confirmation: update its status to Ready to run it",
                )
            else:
                self.store.transition(job.job_id, S.PREPARING, S.READY, total_tasks=total, reason=reason)
            logs.event("job_prepared", job_id=job.job_id, tasks=total, segments=len(segments))

    def _settle(self) -> None:
        """Finish draining jobs whose pipeline has stopped; relaunch orphaned Active jobs."""
        for job in self._jobs_in((S.ACTIVE, S.PAUSING, S.CANCELLING, S.FAILING, S.COMPLETING)):
            if job.job_id in self.runs:
                continue
            if job.status is S.ACTIVE:
                if self.store.segments(job.job_id, (SegmentState.PENDING, SegmentState.RUNNING)):
                    if time.monotonic() >= self._retry_at.get(job.job_id, 0.0) and not self._wait_for_runner(
                            job.job_id, self.runner_gate.unavailable()):
                        self._launch(job)  # orphaned by a crash, stopped early, or a failed run: run what is left
                elif self.store.segments(job.job_id, (SegmentState.HELD,)):
                    self._trial_done(job)
                elif self.store.transition(job.job_id, S.ACTIVE, S.COMPLETING):
                    self._finish(job.job_id, S.COMPLETING, S.COMPLETE)
            elif job.status is S.PAUSING:
                self.store.reset_running_segments(job.job_id)
                self.store.transition(job.job_id, S.PAUSING, S.PAUSED, reason=job.status_update_reason)
                logs.event("job_paused", job_id=job.job_id)
            elif job.status is S.CANCELLING:
                self._finish(job.job_id, S.CANCELLING, S.CANCELLED)
            elif job.status is S.FAILING:
                self._finish(job.job_id, S.FAILING, S.FAILED)
            elif job.status is S.COMPLETING:
                self._finish(job.job_id, S.COMPLETING, S.COMPLETE)

    def _check_thresholds(self) -> None:
        for job in self._jobs_in((S.ACTIVE,)):
            run = job.progress_summary.tasks_run
            if run and job.job_id not in self._first_results and run < (trial_tasks(job) or 0):
                # When a trial's first results came: its estimate tells the pipeline's start from its rate.
                self._first_results[job.job_id] = (utcnow(), run)
            threshold = failure_threshold(self.settings.threshold, job.tags)  # the job's tag, if any
            p = job.progress_summary
            total = p.total_number_of_tasks or 0
            if threshold.exceeded(total, p.number_of_tasks_succeeded, p.number_of_tasks_failed):
                run = p.tasks_run
                reason = (
                    f"{p.number_of_tasks_failed} of {run} tasks run failed "
                    f"({100 * p.number_of_tasks_failed / run:.1f}%), over the "
                    f"{100 * threshold.ratio:g}% failure threshold"
                )
                if self.store.transition(
                    job.job_id, S.ACTIVE, S.FAILING,
                    failure=FailureReason.of("FailureThresholdExceeded", reason),
                    reason="task failure threshold exceeded",
                ):
                    logs.event("job_failing", job_id=job.job_id, reason=reason)

    def _schedule(self) -> None:
        runnable = self._jobs_in((S.READY, S.PAUSED))  # priority desc, then oldest first
        if runnable and self.runner_gate.unavailable():
            return  # they wait in Ready or Paused until the runner answers (RunnerGate)
        while runnable and len(self.runs) < self.settings.capacity:
            self._start(runnable.pop(0))
        if not runnable:
            return
        best = runnable[0]
        if self._jobs_in((S.PAUSING,)):
            return  # one preemption at a time
        active = [j for j in self._jobs_in((S.ACTIVE,)) if j.job_id in self.runs]
        if not active:
            return
        victim = min(active, key=lambda j: (j.priority, -j.creation_time.timestamp()))
        if best.priority > victim.priority:
            self.store.transition(
                victim.job_id, S.ACTIVE, S.PAUSING,
                reason=f"preempted by higher-priority job {best.job_id}",
            )
            logs.event("job_preempted", job_id=victim.job_id, by=best.job_id)

    # -- helpers -----------------------------------------------------------
    def _start(self, job: Job) -> None:
        if not self.store.transition(job.job_id, job.status, S.ACTIVE):
            return
        logs.event("job_active", job_id=job.job_id, priority=job.priority)
        self._launch(self.store.get_job(job.job_id))

    def _plan(self, job: Job) -> JobPlan:
        self.store.reset_running_segments(job.job_id)
        pending = self.store.segments(job.job_id, (SegmentState.PENDING,))
        run_id = uuid.uuid4().hex[:12]  # a new run, never the graph of an earlier one
        report = None
        if job.report.enabled:
            report = ReportTarget(
                job.report.bucket_name, job.report.prefix or "", job.report.scope.value,
                (job.report.format or ReportFormat.S3_CSV).value,
            )
        store_url = self.store.url
        if self.settings.worker_channel_url and self.settings.worker_secret:
            store_url = channel_url(self.settings.worker_channel_url, self.settings.worker_secret, job.job_id)
        return JobPlan(
            job_id=job.job_id,
            store_url=store_url,
            storage=self.storage_of(job),
            target_storage=self.target_storage_of(job),
            operation=job.operation.wire(),
            segments=tuple(
                SegmentRef(s.seg_no, s.source, s.start, s.end, s.first_line, s.task_count, run_id)
                for s in pending
            ),
            report=report,
            dry_run=job.dry_run,
            concurrency=self.settings.concurrency,
            verify=bool(option_value(job.tags, VERIFY)),
            skip_identical=bool(option_value(job.tags, SKIP_IDENTICAL)),
            undoable=bool(option_value(job.tags, UNDOABLE)),
            undo_of=option_value(job.tags, UNDO_OF),
        )

    def _launch(self, job: Job) -> None:
        self._retry_at.pop(job.job_id, None)
        self._rates.pop(job.job_id, None)
        self.store.release_leases(worker_lease_prefix(job.job_id))  # workers of earlier runs
        plan = self._plan(job)
        run = _Run(job.job_id)
        self.runs[job.job_id] = run
        self._share_rates(force=True)
        if not plan.segments:
            run.done.set()
            return

        def target() -> None:
            try:
                run_plan(plan, self.settings.runner)
            except BaseException as exc:  # reported through the job's status, never lost
                run.error = exc
            finally:
                run.done.set()
                self._wake.set()

        run.thread = threading.Thread(target=target, name=f"cosbatch-job-{job.job_id[:8]}", daemon=True)
        run.thread.start()
        logs.event("pipeline_started", job_id=job.job_id, segments=len(plan.segments), run_id=plan.segments[0].run_id)

    def _write_report(self, job: Job) -> FailureReason | None:
        if not job.report.enabled:
            return None
        try:
            location = finalize_report(self.client_for(job), job, self.store.segments(job.job_id))
        except CosbatchError as exc:
            logs.event("report_failed", job_id=job.job_id, error=exc.message)
            return FailureReason.of("ReportWriteError", exc.message)
        logs.event("report_written", job_id=job.job_id, bucket=location.bucket, prefix=location.job_dir)
        return None

    def _trial_done(self, job: Job) -> None:
        """A trial's tasks have all run: write its report, then wait in Suspended for confirmation
        with the trial's outcome as StatusUpdateReason. Repeated whole after a crash in between."""
        p = job.progress_summary
        reason = trial_reason(p.number_of_tasks_succeeded, p.number_of_tasks_failed,
                              failures_by_code(job, self.store.segments(job.job_id)),
                              (p.total_number_of_tasks or 0) - p.tasks_run)
        if job.report.enabled:
            try:
                location = write_trial_report(self.client_for(job), job.model_copy(update={
                    "status": S.SUSPENDED, "status_update_reason": reason}), self.store.segments(job.job_id))
                logs.event("trial_report_written", job_id=job.job_id, bucket=location.bucket,
                           key=location.trial_manifest_key)
            except CosbatchError as exc:  # the trial's outcome is in the reason; the final report still comes
                logs.event("trial_report_failed", logging.WARNING, job_id=job.job_id, error=exc.message)
        self._estimate(job, trial_end=utcnow(), first_results=self._first_results.pop(job.job_id, None))
        if self.store.transition(job.job_id, S.ACTIVE, S.SUSPENDED, reason=reason, suspended_cause=SUSPENDED_CAUSE):
            logs.event("trial_done", job_id=job.job_id, reason=reason)

    def _estimate(self, job: Job, trial_end: datetime | None = None,
                  first_results: tuple[datetime, int] | None = None) -> None:
        """Record what running the rest of the job will take, before it waits in Suspended. An
        estimate that cannot be made is logged and left out; it never holds up the job."""
        try:
            estimate = make_estimate(job, self.store, self.client_for(job), self.storage_of(job),
                                     self.target_storage_of(job), trial_end, first_results)
        except Exception as exc:  # sampling reads the manifest and HEADs objects: storage trouble
            logs.event("estimate_failed", logging.WARNING, job_id=job.job_id, error=f"{type(exc).__name__}: {exc}")
            estimate = None
        self.store.set_estimate(job.job_id, estimate)

    def _finish(self, job_id: str, current: JobStatus, target: JobStatus) -> None:
        """Write the report (stating the final status), then move to the final status."""
        assert target in TERMINAL
        # Live counters of a segment no pipeline will finish are not results: drop them, so
        # the job's counts are exactly the report's rows.
        self.store.reset_running_segments(job_id)
        job = self.store.get_job(job_id)
        final_view = job.model_copy(update={"status": target})
        failure = self._write_report(final_view)
        if failure is not None and target is S.COMPLETE:
            target = S.FAILED
        self.store.transition(job_id, current, target, failure=failure)
        logs.event("job_finished", job_id=job_id, status=target.value)
        self._drop_working_manifest(job)

    def _drop_working_manifest(self, job: Job) -> None:
        """EnableManifestOutput=false: the generated manifest was a working copy; remove it."""
        gen = job.manifest_generator.s3_job_manifest_generator if job.manifest_generator else None
        if gen is None or gen.enable_manifest_output:
            return
        ref = generated_manifest_ref(job, gen)
        try:
            self.client_for(job).delete_object(Bucket=ref.bucket, Key=ref.key)
        except Exception as exc:  # the job's outcome stands; the leftover is logged
            logs.event("working_manifest_left", logging.WARNING, job_id=job.job_id, bucket=ref.bucket,
                       key=ref.key, error=f"{type(exc).__name__}: {exc}")

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
