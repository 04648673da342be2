"""A loopback TCP server that hands each connection to a function on a thread of its own."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def serving(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    """Accept connections on a free loopback port, each served by `serve(conn)` on its own thread,
    until the block ends; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def requests_of(conn: socket.socket) -> Iterator[tuple[bytes, bytes]]:
    """Each HTTP/1.1 request on `conn` as (head, body framed by its Content-Length), until the
    client closes it."""
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(buf) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        yield head, buf[:length]
        buf = buf[length:]
