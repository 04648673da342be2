"""A minimal HTTP/1.1 keep-alive transport for the hot path's small requests.

urllib3 spends ~0.3 ms of client CPU per request (measured: a CopyObject costs 0.44-0.57 ms of
thread CPU through urllib3, 0.13 ms through this module) building header dicts, checking
connections and parsing responses with the email package; on two cores shared with the storage
server that CPU is the client's ceiling. This module writes the request in one `sendall`, reads
the answer with plain `recv`, and understands exactly what S3 answers: a status line, headers, and
a body framed by Content-Length, chunked encoding, or nothing (HEAD, 204, 304).

Large bodies stream through it too (cross-storage copies): `open_stream` answers with the head
of a GET and leaves its Content-Length body to the caller's `readinto` (into a buffer it reuses);
`send_stream` sends a PUT whose body comes as chunks (memoryviews of such a buffer). Both move
bytes with `recv_into` / `sendall` and no copy in Python.

Errors are the socket's own (OSError, TimeoutError); the caller maps them to botocore's.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

Buffer: TypeAlias = bytes | bytearray | memoryview

_MAX_HEAD = 64 * 1024


class ResponseHeaders(dict[str, str]):
    """Lower-case header names; lookups ignore case, as HTTP's do."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)


@dataclass(slots=True)
class RawResponse:
    status: int
    reason: str
    headers: ResponseHeaders
    data: bytes


class RawStream:
    """A 2xx answer whose Content-Length body is the caller's to read: `readinto` a buffer until
    it returns 0, then `release` (also after an error: an unread body closes the connection)."""

    def __init__(self, pool: RawHttpPool, conn: _Connection, status: int, reason: str,
                 headers: ResponseHeaders, length: int, buffered: bytearray, keep: bool) -> None:
        self.status, self.reason, self.headers, self.length = status, reason, headers, length
        self._pool, self._conn, self._keep = pool, conn, keep
        self._buffered = buffered[:length]
        self._conn.pending = bytes(buffered[length:])
        self._left = length - len(self._buffered)  # still on the socket

    def readinto(self, buf: memoryview | bytearray) -> int:
        """Up to len(buf) bytes of the body into `buf`; 0 at its end. ConnectionResetError if the
        server closes the connection before the whole body came."""
        if self._buffered:
            n = min(len(buf), len(self._buffered))
            buf[:n] = self._buffered[:n]
            del self._buffered[:n]
            return n
        if self._left <= 0 or self._conn is None:
            return 0
        view = memoryview(buf)[: min(len(buf), self._left)]
        got = 0
        while got < len(view):  # fill the buffer: fewer, larger chunks for the caller
            n = self._conn.sock.recv_into(view[got:])
            if n == 0:
                raise ConnectionResetError(f"connection closed with {self._left - got} bytes of the body unread")
            got += n
        self._left -= got
        return got

    def release(self) -> None:
        """Give the connection back to the pool when the body was read to its end, else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._left == 0 and not self._buffered:
            self._pool._done(conn, self._keep)
        else:
            conn.close()


class ConnectFailed(ConnectionError):
    """No connection could be made (refused, unresolvable, or timed out: `timed_out`)."""

    def __init__(self, message: str, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class StaleConnection(ConnectionError):
    """A reused keep-alive connection was closed by the server before it answered."""


class _Connection:
    __slots__ = ("sock", "pending")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""  # bytes read past the previous response (never expected, kept for safety)

    def _fill(self, buf: bytearray) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed by the server mid-response")
        buf += chunk

    def exchange(self, request: bytes, method: str, reused: bool) -> tuple[RawResponse, bool]:
        """Send one request and read its answer; (response, keep the connection open)."""
        self.sock.sendall(request)
        return self.answer(method, reused)

    def head(self, reused: bool) -> tuple[int, str, ResponseHeaders, bool, bytearray]:
        """Read an answer's status line and headers: (status, reason, headers, keep-alive, the
        bytes read past them)."""
        buf = bytearray(self.pending)
        self.pending = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > _MAX_HEAD:
                raise ConnectionError("response head over 64 KiB")
            chunk = self.sock.recv(65536)
            if not chunk:
                if reused and not buf:
                    raise StaleConnection("keep-alive connection closed before the answer")
                raise ConnectionResetError("connection closed by the server mid-response")
            buf += chunk
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        status = int(code)
        headers = ResponseHeaders()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return status, reason, headers, keep, buf[end + 4:]

    def answer(self, method: str, reused: bool) -> tuple[RawResponse, bool]:
        """Read one answer whole; (response, keep the connection open)."""
        status, reason, headers, keep, body = self.head(reused)
        return self.rest(method, status, reason, headers, keep, body)

    def rest(self, method: str, status: int, reason: str, headers: ResponseHeaders, keep: bool,
             body: bytearray) -> tuple[RawResponse, bool]:
        """The answer whose head was read, its body read whole."""
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            data = b""
        elif (length := headers.get("content-length")) is not None:
            n = int(length)
            while len(body) < n:
                self._fill(body)
            data, self.pending = bytes(body[:n]), bytes(body[n:])
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            data = self._chunked(body)
        else:  # framed by the end of the connection
            while chunk := self.sock.recv(65536):
                body += chunk
            data, keep = bytes(body), False
        return RawResponse(status, reason, headers, data), keep

    def _chunked(self, buf: bytearray) -> bytes:
        out = bytearray()
        while True:
            while (eol := buf.find(b"\r\n")) < 0:
                self._fill(buf)
            size = int(bytes(buf[:eol]).split(b";")[0], 16)
            del buf[:eol + 2]
            if size == 0:
                while (end := buf.find(b"\r\n")) != 0:  # trailers, then the blank line
                    if end < 0:
                        self._fill(buf)
                    else:
                        del buf[:end + 2]
                self.pending = bytes(buf[2:])
                return bytes(out)
            while len(buf) < size + 2:
                self._fill(buf)
            out += buf[:size]
            del buf[:size + 2]

    def close(self) -> None:
        self.sock.close()


class RawHttpPool:
    """Keep-alive connections to one origin, shared by threads (list append/pop are atomic)."""

    def __init__(self, scheme: str, host: str, port: int, *, connect_timeout: float, read_timeout: float,
                 maxsize: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.connect_timeout, self.read_timeout, self.maxsize = connect_timeout, read_timeout, maxsize
        self._idle: list[_Connection] = []
        self._tls = ssl.create_default_context() if scheme == "https" else None

    def _connect(self) -> _Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise ConnectFailed(f"{self.host}:{self.port}: {exc}", isinstance(exc, TimeoutError)) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        sock.settimeout(self.read_timeout)
        return _Connection(sock)

    @staticmethod
    def _head(method: str, target: str, headers: dict[str, str], length: int | None) -> bytes:
        head = [f"{method} {target} HTTP/1.1\r\n"]
        head += [f"{name}: {value}\r\n" for name, value in headers.items() if name != "content-length"]
        if length is not None:
            head.append(f"content-length: {length}\r\n")
        head.append("\r\n")
        return "".join(head).encode("latin-1")

    def _done(self, conn: _Connection, keep: bool) -> None:
        if keep and len(self._idle) < self.maxsize:
            self._idle.append(conn)
        else:
            conn.close()

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes,
                read_timeout: float | None = None) -> RawResponse:
        """One request; a stale pooled connection is replaced once (the server never saw the request).
        `read_timeout` replaces the pool's for this request (a server-side copy answers only when done)."""
        length = len(body) if body or method in ("PUT", "POST") else None
        request = self._head(method, target, headers, length) + body
        for _ in range(2):
            try:
                conn, reused = self._idle.pop(), True
            except IndexError:
                conn, reused = self._connect(), False
            try:
                if read_timeout is not None:
                    conn.sock.settimeout(read_timeout)
                response, keep = conn.exchange(request, method, reused)
                if read_timeout is not None:
                    conn.sock.settimeout(self.read_timeout)
            except StaleConnection:
                conn.close()
                continue
            except BaseException:
                conn.close()
                raise
            self._done(conn, keep)
            return response
        raise ConnectionResetError("the server closed two connections in a row before answering")

    def open_stream(self, method: str, target: str, headers: dict[str, str]) -> RawStream | RawResponse:
        """Send a request without a body (a GET) and read its answer's head. A 2xx answer framed
        by Content-Length comes back as a RawStream whose body the caller reads (then `release`s);
        any other answer is read whole, as `request` would (a RawResponse)."""
        request = self._head(method, target, headers, None)
        for _ in range(2):
            try:
                conn, reused = self._idle.pop(), True
            except IndexError:
                conn, reused = self._connect(), False
            try:
                conn.sock.sendall(request)
                status, reason, hdrs, keep, body = conn.head(reused)
                length = hdrs.get("content-length")
                if not 200 <= status < 300 or length is None or method == "HEAD":
                    response, keep = conn.rest(method, status, reason, hdrs, keep, body)
                    self._done(conn, keep)
                    return response
            except StaleConnection:
                conn.close()
                continue
            except BaseException:
                conn.close()
                raise
            return RawStream(self, conn, status, reason, hdrs, int(length), body, keep)
        raise ConnectionResetError("the server closed two connections in a row before answering")

    def send_stream(self, method: str, target: str, headers: dict[str, str], chunks: Iterable[Buffer],
                    length: int) -> RawResponse:
        """Send a request whose `length`-byte body is `chunks` (each sent as it comes), on a new
        connection (a body read from elsewhere cannot be sent twice, so no stale keep-alive
        connection may eat it); the answer is read whole. ValueError if the chunks do not add
        up to `length`."""
        conn = self._connect()
        try:
            conn.sock.sendall(self._head(method, target, headers, length))
            sent = 0
            for chunk in chunks:
                sent += len(chunk)  # type: ignore[arg-type]
                if sent > length:
                    raise ValueError(f"body longer than its content-length {length}")
                conn.sock.sendall(chunk)
            if sent != length:
                raise ValueError(f"body of {sent} bytes, content-length {length}")
            response, keep = conn.answer(method, False)
        except BaseException:
            conn.close()
            raise
        self._done(conn, keep)
        return response

    def clear(self) -> None:
        while self._idle:
            self._idle.pop().close()
