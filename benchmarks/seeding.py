"""Seeding many tiny objects fast, outside a benchmark's timed part.

Two seeders, both PUT `object_key(i)` for i < count with the same small body:
- "threads" (default): a pool of threads sending PutObject through cosbatch's lean S3 client (its
  raw HTTP path, one signed request per object). On 2 shared cores against SeaweedFS it seeded
  about 1,500 objects/s, at about 0.11 ms of client CPU per object.
- "s5cmd": one `s5cmd run` over a commands file of `cp <one local file> s3://bucket/key` lines
  (no local file per object). About 870 objects/s on the same machine: s5cmd spends more CPU per
  object (about 1.3 ms) than the server, and both share the 2 cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cosbatch.storage import StorageCatalog
from cosbatch.storage.lean import LeanS3Client

SEEDERS = ("threads", "s5cmd")


def s5cmd(endpoint: str, *args: str) -> None:
    """Run the s5cmd next to this Python (the bench and test extras install it), else the one on
    PATH, against `endpoint`; RuntimeError with the end of its stderr if it fails."""
    binary = shutil.which("s5cmd", path=str(Path(sys.executable).parent)) or "s5cmd"
    proc = subprocess.run([binary, "--endpoint-url", endpoint, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env={**os.environ, "AWS_REGION": "us-east-1"})
    if proc.returncode != 0:
        raise RuntimeError(f"s5cmd {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")


def object_key(i: int) -> str:
    """The key of seeded object `i`; manifests name the same keys."""
    return f"obj/{i:08d}"


@dataclass(frozen=True)
class Seeded:
    tool: str
    bucket: str
    count: int
    size: int
    seconds: float
    workers: int

    @property
    def objects_per_s(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {"tool": self.tool, "bucket": self.bucket, "objects": self.count, "object_bytes": self.size,
                "seconds": self.seconds, "objects_per_s": self.objects_per_s, "workers": self.workers}


def seed_tiny_objects(endpoint: str, bucket: str, count: int, workdir: Path, *, seeder: str = "threads",
                      size: int = 16) -> Seeded:
    """Objects `object_key(0..count-1)` of `size` bytes each in `bucket` (which exists). Its seconds
    cover the uploads only (not writing s5cmd's commands file)."""
    body = os.urandom(size)
    if seeder == "threads":
        workers = 32
        seconds = _seed_with_threads(endpoint, bucket, count, body, workers)
        return Seeded("threads (cosbatch lean client, 32 threads)", bucket, count, size, seconds, workers)
    if seeder == "s5cmd":
        workers = 64
        seconds = _seed_with_s5cmd(endpoint, bucket, count, body, workers, workdir)
        return Seeded("s5cmd run (--numworkers 64)", bucket, count, size, seconds, workers)
    raise ValueError(f"unknown seeder {seeder!r}: one of {', '.join(SEEDERS)}")


def _seed_with_threads(endpoint: str, bucket: str, count: int, body: bytes, workers: int) -> float:
    client = LeanS3Client(StorageCatalog.at(endpoint, max_pool_connections=workers).default)

    def put(start: int) -> None:
        for i in range(start, min(count, start + 1000)):
            client.put_object(Bucket=bucket, Key=object_key(i), Body=body)  # ClientError on a refusal

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(workers) as pool:
            for done, _ in enumerate(pool.map(put, range(0, count, 1000)), 1):  # re-raises the first failure
                if done % 100 == 0:
                    print(f"  seeded {done * 1000:,} of {count:,} objects", file=sys.stderr, flush=True)
    finally:
        client.close()
    return time.perf_counter() - started


def _seed_with_s5cmd(endpoint: str, bucket: str, count: int, body: bytes, workers: int, workdir: Path) -> float:
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / "body"
    local.write_bytes(body)
    commands = workdir / "seed-commands.txt"
    prefix = f"cp {local} s3://{bucket}/"
    with commands.open("w") as out:
        for start in range(0, count, 100_000):
            out.write("".join(f"{prefix}{object_key(i)}\n" for i in range(start, min(count, start + 100_000))))
    started = time.perf_counter()
    try:
        s5cmd(endpoint, "--numworkers", str(workers), "--log", "error", "run", str(commands))
        return time.perf_counter() - started
    finally:
        commands.unlink()
