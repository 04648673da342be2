"""The scheduler's nap between passes: a wake-up (a pipeline ended) ends it at once, and so does
a stop; otherwise it lasts its poll interval."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cosbatch.controller import Scheduler
from cosbatch.settings import Settings
from cosbatch.store import open_store


def _napping(tmp_path: Path, stop: threading.Event) -> tuple[Scheduler, threading.Thread]:
    store = open_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    scheduler = Scheduler(store, Settings(store_url=store.url, poll_s=60, busy_poll_s=60))
    nap = threading.Thread(target=scheduler._nap, args=(stop,), daemon=True)
    nap.start()
    time.sleep(0.2)
    assert nap.is_alive()  # a 60 s nap is under way
    return scheduler, nap


def test_a_wake_up_ends_the_nap(tmp_path: Path) -> None:
    scheduler, nap = _napping(tmp_path, threading.Event())
    scheduler._wake.set()
    nap.join(timeout=10)
    assert not nap.is_alive()
    assert not scheduler._wake.is_set()  # consumed: the next nap waits again


def test_a_stop_ends_the_nap(tmp_path: Path) -> None:
    stop = threading.Event()
    _, nap = _napping(tmp_path, stop)
    stop.set()
    nap.join(timeout=10)
    assert not nap.is_alive()


def test_settings_that_would_stall_the_controller_are_refused() -> None:
    import pytest

    from cosbatch.errors import ConfigError

    for bad, named in (({"concurrency": 0}, "concurrency"), ({"capacity": 0}, "capacity"),
                       ({"segment_size": 0}, "segment_size"), ({"busy_poll_s": 0}, "busy_poll_s"),
                       ({"poll_s": -1}, "poll_s")):
        with pytest.raises(ConfigError, match=named) as err:
            Settings(store_url="sqlite:///:memory:", **bad)
        assert err.value.code == "InvalidConfiguration"
