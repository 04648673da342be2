"""A progress bar for running jobs, on stderr, only when it is a terminal (or forced)."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from cosbatch.models import Job


def bar_line(job: Job, width: int = 30) -> str:
    p = job.progress_summary
    total = p.total_number_of_tasks
    done = p.tasks_run
    if total:
        filled = int(width * min(done, total) / total)
        bar = "#" * filled + "." * (width - filled)
        pct = f"{100 * done / total:5.1f}%"
        count = f"{done}/{total}"
    else:
        bar, pct, count = "." * width, "  -  ", f"{done}/?"
    return (
        f"job {job.job_id[:8]} [{bar}] {pct} {count} ok={p.number_of_tasks_succeeded} "
        f"failed={p.number_of_tasks_failed} {job.status.value}"
    )


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, force: bool = False, interval_s: float = 0.2) -> None:
        self.stream = stream or sys.stderr
        self.enabled = force or self.stream.isatty()
        self.interval_s = interval_s
        self._last = 0.0
        self._shown = False

    def show(self, jobs: list[Job], final: bool = False) -> None:
        if not self.enabled or not jobs:
            return
        now = time.monotonic()
        if not final and now - self._last < self.interval_s:
            return
        self._last = now
        cols = shutil.get_terminal_size((100, 20)).columns
        line = " | ".join(bar_line(j) for j in jobs)[: cols - 1]
        self.stream.write("\r\033[K" + line)
        self._shown = True
        if final:
            self.stream.write("\n")
            self._shown = False
        self.stream.flush()

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
