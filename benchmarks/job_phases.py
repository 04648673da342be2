"""Where a one-object job's time goes (issue 25, item 1): every phase of a copy job of one large
object, from CreateJob to Complete, as a timeline of spans.

The job runs as `cosbatch create-job --wait` runs it (a Scheduler on this process driving the job
through Preparing, a DirectRunner pipeline and the report), against an embedded SeaweedFS.
Functions on the job's path are wrapped for the run (nothing in cosbatch is changed) and each
call is one span: start and end from the job's CreateJob, on which thread. The phase table then
reads the spans: the copy (CopyObject) against everything else.

`python -m benchmarks.job_phases [--size-mib N] [--rounds N] [--no-report] [--smoke]` prints the
table of each round and the median of each phase (markdown); --out FILE writes it there too.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmarks import harness
from benchmarks.scenarios import Env, make_env

MiB = 1024**2

#: (label, "module:attribute.path") of every function whose calls become spans.
TRACED: tuple[tuple[str, str], ...] = (
    ("create_job", "cosbatch.controller.service:JobService.create_job"),
    ("scheduler step", "cosbatch.controller.scheduler:Scheduler.step"),
    ("nap", "cosbatch.controller.scheduler:Scheduler._nap"),
    ("prepare_job", "cosbatch.controller.scheduler:prepare_job"),
    ("HEAD bucket (target/report)", "cosbatch.controller.preparer:check_bucket"),
    ("manifest HEAD", "cosbatch.manifests.source:ManifestSource.resolve"),
    ("manifest first lines", "cosbatch.controller.preparer:first_lines"),
    ("manifest scan", "cosbatch.controller.preparer:scan_csv"),
    ("preflight HEADs", "cosbatch.controller.preparer:check_sample"),
    ("state write (transition)", "cosbatch.store.sql:SqlJobStore.transition"),
    ("state write (segments)", "cosbatch.store.sql:SqlJobStore.replace_segments"),
    ("launch", "cosbatch.controller.scheduler:Scheduler._launch"),
    ("run_plan", "cosbatch.controller.scheduler:run_plan"),
    ("read segment", "pipelines.transforms.read_manifest:_ReadSegmentFn.process"),
    ("build pipeline", "pipelines.batch_job:build_pipeline"),
    ("read setup", "pipelines.transforms.read_manifest:_ReadSegmentFn.setup"),
    ("apply setup", "pipelines.transforms.apply_operation:_ApplyOperationFn.setup"),
    ("record setup", "pipelines.transforms.record_results:_RecordSegmentFn.setup"),
    ("boto3 client (report)", "pipelines.transforms.record_results:make_client"),
    ("record finish_bundle", "pipelines.transforms.record_results:_RecordSegmentFn.finish_bundle"),
    ("teardown (read)", "pipelines.transforms.read_manifest:_ReadSegmentFn.teardown"),
    ("teardown (apply)", "pipelines.transforms.apply_operation:_ApplyOperationFn.teardown"),
    ("teardown (record)", "pipelines.transforms.record_results:_RecordSegmentFn.teardown"),
    ("operation", "cosbatch.operations.copy:CopyOperation.apply"),
    ("size HEAD", "cosbatch.operations.copy:head_state"),
    ("CopyObject", "cosbatch.storage.lean:LeanS3Client.copy_object"),
    ("segment progress", "cosbatch.control.job_control:JobControl.segment_progress"),
    ("segment report file", "pipelines.transforms.record_results:write_segment_results"),
    ("beam run_stages", "apache_beam.runners.portability.fn_api_runner.fn_runner:FnApiRunner.run_stages"),
    ("beam close workers", "apache_beam.runners.portability.fn_api_runner.worker_handlers:WorkerHandlerManager.close_all"),
    ("finish", "cosbatch.controller.scheduler:Scheduler._finish"),
    ("report manifests", "cosbatch.controller.scheduler:finalize_report"),
)


@dataclass
class Span:
    label: str
    start: float
    end: float
    thread: str

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Tracer:
    t0: float = field(default_factory=time.perf_counter)
    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
                if hasattr(result, "__next__"):  # a generator (a DoFn's process): time its whole run
                    result = list(result)
                return result
            finally:
                with self.lock:
                    self.spans.append(Span(label, start - self.t0, time.perf_counter() - self.t0,
                                           threading.current_thread().name))
        return traced

    def first(self, label: str) -> Span | None:
        return next((s for s in sorted(self.spans, key=lambda s: s.start) if s.label == label), None)

    def all(self, label: str) -> list[Span]:
        return [s for s in self.spans if s.label == label]

    def total(self, label: str) -> float:
        return sum(s.seconds for s in self.all(label))


def _resolve(target: str) -> tuple[Any, str]:
    module, _, path = target.partition(":")
    owner: Any = importlib.import_module(module)
    *parents, attr = path.split(".")
    for name in parents:
        owner = getattr(owner, name)
    return owner, attr


@contextlib.contextmanager
def traced(tracer: Tracer) -> Iterator[Tracer]:
    """Every TRACED function wrapped for the block (a target missing in this version is skipped)."""
    undo: list[tuple[Any, str, Any]] = []
    try:
        for label, target in TRACED:
            try:
                owner, attr = _resolve(target)
                original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            except (AttributeError, KeyError, ImportError):
                continue
            undo.append((owner, attr, original))
            fn = original.__func__ if isinstance(original, staticmethod) else original
            wrapped = tracer.wrap(label, fn)
            setattr(owner, attr, staticmethod(wrapped) if isinstance(original, staticmethod) else wrapped)
        yield tracer
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)


def phases(tr: Tracer, total: float) -> list[tuple[str, float]]:
    """The job's time cut into consecutive phases (seconds each; they add up to `total`)."""
    def at(label: str, end: bool = False, default: float = 0.0) -> float:
        span = tr.first(label)
        return default if span is None else (span.end if end else span.start)

    base = at("create_job")  # `total` runs from CreateJob's call
    for span in tr.spans:
        span.start, span.end = span.start - base, span.end - base
    create_end = at("create_job", end=True)
    prep = tr.first("prepare_job")
    prep_start, prep_end = (prep.start, prep.end) if prep else (create_end, create_end)
    launch = at("run_plan", default=prep_end)
    op = tr.first("operation")
    copy = tr.first("CopyObject")
    head = tr.first("size HEAD")
    op_start, op_end = (op.start, op.end) if op else (launch, launch)
    copy_start, copy_end = (copy.start, copy.end) if copy else (op_start, op_end)
    run = tr.first("run_plan")
    run_end = run.end if run else op_end
    finish = tr.first("finish")
    fin_start, fin_end = (finish.start, finish.end) if finish else (run_end, run_end)
    out = [
        ("CreateJob (validate, store the job)", create_end),
        ("wait for the scheduler to pick it up", prep_start - create_end),
        ("Preparing", prep_end - prep_start),
        ("  of which: HEAD target/report bucket", tr.total("HEAD bucket (target/report)")),
        ("  of which: manifest HEAD + reads", tr.total("manifest HEAD") + tr.total("manifest first lines")
         + tr.total("manifest scan")),
        ("  of which: preflight HEADs of the first objects", tr.total("preflight HEADs")),
        ("Ready -> Active, plan, state writes", launch - prep_end),
        ("pipeline start (Beam graph, DirectRunner, DoFn setup)", op_start - launch),
        ("size HEAD (picks CopyObject or multipart)", head.seconds if head else 0.0),
        ("the copy (CopyObject)", copy_end - copy_start),
        ("results: segment report file, progress, pipeline end", run_end - op_end),
        ("  of which: segment report file", tr.total("segment report file")),
        ("  of which: segment progress writes", tr.total("segment progress")),
        ("pipeline end -> finish (scheduler wake-up)", fin_start - run_end),
        ("finish: report manifest + job.json, Complete", fin_end - fin_start),
        ("finish -> returned to the caller", total - fin_end),
    ]
    # What the operation spends besides the HEAD and the copy (its own bookkeeping).
    out.insert(9, ("operation's other work", (op_end - op_start) - (copy_end - copy_start)
                   - (head.seconds if head else 0.0)))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    seconds: float
    client_cpu: float  # this process (cosbatch) or the s5cmd child
    server_cpu: float  # the SeaweedFS process


def one_job(env: Env, manifest: str, report: str | None) -> tuple[Run, list[tuple[str, float]], Tracer]:
    """The traced job into a fresh bucket (deleted afterwards)."""
    dst = env.bucket("phase-dst")
    tracer = Tracer()
    try:
        with traced(tracer):
            server, cpu = cpu_seconds(env.server.pid), time.process_time()
            tracer.t0 = time.perf_counter()
            op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
            total = env.cosbatch_job(manifest, op, report, 1)
            run = Run(total, time.process_time() - cpu, cpu_seconds(env.server.pid) - server)
        return run, phases(tracer, total), tracer
    finally:
        env.drop_bucket(dst)


def one_s5cmd(env: Env, src: str, key: str) -> Run:
    dst = env.bucket("phase-s5")
    try:
        server, children = cpu_seconds(env.server.pid), os.times()
        start = time.perf_counter()
        env.s5cmd("cp", f"s3://{src}/{key}", f"s3://{dst}/{key}")
        seconds = time.perf_counter() - start
        after = os.times()
        client = (after.children_user + after.children_system) - (children.children_user + children.children_system)
        return Run(seconds, client, cpu_seconds(env.server.pid) - server)
    finally:
        env.drop_bucket(dst)


def table(rows: list[list[tuple[str, float]]], totals: list[float]) -> list[str]:
    body = []
    for i, (name, _) in enumerate(rows[0]):
        vals = [r[i][1] for r in rows]
        body.append((name, f"{statistics.median(vals):.3f}", harness.listed(vals, ".3f")))
    body.append(("**total, CreateJob to Complete**", f"**{statistics.median(totals):.3f}**",
                 harness.listed(totals, ".3f")))
    return harness.markdown_table(("phase", "median s", "rounds (s)"), body)


def versus(jobs: list[Run], peers: list[Run], size: int) -> list[str]:
    """The job against `s5cmd cp` of the same object in the same rounds: seconds, GiB/s, CPU."""
    gib = size / 1024**3
    body = []
    for name, runs in (("cosbatch job", jobs), ("s5cmd cp", peers)):
        secs = [r.seconds for r in runs]
        med = statistics.median(secs)
        body.append((name, f"{med:.3f}", f"{gib / med:.3f}", harness.listed(secs, ".2f"),
                     f"{statistics.median(r.client_cpu for r in runs):.2f}",
                     f"{statistics.median(r.server_cpu for r in runs):.2f}"))
    ratios = [p.seconds / j.seconds for j, p in zip(jobs, peers, strict=True)]
    header = ("contestant", "median s", "GiB/s", "rounds (s)", "client CPU s", "server CPU s")
    return [*harness.markdown_table(header, body),
            f"\nRatio (s5cmd time / job time, higher is better): median of medians "
            f"{statistics.median(p.seconds for p in peers) / statistics.median(j.seconds for j in jobs):.2f}x; "
            f"per round {harness.listed(ratios, '.2f')}"]


def main(argv: list[str] | None = None) -> int:
    parser = harness.table_parser("job_phases", "8 MiB, one round: checks that it runs")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--no-report", action="store_true", help="a job without a completion report")
    parser.add_argument("--timeline", action="store_true", help="print every span of the last round")
    args = parser.parse_args(argv)
    harness.bench_credentials()
    size = 8 * MiB if args.smoke else args.size_mib * MiB
    rounds = 1 if args.smoke else args.rounds
    env = make_env()
    try:
        src = env.bucket("phase-src")
        key = f"object-{size // MiB}MiB"
        env.seed_object(src, key, size)
        manifest = env.manifest(src, [key])
        report = None if args.no_report else env.bucket("phase-rep")
        rows, tracers, loads = [], [], []

        def job(r: int) -> Run:
            run, row, tracer = one_job(env, manifest, report)
            rows.append(row)
            tracers.append(tracer)
            return run

        # alternating: the job, then s5cmd cp, each into a fresh bucket
        runs = harness.alternate(rounds, {"job": job, "s5cmd": lambda r: one_s5cmd(env, src, key)}, loads=loads)
    finally:
        env.close()
    jobs, peers = runs["job"], runs["s5cmd"]
    doc = [f"One-object copy job of {size // MiB} MiB, CreateJob to Complete "
           f"({'no report' if args.no_report else 'with a report'}), "
           + harness.conditions(rounds, loads, kind=""), "",
           *table(rows, [j.seconds for j in jobs]), "", *versus(jobs, peers, size)]
    if args.timeline:
        spans = sorted(tracers[-1].spans, key=lambda s: s.start)
        doc += ["", *harness.markdown_table(("span", "start s", "seconds", "thread"), (
            (s.label, f"{s.start:.3f}", f"{s.seconds:.3f}", s.thread)
            for s in spans if s.label not in ("nap", "scheduler step")))]
    harness.publish(doc, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
