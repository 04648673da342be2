"""A recording, fault-injecting and tampering HTTP proxy in front of the S3 server, for retry,
outage and verification tests.

It forwards every request unchanged (the Host header too, so SigV4 signatures
still verify), records it, and answers a chosen fraction with 503 SlowDown instead, or
whatever `respond(method, path, headers)` answers (status, XML body) for a request it
picks. `alter(method, path, headers, body)` may change the storage's answers on their way
back: it gets the answer's headers (with its Content-Length) and body, and returns them,
changed or not (a destination that lies about its ETag, size or bytes).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")


class FaultProxy:
    def __init__(self, upstream: str, slow_down_ratio: float = 0.0, seed: int = 7,
                 respond: Callable[[str, str, dict[str, str]], tuple[int, bytes] | None] | None = None,
                 alter: Callable[[str, str, dict[str, str], bytes], tuple[dict[str, str], bytes]] | None = None,
                 ) -> None:
        self.upstream = upstream.rstrip("/")
        self.respond = respond
        self.alter = alter
        self.ratio = slow_down_ratio
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.forwarded = 0
        self.injected = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers) seen
        self.pool = urllib3.PoolManager(maxsize=64, retries=False)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = {k.lower(): v for k, v in self.headers.items()}
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, seen))
                    inject = proxy.rng.random() < proxy.ratio
                    if inject:
                        proxy.injected += 1
                    else:
                        proxy.forwarded += 1
                if inject:
                    self._reply(503, {"Content-Type": "application/xml"}, SLOW_DOWN)
                    return
                answer = proxy.respond(self.command, self.path, seen) if proxy.respond else None
                if answer is not None:
                    self._reply(answer[0], {"Content-Type": "application/xml"}, answer[1])
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                resp = proxy.pool.request(self.command, proxy.upstream + self.path, body=body or None,
                                          headers=headers, redirect=False, preload_content=True)
                out = {k: v for k, v in resp.headers.items()
                       if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive")}
                data = resp.data if self.command != "HEAD" else b""
                out["Content-Length"] = str(len(data)) if self.command != "HEAD" else \
                    resp.headers.get("Content-Length", "0")
                if proxy.alter is not None:
                    out, data = proxy.alter(self.command, self.path, out, data)
                length = out.pop("Content-Length")
                self._reply(resp.status, out, data, length=len(data) if self.command != "HEAD" else length)

            def _reply(self, status: int, headers: dict, body: bytes, length: object = None) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.pool.clear()
