"""Processes a test interrupts with SIGINT, started so that they can be, whatever started pytest.

A shell that runs the suite in the background starts it with SIGINT ignored; every process
started from there inherits that, and a Python process whose SIGINT is ignored at start installs
no KeyboardInterrupt handler: SIGINT then does nothing. `start_interruptible` gives its child the
default disposition; `sigint_ignored` puts this process in the background shell's condition, so a
test proves its child is interruptible however the suite was started.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_interruptible(command: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """`subprocess.Popen(command, **kwargs)`, the child's SIGINT at its default (Python's Ctrl-C)."""
    return subprocess.Popen(command, preexec_fn=_default_sigint, **kwargs)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """This process ignores SIGINT meanwhile, as one started by a background shell does (main thread only)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
