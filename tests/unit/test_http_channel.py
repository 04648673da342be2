"""Worker-channel URLs and tokens: per job, carried in the URL, never the server secret itself."""

from __future__ import annotations

import os
import stat

import pytest

from cosbatch.control.http_channel import (
    HttpWorkerChannel,
    channel_url,
    load_worker_secret,
    worker_token,
)
from cosbatch.errors import StoreUnavailable


def test_channel_url_carries_a_job_token_not_the_secret():
    secret = b"s" * 32
    url = channel_url("http://10.0.0.5:8480/", secret, "job-1")
    assert url == f"http://job:{worker_token(secret, 'job-1')}@10.0.0.5:8480"
    assert secret.hex() not in url and "ssss" not in url
    assert worker_token(secret, "job-1") != worker_token(secret, "job-2")
    assert worker_token(secret, "job-1") != worker_token(b"t" * 32, "job-1")
    channel = HttpWorkerChannel(url)
    assert channel.base == "http://10.0.0.5:8480"
    assert channel.headers["Authorization"] == f"Bearer {worker_token(secret, 'job-1')}"


def test_a_url_without_token_is_refused():
    with pytest.raises(StoreUnavailable):
        HttpWorkerChannel("http://10.0.0.5:8480")


def test_secret_is_kept_private_and_stable(tmp_path):
    path = tmp_path / "store.db.worker-key"
    first = load_worker_secret(path)
    assert len(first) == 32 and load_worker_secret(path) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
