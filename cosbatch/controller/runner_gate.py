"""Whether the configured runner can be used now: asked before a job goes Active and after a
pipeline fails, so that a runner problem (a Flink master or Dask scheduler that does not answer,
no job server jar) never costs a job. Jobs wait for the runner in Ready or Paused, with the reason
in their history; only a job's own faults fail it.
"""

from __future__ import annotations

import logging
import time

from cosbatch import logs
from cosbatch.errors import CosbatchError
from launch.base import RunnerConfig, check_runner_available, runner_module


class RunnerGate:
    """The runner's availability, looked at most every `recheck_s` seconds (while it is down,
    doubling up to `max_s`), and not at all for runners that cannot tell (DirectRunner).
    `recheck` asks at once (after a pipeline failed)."""

    def __init__(self, config: RunnerConfig, recheck_s: float = 2.0, max_s: float = 30.0) -> None:
        self.config = config
        self.checks = getattr(runner_module(config.runner), "check_available", None) is not None
        self.recheck_s, self.max_s = recheck_s, max_s
        self.reason: str | None = None
        self._next_at = 0.0
        self._wait_s = recheck_s

    def unavailable(self) -> str | None:
        """None if the runner can be used; why not otherwise (the last answer while backing off)."""
        if not self.checks or time.monotonic() < self._next_at:
            return self.reason
        return self.recheck()

    def recheck(self) -> str | None:
        """Ask the runner now."""
        if not self.checks:
            return None
        try:
            check_runner_available(self.config, wait=False)
        except CosbatchError as exc:
            if exc.message != self.reason:
                logs.event("runner_unavailable", level=logging.WARNING, runner=self.config.runner, reason=exc.message)
            self.reason = exc.message
            self._next_at = time.monotonic() + self._wait_s
            self._wait_s = min(self.max_s, self._wait_s * 2)
            return self.reason
        if self.reason is not None:
            logs.event("runner_available", runner=self.config.runner)
        self.reason, self._wait_s, self._next_at = None, self.recheck_s, time.monotonic() + self.recheck_s
        return None


class RunnerWorkers:
    """While pipelines run: whether the runner still has workers (Flink: TaskManagers), asked at
    most every `every_s` seconds, for runners that can tell (`workers_missing`). A runner that
    answers but lost every worker keeps the job's tasks waiting, neither failing nor finishing
    them: the jobs it holds are named in a warning, once, and again when workers are back."""

    def __init__(self, config: RunnerConfig, every_s: float = 5.0) -> None:
        self.config = config
        self.check = getattr(runner_module(config.runner), "workers_missing", None)
        self.every_s = every_s
        self.missing: str | None = None
        self._next_at = 0.0

    def watch(self, running: list[str]) -> None:
        """`running`: the jobs whose pipelines run now."""
        if self.check is None or not running:
            self.missing = None
            return
        if time.monotonic() < self._next_at:
            return
        self._next_at = time.monotonic() + self.every_s
        reason = self.check(self.config.options)
        if reason is not None and reason != self.missing:
            logs.event("runner_has_no_workers", level=logging.WARNING, runner=self.config.runner,
                       jobs=",".join(sorted(running)), reason=reason)
        elif reason is None and self.missing is not None:
            logs.event("runner_workers_back", level=logging.WARNING, runner=self.config.runner,
                       jobs=",".join(sorted(running)))
        self.missing = reason
