"""Cross-storage streaming of large objects (issue 25, item 2): N x 64 MiB from one SeaweedFS to
another, a cosbatch copy job against `rclone copy --transfers 8`, and a raw ceiling.

Contestants, in turn each round (each round starting one further along), each into its own prefix of the same target bucket:

- `cosbatch job`: CreateJob to Complete of a copy job whose target is the other storage (every
  byte is MD5-hashed on its way through and checked against both ETags);
- `rclone copy --transfers 8`: rclone between the same two servers;
- `cosbatch job, HEAD first (before)`: the same job with a HEAD before the parts, as it was
  before the source's GET stood for it (an A/B in one run);
- `cosbatch job, raw stream, MD5 here`: the raw stream with every byte hashed in this process
  (the verification the job had before, on the new transport);
- `awscrt S3Client (no checks)`: the AWS Common Runtime's parallel ranged GETs into memory, then
  its multipart PUT, a thread per object (benchmarks/crt_relay.py);
- `raw ceiling`: one thread per object, GET -> PUT over plain `http.client` with 1 MiB
  `readinto` into a preallocated buffer and no hashing: what this machine's Python can move
  between the two servers with no checks at all.

`python -m benchmarks.cross_large [--objects N] [--size-mib N] [--rounds N] [--smoke] [--out FILE]`
prints a markdown table (medians, every round, ratio to rclone, load average per round).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import statistics
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks import harness
from benchmarks.cross_storage import OTHER_KEYS, TwoStorages
from benchmarks.crt_relay import CrtStorage, crt_relay
from benchmarks.relay_ceiling import raw_copy
from benchmarks.scenarios import Env, make_env
from cosbatch.manifests import Task
from cosbatch.operations import transfer
from cosbatch.operations.transfer import (
    CrossStorageCopyOperation,
    Part,
    etags_comparable,
    source_part_size,
)
from cosbatch.storage import implicit_storage
from cosbatch.storage.lean import LeanS3Client

MiB = 1024**2
#: The operation's own apply, kept before `patched` puts head_first_apply in its place.
_APPLY = CrossStorageCopyOperation.apply


def head_first_apply(self: CrossStorageCopyOperation, client: LeanS3Client, task: Task) -> str:
    """CrossStorageCopyOperation.apply as it was before the GET stood for the HEAD, for a source
    uploaded in equal parts (these benchmark's): HEAD, then the parts mirrored (the same checks)."""
    size, source_etag, head = self._head(client, task)
    headers = self._put_headers(client, task, head)
    mirrored = source_part_size(client, task, size, source_etag) if etags_comparable(head, headers) else None
    if not mirrored:
        return _APPLY(self, client, task)
    target, key = self._target_client(), self.params.target_key(task.key)

    def mirror(upload_id: str, number: int, start: int, end: int) -> Part:
        return self._part(client, target, task, key, upload_id, number, start, end, source_etag, False)

    etag, parts = self._multipart(target, key, size, mirrored, headers, mirror, expect_etag=source_etag)
    if etag != source_etag:
        raise RuntimeError(f"{key}: the copy does not match")
    return f"Successful: {size} bytes in {parts} parts, ETag {etag}"


@contextlib.contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    original = owner.__dict__[name]
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def seed(env: Env, bucket: str, n: int, size: int) -> list[str]:
    """n objects of `size` random bytes under big/ (s5cmd, not measured)."""
    local = env.workdir / "seed-big"
    local.mkdir()
    block = os.urandom(size)
    for i in range(n):
        (local / f"{i:04d}").write_bytes(block[i:] + block[:i])  # distinct contents
    env.s5cmd("cp", f"{local}/*", f"s3://{bucket}/big/")
    shutil.rmtree(local)
    return [f"big/{i:04d}" for i in range(n)]


BEFORE = "cosbatch job, HEAD first (before)"
RCLONE = "rclone copy --transfers 8"
HASHED = "cosbatch job, raw stream, MD5 here"
CRT = "awscrt S3Client (no checks)"


def contest(two: TwoStorages, n: int, size: int, rounds: int, loads: list[str],
            cpu: dict[str, list[float]]) -> dict[str, list[float]]:
    cpu_timed = functools.partial(harness.cpu_timed, cpu=cpu)
    env = two.env
    src = env.bucket("xl-src")
    keys = seed(env, src, n, size)
    manifest = env.manifest(src, keys)
    dst = two.away_bucket("xl-dst")
    home = LeanS3Client(implicit_storage(env.endpoint))
    away_storage = two.catalog.get("away")
    away = LeanS3Client(away_storage)
    crt_home = CrtStorage(env.endpoint, env.server.access_key, env.server.secret_key)
    crt_away = CrtStorage(two.away.endpoint_url, *OTHER_KEYS, region="eu-west-1")
    two.warm_up()

    def job(r: int) -> float:
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:eu-west-1::{dst}", "TargetKeyPrefix": f"cb-{r}"}}
        return cpu_timed(lambda: two.cosbatch_job(manifest, op, n), "cosbatch job")

    def job_before(r: int) -> float:
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:eu-west-1::{dst}", "TargetKeyPrefix": f"old-{r}"}}
        with patched(CrossStorageCopyOperation, "apply", head_first_apply):
            return cpu_timed(lambda: two.cosbatch_job(manifest, op, n), BEFORE)

    def job_hashed(r: int) -> float:
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:eu-west-1::{dst}", "TargetKeyPrefix": f"h-{r}"}}
        with patched(transfer, "etags_comparable", lambda *_: False):
            return cpu_timed(lambda: two.cosbatch_job(manifest, op, n), HASHED)

    def rclone(r: int) -> float:
        return cpu_timed(lambda: two.rclone("copy", f"home:{src}/big", f"away:{dst}/rclone-{r}", "--transfers", "8",
                                            "--s3-no-check-bucket"), RCLONE)

    def ceiling(r: int) -> float:
        def one(key: str) -> None:
            raw_copy(home, away, src, key, dst, f"raw-{r}/{key}")
        with ThreadPoolExecutor(n) as pool:
            return cpu_timed(lambda: list(pool.map(one, keys)), "raw ceiling")

    def crt(r: int) -> float:
        return cpu_timed(lambda: crt_relay(crt_home, crt_away, src, keys, size, dst, f"crt-{r}"), CRT)

    try:
        contestants = {"cosbatch job": job, HASHED: job_hashed, BEFORE: job_before, RCLONE: rclone,
                       CRT: crt, "raw ceiling": ceiling}
        return harness.alternate(rounds, contestants, rotate=True, loads=loads)
    finally:
        home.close()
        away.close()


def main(argv: list[str] | None = None) -> int:
    parser = harness.table_parser("cross_large", "2 x 6 MiB, one round: checks that it runs")
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args(argv)
    harness.bench_credentials()
    n, size, rounds = (2, 6 * MiB, 1) if args.smoke else (args.objects, args.size_mib * MiB, args.rounds)
    env = make_env()
    two = TwoStorages(env)
    loads: list[str] = []
    cpu: dict[str, list[float]] = {}
    try:
        secs = contest(two, n, size, rounds, loads, cpu)
    finally:
        two.close()
        env.close()
    mib = n * size / MiB
    peer = statistics.median(secs[RCLONE])
    rows = [(name, f"{mib / statistics.median(vals):.1f}", harness.listed((mib / v for v in vals), ".1f"),
             f"{peer / statistics.median(vals):.2f}x", f"{statistics.median(cpu[name]):.2f}")
            for name, vals in secs.items()]
    header = ("contestant", "median MiB/s", "rounds (MiB/s)", "ratio to rclone (median)", "client CPU s (median)")
    harness.publish([f"Cross-storage copy of {n} x {size // MiB} MiB between two SeaweedFS servers, "
                     + harness.conditions(rounds, loads), "", *harness.markdown_table(header, rows)], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
