"""Controller settings: limits and policies as explicit values, not scattered constants."""

from __future__ import annotations

from dataclasses import dataclass, field

from cosbatch.control.plan import DEFAULT_CONCURRENCY
from cosbatch.errors import ConfigError
from cosbatch.storage import StorageCatalog
from launch.base import RunnerConfig


@dataclass(frozen=True)
class FailureThreshold:
    """Stop a job when failed/run exceeds `ratio`, once `min_tasks` have run (jobs of ≥ min_tasks)."""

    min_tasks: int = 1000
    ratio: float = 0.5

    def exceeded(self, total: int, succeeded: int, failed: int) -> bool:
        run = succeeded + failed
        return total >= self.min_tasks and run >= self.min_tasks and failed / run > self.ratio


@dataclass(frozen=True)
class Settings:
    store_url: str
    #: The storages this process can reach; each job runs on the one it was bound to at creation.
    storages: StorageCatalog = field(default_factory=StorageCatalog.from_env)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    #: Tasks per manifest segment; None: the operation's own (1,000; 10,000 for multi-object delete).
    segment_size: int | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    capacity: int = 1  # jobs Active at once
    threshold: FailureThreshold = field(default_factory=FailureThreshold)
    poll_s: float = 0.1
    #: While pipelines run, the loop passes over the jobs this often (each pass reads every job, and
    #: checks failure thresholds: a longer wait lets a failing job run more tasks); a pipeline
    #: that ends wakes it at once.
    busy_poll_s: float = 0.1
    list_window_days: int = 90
    #: Pipeline runs of one job that may fail in a row (outage, lost worker) before it fails.
    pipeline_attempts: int = 8
    #: Wait before re-running a failed pipeline; doubles with each failure in a row, up to the max
    #: (the defaults ride out about 90 s of unavailable storage).
    pipeline_retry_s: float = 1.0
    pipeline_retry_max_s: float = 30.0
    #: How long a registered pipeline worker may be gone before its pipeline is given up.
    worker_grace_s: float = 3.0
    #: How long Preparing waits for a job's unreachable storage (connection refused, timeouts,
    #: 5xx, throttling) before the job fails with StorageUnreachable; retries back off from
    #: pipeline_retry_s up to prepare_retry_max_s.
    storage_patience_s: float = 300.0
    prepare_retry_max_s: float = 10.0
    #: How long `run` (run_until_idle) waits out an unavailable store before giving up.
    store_patience_s: float = 120.0
    # Workers report over the controller's HTTP worker channel at this URL instead of opening
    # the store (`cosbatch serve --worker-control http`); the secret signs each job's token.
    worker_channel_url: str | None = None
    worker_secret: bytes | None = None
    #: Job notifications (cosbatch.controller.notify_policy): the URL prefixes a job's
    #: cosbatch:notify-url may lie under (none by default: no URL is allowed), the secret that
    #: signs each POST, attempts per notification with the backoff between them, the timeout of
    #: one POST, and how long a stopping controller keeps trying what is due.
    notify_allow: tuple[str, ...] = ()
    notify_secret: bytes | None = None
    notify_attempts: int = 10
    notify_retry_s: float = 1.0
    notify_retry_max_s: float = 300.0
    notify_timeout_s: float = 5.0
    notify_flush_s: float = 10.0

    def __post_init__(self) -> None:
        """A setting that would stall or busy-spin the controller is refused, naming it."""
        at_least_one = {"concurrency": self.concurrency, "capacity": self.capacity,
                        "pipeline_attempts": self.pipeline_attempts, "notify_attempts": self.notify_attempts}
        if self.segment_size is not None:
            at_least_one["segment_size"] = self.segment_size
        for name, value in at_least_one.items():
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, not {value}")
        positive = {"poll_s": self.poll_s, "busy_poll_s": self.busy_poll_s, "notify_timeout_s": self.notify_timeout_s}
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"{name} must be more than 0 seconds, not {value}")
