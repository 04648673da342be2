"""Ctrl-C (or SIGTERM: `timeout`, `kill`, a service manager's stop) on `run` / `create-job --wait`:
stop within about a second, leave every job resumable.

The jobs this process runs go Active → Pausing → Paused ("interrupted"); their unfinished
segments go back to pending, so the next `cosbatch run` resumes them. Pipeline threads that
have not stopped after the grace period are not waited for: the process ends (exit 130 for
Ctrl-C, 143 for SIGTERM, as a shell tool stopped by the signal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence

from cosbatch.controller import Scheduler

GRACE_S = 1.0
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
_WHAT = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (a KeyboardInterrupt), with its own reason and exit code."""


def reason(exc: BaseException) -> str:
    """The Paused jobs' StatusUpdateReason."""
    what = _WHAT[signal.SIGTERM] if isinstance(exc, Terminated) else _WHAT[signal.SIGINT]
    return f"interrupted ({what}): resumed by the next `cosbatch run`"


def exit_code(exc: BaseException) -> int:
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def message(runner_args: Sequence[str] = ()) -> str:
    """What the user is told; the jobs resume on the runner named again (a job does not keep
    its runner: a plain `cosbatch run` would go on on DirectRunner)."""
    command = " ".join(["cosbatch run", *runner_args])
    return f"cosbatch: interrupted; running jobs are Paused and continue from where they stopped on the next `{command}`"


def runner_args(runner: str, options: Sequence[str]) -> list[str]:
    """The --runner / --runner-option words of a command (none for the default runner)."""
    if runner == "direct" and not options:
        return []
    return ["--runner", runner, *[w for option in options for w in ("--runner-option", option)]]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs (on the main thread), SIGTERM raises Terminated where Ctrl-C would
    raise KeyboardInterrupt: the jobs are paused, not left Active with nobody running them."""
    def terminated(signum: int, frame: object) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, terminated)
    except ValueError:  # not the main thread: leave SIGTERM as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def pause_running_jobs(scheduler: Scheduler, cleanup: Callable[[], None] | None = None,
                       exc: BaseException | None = None, hint: Sequence[str] = ()) -> None:
    """Pause the scheduler's jobs; if a pipeline is still running, run `cleanup` (what the caller
    started: quickstart's S3 server) and end the process now (the pipeline's threads and the
    pools inside them would hold the interpreter's exit)."""
    exc = exc or KeyboardInterrupt()
    ignored = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}  # no second stop
    try:
        still_running = scheduler.pause_own_jobs(reason(exc), GRACE_S)
        if still_running:
            if cleanup is not None:
                with contextlib.suppress(Exception):
                    cleanup()
            print(message(hint), file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit_code(exc))
    finally:
        for s, previous in ignored.items():
            signal.signal(s, previous)
