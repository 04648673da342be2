"""A million tasks through the control plane and the storage (issue 17):
`python -m benchmarks.million_tasks [--smoke] [--tasks N] [--baseline N] [--jobs N] [--runners direct,dask]
[--operation tagging|dryrun|noop] [--seeder threads|s5cmd] [--store postgresql|sqlite] [--out DIR]`.

The job runs `--operation` (benchmarks/million_workload.py: by default S3PutObjectTagging, one
request per object; or DryRun, a HEAD per object; or a no-op Invoke, none) over an N-line manifest
read from SeaweedFS, with a full report (every task a row) written back to it. The objects are
seeded once before anything is timed (benchmarks/seeding.py; count, seconds and rate go in the
results), and every job on every runner uses the same ones: tagging is idempotent, DryRun only reads.

It runs on `cosbatch serve` (a separate process, the chosen store) with the DirectRunner and with a
Dask cluster of `dask scheduler` + two `dask worker` processes, a baseline job (the first lines of
the manifest) then the big one on each. Measured: the Preparing rate (lines/s), task throughput of
the baseline and of the big job, peak RSS (VmHWM) of the controller and of each worker process, the
store's size, and DescribeJob/ListJobs latency over HTTP sampled while the big job runs. Then
list-jobs and describe-job latency with `--jobs` jobs stored, in SQLite and in PostgreSQL (rows
seeded outside the timed part). Results: OUT/million-tasks.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import RESULTS, timed
from benchmarks.million_workload import (
    ACCOUNT,
    DESCRIPTIONS,
    OPERATIONS,
    Workload,
    job_body,
    prepare,
)
from benchmarks.seeding import SEEDERS
from cosbatch.controller import JobService
from cosbatch.lifecycle import TERMINAL
from cosbatch.lifecycle import JobStatus as S
from cosbatch.storage import StorageCatalog
from cosbatch.store import open_store
from cosbatch.store import rows as store_rows
from cosbatch.wire.dialects import parse_create_job

ROOT = Path(__file__).resolve().parents[1]
#: --smoke: (tasks, baseline tasks, jobs stored). Its figures mean nothing; it shows every part runs.
SMOKE = (2_000, 500, 1_000)
FULL = (1_000_000, 20_000, 100_000)


# -- measuring -------------------------------------------------------------------------------
def _peak_kib(proc: psutil.Process) -> int:
    """The process's peak resident set (VmHWM), KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class SeenProcess:
    """What PeakRss saw of one process: the root it was found under, its parent, name and
    command line, when it started (epoch s) and the CPU seconds it had used when last sampled."""

    root: int
    ppid: int
    name: str
    command: str
    started: float
    cpu_s: float = 0.0


class PeakRss:
    """Peak RSS per process of a controller and of worker process trees, sampled every 0.2 s
    (VmHWM is the kernel's own peak, so sampling only has to see each process once alive).
    `seen` tells, per pid, which root it was found under and what it was."""

    def __init__(self, controller: int, workers: list[int]) -> None:
        self.controller = psutil.Process(controller)
        self.worker_roots = [psutil.Process(p) for p in workers]
        self.peaks: dict[tuple[str, int], int] = {}
        self.seen: dict[int, SeenProcess] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        tree = [("controller", self.controller, self.controller.pid)]
        tree += [("worker", p, p.pid) for p in self.worker_roots]
        for root in [self.controller, *self.worker_roots]:
            try:
                tree += [("worker", p, root.pid) for p in root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        for role, proc, root_pid in tree:
            key = (role, proc.pid)
            self.peaks[key] = max(self.peaks.get(key, 0), _peak_kib(proc))
            self._note(proc, root_pid)

    def _note(self, proc: psutil.Process, root: int) -> None:
        try:
            with proc.oneshot():
                if proc.pid not in self.seen:
                    self.seen[proc.pid] = SeenProcess(root, proc.ppid(), proc.name(), " ".join(proc.cmdline())[:300],
                                                      proc.create_time())
                times = proc.cpu_times()
                self.seen[proc.pid].cpu_s = times.user + times.system
        except psutil.Error:
            pass

    def cpu_seconds(self) -> dict[int, float]:
        """CPU seconds used so far by every process seen, per pid (as last sampled)."""
        return {pid: seen.cpu_s for pid, seen in self.seen.items()}

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self) -> PeakRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()

    def mib(self, role: str) -> float:
        """The largest peak of one process in `role`, MiB."""
        return max((v for (r, _), v in self.peaks.items() if r == role), default=0) / 1024


@dataclass
class Latencies:
    describe_ms: list[float] = field(default_factory=list)
    list_ms: list[float] = field(default_factory=list)

    @staticmethod
    def summary(values: list[float]) -> dict[str, float]:
        if not values:
            return {"samples": 0}
        ordered = sorted(values)
        return {"samples": len(values), "median": statistics.median(ordered),
                "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], "max": ordered[-1]}


class ApiSampler:
    """DescribeJob and ListJobs over HTTP against the serving controller, twice a second."""

    def __init__(self, server: Any, job_id: str) -> None:
        self.server, self.job_id = server, job_id
        self.latencies = Latencies()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _get(self, path: str) -> float:
        start = time.perf_counter()
        resp = self.server.request("GET", path, headers={"x-amz-account-id": ACCOUNT})
        elapsed = 1000 * (time.perf_counter() - start)
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {resp.data[:300]!r}")
        return elapsed

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.latencies.describe_ms.append(self._get(f"/v20180820/jobs/{self.job_id}"))
            self.latencies.list_ms.append(self._get("/v20180820/jobs"))

    def __enter__(self) -> ApiSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def store_size_mib(url: str) -> float:
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20


# -- the jobs ---------------------------------------------------------------------------------
def _seconds_between(history: list, start: S, end: S) -> float:
    at = {}
    for change in history:
        at.setdefault(change.to_status, change.at)
    return (at[end] - at[start]).total_seconds()


def run_job(service: JobService, server: Any, body: dict, tasks: int, sample_api: bool,
            watch: Callable[[str], None] | None = None, poll_s: float = 0.25) -> dict:
    """Create the job, wait for it to end; its figures from the job's own history. `watch` is
    called with the job's id at every poll (every `poll_s`) while the job runs."""
    created = time.perf_counter()
    job = service.create_job(parse_create_job(body))
    sampler = ApiSampler(server, job.job_id) if sample_api else None
    deadline = time.monotonic() + 600 + tasks / 100  # a stuck job fails the benchmark, never hangs it
    with sampler or nullcontext():
        while (status := service.store.get_status(job.job_id)) not in TERMINAL:
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job.job_id} still {status} after {time.monotonic() - created:.0f} s")
            if watch:
                watch(job.job_id)
            time.sleep(poll_s)
    wall = time.perf_counter() - created
    done = service.describe_job(job.job_id)
    if done.status is not S.COMPLETE or done.progress_summary.number_of_tasks_succeeded != tasks:
        raise RuntimeError(f"job {job.job_id} did not complete cleanly: {done.status} {done.progress_summary} "
                           f"{done.failure_reasons}")
    if done.dry_run is not bool(body.get("DryRun")):
        raise RuntimeError(f"job {job.job_id} has DryRun {done.dry_run}, its body asked {body.get('DryRun')}")
    history = service.history(job.job_id)
    preparing = _seconds_between(history, S.PREPARING, S.READY)
    active = _seconds_between(history, S.ACTIVE, S.COMPLETE)
    out = {"job_id": job.job_id, "tasks": tasks, "create_to_complete_s": wall, "preparing_s": preparing,
           "preparing_lines_per_s": tasks / preparing, "active_s": active, "tasks_per_s": tasks / active}
    if sampler:
        out["describe_job_ms"] = Latencies.summary(sampler.latencies.describe_ms)
        out["list_jobs_ms"] = Latencies.summary(sampler.latencies.list_ms)
    return out


def run_on(runner: str, env: dict, workload: Workload, sizes: tuple[int, int], workdir: Path) -> dict:
    """The baseline job then the big one on one `cosbatch serve` with `runner`, over the seeded objects."""
    from tests.support.api_server import start_api_server
    from tests.support.dask_cluster import dask_processes

    tasks, baseline = sizes
    client, store_url = env["client"], env["store_url"]
    reports = f"r-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=reports)
    store = open_store(store_url)
    service = JobService(store, StorageCatalog.at(env["endpoint"]))
    with dask_processes(workdir / "dask") if runner == "dask" else nullcontext() as cluster:
        extra = ["--runner", "dask", "--runner-option", f"dask_client_address={cluster.address}"] if cluster else []
        server = start_api_server(workdir / f"serve-{runner}", env["endpoint"], [], "--no-auth",
                                  "--segment-size", "1000", *extra, store_url=store_url)
        try:
            workers = [w.pid for w in cluster.workers] if cluster else []
            result: dict[str, Any] = {"runner": runner}
            result["baseline"] = run_job(service, server, workload.job_body(baseline, reports, f"{runner}-baseline"),
                                         baseline, sample_api=False)
            result["baseline"]["objects_checked"] = workload.check_done(client, baseline, f"{runner}-baseline")
            size_before = store_size_mib(store_url)
            with PeakRss(server.process.pid, workers) as peaks:
                result["big"] = run_job(service, server, workload.job_body(tasks, reports, f"{runner}-big"),
                                        tasks, sample_api=True)
            result["big"]["objects_checked"] = workload.check_done(client, tasks, f"{runner}-big")
            result["controller_peak_rss_mib"] = peaks.mib("controller")
            result["worker_peak_rss_mib"] = peaks.mib("worker")
            result["worker_processes"] = len([1 for (role, _) in peaks.peaks if role == "worker"])
            result["store_mib_before"], result["store_mib_after"] = size_before, store_size_mib(store_url)
            result["throughput_big_vs_baseline"] = result["big"]["tasks_per_s"] / result["baseline"]["tasks_per_s"]
            return result
        finally:
            server.stop()
            store.close()


# -- list/describe with many jobs stored ----------------------------------------------------
def seed_jobs(store: Any, n: int) -> list[str]:
    """`n` job rows through the store's own row mapping, in batches (setup, not timed)."""
    service = JobService(store)
    noop = {"Invoke": {"Function": "benchmarks.noop:noop"}}
    template = service.create_job(parse_create_job(job_body("arn:aws:s3:::bench/m.csv", "bench-reports", noop)))
    placeholders = ",".join(["?"] * store_rows.INSERT_JOB_COUNT)
    ids = [template.job_id]
    for start in range(1, n, 5000):
        batch = []
        for i in range(start, min(n, start + 5000)):
            job = template.model_copy(update={"job_id": str(uuid.uuid4()), "client_request_token": f"seed-{i}",
                                              "priority": i % 100, "description": f"job {i}"})
            batch.append(store_rows.job_insert_values(job, "seed"))
            ids.append(job.job_id)
        with store._write() as conn:  # noqa: SLF001 - bulk setup outside the timed part
            conn.executemany(f"INSERT INTO jobs({store_rows.INSERT_JOB_COLUMNS}) VALUES ({placeholders})", batch)
    return ids


def many_jobs_latency(url: str, jobs: int, samples: int = 50) -> dict:
    store = open_store(url)
    try:
        seeded_at = time.perf_counter()
        ids = seed_jobs(store, jobs)
        seeding = time.perf_counter() - seeded_at
        service = JobService(store)
        page = service.list_jobs(ACCOUNT, max_results=100)
        if len(page.jobs) != 100 or not page.next_token:
            raise RuntimeError(f"list-jobs returned {len(page.jobs)} jobs with {jobs} stored")
        list_ms = [1000 * timed(lambda: service.list_jobs(ACCOUNT, max_results=100)) for _ in range(samples)]
        picks = random.sample(ids, min(samples, len(ids)))
        describe_ms = [1000 * timed(lambda jid=jid: service.describe_job(jid)) for jid in picks]
        return {"jobs": len(ids), "seeding_s": seeding, "list_jobs_ms": Latencies.summary(list_ms),
                "describe_job_ms": Latencies.summary(describe_ms), "store_mib": store_size_mib(url)}
    finally:
        store.close()


# -- report ------------------------------------------------------------------------------------
def markdown(doc: dict) -> str:
    meta = doc["meta"]
    lines = [f"# A million tasks ({meta['mode']}, {meta['date']})", "",
             f"Machine: {meta['machine']}. Store of the runs: {meta['store']}. Job: {DESCRIPTIONS[meta['operation']]}, "
             f"over a {meta['tasks']:,}-line manifest in SeaweedFS, report of every task. Baseline: the same job "
             f"over the first {meta['baseline']:,} lines, on the same controller.", "", _seeding(meta), "",
             "| runner | Preparing lines/s | tasks/s baseline | tasks/s big | big / baseline | controller peak RSS "
             "| worker peak RSS (largest process) | store growth | DescribeJob ms (median / p95 / max) "
             "| ListJobs ms (median / p95 / max) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["runs"]:
        big, base = r["big"], r["baseline"]
        d, li = big["describe_job_ms"], big["list_jobs_ms"]
        lines.append(
            f"| {r['runner']} | {big['preparing_lines_per_s']:,.0f} | {base['tasks_per_s']:,.0f} | "
            f"{big['tasks_per_s']:,.0f} | {r['throughput_big_vs_baseline']:.2f} | {r['controller_peak_rss_mib']:.0f} MiB"
            f" | {_workers(r)} | {r['store_mib_after'] - r['store_mib_before']:.1f} MiB "
            f"({r['store_mib_after']:.1f} MiB in all) | {_trio(d)} | {_trio(li)} |")
    lines += ["", "Big job, create to Complete: " + "; ".join(
        f"{r['runner']} {r['big']['create_to_complete_s']:.0f} s (Preparing {r['big']['preparing_s']:.1f} s, "
        f"Active to Complete {r['big']['active_s']:.1f} s)" for r in doc["runs"]) + ".", "",
        *_checks(meta, doc["runs"]),
        f"## list-jobs and describe-job with {meta['jobs']:,} jobs stored", "",
        "| store | list-jobs page of 100, ms (median / p95 / max) | describe-job, ms (median / p95 / max) |",
        "|---|---|---|"]
    for name, q in doc["stores"].items():
        lines.append(f"| {name} ({q['jobs']:,} jobs, {q['store_mib']:.0f} MiB) | {_trio(q['list_jobs_ms'])} | "
                     f"{_trio(q['describe_job_ms'])} |")
    lines += ["", "Goals (issue 17): big / baseline throughput within 10% (>= 0.90), controller < 500 MiB, "
              "list-jobs <= 50 ms, describe-job <= 10 ms."]
    return "\n".join(lines) + "\n"


def _seeding(meta: dict) -> str:
    seeded = meta.get("seeded")
    if not seeded:
        return "Objects: none seeded (the operation sends no request per object)."
    return (f"Objects: {seeded['objects']:,} of {seeded['object_bytes']} bytes seeded once before the runs, outside "
            f"the timed part, by {seeded['tool']}: {seeded['seconds']:.1f} s, {seeded['objects_per_s']:,.0f} "
            "objects/s; every job and both runners use the same objects. Manifests written in "
            f"{meta['manifest_write_s']:.1f} s.")


def _checks(meta: dict, runs: list[dict]) -> list[str]:
    if meta["operation"] == "tagging":
        checked = ", ".join(f"{r['runner']} {r['baseline']['objects_checked']} + {r['big']['objects_checked']}"
                            for r in runs)
        return [f"After each job, the tags of sampled objects were read back and named that job ({checked} "
                "objects, baseline + big).", ""]
    if meta["operation"] == "dryrun":
        return ["Every task succeeded, so every HEAD found its object (a missing one fails its task).", ""]
    return []


def _workers(run: dict) -> str:
    if not run["worker_processes"]:
        return "none (the pipeline runs in the controller)"
    return f"{run['worker_peak_rss_mib']:.0f} MiB ({run['worker_processes']} processes)"


def _trio(s: dict) -> str:
    return f"{s['median']:.1f} / {s['p95']:.1f} / {s['max']:.1f}" if s.get("samples") else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.million_tasks")
    parser.add_argument("--smoke", action="store_true", help=f"small sizes {SMOKE} (CI): its figures mean nothing")
    parser.add_argument("--tasks", type=int, help=f"lines of the big job (default {FULL[0]:,})")
    parser.add_argument("--baseline", type=int, help=f"lines of the baseline job (default {FULL[1]:,})")
    parser.add_argument("--jobs", type=int, help=f"jobs stored for the list/describe figures (default {FULL[2]:,})")
    parser.add_argument("--runners", default="direct,dask", help="comma-separated: direct, dask")
    parser.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql",
                        help="the store of the runs (default postgresql); list/describe use both")
    parser.add_argument("--pg-url", help="an existing PostgreSQL database (default: start a server in a temp dir)")
    parser.add_argument("--operation", choices=OPERATIONS, default="tagging",
                        help="what each task does (default tagging); tagging and dryrun touch seeded objects")
    parser.add_argument("--seeder", choices=SEEDERS, default="threads",
                        help="how the objects are seeded before the runs (default threads: the faster here)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where million-tasks.{json,md} go")
    args = parser.parse_args(argv)
    tasks, baseline, jobs = SMOKE if args.smoke else FULL
    tasks, baseline, jobs = args.tasks or tasks, args.baseline or baseline, args.jobs or jobs
    if jobs <= 100 or tasks < 1 or baseline < 1:
        parser.error("--jobs must be above 100 (a list-jobs page of 100 must have a next page); "
                     "--tasks and --baseline at least 1")
    runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    if unknown := set(runners) - {"direct", "dask"}:
        parser.error(f"unknown runners {sorted(unknown)}")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")
    # Dask workers and the serve process import benchmarks.noop from here.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import tempfile

    from cosbatch.storage.embedded import DISCARD_GRACE_S, start_embedded_s3
    from tests.support.postgres import start_postgres

    workdir = Path(tempfile.mkdtemp(prefix="cosbatch-1m-"))
    s3 = start_embedded_s3(workdir / "s3")
    pg = None if args.pg_url else start_postgres()
    pg_url = args.pg_url or pg.create_database()  # type: ignore[union-attr]

    def fresh(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{workdir / uuid.uuid4().hex[:8]}.db"
        return pg.create_database() if pg else pg_url  # type: ignore[union-attr]

    doc: dict[str, Any] = {"meta": {
        "mode": "smoke" if args.smoke else "full", "tasks": tasks, "baseline": baseline, "jobs": jobs,
        "store": args.store, "operation": args.operation, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"},
        "runs": [], "stores": {}}
    try:
        env = {"client": s3.client(), "endpoint": s3.endpoint_url}
        print(f"seeding {max(tasks, baseline):,} objects ({args.operation}) ...", file=sys.stderr, flush=True)
        workload = prepare(env["client"], s3.endpoint_url, args.operation, (baseline, tasks), workdir, args.seeder)
        doc["meta"]["seeded"] = workload.seeded
        doc["meta"]["manifest_write_s"] = workload.manifest_write_s
        for runner in runners:
            print(f"running {runner} ...", file=sys.stderr, flush=True)
            doc["runs"].append(run_on(runner, {**env, "store_url": fresh(args.store)}, workload, (tasks, baseline),
                                      workdir / runner))
        for kind in ("sqlite", "postgresql"):
            print(f"list/describe with {jobs:,} jobs in {kind} ...", file=sys.stderr, flush=True)
            doc["stores"][kind] = many_jobs_latency(fresh(kind), jobs)
    finally:
        s3.stop(timeout=DISCARD_GRACE_S)  # its data goes with workdir
        if pg:
            pg.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "million-tasks.json").write_text(json.dumps(doc, indent=2))
    md = markdown(doc)
    (args.out / "million-tasks.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
