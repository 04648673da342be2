"""Progress of running jobs on stderr.

On a terminal (or when forced) a bar is redrawn in place, with failed tasks drawn in red
(`x`); off a terminal a plain line every `line_interval_s` seconds, and never the same line
twice running (a countdown ticking down is not news). Either way, a job that settles gets a last
line showing how it ended, so progress never stops on a stale frame. A job waiting in Preparing
for its storage shows that wait, and when it gives up, instead of an empty bar. Log records
written to the bar's terminal meanwhile go above it (`ProgressBar.above_logs`).
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
        self._drawn = ""  # that bar's line, to draw again below a log record
        self._cut = False  # text written above the bar ended mid-line: the bar is not on screen
        self._lock = threading.RLock()  # the bar's writes and log records' (other threads) in turn

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
        with self._lock:
            if not self.in_place:
                self.stream.write(line + "\n")
            else:
                cols = shutil.get_terminal_size((100, 20)).columns
                self._drawn = _fit(line, cols - 1)
                self.stream.write(("\n" if self._cut else "") + "\r\033[K" + self._drawn + ("\n" if final else ""))
                self._shown, self._cut = not final, False
            self.stream.flush()

    def close(self) -> None:
        with self._lock:
            if self._shown or self._cut:
                self.stream.write("\n")
                self.stream.flush()
                self._shown = self._cut = False

    def write_above(self, text: str) -> None:
        """Write `text` (a log record) to the bar's stream: over the bar's line, which is then
        drawn again below it, so neither lands in the middle of the other."""
        if not text:
            return
        with self._lock:
            if self._shown and not self._cut:
                self.stream.write("\r\033[K")
            self.stream.write(text)
            self._cut = not text.endswith("\n")
            if self._shown and not self._cut:
                self.stream.write(self._drawn)
            self.stream.flush()

    @contextmanager
    def above_logs(self, logger: logging.Logger | None = None) -> Iterator[None]:
        """While the block runs, what `logger`'s handlers (the root logger's by default) write to
        this bar's stream goes through `write_above`. Nothing changes for a bar not drawn in place."""
        handlers = [h for h in (logger or logging.getLogger()).handlers
                    if isinstance(h, logging.StreamHandler) and h.stream is self.stream] if self.in_place else []
        for handler in handlers:
            handler.setStream(_AboveBar(self))  # type: ignore[arg-type]
        try:
            yield
        finally:
            for handler in handlers:
                handler.setStream(self.stream)


class _AboveBar:
    """The stream a log handler writes to while a bar is drawn in place on its terminal."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar

    def write(self, text: str) -> int:
        self.bar.write_above(text)
        return len(text)

    def flush(self) -> None:
        self.bar.stream.flush()


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
