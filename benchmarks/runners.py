"""One job on three runners (issue 23, item 8): `python -m benchmarks.runners [--tasks N]
[--small N] [--smoke] [--runners direct,dask,flink] [--store postgresql|sqlite] [--note TEXT] [--out DIR]`.

The job is million_tasks' S3PutObjectTagging (benchmarks/million_workload.py) over objects seeded
once, outside every timed part, and used by every runner. Each runner gets its own `cosbatch serve`
(and a fresh store): the DirectRunner in the controller; Dask on a `dask scheduler` + two `dask
worker` processes (tests/support/dask_cluster.py); Flink on a session cluster of a JobManager and
two TaskManagers of one slot each (launch/flink_cluster.py), SDK harnesses in the PROCESS
environment. Two workers on Dask, parallelism 2 on Flink; segments of 1,000 tasks everywhere.

On each: the small job (`--small` lines) once or twice (full mode: the first on a fresh controller
pays the runner's start-up, e.g. Flink's job server JVM; the second does not), then the big one.
Measured per job: tasks/s over the Active time, create-to-Complete, time to first task (job
created -> DescribeJob's tasks run first above 0, polled every 50 ms), CPU seconds per process; per
runner, the peak RSS (VmHWM) of every process: controller, its children (Flink's job server JVM),
dask scheduler and workers, Flink JobManager, TaskManager JVMs and the SDK workers they start. From
the warm small job and the big one, a fixed cost per job and a cost per task (create-to-Complete =
fixed + tasks x per-task). On Flink also the REST API's view of each job (state timestamps, the
vertices' durations). Tags of sampled objects are read back after every job. Results:
OUT/runners.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import RESULTS
from benchmarks.million_tasks import PeakRss, SeenProcess, _seeding, run_job
from benchmarks.million_workload import DESCRIPTIONS, Workload, prepare
from cosbatch.controller import JobService
from cosbatch.storage import StorageCatalog
from cosbatch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
RUNNERS = ("direct", "dask", "flink")
#: (tasks of the big job, of the small job, small jobs before the big one). --smoke: the big job
#: only (a Flink job costs tens of seconds here whatever its size); its figures mean nothing.
SMOKE = (300, 0, 0)
FULL = (100_000, 1_000, 2)
SEGMENT_SIZE = 1000
PARALLELISM = 2
#: Process groups CPU and memory are summed by, in the order the tables show them.
GROUPS = ("controller", "job server JVM", "JobManager", "TaskManager JVM", "SDK worker", "dask scheduler",
          "dask worker", "other")


@dataclass
class Bench:
    """What every runner's runs share: the storage, the seeded workload, where stores come from."""

    client: Any
    endpoint: str
    workload: Workload
    new_store: Callable[[], str]
    workdir: Path
    flink: Any = None  # a launch.flink_cluster.Cluster, for the flink runner


# -- the runners' processes -------------------------------------------------------------------
@contextmanager
def runner_processes(runner: str, bench: Bench) -> Iterator[tuple[list[str], dict[str, int]]]:
    """`cosbatch serve`'s runner arguments and the runner's own processes (label -> pid)."""
    if runner == "direct":
        yield [], {}
    elif runner == "dask":
        from tests.support.dask_cluster import dask_processes

        with dask_processes(bench.workdir / "dask") as cluster:
            roots = {"dask scheduler": cluster.scheduler.pid}
            roots.update({f"dask worker w{i}": w.pid for i, w in enumerate(cluster.workers)})
            yield ["--runner", "dask", "--runner-option", f"dask_client_address={cluster.address}"], roots
    elif runner == "flink":
        roots = {"Flink JobManager": bench.flink.pids["jobmanager"]}
        roots.update({f"Flink {name}": pid for name, pid in sorted(bench.flink.pids.items())
                      if name.startswith("taskmanager")})
        if "job-server" in bench.flink.pids:  # the cluster's own (launch/flink_cluster.py), used by serve
            roots["Flink job server JVM (the cluster's)"] = bench.flink.pids["job-server"]
        yield ["--runner", "flink", "--runner-option", f"flink_master={bench.flink.address}",
               "--runner-option", f"parallelism={PARALLELISM}"], roots
    else:
        raise ValueError(f"unknown runner {runner!r}")


def is_sdk_worker(seen: SeenProcess) -> bool:
    return "sdk-worker" in seen.command or "sdk_worker" in seen.command


def label(pid: int, seen: SeenProcess | None, roots: dict[int, str], controller: int) -> tuple[str, str]:
    """(group, label) of a process PeakRss saw."""
    if pid == controller:
        return "controller", "controller (cosbatch serve)"
    if pid in roots:
        name = roots[pid]
        group = ("JobManager" if "JobManager" in name else "TaskManager JVM" if "taskmanager" in name
                 else "job server JVM" if "job server" in name
                 else "dask scheduler" if "scheduler" in name else "dask worker" if "dask worker" in name else "other")
        return group, name + (" (nanny)" if group == "dask worker" else "")
    if seen is None:
        return "other", f"pid {pid}"
    if seen.root == controller:
        if seen.name == "java":
            return "job server JVM", "Flink job server JVM (child of serve)"
        return "controller", f"child of serve: {' '.join(seen.command.split()[1:])[:50] or seen.name}"
    parent = roots.get(seen.root, f"pid {seen.root}")
    if is_sdk_worker(seen):
        return "SDK worker", f"SDK worker {pid} of {parent.removeprefix('Flink ')}"
    group = "dask worker" if "dask worker" in parent else "other"
    return group, f"{parent}: {seen.name} {pid}"


# -- one job ------------------------------------------------------------------------------------
def _rest(address: str, path: str) -> dict:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as reply:
        return json.load(reply)


def shipped_blobs(cluster: Any, jid: str) -> dict[str, dict[str, float]]:
    """What Flink holds for job `jid` in each JVM's BLOB storage (the jars the job shipped), per
    JVM: files and MiB; the folders are those the JVMs' logs name."""
    import re

    found = {}
    for log in sorted(Path(cluster.log).glob("*.log")):
        for folder in re.findall(r"Created BLOB (?:server|cache) storage directory (\S+)", log.read_text(errors="replace")):
            files = [f for f in (Path(folder) / f"job_{jid}").rglob("*") if f.is_file()]
            if files:
                found[log.stem] = {"files": len(files), "mib": sum(f.stat().st_size for f in files) / 2**20}
    return found


def flink_view(cluster: Any, job_id: str, created: float) -> list[dict]:
    """Flink's REST view of the Flink job(s) that ran cosbatch job `job_id` (times in seconds
    after the cosbatch job was created), and the jars it shipped."""
    found = []
    address = cluster.address
    for job in _rest(address, "/jobs/overview")["jobs"]:
        if not job["name"].startswith(f"cosbatch-{job_id}".lower()):
            continue
        detail = _rest(address, f"/jobs/{job['jid']}")
        found.append({
            "jid": job["jid"], "state": detail["state"], "duration_s": detail["duration"] / 1000,
            "timestamps": {state: ms / 1000 - created for state, ms in detail["timestamps"].items() if ms},
            "vertices": [{"name": v["name"][:160], "parallelism": v["parallelism"],
                          "start_s": v["start-time"] / 1000 - created, "end_s": v["end-time"] / 1000 - created,
                          "duration_s": v["duration"] / 1000,
                          "records_in": v.get("metrics", {}).get("read-records"),
                          "records_out": v.get("metrics", {}).get("write-records")}
                         for v in detail["vertices"]],
            "shipped": shipped_blobs(cluster, job["jid"])})
    return found


#: Lines of Beam's Flink job server log (which has no timestamps) whose first appearance in a job is timed.
JOB_SERVER_MARKS = {
    "Staging artifacts for": "job server: staging starts",
    "Invoking job": "job server: run requested",
    "Translating pipeline to Flink program": "job server: translating",
    "RestClusterClient - Submitting job": "job server: REST submission starts",
    "Successfully submitted job": "job server: REST submission done",
    "Execution finished in": "job server: execution finished",
}


class JobServerLog:
    """The log of the controller's Flink job server JVM, read as it grows: when each of
    JOB_SERVER_MARKS first appears in a job (seconds after CreateJob, to the poll: 50 ms)."""

    def __init__(self, peaks: PeakRss, controller: int, path: Path | None = None) -> None:
        self.peaks, self.controller = peaks, controller
        self.path: Path | None = path  # the cluster's job server's log; else found among the controller's children
        self.offset = 0

    def _find(self) -> Path | None:
        import psutil

        for pid, seen in list(self.peaks.seen.items()):
            if seen.root == self.controller and seen.name == "java":
                try:
                    args = psutil.Process(pid).cmdline()
                except psutil.Error:
                    continue
                if "--job-port" in args:
                    port = args[args.index("--job-port") + 1]
                    return Path(tempfile.gettempdir()) / "cosbatch-flink" / f"flink-job-server-{port}.log"
        return None

    def start(self) -> dict[str, float]:
        """Marks of the job starting now: only lines written from now on count."""
        self.path = self.path or self._find()
        self.offset = self.path.stat().st_size if self.path and self.path.exists() else 0
        return {}

    def poll(self, marks: dict[str, float], created: float) -> None:
        self.path = self.path or self._find()
        if not self.path or not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        now = time.time() - created
        for line in complete.decode(errors="replace").splitlines():
            for needle, name in JOB_SERVER_MARKS.items():
                if needle in line:
                    marks.setdefault(name, now)


def run_one(service: JobService, server: Any, bench: Bench, peaks: PeakRss, lines: int, reports: str,
            run: str, job_server_log: JobServerLog | None = None) -> dict:
    """The job over the first `lines` objects; run_job's figures plus time to first task, the
    status timeline, the CPU each process used meanwhile and, on Flink, Flink's view."""
    first: dict[str, float] = {}
    marks = job_server_log.start() if job_server_log else {}

    def watch(job_id: str) -> None:
        if not first and service.describe_job(job_id).progress_summary.tasks_run > 0:
            first["at"] = time.time()
        if job_server_log:
            job_server_log.poll(marks, created)

    cpu_before = peaks.cpu_seconds()
    created = time.time()
    out = run_job(service, server, bench.workload.job_body(lines, reports, run), lines, sample_api=False,
                  watch=watch, poll_s=0.05)
    time.sleep(0.3)  # one more sample of every process's CPU
    cpu_after = peaks.cpu_seconds()
    out["run"] = run
    out["first_task_s"] = first["at"] - created if first else None  # None: it ended before a poll saw a task
    out["timeline"] = {}
    for change in service.history(out["job_id"]):
        at = change.at if change.at.tzinfo else change.at.replace(tzinfo=UTC)
        out["timeline"].setdefault(str(change.to_status), at.timestamp() - created)
    out["cpu_s_by_pid"] = {pid: cpu - cpu_before.get(pid, 0.0) for pid, cpu in cpu_after.items()
                           if cpu - cpu_before.get(pid, 0.0) > 0}
    sdk = [s.started - created for s in peaks.seen.values() if is_sdk_worker(s) and s.started >= created]
    out["first_sdk_worker_started_s"] = min(sdk) if sdk else None
    if job_server_log:
        job_server_log.poll(marks, created)
        out["job_server_log_s"] = marks
        out["flink"] = flink_view(bench.flink, out["job_id"], created)
    out["objects_checked"] = bench.workload.check_done(bench.client, lines, run)
    return out


# -- one runner ---------------------------------------------------------------------------------
def run_on(runner: str, bench: Bench, sizes: tuple[int, int, int]) -> dict:
    """The small job(s), then the big one, on a fresh `cosbatch serve` with `runner`."""
    from tests.support.api_server import start_api_server

    tasks, small, small_runs = sizes
    reports = f"r-{uuid.uuid4().hex[:8]}"
    bench.client.create_bucket(Bucket=reports)
    store_url = bench.new_store()
    store = open_store(store_url)
    service = JobService(store, StorageCatalog.at(bench.endpoint))
    load = os.getloadavg()
    with runner_processes(runner, bench) as (extra, roots):
        server = start_api_server(bench.workdir / f"serve-{runner}", bench.endpoint, [], "--no-auth",
                                  "--segment-size", str(SEGMENT_SIZE), *extra, store_url=store_url)
        peaks = PeakRss(server.process.pid, list(roots.values()))
        cluster_log = bench.flink.log / "job-server.log" if runner == "flink" and "job-server" in bench.flink.pids else None
        log = JobServerLog(peaks, server.process.pid, cluster_log) if runner == "flink" else None
        try:
            with peaks:
                jobs = [run_one(service, server, bench, peaks, small, reports, f"{runner}-small-{i}", log)
                        for i in range(small_runs)]
                jobs.append(run_one(service, server, bench, peaks, tasks, reports, f"{runner}-big", log))
        finally:
            server.stop()
            store.close()
            _stop_leftovers(peaks, server.process.pid)
    return summarise(runner, jobs, peaks, {pid: name for name, pid in roots.items()}, server.process.pid, load)


def _stop_leftovers(peaks: PeakRss, controller: int) -> None:
    """SIGKILL any child of the stopped controller still alive (its job server JVM, if serve's
    exit did not stop it)."""
    import psutil

    for pid, seen in peaks.seen.items():
        if seen.root == controller and pid != controller:
            try:
                proc = psutil.Process(pid)
                if proc.create_time() == seen.started:
                    proc.kill()
            except psutil.Error:
                pass


def summarise(runner: str, jobs: list[dict], peaks: PeakRss, roots: dict[int, str], controller: int,
              load: tuple[float, float, float]) -> dict:
    labels = {pid: label(pid, peaks.seen.get(pid), roots, controller) for _, pid in peaks.peaks}
    processes = sorted(({"group": labels[pid][0], "process": labels[pid][1], "pid": pid,
                         "peak_rss_mib": kib / 1024,
                         "cpu_s": peaks.seen[pid].cpu_s if pid in peaks.seen else None,
                         "command": peaks.seen[pid].command[:200] if pid in peaks.seen else ""}
                        for (_, pid), kib in peaks.peaks.items() if kib),
                       key=lambda p: (GROUPS.index(p["group"]), p["process"]))
    for job in jobs:
        by_group: dict[str, float] = {}
        for pid, cpu in job.pop("cpu_s_by_pid").items():
            group = labels.get(pid, ("other", ""))[0]
            by_group[group] = by_group.get(group, 0.0) + cpu
        job["cpu_s_by_group"] = {g: by_group[g] for g in GROUPS if g in by_group}
    result = {"runner": runner, "load_average_at_start": load, "jobs": jobs, "processes": processes,
              "fixed_s": None, "per_task_ms": None}
    if len(jobs) > 1:
        warm, big = jobs[-2], jobs[-1]
        per_task = (big["create_to_complete_s"] - warm["create_to_complete_s"]) / (big["tasks"] - warm["tasks"])
        result["fixed_s"] = warm["create_to_complete_s"] - per_task * warm["tasks"]
        result["per_task_ms"] = 1000 * per_task
    if len(jobs) > 2:
        result["first_job_extra_s"] = jobs[0]["create_to_complete_s"] - warm["create_to_complete_s"]
    return result


# -- the whole benchmark --------------------------------------------------------------------
def run(s3: Any, new_store: Callable[[], str], flink: Any, workdir: Path, runners: list[str],
        sizes: tuple[int, int, int], mode: str, note: str = "") -> dict:
    """Seed the objects, then every runner in turn; the results document."""
    tasks, small, _ = sizes
    client = s3.client()
    print(f"seeding {tasks:,} objects ...", file=sys.stderr, flush=True)
    workload = prepare(client, s3.endpoint_url, "tagging", tuple(n for n in (small, tasks) if n), workdir, "threads")
    bench = Bench(client, s3.endpoint_url, workload, new_store, workdir, flink)
    doc: dict[str, Any] = {"meta": {
        "mode": mode, "tasks": tasks, "small": small, "small_runs": sizes[2], "segment_size": SEGMENT_SIZE,
        "parallelism": PARALLELISM, "operation": "tagging", "note": note,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "seeded": workload.seeded, "manifest_write_s": workload.manifest_write_s}, "runs": []}
    for runner in runners:
        print(f"running {runner} ...", file=sys.stderr, flush=True)
        doc["runs"].append(run_on(runner, bench, sizes))
    doc["meta"]["load_average_at_end"] = os.getloadavg()
    return doc


def write(doc: dict, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "runners.json").write_text(json.dumps(doc, indent=2))
    md = markdown(doc)
    (out / "runners.md").write_text(md)
    return md


# -- report -----------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def _small_jobs(meta: dict) -> str:
    if not meta["small_runs"]:
        return "No small job (--smoke): no fixed and per-task costs."
    return (f"Before the big job, a {meta['small']:,}-task job {'twice' if meta['small_runs'] > 1 else 'once'} on "
            "the same controller (the first on a fresh controller pays the runner's start-up there).")


def markdown(doc: dict) -> str:
    meta, runs = doc["meta"], doc["runs"]
    loads = "; ".join(f"{r['runner']} {r['load_average_at_start'][0]:.1f}" for r in runs)
    lines = [f"# One job on three runners ({meta['mode']}, {meta['date']})", "",
             f"Machine: {meta['machine']}. Load average (1 min) when each runner started: {loads}; at the end "
             f"{meta['load_average_at_end'][0]:.1f}. {meta['note']}".rstrip(), "",
             f"Job: {DESCRIPTIONS[meta['operation']]}, over a {meta['tasks']:,}-line manifest in SeaweedFS, report "
             f"of every task; segments of {meta['segment_size']:,} tasks. Each runner on its own `cosbatch serve` "
             "(a fresh store): direct in the controller; dask on `dask scheduler` + 2 `dask worker` (1 thread "
             "each); flink on a session cluster (JobManager + 2 TaskManagers), SDK workers in the PROCESS "
             f"environment; parallelism {meta['parallelism']}. {_small_jobs(meta)}", "",
             _seeding(meta), "",
             f"| runner | tasks/s (Active) | create to Complete | time to first task | {meta['small']:,}-task job "
             "create to Complete (first / second) | fixed cost per job | cost per task | CPU per 1,000 tasks "
             "(all processes) | peak RSS: controller / all processes |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        big, small = r["jobs"][-1], r["jobs"][:-1]
        cpu = sum(big["cpu_s_by_group"].values())
        total_rss = sum(p["peak_rss_mib"] for p in r["processes"])
        controller = next(p["peak_rss_mib"] for p in r["processes"]
                          if p["process"] == "controller (cosbatch serve)")
        lines.append(
            f"| {r['runner']} | {big['tasks_per_s']:,.0f} | {_s(big['create_to_complete_s'])} | "
            f"{_s(big['first_task_s'])} | {' / '.join(_s(j['create_to_complete_s']) for j in small) or '-'} | "
            f"{_s(r['fixed_s'])} | {_ms(r['per_task_ms'])} | {1000 * cpu / big['tasks']:.2f} CPU s | "
            f"{controller:.0f} / {total_rss:,.0f} MiB ({len(r['processes'])} processes) |")
    checked = ", ".join(f"{r['runner']} {sum(j['objects_checked'] for j in r['jobs'])}" for r in runs)
    lines += ["", "Fixed cost and cost per task: from the warm small job and the big one, create to Complete = "
              "fixed + tasks x per-task. Time to first task: CreateJob to DescribeJob's tasks run above 0. "
              f"After every job the tags of sampled objects were read back and named that job ({checked} objects).",
              "", *_flink_paragraph(doc), "", "## CPU seconds of the big job, by process group", "",
              "| runner | " + " | ".join(GROUPS[:-1]) + " |", "|---|" + "---|" * (len(GROUPS) - 1)]
    for r in runs:
        by = r["jobs"][-1]["cpu_s_by_group"]
        lines.append(f"| {r['runner']} | " + " | ".join(f"{by[g]:.1f}" if g in by else "" for g in GROUPS[:-1]) + " |")
    lines += ["", "## Peak RSS (VmHWM) of every process", "", "| runner | process | peak RSS | CPU s (whole run) |",
              "|---|---|---|---|"]
    for r in runs:
        for p in r["processes"]:
            cpu = "-" if p["cpu_s"] is None else f"{p['cpu_s']:.1f}"
            lines.append(f"| {r['runner']} | {p['process']} | {p['peak_rss_mib']:.0f} MiB | {cpu} |")
    lines += _flink_tables(runs)
    return "\n".join(lines) + "\n"


def _phases(job: dict) -> list[tuple[str, float]]:
    """The Flink job's events in time order, with the seconds since the event before (the first:
    since CreateJob): cosbatch's status history, the job server's log, Flink's timestamps, the
    first SDK worker process's start and the first task recorded."""
    if not job.get("flink"):
        return []
    t, f, log = job["timeline"], job["flink"][0]["timestamps"], job.get("job_server_log_s", {})
    events = {"Active": t.get("Active"), **log, "Flink INITIALIZING": f.get("INITIALIZING"),
              "Flink RUNNING": f.get("RUNNING"), "first SDK worker process started": job.get("first_sdk_worker_started_s"),
              "first task recorded": job.get("first_task_s"), "Flink FINISHED": f.get("FINISHED"),
              "Complete": t.get("Complete")}
    ordered = sorted(((at, name) for name, at in events.items() if at is not None))
    return [(name, at - (ordered[i - 1][0] if i else 0.0)) for i, (at, name) in enumerate(ordered)]


def _flink_paragraph(doc: dict) -> list[str]:
    by = {r["runner"]: r for r in doc["runs"]}
    if "flink" not in by:
        return []
    fl = by["flink"]
    big = fl["jobs"][-1]
    others = "; ".join(f"{name} {_s(by[name]['fixed_s'])} + {_ms(by[name]['per_task_ms'])}"
                       for name in ("direct", "dask") if name in by)
    text = [f"On Flink a job costs {_s(fl['fixed_s'])} fixed plus {_ms(fl['per_task_ms'])} per task"
            + (f" ({others})." if others else ".")]
    if "first_job_extra_s" in fl:
        text.append(f"The first job on a controller costs {fl['first_job_extra_s']:.1f} s more than the next "
                    "(the first submission to the job server, and the first SDK workers).")
    for name, job in [*(("small", j) for j in fl["jobs"][:-1]), ("big", big)]:
        phases = _phases(job)
        if phases:
            text.append(f"The {name} job ({job['tasks']:,} tasks, {job['create_to_complete_s']:.1f} s), each event "
                        "with the seconds since the one before: " + ", ".join(f"{k} +{v:.1f}" for k, v in phases) + ".")
    shipped = big["flink"][0]["shipped"] if big.get("flink") else {}
    if shipped:
        files, mib = max((v["files"], v["mib"]) for v in shipped.values())
        text.append(f"Every job ships the job server's class path to Flink as the job's jars: {files} files, "
                    f"{mib:.0f} MiB, uploaded to the JobManager in the REST submission and fetched into each "
                    f"TaskManager's BLOB cache ({len(shipped)} TaskManagers held them for the big job) before its "
                    "tasks start.")
    for name in ("flink", "direct", "dask"):
        if name in by and len(by[name]["jobs"]) > 1:
            text.append(f"{name}: " + _cpu_split(by[name]["jobs"][-2], by[name]["jobs"][-1]) + ".")
    return ["## Where Flink's time goes", "", " ".join(text)]


def _cpu_split(small: dict, big: dict) -> str:
    """CPU per task at the margin (big job minus small job, per extra task) and the small job's
    CPU, by process group."""
    extra = big["tasks"] - small["tasks"]
    groups = sorted(big["cpu_s_by_group"], key=lambda g: -big["cpu_s_by_group"][g])
    margin = {g: 1000 * (big["cpu_s_by_group"][g] - small["cpu_s_by_group"].get(g, 0.0)) / extra for g in groups}
    return (f"CPU per extra task {sum(margin.values()):.3f} ms (" + ", ".join(f"{g} {margin[g]:.3f}" for g in groups)
            + f"); the {small['tasks']:,}-task job's CPU {sum(small['cpu_s_by_group'].values()):.1f} s (" +
            ", ".join(f"{g} {v:.1f}" for g, v in small["cpu_s_by_group"].items()) + ")")


def _flink_tables(runs: list[dict]) -> list[str]:
    fl = next((r for r in runs if r["runner"] == "flink"), None)
    if fl is None:
        return []
    lines = ["", "## Flink's jobs: REST timestamps and vertices (seconds after CreateJob)", "",
             "| job | Active | INITIALIZING | CREATED | RUNNING | first SDK worker | first task | FINISHED | Complete "
             "| vertices: duration (parallelism) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for job in fl["jobs"]:
        for view in job.get("flink", []):
            ts, t = view["timestamps"], job["timeline"]
            vertices = "; ".join(f"{v['name'][:60]}: {v['duration_s']:.1f} s ({v['parallelism']})"
                                 for v in view["vertices"])
            cells = [t.get("Active"), ts.get("INITIALIZING"), ts.get("CREATED"), ts.get("RUNNING"),
                     job.get("first_sdk_worker_started_s"), job.get("first_task_s"), ts.get("FINISHED"),
                     t.get("Complete")]
            lines.append(f"| {job['run']} ({job['tasks']:,}) | " + " | ".join("-" if c is None else f"{c:.1f}"
                                                                             for c in cells) + f" | {vertices} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runners")
    parser.add_argument("--smoke", action="store_true", help=f"small sizes {SMOKE} (CI): its figures mean nothing")
    parser.add_argument("--tasks", type=int, help=f"lines of the big job (default {FULL[0]:,})")
    parser.add_argument("--small", type=int, help=f"lines of the small job (default {FULL[1]:,})")
    parser.add_argument("--runners", default=",".join(RUNNERS), help="comma-separated: direct, dask, flink")
    parser.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--note", default="", help="a sentence for the report (e.g. who else used the machine)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where runners.{json,md} go")
    args = parser.parse_args(argv)
    tasks, small, small_runs = SMOKE if args.smoke else FULL
    tasks, small = args.tasks or tasks, args.small if args.small is not None else small
    small_runs = small_runs or (1 if small else 0)
    if not 0 <= small < tasks:
        parser.error("--small must be below --tasks (0: no small job)")
    runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    if unknown := set(runners) - set(RUNNERS):
        parser.error(f"unknown runners {sorted(unknown)}")
    # Before anything starts: the TaskManagers' SDK workers and the dask workers inherit these.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-bench-secret")
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from cosbatch.storage.embedded import DISCARD_GRACE_S, start_embedded_s3
    from launch import flink_cluster
    from tests.support.api_server import free_port
    from tests.support.postgres import start_postgres

    workdir = Path(tempfile.mkdtemp(prefix="cosbatch-runners-"))
    s3 = start_embedded_s3(workdir / "s3")
    pg = start_postgres() if args.store == "postgresql" else None
    flink = None
    try:
        if "flink" in runners:
            print("starting Flink (JobManager + 2 TaskManagers) ...", file=sys.stderr, flush=True)
            flink = flink_cluster.start(free_port(), taskmanagers=2, slots=1, root=workdir / "flink",
                                        conf={"cluster.evenly-spread-out-slots": "true"})
        new_store = pg.create_database if pg else lambda: f"sqlite:///{workdir / uuid.uuid4().hex[:8]}.db"
        doc = run(s3, new_store, flink, workdir, runners, (tasks, small, small_runs),
                  "smoke" if args.smoke else "full", args.note)
    finally:
        if flink:
            flink_cluster.stop(flink)
        s3.stop(timeout=DISCARD_GRACE_S)  # its data goes with workdir
        if pg:
            pg.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    print(write(doc, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
