"""`Client.run` returns once no job is left to run, however long the scheduler's thread takes
to wind down: the run looks whether the thread runs before it starts one, never just after."""

from __future__ import annotations

import time

import cosbatch
from cosbatch.client.background import BackgroundScheduler


def _client(tmp_path) -> cosbatch.Client:
    # No job is created, so nothing is ever sent to this endpoint.
    return cosbatch.Client(store=tmp_path / "cosbatch.db", endpoint_url="http://127.0.0.1:9")


def test_run_with_nothing_to_run_starts_no_scheduler(tmp_path):
    with _client(tmp_path) as client:
        assert list(client.run(timeout=10, progress=False)) == []
        assert client._scheduler._thread is None and not client.running


def test_run_settles_when_the_schedulers_thread_is_slow_to_end(tmp_path, monkeypatch):
    """A scheduler thread that lingers 0.3 s after its work (a loaded machine, a slow store
    close). Started on each look and then counted as running, it kept `run` going for ever."""
    monkeypatch.setattr(BackgroundScheduler, "_run", lambda self: time.sleep(0.3))
    with _client(tmp_path) as client:
        client.start()  # a thread from an earlier call, still winding down
        assert list(client.run(timeout=10, progress=False, poll_s=0.05)) == []
        assert not client.running
