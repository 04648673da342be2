"""Scenarios across two storages (issue 14): cross-storage copy against rclone, and how
closely a rate-limited job keeps its limit. A second SeaweedFS with keys of its own is
the other storage; both tools copy between the same two servers in the same run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from benchmarks import harness
from benchmarks.harness import Measurement, ScenarioResult, alternate, timed
from benchmarks.relay_ceiling import RawSmallCopier, raw_ceiling, raw_copy
from benchmarks.scenarios import Env
from cosbatch.controller import JobService, Scheduler
from cosbatch.settings import Settings
from cosbatch.storage import CredentialsRef, StorageCatalog, implicit_storage
from cosbatch.storage.embedded import DISCARD_GRACE_S, EmbeddedS3, start_embedded_s3
from cosbatch.storage.lean import LeanS3Client
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job

OTHER_KEYS = ("BENCHOTHERAK", "bench-other-secret")
#: rclone tuned for many small objects: 128 transfers and checkers (as many as a cosbatch job has in
#: flight; 16 and 32 measured no faster than 64, 128 5% faster than 64), no bucket check, no HEAD
#: after each upload, no listing of the (new, empty) destination. It still checks each copy's MD5 against the source's ETag (no
#: --ignore-checksum), as cosbatch checks it.
RCLONE_SMALL = ("--transfers", "128", "--checkers", "128", "--s3-no-check-bucket", "--s3-no-head", "--no-check-dest")


class TwoStorages:
    """The benchmark's server ("home", us-east-1) and a second one ("away", eu-west-1)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.away: EmbeddedS3 = start_embedded_s3(env.workdir / "away", access_key=OTHER_KEYS[0],
                                                  secret_key=OTHER_KEYS[1])
        self.away_client = self.away.client(max_pool_connections=32)
        os.environ["BENCH_AWAY_AK"], os.environ["BENCH_AWAY_SK"] = OTHER_KEYS
        home = replace(implicit_storage(env.endpoint), name="home")
        away = replace(implicit_storage(self.away.endpoint_url, "eu-west-1"), name="away",
                       credentials=CredentialsRef("BENCH_AWAY_AK", "BENCH_AWAY_SK"))
        self.catalog = StorageCatalog((home, away), "home")

    def close(self) -> None:
        self.away.stop(timeout=DISCARD_GRACE_S)  # its data goes with the benchmark's work dir

    def away_bucket(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.away_client.create_bucket(Bucket=name)
        return name

    def rclone(self, *args: str) -> None:
        binary = shutil.which("rclone", path=str(Path(sys.executable).parent)) or "rclone"
        env = {**os.environ}
        for remote, url, (key, secret) in (
            ("HOME", self.env.endpoint, (self.env.server.access_key, self.env.server.secret_key)),
            ("AWAY", self.away.endpoint_url, OTHER_KEYS),
        ):
            env.update({f"RCLONE_CONFIG_{remote}_TYPE": "s3", f"RCLONE_CONFIG_{remote}_PROVIDER": "Other",
                        f"RCLONE_CONFIG_{remote}_ENDPOINT": url, f"RCLONE_CONFIG_{remote}_ACCESS_KEY_ID": key,
                        f"RCLONE_CONFIG_{remote}_SECRET_ACCESS_KEY": secret,
                        f"RCLONE_CONFIG_{remote}_REGION": "us-east-1",
                        f"RCLONE_CONFIG_{remote}_FORCE_PATH_STYLE": "true"})
        subprocess.run([binary, *args], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def warm_up(self) -> None:
        """One unmeasured cross-storage copy job of one object: the process's first job pays its
        imports (Beam, the pipeline's modules: ~2 s of CPU), which a server running jobs pays once,
        not per job; no measured round should."""
        src, dst = self.env.bucket("warm"), self.away_bucket("warm")
        keys = self.env.seed(src, "obj", 1)
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:eu-west-1::{dst}"}}
        self.cosbatch_job(self.env.manifest(src, keys), op, 1)

    def cosbatch_job(self, manifest_arn: str, operation: dict, expect: int,
                     max_ops_per_second: float | None = None, samples: list | None = None) -> float:
        """Seconds from CreateJob to Complete; `samples` gets (time, tasks run) at every scheduler step."""
        store = open_store(f"sqlite:///{self.env.workdir / uuid.uuid4().hex[:8]}.db")
        body = harness.job_body(manifest_arn, operation, role="home")
        settings = Settings(store_url=store.url, storages=self.catalog)
        scheduler = Scheduler(store, settings)
        start = time.perf_counter()
        job = JobService(store, self.catalog).create_job(parse_create_job(body), max_ops_per_second)

        def sample() -> None:
            if samples is not None:
                samples.append((time.perf_counter(), store.get_job(job.job_id).progress_summary.tasks_run))

        scheduler.run_until_idle(on_tick=sample)
        elapsed = time.perf_counter() - start
        scheduler.close()
        done = store.get_job(job.job_id)
        store.close()
        harness.check_complete(done, expect)
        return elapsed


#: rclone's flags per scenario: tuned for many small objects (see benchmarks.cross_small), and the
#: issue's peer for large ones. Both check each copy's MD5 against the source's, as cosbatch does.
RCLONE_FLAGS = {"cross-small": RCLONE_SMALL, "cross-large": ("--transfers", "8", "--s3-no-check-bucket")}
#: The issue's targets: cosbatch / rclone, medians of the rounds.
TARGETS = {"cross-small": 1.2, "cross-large": 1.0}


def _copy_contest(two: TwoStorages, n: int, size: int, rounds: int, flags: tuple[str, ...],
                  loads: list[str]) -> dict[str, list[float]]:
    """Seconds of cosbatch, rclone and the raw ceiling (GET -> PUT, nothing checked) each round, in
    turn, each round starting one further along."""
    src = two.env.bucket("xsrc")
    keys = two.env.seed(src, "obj", n, size)
    manifest = two.env.manifest(src, keys)
    dst = two.away_bucket("xdst")
    home, away = LeanS3Client(implicit_storage(two.env.endpoint)), LeanS3Client(two.catalog.get("away"))
    small = RawSmallCopier(home, away)

    def rclone(r: int) -> float:
        return timed(lambda: two.rclone("copy", f"home:{src}/obj", f"away:{dst}/rclone-{r}", *flags))

    def cos(r: int) -> float:
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:eu-west-1::{dst}", "TargetKeyPrefix": f"cb-{r}"}}
        return two.cosbatch_job(manifest, op, n)

    def ceiling(r: int) -> float:
        if size <= 1024**2:
            return timed(lambda: raw_ceiling(small, src, keys, dst, f"raw-{r}"))
        with ThreadPoolExecutor(len(keys)) as pool:
            return timed(lambda: list(pool.map(lambda k: raw_copy(home, away, src, k, dst, f"raw-{r}/{k}"), keys)))

    try:
        return alternate(rounds, {"cosbatch": cos, "rclone copy": rclone, "raw ceiling": ceiling}, rotate=True,
                         loads=loads)
    finally:
        small.close()
        home.close()
        away.close()


def cross_copy(env: Env, n_small: int, n_large: int, rounds: int) -> list[ScenarioResult]:
    two = TwoStorages(env)
    loads: dict[str, list[str]] = {"cross-small": [], "cross-large": []}
    try:
        two.warm_up()
        small = _copy_contest(two, n_small, 1024, rounds, RCLONE_FLAGS["cross-small"], loads["cross-small"])
        large = _copy_contest(two, n_large, 64 * 1024**2, rounds, RCLONE_FLAGS["cross-large"], loads["cross-large"])
    finally:
        two.close()
    results = []
    for name, title, secs, unit, per in (
        ("cross-small", f"(h) cross-storage copy of {n_small:,} x 1 KiB", small, "objects/s", n_small),
        ("cross-large", f"(i) cross-storage copy of {n_large} x 64 MiB", large, "MiB/s", n_large * 64),
    ):
        ms = [Measurement(name, who, unit, [per / s for s in vals]) for who, vals in secs.items()]
        ratio = ms[0].median / ms[1].median
        per_round = harness.listed((c / p for c, p in zip(ms[0].values, ms[1].values, strict=True)), ".2f")
        notes = [f"rclone copy {' '.join(RCLONE_FLAGS[name])}; ratio per round {per_round}; cosbatch at "
                 f"{ms[0].median / ms[2].median:.2f} of the raw ceiling; load at each round's start: "
                 + "; ".join(loads[name])]
        results.append(ScenarioResult(name, title, ms, f">= {TARGETS[name]}x rclone copy", ratio,
                                      ratio >= TARGETS[name], notes))
    return results


def rate_limit(env: Env, n: int, limit: float, rounds: int) -> ScenarioResult:
    two = TwoStorages(env)
    try:
        src = env.bucket("rl")
        manifest = env.manifest(src, env.seed(src, "obj", n))
        op = {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}
        # The job's whole time includes Preparing and the report: measure the rate between 10% and 90%.
        rates = []
        for _ in range(rounds):
            samples: list[tuple[float, int]] = []
            two.cosbatch_job(manifest, op, n, max_ops_per_second=limit, samples=samples)
            (t0, n0), (t1, n1) = (next(s for s in samples if s[1] >= f * n) for f in (0.1, 0.9))
            rates.append((n1 - n0) / max(t1 - t0, 1e-3))
    finally:
        two.close()
    m = Measurement("rate-limit", f"job limited to {limit:g}/s", "objects/s", rates)
    ratio = m.median / limit
    return ScenarioResult("rate-limit", f"(j) rate-limited tagging of {n:,} objects", [m],
                          "within +-10% of the limit", ratio, 0.9 <= ratio <= 1.1)
