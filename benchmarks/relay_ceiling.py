"""What this machine's Python moves between two S3 servers with no job and no checks (issue 25,
item 4): the physical limit beside each cross-storage ratio. GET -> PUT over plain `http.client`,
signed (SigV4, unsigned payload), nothing hashed, nothing verified."""

from __future__ import annotations

import http.client
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from cosbatch.storage.lean import LeanS3Client

BLOCK = 1024 * 1024
#: Threads of the small-object ceiling (a cosbatch job's objects in flight, rclone's tuned --transfers).
THREADS = 128


def signed(client: LeanS3Client, method: str, bucket: str, key: str, headers: dict[str, str]) -> tuple[str, dict]:
    path = f"/{quote(bucket, safe='-_.~')}/{quote(key, safe='/-_.~')}"
    client.signer.sign(method, client.host, path, "", headers, "UNSIGNED-PAYLOAD")
    return path, headers


def raw_copy(src: LeanS3Client, dst: LeanS3Client, bucket: str, key: str, dst_bucket: str, dst_key: str) -> None:
    """GET -> PUT of one (large) object over new connections, 1 MiB readinto a preallocated buffer,
    no hashing."""
    get = http.client.HTTPConnection(src.host, timeout=60)
    put = http.client.HTTPConnection(dst.host, timeout=60)
    try:
        path, headers = signed(src, "GET", bucket, key, {})
        get.request("GET", path, headers=headers)
        resp = get.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"GET {key}: {resp.status}")
        length = int(resp.getheader("content-length") or 0)
        path, headers = signed(dst, "PUT", dst_bucket, dst_key, {"content-length": str(length)})
        put.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            put.putheader(name, value)
        put.endheaders()
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        while n := resp.readinto(buf):
            put.send(view[:n])
        answer = put.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"PUT {dst_key}: {answer.status}")
    finally:
        get.close()
        put.close()


class _Socket:
    """One keep-alive HTTP/1.1 connection over a plain socket: a request's bytes out, an answer
    framed by Content-Length in (all these servers send), nothing else."""

    def __init__(self, host: str) -> None:
        name, _, port = host.partition(":")
        self.sock = socket.create_connection((name, int(port or 80)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        data = self.pending
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head[9:12])
        found = _LENGTH.search(head)
        length = int(found.group(1)) if found else 0
        while len(body) < length:
            body += self._recv()
        self.pending = body[length:]
        return status, body[:length]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        return chunk


_LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)")


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode() + body


class RawSmallCopier:
    """GET -> PUT of small objects over one keep-alive plain socket to each server per thread,
    each request signed (SigV4, unsigned payload), no checks."""

    def __init__(self, src: LeanS3Client, dst: LeanS3Client) -> None:
        self.src, self.dst = src, dst
        self.local = threading.local()
        self.opened: list[_Socket] = []

    def _conns(self) -> tuple[_Socket, _Socket]:
        if not hasattr(self.local, "conns"):
            self.local.conns = (_Socket(self.src.host), _Socket(self.dst.host))
            self.opened.extend(self.local.conns)
        return self.local.conns

    def copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> None:
        get, put = self._conns()
        path, headers = signed(self.src, "GET", bucket, key, {})
        status, body = get.exchange(_request("GET", path, {"host": self.src.host, **headers}))
        if status != 200:
            raise RuntimeError(f"GET {key}: {status}")
        path, headers = signed(self.dst, "PUT", dst_bucket, dst_key, {"content-length": str(len(body))})
        status, _ = put.exchange(_request("PUT", path, {"host": self.dst.host, **headers}, body))
        if status != 200:
            raise RuntimeError(f"PUT {dst_key}: {status}")

    def close(self) -> None:
        for conn in self.opened:
            conn.sock.close()


def raw_ceiling(copier: RawSmallCopier, src: str, keys: list[str], dst: str, prefix: str) -> None:
    """Every key of `src` to `prefix/key` in `dst`, on THREADS threads."""
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda key: copier.copy(src, key, dst, f"{prefix}/{key}"), keys))
