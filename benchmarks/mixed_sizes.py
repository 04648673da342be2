"""Mixed sizes without stragglers (issue 25, item 3): a copy job of a manifest that mixes many
tiny objects with a few multi-GiB ones, against `s5cmd run` of the same copies, and the job's tail.

The issue's manifest is 10,000 objects: 95% up to 64 KiB, 4% of 1-64 MiB, 1% of 256 MiB-2 GiB
(about 100 GiB). Scaled to this machine (2 cores, one SeaweedFS, ~50 GiB of free disk), the full
profile keeps the shape with fewer large objects: 2,000 objects, 1,910 of 1-64 KiB, 80 of 1-64 MiB
(log-uniform) and 10 of 256 MiB-2 GiB (log-spaced, the largest exactly 2 GiB): about 10 GiB, the
bytes almost all in the large ones, which sit at random places in the manifest.

Contestants, each round in a rotated order, each copying every object into a fresh bucket that is
deleted afterwards:

- `cosbatch`: CreateJob to Complete as `cosbatch create-job --wait` runs it (a Scheduler in this
  process, the DirectRunner, a report of all tasks), with the storage's defaults: each segment's
  sources listed for their sizes, largest first, objects above 256 MiB in shared parts;
- `cosbatch, main's behaviour`: the same job with `copy_largest_first=False` and
  `copy_split_threshold=None` on its storage, which is the code path of main at 9bca056 (manifest
  order, one CopyObject per object);
- `s5cmd run`: one `cp s3://src/k s3://dst/k` line per object (its default 256 workers);
- `server alone` (the ceiling, issue 25 item 4): the storage server copying with no job around it,
  one CopyObject per object from a bare client (benchmarks.server_ceiling.copy_objects), the
  largest first, CEILING_THREADS at a time.

The tail: every CopyObject and UploadPartCopy the job sends is timed (the benchmark wraps the lean
client's two methods for the run; nothing in cosbatch changes), and its bytes count as done when
its answer arrives. The tail is the time from 99% of the job's bytes done to the job's Complete.

`python -m benchmarks.mixed_sizes [--smoke] [--rounds N] [--out DIR]` writes mixed-sizes.{json,md}
(default benchmarks/results). --smoke: 30 objects of up to 16 MiB, the split threshold at 8 MiB,
one round; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import server_ceiling
from benchmarks.disk_ceiling import WriteRates, write_rates
from benchmarks.harness import RESULTS
from benchmarks.seeding import s5cmd
from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus
from cosbatch.settings import Settings
from cosbatch.storage import Storage, StorageCatalog, implicit_storage
from cosbatch.storage.embedded import EmbeddedS3, start_embedded_s3
from cosbatch.storage.lean import LeanS3Client
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job

KiB, MiB, GiB = 1024, 1024**2, 1024**3


@dataclass(frozen=True)
class Profile:
    objects: int
    medium: int  # of medium_range
    large: int  # log-spaced over large_range, both ends included
    small_range: tuple[int, int]
    medium_range: tuple[int, int]
    large_range: tuple[int, int]
    split_threshold: int  # the storage's copy_split_threshold for the `cosbatch` contestant
    chunksize: int  # its multipart_chunksize

    def sizes(self, seed: int = 25) -> list[int]:
        """Object sizes in manifest order: deterministic, the large ones at random places."""
        rng = random.Random(seed)

        def log_uniform(lo: int, hi: int) -> int:
            return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

        lo, hi = self.large_range
        large = [int(lo * (hi / lo) ** (i / max(1, self.large - 1))) for i in range(self.large)]
        medium = [log_uniform(*self.medium_range) for _ in range(self.medium)]
        small = [log_uniform(*self.small_range) for _ in range(self.objects - self.large - self.medium)]
        sizes = large + medium + small
        rng.shuffle(sizes)
        return sizes


PROFILES = {
    "full": Profile(2000, 80, 10, (1 * KiB, 64 * KiB), (1 * MiB, 64 * MiB), (256 * MiB, 2 * GiB),
                    256 * MiB, 16 * MiB),
    "smoke": Profile(30, 2, 2, (1 * KiB, 64 * KiB), (1 * MiB, 4 * MiB), (12 * MiB, 16 * MiB), 8 * MiB, 5 * MiB),
}


def object_key(i: int) -> str:
    return f"mix/{i:05d}"


@dataclass
class Request:
    """One copy request the job sent: when it started and ended (s from CreateJob) and its bytes."""

    key: str
    start: float
    end: float
    bytes: int
    kind: str  # "copy" | "part"


@dataclass
class Timeline:
    t0: float = field(default_factory=time.perf_counter)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, start: float, nbytes: int, kind: str) -> None:
        with self.lock:
            self.requests.append(Request(key, start - self.t0, time.perf_counter() - self.t0, nbytes, kind))

    def bytes_done_at(self, fraction: float, total: int) -> float:
        """Seconds from CreateJob until `fraction` of `total` bytes had been copied."""
        done = 0
        for r in sorted(self.requests, key=lambda r: r.end):
            done += r.bytes
            if done >= fraction * total:
                return r.end
        return float("nan")

    def first_start(self, key: str) -> float:
        return min((r.start for r in self.requests if r.key == key), default=float("nan"))

    def last_end(self, key: str) -> float:
        return max((r.end for r in self.requests if r.key == key), default=float("nan"))


@contextmanager
def timed_copies(sizes: dict[str, int]) -> Iterator[Timeline]:
    """Time every CopyObject and UploadPartCopy of the lean client while the block runs."""
    timeline = Timeline()
    copy_object, upload_part_copy = LeanS3Client.copy_object, LeanS3Client.upload_part_copy

    @functools.wraps(copy_object)
    def copy_wrapped(self: Any, Bucket: str, Key: str, CopySource: Any, **extra: Any) -> Any:  # noqa: N803
        start = time.perf_counter()
        answer = copy_object(self, Bucket, Key, CopySource, **extra)
        timeline.add(CopySource["Key"], start, sizes.get(CopySource["Key"], 0), "copy")
        return answer

    @functools.wraps(upload_part_copy)
    def part_wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        answer = upload_part_copy(self, *args, **kwargs)
        source_key, first, end = args[5], args[7], args[8]
        timeline.add(source_key, start, end - first, "part")
        return answer

    LeanS3Client.copy_object, LeanS3Client.upload_part_copy = copy_wrapped, part_wrapped  # type: ignore[method-assign]
    try:
        yield timeline
    finally:
        LeanS3Client.copy_object, LeanS3Client.upload_part_copy = copy_object, upload_part_copy  # type: ignore[method-assign]


@dataclass
class JobRun:
    seconds: float
    tail_s: float
    tail_share: float
    requests: int
    parts: int
    large_started_s: list[float]  # each large object's first request, s from CreateJob (largest first)
    large_done_s: list[float]
    failed: int = 0  # tasks the job reported failed (their objects are then missing from the copy)
    failures: dict[str, int] = field(default_factory=dict)  # by error code
    missing: int = 0  # objects not in the target bucket after the job


class Bench:
    def __init__(self, server: EmbeddedS3, workdir: Path, profile: Profile) -> None:
        self.server, self.workdir, self.profile = server, workdir, profile
        self.client = server.client()
        self.sizes = profile.sizes()
        self.keys = [object_key(i) for i in range(len(self.sizes))]
        self.size_of = dict(zip(self.keys, self.sizes, strict=True))
        self.total = sum(self.sizes)
        self.src = self.bucket("mix-src")
        self.reports = self.bucket("mix-rep")

    @property
    def endpoint(self) -> str:
        return self.server.endpoint_url

    def bucket(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.client.create_bucket(Bucket=name)
        return name

    def drop(self, bucket: str) -> None:
        """Delete a copy's bucket (SeaweedFS frees its volumes with it)."""
        s5cmd(self.endpoint, "--log", "error", "rm", f"s3://{bucket}/*")
        self.client.delete_bucket(Bucket=bucket)

    # -- setup, not measured -----------------------------------------------------------------
    def seed(self) -> float:
        started = time.perf_counter()
        block = os.urandom(64 * MiB)
        big = [(k, s) for k, s in self.size_of.items() if s > 64 * MiB]
        rest = [(k, s) for k, s in self.size_of.items() if s <= 64 * MiB]
        lean = LeanS3Client(StorageCatalog.at(self.endpoint, max_pool_connections=16).default)
        try:
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda ks: lean.put_object(Bucket=self.src, Key=ks[0], Body=block[: ks[1]]), rest))
        finally:
            lean.close()
        for key, size in big:  # as most large objects are uploaded: multipart (s5cmd's 50 MiB parts)
            path = self.workdir / "big"
            with open(path, "wb") as fh:
                for start in range(0, size, len(block)):
                    fh.write(block[: min(len(block), size - start)])
            s5cmd(self.endpoint, "cp", str(path), f"s3://{self.src}/{key}")
            path.unlink()
        manifest = "".join(f"{self.src},{k}\n" for k in self.keys).encode()
        self.client.put_object(Bucket=self.src, Key="manifest.csv", Body=manifest)
        return time.perf_counter() - started

    # -- contestants -------------------------------------------------------------------------
    def storage(self, mixed: bool) -> Storage:
        base = implicit_storage(self.endpoint)
        if mixed:
            return replace(base, copy_split_threshold=self.profile.split_threshold,
                           multipart_chunksize=self.profile.chunksize)
        return replace(base, copy_largest_first=False, copy_split_threshold=None)

    def cosbatch(self, mixed: bool) -> JobRun:
        dst = self.bucket("mix-dst")
        store = open_store(f"sqlite:///{self.workdir / uuid.uuid4().hex[:8]}.db")
        body = {
            "AccountId": "000000000000", "ClientRequestToken": uuid.uuid4().hex, "Priority": 1,
            "RoleArn": "arn:aws:iam::000000000000:role/bench",
            "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                         "Location": {"ObjectArn": f"arn:aws:s3:::{self.src}/manifest.csv"}},
            "Operation": {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}},
            "Report": {"Enabled": True, "Bucket": f"arn:aws:s3:::{self.reports}", "Format": "Report_CSV_20180820",
                       "Prefix": "bench", "ReportScope": "AllTasks"},
        }
        config = Settings(store_url=store.url, storages=StorageCatalog.single(self.storage(mixed)))
        scheduler = Scheduler(store, config)
        try:
            with timed_copies(self.size_of) as timeline:
                job = JobService(store, config.storages).create_job(parse_create_job(body))
                scheduler.run_until_idle()
                seconds = time.perf_counter() - timeline.t0
            done = store.get_job(job.job_id)
            summary = done.progress_summary
            if done.status is not JobStatus.COMPLETE or \
                    summary.number_of_tasks_succeeded + summary.number_of_tasks_failed != len(self.keys):
                raise RuntimeError(f"the job did not complete: {done.status} {summary}")
            failures = store.failure_codes(job.job_id) if summary.number_of_tasks_failed else {}
        finally:
            scheduler.close()
            store.close()
        # Not always the failed count: a CopyObject the client gave up on (its read timeout) may
        # still complete on the server, and its task is then reported failed with its copy in place.
        missing = self.check_copied(dst)
        self.drop(dst)
        large = sorted((k for k, s in self.size_of.items() if s >= self.profile.large_range[0]),
                       key=lambda k: -self.size_of[k])
        tail = seconds - timeline.bytes_done_at(0.99, self.total)
        return JobRun(seconds, tail, tail / seconds, len(timeline.requests),
                      sum(1 for r in timeline.requests if r.kind == "part"),
                      [round(timeline.first_start(k), 3) for k in large],
                      [round(timeline.last_end(k), 3) for k in large], summary.number_of_tasks_failed, failures,
                      missing)

    def s5cmd_run(self) -> float:
        dst = self.bucket("mix-s5")
        commands = self.workdir / "commands.txt"
        commands.write_text("".join(f"cp s3://{self.src}/{k} s3://{dst}/{k}\n" for k in self.keys))
        started = time.perf_counter()
        s5cmd(self.endpoint, "--log", "error", "run", str(commands))
        seconds = time.perf_counter() - started
        if missing := self.check_copied(dst):
            raise RuntimeError(f"s5cmd run left {missing} objects uncopied")
        self.drop(dst)
        return seconds

    def server_alone(self) -> float:
        dst = self.bucket("mix-ceil")
        largest_first = sorted(self.size_of.items(), key=lambda ks: -ks[1])
        started = time.perf_counter()
        server_ceiling.copy_objects(implicit_storage(self.endpoint), self.src, largest_first, dst, CEILING_THREADS)
        seconds = time.perf_counter() - started
        if missing := self.check_copied(dst):
            raise RuntimeError(f"the server-alone copy left {missing} objects uncopied")
        self.drop(dst)
        return seconds

    def check_copied(self, bucket: str) -> int:
        """How many objects are missing from `bucket` (a listing; not timed); RuntimeError if one has
        the wrong size or is not ours."""
        seen: dict[str, int] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            seen.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        if any(self.size_of.get(k) != size for k, size in seen.items()):
            raise RuntimeError(f"the copy into {bucket} has objects of the wrong size")
        return len(self.size_of) - len(seen)


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def run(profile_name: str, rounds: int, main_rounds: int) -> dict:
    profile = PROFILES[profile_name]
    workdir = Path(tempfile.mkdtemp(prefix="cosbatch-mixed-"))
    server = start_embedded_s3(workdir / "s3")
    try:
        bench = Bench(server, workdir, profile)
        seed_s = bench.seed()
        print(f"seeded {len(bench.keys)} objects, {bench.total / GiB:.2f} GiB, in {seed_s:.0f} s", file=sys.stderr)
        # The disk's own write rate (benchmarks/disk_ceiling.py): every contestant's copy writes
        # these bytes through the server's page cache.
        disk = write_rates(workdir, 4 * GiB if profile_name == "full" else 64 * MiB)
        print(disk.line(), file=sys.stderr)
        contestants: dict[str, Callable[[], Any]] = {
            "cosbatch": lambda: bench.cosbatch(mixed=True),
            "cosbatch, main's behaviour": lambda: bench.cosbatch(mixed=False),
            "s5cmd run": bench.s5cmd_run,
            CEILING: bench.server_alone,
        }
        names = list(contestants)
        runs: dict[str, list[Any]] = {n: [] for n in names}
        loads: list[str] = []
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                if name == "cosbatch, main's behaviour" and r >= main_rounds:
                    continue
                loads.append(_load())
                outcome = contestants[name]()
                runs[name].append(outcome)
                secs = outcome.seconds if isinstance(outcome, JobRun) else outcome
                extra = f", tail {outcome.tail_s:.2f} s ({outcome.tail_share:.1%})" if isinstance(outcome, JobRun) else ""
                print(f"round {r + 1} {name}: {secs:.2f} s{extra} (load {loads[-1]})", file=sys.stderr, flush=True)
        loads.append(_load())
    finally:
        server.stop(timeout=2)  # a throwaway server: after deleted buckets it can take 15 s to exit on SIGTERM
        shutil.rmtree(workdir, ignore_errors=True)
    doc = summarise(profile_name, profile, rounds, bench.total, len(bench.keys), seed_s, runs, loads)
    doc["meta"]["disk_write"] = asdict(disk)  # GiB/s each, and the bytes written
    return doc


MAIN = "cosbatch, main's behaviour"
CEILING = "server alone: CopyObject, largest first"
#: Copies the server-alone ceiling keeps in flight: enough for the small objects, and the large ones
#: start at once (on this one-disk server 16 concurrent 64 MiB copies beat 64, many-large.md).
CEILING_THREADS = 32


def summarise(profile_name: str, profile: Profile, rounds: int, total: int, objects: int, seed_s: float,
              runs: dict[str, list[Any]], loads: list[str]) -> dict:
    runs = {name: outcomes for name, outcomes in runs.items() if outcomes}  # --main-rounds 0: none of main's

    def secs(name: str) -> list[float]:
        return [o.seconds if isinstance(o, JobRun) else o for o in runs.get(name, [])]

    ours, main, peer = secs("cosbatch"), secs("cosbatch, main's behaviour"), secs("s5cmd run")
    ratios = [p / o for o, p in zip(ours, peer, strict=True)]  # per round: s5cmd's time over ours
    main_ratios = [p / o for o, p in zip(main, peer, strict=False)]  # the rounds main's behaviour ran in
    tails = [o.tail_share for o in runs["cosbatch"]]
    ceiling = secs(CEILING)
    return {
        "meta": {"profile": profile_name, "rounds": rounds, "main_rounds": len(main), "objects": objects,
                 "bytes": total,
                 "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
                 "seed_s": round(seed_s, 1), "load_average_1_5_15_before_each_run": loads,
                 "profile_detail": asdict(profile)},
        "median_s": {n: statistics.median(secs(n)) for n in runs},
        "seconds": {n: secs(n) for n in runs},
        "ratio_vs_s5cmd": statistics.median(peer) / statistics.median(ours),
        "ratio_vs_s5cmd_per_round": ratios,
        "main_ratio_vs_s5cmd": statistics.median(peer) / statistics.median(main) if main else None,
        "main_ratio_vs_s5cmd_per_round": main_ratios,
        "ratio_vs_ceiling": statistics.median(ceiling) / statistics.median(ours) if ceiling else None,
        "ratio_vs_ceiling_per_round": [c / o for o, c in zip(ours, ceiling, strict=False)],
        "ceiling_retried_requests": len(server_ceiling.retried),
        "tail_share_median": statistics.median(tails),
        "main_tail_share_median": statistics.median(o.tail_share for o in runs[MAIN]) if main else None,
        "jobs": {n: [asdict(o) for o in runs[n]] for n in ("cosbatch", MAIN) if n in runs},
    }


def markdown(doc: dict) -> str:
    meta, med = doc["meta"], doc["median_s"]
    gib = meta["bytes"] / GiB
    lines = [f"# Mixed sizes without stragglers ({meta['profile']}, {meta['date']})", "",
             f"Machine: {meta['machine']}. {meta['objects']:,} objects, {gib:.2f} GiB; {meta['rounds']} "
             f"alternating rounds (order rotated each round; main's behaviour in the first {meta['main_rounds']}); medians. Load average (1/5/15 min) before each run: "
             f"{', '.join(meta['load_average_1_5_15_before_each_run'])}.", "",
             "| contestant | median s | GiB/s | rounds (s) | vs s5cmd run (its time / ours) | tail: 99% of bytes to Complete |",
             "|---|---|---|---|---|---|"]
    for name, values in doc["seconds"].items():
        job = doc["jobs"].get(name)
        tail = ""
        if job:
            shares = [j["tail_share"] for j in job]
            tail = (f"median {statistics.median(shares):.1%} of the job ({_spread([100 * s for s in shares])}%; "
                    f"{statistics.median(j['tail_s'] for j in job):.2f} s)")
        if name == "cosbatch":
            ratio = f"**{doc['ratio_vs_s5cmd']:.2f}x** (per round {', '.join(f'{r:.2f}' for r in doc['ratio_vs_s5cmd_per_round'])})"
        elif name == "cosbatch, main's behaviour":
            ratio = f"{doc['main_ratio_vs_s5cmd']:.2f}x (per round {', '.join(f'{r:.2f}' for r in doc['main_ratio_vs_s5cmd_per_round'])})"
        else:  # s5cmd (1.00x) and the server alone
            ratio = f"{med['s5cmd run'] / med[name]:.2f}x"
        lines.append(f"| {name} | {med[name]:.2f} | {gib / med[name]:.3f} | {', '.join(f'{v:.2f}' for v in values)} | "
                     f"{ratio} | {tail} |")
    if doc.get("ratio_vs_ceiling"):
        lines += ["", f"cosbatch / the server alone (its time over ours): **{doc['ratio_vs_ceiling']:.2f}x** of the medians, "
                  f"per round {', '.join(f'{r:.2f}' for r in doc['ratio_vs_ceiling_per_round'])}. "
                  f"Requests of the server alone answered with a transient error and sent again: "
                  f"{doc.get('ceiling_retried_requests', 0)}."]
    if meta.get("disk_write"):
        lines += ["", f"The machine's limit: {WriteRates(**meta['disk_write']).line()}."]
    lines += ["", "Large objects in the `cosbatch` runs, largest first: first request and last answer, s from CreateJob:", ""]
    for name, job in doc["jobs"].items():
        for i, j in enumerate(job):
            pairs = ", ".join(f"{a:.1f}-{b:.1f}" for a, b in zip(j["large_started_s"], j["large_done_s"], strict=True))
            failed = f", **{j['failed']} tasks failed** {j['failures']}, {j['missing']} objects missing" \
                if j["failed"] or j["missing"] else ""
            lines.append(f"- {name}, round {i + 1} ({j['seconds']:.1f} s, {j['parts']} parts{failed}): {pairs}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mixed_sizes")
    parser.add_argument("--smoke", action="store_true", help="30 objects of up to 16 MiB, one round")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 5; --smoke 1)")
    parser.add_argument("--main-rounds", type=int, default=1,
                        help="rounds (the first ones) that also run main's behaviour (default 1: on this machine "
                             "one of its runs took minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where mixed-sizes.{json,md} go")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")
    doc = run("smoke" if args.smoke else "full", args.rounds or (1 if args.smoke else 5), args.main_rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mixed-sizes.json").write_text(json.dumps(doc, indent=2))
    text = markdown(doc)
    (args.out / "mixed-sizes.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
