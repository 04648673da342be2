"""The hot path's HTTP/1.1 transport against a scripted local TCP server: framing, keep-alive, errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cosbatch.storage.raw_http import ConnectFailed, RawHttpPool, RawResponse, RawStream
from tests.support.tcp_script import requests_of, serving


@contextmanager
def scripted_server(answers: list[bytes | None]) -> Iterator[tuple[int, list[bytes]]]:
    """Accepts connections and answers each request with the next scripted bytes; None closes the
    connection without answering, and an answer starting with CLOSE: is sent (without the marker)
    before the connection closes. Yields (port, requests received)."""
    received: list[bytes] = []
    script = iter(answers)

    def serve(conn: socket.socket) -> None:
        with conn:
            for head, body in requests_of(conn):
                received.append(head + b"\r\n\r\n" + body)
                answer = next(script, None)
                if answer is None:
                    return
                conn.sendall(answer.removeprefix(b"CLOSE:"))
                if answer.startswith(b"CLOSE:"):
                    return

    with serving(serve) as port:
        yield port, received


def pool(port: int) -> RawHttpPool:
    return RawHttpPool("http", "127.0.0.1", port, connect_timeout=2, read_timeout=2, maxsize=4)


def test_content_length_body_and_keep_alive() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"abc\"\r\n\r\nhello"
    with scripted_server([ok, ok]) as (port, received):
        p = pool(port)
        first = p.request("PUT", "/b/k", {"host": "h", "x-amz-copy-source": "/s/k"}, b"")
        second = p.request("PUT", "/b/k2", {"host": "h"}, b"xyz")
    assert (first.status, first.data, first.headers.get("ETag")) == (200, b"hello", '"abc"')
    assert second.data == b"hello"
    assert received[0].startswith(b"PUT /b/k HTTP/1.1\r\n") and b"content-length: 0\r\n" in received[0]
    assert received[1].endswith(b"\r\n\r\nxyz")
    assert len(p._idle) == 1  # both requests went over one kept-alive connection


def test_chunked_body_with_trailer() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\n<Del\r\n6;ext=1\r\neted/>\r\n0\r\nX-Trailer: 1\r\n\r\n")
    with scripted_server([answer]) as (port, _):
        response = pool(port).request("POST", "/b?delete=", {"host": "h"}, b"<Delete/>")
    assert response.data == b"<Deleted/>"


def test_head_and_no_content_have_no_body() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    with scripted_server([head, no_content]) as (port, _):
        p = pool(port)
        assert p.request("HEAD", "/b/k", {"host": "h"}, b"").headers["content-length"] == "1024"
        assert p.request("DELETE", "/b/k", {"host": "h"}, b"").status == 204


def test_connection_close_is_not_reused() -> None:
    answer = b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
    with scripted_server([answer]) as (port, _):
        p = pool(port)
        response = p.request("GET", "/b/k", {"host": "h"}, b"")
    assert (response.status, response.reason, response.data) == (404, "Not Found", b"no")
    assert p._idle == []


def test_a_stale_keep_alive_connection_is_replaced_once() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    # The server answers the first request, then drops that connection when the second arrives.
    with scripted_server([ok, None, ok]) as (port, received):
        p = pool(port)
        p.request("PUT", "/b/1", {"host": "h"}, b"")
        assert p.request("PUT", "/b/2", {"host": "h"}, b"").status == 200
    assert [r.split(b" ")[1] for r in received] == [b"/b/1", b"/b/2", b"/b/2"]


def test_a_fresh_connection_closed_mid_answer_raises() -> None:
    short = b"CLOSE:HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"
    with scripted_server([short]) as (port, _), pytest.raises(ConnectionResetError):
        pool(port).request("PUT", "/b/k", {"host": "h"}, b"")


def test_refused_connection_is_connect_failed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(ConnectFailed) as err:
        pool(port).request("PUT", "/b/k", {"host": "h"}, b"")
    assert not err.value.timed_out


def test_silent_server_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts (backlog), never answers
        port = listener.getsockname()[1]
        quick = RawHttpPool("http", "127.0.0.1", port, connect_timeout=2, read_timeout=0.3, maxsize=1)
        with pytest.raises(TimeoutError):
            quick.request("PUT", "/b/k", {"host": "h"}, b"")


def test_a_streamed_body_is_read_into_the_callers_buffer_and_the_connection_kept() -> None:
    body = bytes(range(256)) * 40  # 10,240 bytes, read 4 KiB at a time
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with scripted_server([ok, ok]) as (port, _):
        p = pool(port)
        stream = p.open_stream("GET", "/b/k", {"host": "h"})
        assert isinstance(stream, RawStream) and stream.length == len(body)
        buf, got = bytearray(4096), b""
        while n := stream.readinto(buf):
            got += bytes(buf[:n])
        stream.release()
        assert got == body and len(p._idle) == 1  # read to its end: reused
        second = p.open_stream("GET", "/b/k", {"host": "h"})
        assert isinstance(second, RawStream)
        second.readinto(buf)
        second.release()
    assert p._idle == []  # released with its body unread: closed, never reused


def test_a_refused_stream_is_read_whole_and_a_short_one_raises() -> None:
    refused = b"HTTP/1.1 412 Precondition Failed\r\nContent-Length: 2\r\n\r\nno"
    short = b"CLOSE:HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"
    with scripted_server([refused, short]) as (port, _):
        p = pool(port)
        answer = p.open_stream("GET", "/b/k", {"host": "h"})
        assert isinstance(answer, RawResponse) and (answer.status, answer.data) == (412, b"no")
        stream = p.open_stream("GET", "/b/k2", {"host": "h"})
        assert isinstance(stream, RawStream)
        with pytest.raises(ConnectionResetError):
            while stream.readinto(bytearray(64)):
                pass
        stream.release()
    assert p._idle == []


def test_a_body_sent_as_chunks_must_add_up_to_its_length() -> None:
    ok = b"HTTP/1.1 200 OK\r\nETag: \"e\"\r\nContent-Length: 0\r\n\r\n"
    with scripted_server([ok]) as (port, received):
        p = pool(port)
        buf = memoryview(bytearray(b"abcdef"))
        answer = p.send_stream("PUT", "/b/k", {"host": "h"}, [buf[:3], buf[3:]], 6)
        assert answer.headers.get("etag") == '"e"'
        with pytest.raises(ValueError, match="content-length 7"):
            p.send_stream("PUT", "/b/k", {"host": "h"}, [buf], 7)
    assert received[0].endswith(b"content-length: 6\r\n\r\nabcdef")
