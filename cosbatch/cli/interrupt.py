"""Ctrl-C on `run` / `create-job --wait`: stop within about a second, leave every job resumable.

The jobs this process runs go Active → Pausing → Paused ("interrupted"); their unfinished
segments go back to pending, so the next `cosbatch run` resumes them. Pipeline threads that
have not stopped after the grace period are not waited for: the process ends (exit 130).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable

from cosbatch.controller import Scheduler

REASON = "interrupted (Ctrl-C): resumed by the next `cosbatch run`"
GRACE_S = 1.0
EXIT_INTERRUPTED = 130
MESSAGE = ("cosbatch: interrupted; running jobs are Paused and continue from where they stopped on the next "
           "`cosbatch run`")


def pause_running_jobs(scheduler: Scheduler, cleanup: Callable[[], None] | None = None) -> None:
    """Pause the scheduler's jobs; if a pipeline is still running, run `cleanup` (what the caller
    started: quickstart's S3 server) and end the process now (the pipeline's threads and the
    pools inside them would hold the interpreter's exit)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    try:
        still_running = scheduler.pause_own_jobs(REASON, GRACE_S)
        if still_running:
            if cleanup is not None:
                with contextlib.suppress(Exception):
                    cleanup()
            print(MESSAGE, file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGINT, previous)
