"""Progress of running jobs on stderr.

On a terminal (or when forced) a bar is redrawn in place, with failed tasks drawn in red
(`x`); off a terminal a plain line every `line_interval_s` seconds, and never the same line
twice running (a countdown ticking down is not news). Either way, a job that settles gets a last
line showing how it ended, so progress never stops on a stale frame. A job waiting in Preparing
for its storage shows that wait, and when it gives up, instead of an empty bar.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job

RED = "\033[31m"
RESET = "\033[0m"


#: What a waiting line adds where Ctrl-C pauses the jobs (`cosbatch.cli.interrupt`).
CTRL_C_HINT = "Ctrl-C leaves the job resumable"


def duration(seconds: float) -> str:
    """`4m40s`, `45s`, `1h05m`: whole seconds, never negative."""
    s = max(0, int(seconds + 0.5))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def waiting_line(job: Job, hint: str | None = None, now: float | None = None, countdown: bool = True) -> str | None:
    """`job ID Preparing: waiting for storage (HOST:PORT unreachable), gives up in 4m40s[; hint]`
    while the job waits for its storage; None otherwise. `countdown=False`: without the time left."""
    wait = job.storage_wait
    if job.status is not JobStatus.PREPARING or wait is None:
        return None
    line = f"job {job.job_id[:8]} Preparing: waiting for storage ({wait.reason})"
    if countdown:
        left = wait.until.timestamp() - (time.time() if now is None else now)
        line += f", gives up in {duration(left)}"
    return line + (f"; {hint}" if hint else "")


def bar_line(job: Job, width: int = 30, colour: bool = False, hint: str | None = None) -> str:
    """`job ID [###xx....]  50.0% 5/10 ok=3 failed=2 Active`: `#` succeeded, `x` failed
    (red, with the failed count, when `colour`); a job waiting for its storage: `waiting_line`."""
    waiting = waiting_line(job, hint)
    if waiting is not None:
        return waiting
    p = job.progress_summary
    total = p.total_number_of_tasks
    done = p.tasks_run
    failed_count = p.number_of_tasks_failed
    red, reset = (RED, RESET) if colour and failed_count else ("", "")
    if total:
        failed = min(width, -(-width * failed_count // total))  # at least one mark for any failure
        filled = max(failed, int(width * min(done, total) / total))
        bar = "#" * (filled - failed) + red + "x" * failed + reset + "." * (width - filled)
        pct = f"{100 * done / total:5.1f}%"
        count = f"{done}/{total}"
    else:
        bar, pct, count = "." * width, "  -  ", f"{done}/?"
    return (
        f"job {job.job_id[:8]} [{bar}] {pct} {count} ok={p.number_of_tasks_succeeded} "
        f"{red}failed={failed_count}{reset} {job.status.value}"
    )


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, force: bool = False, interval_s: float = 0.2,
                 line_interval_s: float = 10.0, hint: str | None = None) -> None:
        """`hint`: said after a waiting job's line (the CLI: CTRL_C_HINT)."""
        self.stream = stream or sys.stderr
        self.in_place = force or self.stream.isatty()
        self.colour = self.stream.isatty()
        self.interval_s = interval_s if self.in_place else line_interval_s
        self.hint = hint
        self._last = 0.0 if self.in_place else time.monotonic()  # plain lines: the first after one interval
        self._last_key: str | None = None  # the last plain line written, without countdowns
        self._shown = False  # a bar is on the screen, unterminated

    def show(self, jobs: Sequence[Job], final: bool = False) -> None:
        """Jobs as they run (throttled); `final`: how they ended, on a line of its own."""
        if not jobs:
            return
        now = time.monotonic()
        if not self.in_place and not final:
            key = " | ".join(waiting_line(j, self.hint, countdown=False) or bar_line(j) for j in jobs)
            if key == self._last_key:
                return  # nothing new to say
            started_waiting = any(waiting_line(j) for j in jobs)  # said at once, then not again
            if now - self._last < self.interval_s and not started_waiting:
                return
            self._last_key = key
        elif not final and now - self._last < self.interval_s:
            return
        self._last = now
        line = " | ".join(bar_line(j, colour=self.colour, hint=self.hint) for j in jobs)
        if not self.in_place:
            self.stream.write(line + "\n")
        else:
            cols = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r\033[K" + _fit(line, cols - 1) + ("\n" if final else ""))
            self._shown = not final
        self.stream.flush()

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def _fit(line: str, cols: int) -> str:
    """`line` cut to `cols` visible characters (colour codes take no room)."""
    out, seen, i = [], 0, 0
    while i < len(line) and seen < cols:
        if line[i] == "\033":
            end = line.index("m", i) + 1
            out.append(line[i:end])
            i = end
            continue
        out.append(line[i])
        seen += 1
        i += 1
    cut = i < len(line)
    return "".join(out) + (RESET if cut and RED in line else "")  # a cut colour ends here
