"""What we write by hand (issue 25, item 5): cosbatch's own SigV4 signer and HTTP/1.1 transport
(cosbatch/storage/lean.py, raw_http.py) against the AWS Common Runtime (awscrt: its signer, and
its S3Client, C all the way to the socket) on the small-object path.

- signing alone: µs of CPU per signature, one thread (lean `_Signer.sign` vs
  `awscrt.auth.aws_sign_request` of an HttpRequest);
- end to end, against one SeaweedFS: N PutObject of 1 KiB, then N CopyObject of them, then N
  HeadObject, with 32 requests in flight (lean: 32 threads sharing one client; awscrt: one
  S3Client, 32 requests in flight, its own event-loop threads). Per kind: requests/s and
  the client's CPU (this process, all threads) per request.

Contestants alternate, each round starting one further along. `python -m
benchmarks.small_requests [--requests N] [--rounds N] [--smoke] [--out FILE]`.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from awscrt import auth, http, s3

from benchmarks import harness
from benchmarks.crt_relay import CrtStorage
from benchmarks.scenarios import Env, make_env
from cosbatch.storage import implicit_storage
from cosbatch.storage.lean import EMPTY_SHA256, LeanS3Client

BODY = os.urandom(1024)
IN_FLIGHT = 32
KINDS = ("PutObject", "CopyObject", "HeadObject")


class CrtClient(CrtStorage):
    """awscrt's S3Client on a plain-HTTP endpoint, path-style, at most IN_FLIGHT requests at once."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str) -> None:
        super().__init__(endpoint, access_key, secret_key, connections=IN_FLIGHT)

    def run(self, requests: list[tuple[str, str, list[tuple[str, str]], bytes | None, str]]) -> None:
        """Send (method, path, headers, body, operation) requests, IN_FLIGHT at a time; RuntimeError
        on any answer that is not 2xx."""
        slots = threading.Semaphore(IN_FLIGHT)
        done = threading.Event()
        left = [len(requests)]
        failures: list[str] = []
        lock = threading.Lock()
        keep: set = set()  # the S3Request objects in flight (the CRT needs them referenced)

        for method, path, headers, body, operation in requests:
            slots.acquire()
            status: list[int] = []

            def on_headers(status_code: int, headers: list, status: list[int] = status, **_: object) -> None:
                status.append(status_code)

            def on_done(error: Exception | None = None, status: list[int] = status, path: str = path,
                        **_: object) -> None:
                with lock:
                    if error is not None or not status or status[0] >= 300:
                        failures.append(f"{path}: {error or status}")
                    left[0] -= 1
                    if left[0] == 0:
                        done.set()
                slots.release()

            request = http.HttpRequest(method, path, http.HttpHeaders([("Host", self.host), *headers]),
                                       io.BytesIO(body) if body is not None else None)
            keep.add(self.client.make_request(type=s3.S3RequestType.DEFAULT, request=request, operation_name=operation,
                                              on_headers=on_headers, on_done=on_done))
        done.wait()
        if failures:
            raise RuntimeError(f"{len(failures)} awscrt requests failed, e.g. {failures[0]}")


def lean_requests(client: LeanS3Client, kind: str, src: str, dst: str, keys: list[str]) -> None:
    calls: dict[str, Callable[[str], object]] = {
        "PutObject": lambda k: client.put_object(Bucket=src, Key=k, Body=BODY),
        "CopyObject": lambda k: client.copy_object(Bucket=dst, Key=k, CopySource={"Bucket": src, "Key": k}),
        "HeadObject": lambda k: client.head_object(Bucket=src, Key=k),
    }
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        list(pool.map(calls[kind], keys))


def crt_requests(client: CrtClient, kind: str, src: str, dst: str, keys: list[str]) -> None:
    if kind == "PutObject":
        batch = [("PUT", f"/{src}/{k}", [("Content-Length", str(len(BODY)))], BODY, kind) for k in keys]
    elif kind == "CopyObject":
        batch = [("PUT", f"/{dst}/{k}", [("x-amz-copy-source", f"/{src}/{k}")], None, kind) for k in keys]
    else:
        batch = [("HEAD", f"/{src}/{k}", [], None, kind) for k in keys]
    client.run(batch)


def signing_us(lean: LeanS3Client, crt: CrtClient, n: int) -> dict[str, float]:
    """µs of CPU per signature of a HEAD, one thread."""
    start = time.process_time()
    for i in range(n):
        lean.signer.sign("HEAD", lean.host, f"/bucket/key-{i}", "", {}, EMPTY_SHA256)
    ours = (time.process_time() - start) / n * 1e6
    start = time.process_time()
    for i in range(n):
        request = http.HttpRequest("HEAD", f"/bucket/key-{i}", http.HttpHeaders([("Host", crt.host)]))
        auth.aws_sign_request(request, crt.signing).result()
    theirs = (time.process_time() - start) / n * 1e6
    return {"cosbatch lean": ours, "awscrt": theirs}


def main(argv: list[str] | None = None) -> int:
    parser = harness.table_parser("small_requests", "50 requests of each kind, one round")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    harness.bench_credentials()
    n, rounds = (50, 1) if args.smoke else (args.requests, args.rounds)
    env: Env = make_env()
    rates: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    loads: list[str] = []

    def contestant(name: str, send: Callable[[str, list[str]], None]) -> Callable[[int], None]:
        """Round r: n requests of each kind, timed kind by kind."""
        def run(r: int) -> None:
            keys = [f"r{r}/{name.split()[0]}/{i:06d}" for i in range(n)]
            for kind in KINDS:
                cpu0, t0 = time.process_time(), time.perf_counter()
                send(kind, keys)
                seconds = time.perf_counter() - t0
                rates.setdefault((name, kind), []).append(n / seconds)
                cpu.setdefault((name, kind), []).append((time.process_time() - cpu0) / n * 1e6)
        return run

    try:
        src, dst = env.bucket("sr-src"), env.bucket("sr-dst")
        lean = LeanS3Client(implicit_storage(env.endpoint, max_pool_connections=IN_FLIGHT))
        crt = CrtClient(env.endpoint, env.server.access_key, env.server.secret_key)
        signs = signing_us(lean, crt, 200 if args.smoke else 5000)
        warm = [f"warm/{i:04d}" for i in range(200)]  # the buckets' first volumes, before any timing
        for kind in KINDS:
            lean_requests(lean, kind, src, dst, warm)
        names = ["cosbatch lean (32 threads)", "awscrt S3Client (32 in flight)"]
        harness.alternate(rounds, {
            names[0]: contestant(names[0], lambda kind, keys: lean_requests(lean, kind, src, dst, keys)),
            names[1]: contestant(names[1], lambda kind, keys: crt_requests(crt, kind, src, dst, keys)),
        }, rotate=True, loads=loads)
        lean.close()
    finally:
        env.close()
    rows = []
    for kind in KINDS:
        peer = statistics.median(rates[(names[1], kind)])
        for name in names:
            vals = rates[(name, kind)]
            rows.append((kind, name, f"{statistics.median(vals):.0f}", harness.listed(vals, ".0f"),
                         f"{statistics.median(cpu[(name, kind)]):.0f}", f"{statistics.median(vals) / peer:.2f}x"))
    header = ("request", "contestant", "median requests/s", "rounds", "client CPU µs/request (median)",
              "ratio to awscrt")
    harness.publish([f"Small requests (1 KiB objects), {n:,} of each kind, {IN_FLIGHT} in flight, one SeaweedFS, "
                     + harness.conditions(rounds, loads), "",
                     f"Signing alone (one thread, CPU per signature): cosbatch lean {signs['cosbatch lean']:.1f} µs, "
                     f"awscrt {signs['awscrt']:.1f} µs.", "", *harness.markdown_table(header, rows)], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
