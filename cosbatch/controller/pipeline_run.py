"""A pipeline this controller runs in a thread: the handle the scheduler's parts share."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Run:
    """A pipeline running in a thread of this controller."""

    job_id: str
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
