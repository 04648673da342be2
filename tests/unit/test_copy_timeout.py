"""A server-side copy may take longer than the read timeout: SeaweedFS answers a CopyObject only
when the copy is done. Its answer is waited for in proportion to the bytes copied, so a slow copy
is not reported failed (and retried) while the server finishes it; other requests keep the
storage's read timeout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from botocore.exceptions import ReadTimeoutError

from cosbatch.storage import lean
from cosbatch.storage.config import Storage
from cosbatch.storage.lean import LeanS3Client
from tests.support.tcp_script import requests_of, serving

COPY_BODY = b"<CopyObjectResult><ETag>\"0123456789abcdef0123456789abcdef\"</ETag></CopyObjectResult>"
COPY_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(COPY_BODY), COPY_BODY)
HEAD_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n"


@contextmanager
def slow_server(delay_s: float) -> Iterator[int]:
    """Answers every request `delay_s` after it arrived (a copy's answer, or a HEAD's)."""
    def serve(conn: socket.socket) -> None:
        with conn:
            for head, _ in requests_of(conn):
                time.sleep(delay_s)
                try:
                    conn.sendall(HEAD_ANSWER if head.startswith(b"HEAD") else COPY_ANSWER)
                except OSError:
                    return

    with serving(serve) as port:
        yield port


def client(port: int) -> LeanS3Client:
    return LeanS3Client(Storage(name="slow", endpoint_url=f"http://127.0.0.1:{port}", read_timeout_s=0.3))


def test_the_wait_for_a_copy_grows_with_its_bytes() -> None:
    c = client(1)
    assert c.copy_read_timeout(0) == pytest.approx(0.3)
    assert c.copy_read_timeout(lean.COPY_FLOOR_RATE * 10) == pytest.approx(10.3)
    # unknown: the largest copy S3 does in one request
    assert c.copy_read_timeout(None) == pytest.approx(0.3 + lean.ONE_REQUEST_COPY_MAX / lean.COPY_FLOOR_RATE)


def test_a_copy_slower_than_the_read_timeout_succeeds_and_a_head_does_not() -> None:
    with slow_server(1.0) as port:
        c = client(port)
        # 64 MiB at the floor rate: 4 s allowed, the server answers after 1 s
        out = c.copy_object(Bucket="t", Key="k", CopySource={"Bucket": "s", "Key": "k"}, size=64 * 1024**2)
        assert out == {"VersionId": None}
        # a part of the same size, the same way
        etag, _ = c.upload_part_copy("t", "k", "u1", 1, "s", "k", None, 0, 64 * 1024**2)
        assert etag == "0123456789abcdef0123456789abcdef"
        # the connection went back to the pool with the storage's own timeout: a HEAD times out
        with pytest.raises(ReadTimeoutError):
            c.head_object(Bucket="s", Key="k")
        # a tiny copy gets no more than the storage's read timeout
        with pytest.raises(ReadTimeoutError):
            c.copy_object(Bucket="t", Key="k", CopySource={"Bucket": "s", "Key": "k"}, size=10)
        c.close()
