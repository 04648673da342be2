"""The benchmark scenarios (issue 7): each returns a ScenarioResult with cosbatch and its peers."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import Measurement, ScenarioResult, alternate, timed
from benchmarks.seeding import s5cmd
from cosbatch.controller import JobService, Scheduler
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog, implicit_storage, make_client
from cosbatch.storage.embedded import DISCARD_GRACE_S, EmbeddedS3
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job


@dataclass
class Env:
    server: EmbeddedS3
    workdir: Path
    client: Any

    @property
    def endpoint(self) -> str:
        return self.server.endpoint_url

    def s5cmd(self, *args: str) -> None:
        s5cmd(self.endpoint, *args)

    def close(self) -> None:
        """Stop the server and remove the work dir. Its data is thrown away, so the server gets
        DISCARD_GRACE_S, not 15 s: after many writes `weed mini`'s volume server takes 15-30 s to
        act on SIGTERM."""
        self.server.stop(timeout=DISCARD_GRACE_S)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def bucket(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client.create_bucket(Bucket=name)
        return name

    def seed(self, bucket: str, prefix: str, n: int, size: int = 1024) -> list[str]:
        """n objects of `size` bytes under prefix/, uploaded with s5cmd (setup, not measured)."""
        local = self.workdir / f"seed-{uuid.uuid4().hex[:8]}"
        local.mkdir()
        body = os.urandom(size)
        for i in range(n):
            (local / f"{i:07d}").write_bytes(body)
        self.s5cmd("cp", f"{local}/*", f"s3://{bucket}/{prefix}/")
        shutil.rmtree(local)
        return [f"{prefix}/{i:07d}" for i in range(n)]

    def manifest(self, bucket: str, keys: list[str]) -> str:
        key = f"manifests/{uuid.uuid4().hex[:8]}.csv"
        self.client.put_object(Bucket=bucket, Key=key, Body="".join(f"{bucket},{k}\n" for k in keys).encode())
        return f"arn:aws:s3:::{bucket}/{key}"

    def cosbatch_job(self, manifest_arn: str, operation: dict, report_bucket: str | None, expect: int,
                     tags: list[dict] | None = None, **settings: Any) -> float:
        """Seconds from CreateJob to Complete, with the controller's default settings (or `settings`,
        `storages` too), the job carrying these job tags."""
        store = open_store(f"sqlite:///{self.workdir / uuid.uuid4().hex[:8]}.db")
        config = Settings(store_url=store.url, **{"storages": StorageCatalog.at(self.endpoint), **settings})
        scheduler = Scheduler(store, config)
        start = time.perf_counter()
        job = JobService(store, config.storages).create_job(
            parse_create_job(harness.job_body(manifest_arn, operation, report_bucket, tags)))
        scheduler.run_until_idle()
        elapsed = time.perf_counter() - start
        scheduler.close()
        harness.check_complete(store.get_job(job.job_id), expect)
        store.close()
        return elapsed

    def seed_object(self, bucket: str, key: str, size: int) -> None:
        """One object of `size` bytes (random 64 MiB blocks), uploaded with s5cmd (setup, not measured)."""
        path = self.workdir / f"seed-{uuid.uuid4().hex[:8]}"
        block = os.urandom(min(size, 64 * 1024**2))
        with open(path, "wb") as fh:
            for start in range(0, size, len(block)):
                fh.write(block[: min(len(block), size - start)])
        self.s5cmd("cp", str(path), f"s3://{bucket}/{key}")
        path.unlink()

    def drop_bucket(self, bucket: str) -> None:
        """Delete a bucket and its objects: SeaweedFS frees a bucket's volumes with it."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                self.client.delete_object(Bucket=bucket, Key=obj["Key"])
        self.client.delete_bucket(Bucket=bucket)


def boto3_pool(env: Env, threads: int, fn: Any, items: list[Any]) -> float:

    client = make_client(implicit_storage(env.endpoint, max_pool_connections=threads))
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda item: fn(client, item), items))
    return time.perf_counter() - start


def _ratio_result(name: str, title: str, n: int, seconds: dict[str, list[float]], peer: str, need: float,
                  target: str) -> ScenarioResult:
    ms = [Measurement(name, who, "objects/s", [n / s for s in vals]) for who, vals in seconds.items()]
    ratio = ms[0].median / next(m for m in ms if m.contestant == peer).median
    return ScenarioResult(name, title, ms, target, ratio, ratio >= need)


@contextmanager
def busy_core() -> Iterator[None]:
    """A third process burning one core for as long as the block runs (the competing load)."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


def copy_under_load(env: Env, n: int, rounds: int) -> ScenarioResult:
    """(a) again while another process keeps one of the cores busy."""
    with busy_core():
        result = copy(env, n, rounds, need=1.2)
    result.name, result.title = "copy-load", f"(a') server-side copy of {n:,} x 1 KiB, one core busy elsewhere"
    for m in result.measurements:
        m.scenario = "copy-load"
    return result


def copy(env: Env, n: int, rounds: int, need: float = 1.5) -> ScenarioResult:
    src, dst, rep = env.bucket("src"), env.bucket("dst"), env.bucket("rep")
    keys = env.seed(src, "small", n)
    manifest = env.manifest(src, keys)
    commands = env.workdir / "copy.txt"

    def s5(r: int) -> float:
        commands.write_text("".join(f"cp s3://{src}/{k} s3://{dst}/s5cmd-{r}/{k}\n" for k in keys))
        return timed(lambda: env.s5cmd("run", str(commands)))

    def pool(r: int) -> float:
        return boto3_pool(env, 32, lambda c, k: c.copy_object(Bucket=dst, Key=f"boto3-{r}/{k}",
                                                              CopySource={"Bucket": src, "Key": k}), keys)

    def cos(r: int) -> float:
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}", "TargetKeyPrefix": f"cosbatch-{r}"}}
        return env.cosbatch_job(manifest, op, rep, n)

    secs = alternate(rounds, {"cosbatch": cos, "s5cmd run": s5, "boto3 32 threads": pool})
    return _ratio_result("copy", f"(a) server-side copy of {n:,} x 1 KiB", n, secs, "s5cmd run", need,
                         f">= {need}x s5cmd")


def half_job(env: Env, n: int, rounds: int) -> ScenarioResult:
    """Fixed cost per job: a job of n/2 copies should run as fast (objects/s) as one of n."""
    src, dst, rep = env.bucket("half"), env.bucket("halfd"), env.bucket("rep")
    keys = env.seed(src, "small", n)
    manifests = {n // 2: env.manifest(src, keys[: n // 2]), n: env.manifest(src, keys)}

    def job(size: int) -> Callable[[int], float]:
        def run(r: int) -> float:
            op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}", "TargetKeyPrefix": f"{size}-{r}"}}
            return size / env.cosbatch_job(manifests[size], op, rep, size)
        return run

    values = alternate(rounds, {f"{n // 2:,} copies": job(n // 2), f"{n:,} copies": job(n)})
    ms = [Measurement("half-job", who, "objects/s", v) for who, v in values.items()]
    ratio = ms[0].median / ms[1].median
    return ScenarioResult("half-job", f"(m) copy job of {n // 2:,} vs {n:,} tasks", ms, ">= 0.9x", ratio,
                          ratio >= 0.9)


def delete(env: Env, n: int, rounds: int) -> ScenarioResult:
    bucket, rep = env.bucket("del"), env.bucket("rep")

    def s5(r: int) -> float:
        env.seed(bucket, f"s5-{r}", n)
        return timed(lambda: env.s5cmd("rm", f"s3://{bucket}/s5-{r}/*"))

    def cos(r: int) -> float:
        manifest = env.manifest(bucket, env.seed(bucket, f"cb-{r}", n))
        return env.cosbatch_job(manifest, {"S3DeleteObject": {}}, rep, n)

    secs = alternate(rounds, {"cosbatch": cos, "s5cmd rm": s5})
    return _ratio_result("delete", f"(b) delete of {n:,} objects", n, secs, "s5cmd rm", 1.5, ">= 1.5x s5cmd rm")


def tagging(env: Env, n: int, rounds: int) -> ScenarioResult:
    bucket, rep = env.bucket("tag"), env.bucket("rep")
    keys = env.seed(bucket, "t", n)
    manifest = env.manifest(bucket, keys)

    def pool(r: int) -> float:
        tags = {"TagSet": [{"Key": "round", "Value": f"boto3-{r}"}]}
        return boto3_pool(env, 32, lambda c, k: c.put_object_tagging(Bucket=bucket, Key=k, Tagging=tags), keys)

    def cos(r: int) -> float:
        op = {"S3PutObjectTagging": {"TagSet": [{"Key": "round", "Value": f"cosbatch-{r}"}]}}
        return env.cosbatch_job(manifest, op, rep, n)

    secs = alternate(rounds, {"cosbatch": cos, "boto3 32 threads": pool})
    return _ratio_result("tagging", f"(c) put-tagging of {n:,} objects", n, secs, "boto3 32 threads", 3.0,
                         ">= 3x boto3 pool")


def latency(env: Env, rounds: int) -> ScenarioResult:
    src, dst, rep = env.bucket("lat"), env.bucket("latd"), env.bucket("rep")
    manifest = env.manifest(src, env.seed(src, "ten", 10))
    op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
    values = alternate(max(rounds, 10), {"cosbatch": lambda r: env.cosbatch_job(manifest, op, rep, 10)})
    m = Measurement("latency", "cosbatch", "s", values["cosbatch"], higher_is_better=False)
    return ScenarioResult("latency", "(d) 10-object job, create to Complete (DirectRunner)", [m],
                          "median <= 0.3 s", None, m.median <= 0.3)


def memory(env: Env, small: int, large: int) -> ScenarioResult:
    def peak(lines: int) -> tuple[float, float]:
        path = env.workdir / f"m{lines}.csv"
        with open(path, "w") as fh:
            for i in range(lines):
                fh.write(f"nobucket,key/{i:08d}\n")
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "benchmarks.rss_job", "--manifest", str(path),
                              "--endpoint", env.endpoint], capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - start
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        if not doc["complete"] or doc["tasks"] != lines:
            raise RuntimeError(f"memory job incomplete: {doc}")
        path.unlink()
        return doc["peak_rss_kib"] / 1024, elapsed

    (rss_small, t_small), (rss_large, t_large) = peak(small), peak(large)
    ms = [Measurement("memory", f"{large:,}-line manifest", "MiB", [rss_large], higher_is_better=False),
          Measurement("memory", f"{small:,}-line manifest", "MiB", [rss_small], higher_is_better=False)]
    ratio = rss_large / rss_small
    result = ScenarioResult("memory", "(e) peak RSS of a no-op job", ms, "<= 1.3x and < 1 GiB", ratio,
                            ratio <= 1.3 and rss_large < 1024)
    result.notes.append(f"{large:,} tasks in {t_large:.0f} s ({large / t_large:,.0f} tasks/s through the pipeline); "
                        f"{small:,} in {t_small:.0f} s")
    return result


def store_queries(env: Env, jobs: int) -> ScenarioResult:
    store = open_store(f"sqlite:///{env.workdir / 'many.db'}")
    service = JobService(store)
    body = {"AccountId": "000000000000", "ClientRequestToken": "seed", "Priority": 1,
            "RoleArn": "arn:aws:iam::000000000000:role/bench", "Description": "seed job",
            "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820"},
                         "Location": {"ObjectArn": "arn:aws:s3:::bench/m.csv"}},
            "Operation": {"S3PutObjectTagging": {"TagSet": []}}, "Report": {"Enabled": False}}
    first = service.create_job(parse_create_job(body))
    conn = store._conn()  # setup only: clone the row `jobs` times in one statement
    conn.execute("BEGIN")
    conn.execute(
        """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
           INSERT INTO jobs(job_id, account_id, status, priority, description, confirmation_required,
             creation_time, termination_date, suspended_date, suspended_cause, status_update_reason,
             total_tasks, active_seconds, active_since, failure_reasons, client_request_token, request_hash,
             dialect, manifest, operation, report, role_arn, dry_run, manifest_generator, storage)
           SELECT printf('%08d-bench-%s', i, substr(job_id, 1, 8)), account_id, status, i % 100,
             'job ' || i, confirmation_required, creation_time + i * 0.001, termination_date, suspended_date,
             suspended_cause, status_update_reason, total_tasks, active_seconds, active_since, failure_reasons,
             'tok' || i, request_hash, dialect, manifest, operation, report, role_arn, dry_run, manifest_generator,
             storage
           FROM jobs, n WHERE job_id = ?""",
        (jobs - 1, first.job_id),
    )
    conn.execute("COMMIT")
    ids = [r[0] for r in conn.execute("SELECT job_id FROM jobs")]
    list_ms, describe_ms = [], []
    for _ in range(30):
        list_ms.append(1000 * timed(lambda: service.list_jobs("000000000000", max_results=100)))
        job_id = random.choice(ids)
        describe_ms.append(1000 * timed(lambda jid=job_id: service.describe_job(jid)))
    page = service.list_jobs("000000000000", max_results=100)
    assert len(page.jobs) == 100 and page.next_token
    ms = [Measurement("store", "list-jobs page of 100", "ms", list_ms, higher_is_better=False),
          Measurement("store", "describe-job", "ms", describe_ms, higher_is_better=False)]
    ok = ms[0].median <= 50 and ms[1].median <= 10
    return ScenarioResult("store", f"(f) queries with {len(ids):,} jobs stored", ms,
                          "list <= 50 ms, describe <= 10 ms", None, ok)


def make_env() -> Env:
    from cosbatch.storage.embedded import start_embedded_s3

    workdir = Path(tempfile.mkdtemp(prefix="cosbatch-bench-"))
    server = start_embedded_s3(workdir / "s3")
    return Env(server, workdir, server.client())
