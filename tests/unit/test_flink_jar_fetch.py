"""A controller asking whether Flink can be used is never held while Maven fetches the job
server jar: the fetch runs in the background and the runner is "unavailable" until it ends."""

from __future__ import annotations

import pytest

from cosbatch.errors import RunnerUnavailable
from launch import flink, flink_job_server


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    """An empty jar cache and a PATH without Maven, so a fetch fails fast and deterministically."""
    monkeypatch.setattr(flink_job_server, "JAR_CACHE", tmp_path / "jars")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    flink_job_server._fetches.clear()
    yield tmp_path / "jars"
    for fetch in flink_job_server._fetches.values():
        fetch.thread.join(10)
    flink_job_server._fetches.clear()


def _finish_fetches() -> None:
    for fetch in list(flink_job_server._fetches.values()):
        fetch.thread.join(10)
        assert not fetch.thread.is_alive()


def test_missing_jar_is_fetched_in_background_and_its_failure_is_reported(empty_cache):
    options = {"flink_master": "[local]"}
    with pytest.raises(RunnerUnavailable, match="being fetched with Maven"):
        flink.check_available(options, wait=False)
    _finish_fetches()
    with pytest.raises(RunnerUnavailable, match=r"Maven \(mvn\) is not installed"):
        flink.check_available(options, wait=False)
    # After a failure the next check starts a new fetch rather than repeating the old error forever.
    with pytest.raises(RunnerUnavailable, match="being fetched with Maven"):
        flink.check_available(options, wait=False)
    _finish_fetches()


def test_waiting_check_fetches_in_the_callers_thread(empty_cache):
    with pytest.raises(RunnerUnavailable, match=r"Maven \(mvn\) is not installed"):
        flink.check_available({"flink_master": "[local]"}, wait=True)
    assert flink_job_server._fetches == {}


def test_jar_at_hand_is_available_without_any_fetch(empty_cache):
    jar = flink_job_server.jar_path()
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    flink.check_available({"flink_master": "[local]"}, wait=False)
    assert flink_job_server.jar_or_fetch_in_background() == jar
    assert flink_job_server._fetches == {}
