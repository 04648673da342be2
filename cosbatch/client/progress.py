"""Progress while waiting: an HTML bar updated in place in Jupyter, else the CLI's text bar.

No widget library: in a kernel the bar is one display updated by id, which any
notebook front end (and a saved notebook) shows; on a terminal it is the `cosbatch`
command's bar on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from cosbatch.cli.progress import ProgressBar, bar_line
from cosbatch.client import htmlview
from cosbatch.models import Job


class Progress(Protocol):
    def show(self, jobs: Sequence[Job], final: bool = False) -> None: ...

    def close(self) -> None: ...


class _Snapshot:
    """What the notebook shows: HTML for browsers, the text bar for plain-text readers."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = list(jobs)

    def _repr_html_(self) -> str:
        return htmlview.progress_rows(self.jobs)

    def __repr__(self) -> str:
        return "\n".join(bar_line(j) for j in self.jobs)


class NotebookProgress:
    def __init__(self, interval_s: float = 0.25) -> None:
        from IPython.display import display

        self.interval_s = interval_s
        self._last = 0.0
        self._handle: Any = None
        self._display = display

    def show(self, jobs: Sequence[Job], final: bool = False) -> None:
        now = time.monotonic()
        if not jobs or (not final and now - self._last < self.interval_s):
            return
        self._last = now
        if self._handle is None:
            self._handle = self._display(_Snapshot(jobs), display_id=True)
        else:
            self._handle.update(_Snapshot(jobs))

    def close(self) -> None:
        pass


class TextProgress:
    def __init__(self) -> None:
        self._bar = ProgressBar(sys.stderr)

    def show(self, jobs: Sequence[Job], final: bool = False) -> None:
        self._bar.show(list(jobs), final=final)

    def close(self) -> None:
        self._bar.close()


class NoProgress:
    def show(self, jobs: Sequence[Job], final: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


def _shell() -> object | None:
    ipython_mod = sys.modules.get("IPython")  # never imported here: if absent, not in IPython
    return None if ipython_mod is None else ipython_mod.get_ipython()


def in_ipython() -> bool:
    """True in any IPython shell (as Apache Beam decides it)."""
    return _shell() is not None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython)."""
    return getattr(_shell(), "kernel", None) is not None


def make_progress(enabled: bool) -> Progress:
    if not enabled:
        return NoProgress()
    return NotebookProgress() if in_notebook() else TextProgress()


def watch(look: Callable[[], tuple[Sequence[Job], bool]], *, progress: bool, timeout: float | None,
          poll_s: float, late: Callable[[], str]) -> None:
    """Show `look()`'s jobs every `poll_s` until it says they are settled (shown once more as
    final). TimeoutError with `late()` as its message after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = make_progress(progress)
    try:
        while True:
            jobs, settled = look()
            bar.show(jobs, final=settled)
            if settled:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(late())
            time.sleep(poll_s)
    finally:
        bar.close()
