"""What this machine's Python moves between two S3 servers with no job and no checks (issue 25,
item 4): the physical limit beside each cross-storage ratio. GET -> PUT over plain `http.client`,
signed (SigV4, unsigned payload), nothing hashed, nothing verified."""

from __future__ import annotations

import http.client
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from cosbatch.storage.lean import LeanS3Client

BLOCK = 1024 * 1024
#: Threads of the small-object ceiling (rclone's tuned --transfers).
THREADS = 32


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


class RawSmallCopier:
    """GET -> PUT of small objects over one keep-alive connection to each server per thread, no checks."""

    def __init__(self, src: LeanS3Client, dst: LeanS3Client) -> None:
        self.src, self.dst = src, dst
        self.local = threading.local()
        self.opened: list[http.client.HTTPConnection] = []

    def _conns(self) -> tuple[http.client.HTTPConnection, http.client.HTTPConnection]:
        if not hasattr(self.local, "conns"):
            self.local.conns = (http.client.HTTPConnection(self.src.host, timeout=60),
                                http.client.HTTPConnection(self.dst.host, timeout=60))
            self.opened.extend(self.local.conns)
        return self.local.conns

    def copy(self, bucket: str, key: str, dst_bucket: str, dst_key: str) -> None:
        get, put = self._conns()
        path, headers = signed(self.src, "GET", bucket, key, {})
        get.request("GET", path, headers=headers)
        resp = get.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {key}: {resp.status}")
        path, headers = signed(self.dst, "PUT", dst_bucket, dst_key, {"content-length": str(len(body))})
        put.request("PUT", path, body=body, headers=headers)
        answer = put.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"PUT {dst_key}: {answer.status}")

    def close(self) -> None:
        for conn in self.opened:
            conn.close()


def raw_ceiling(copier: RawSmallCopier, src: str, keys: list[str], dst: str, prefix: str) -> None:
    """Every key of `src` to `prefix/key` in `dst`, on THREADS threads."""
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda key: copier.copy(src, key, dst, f"{prefix}/{key}"), keys))
