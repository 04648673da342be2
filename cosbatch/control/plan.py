"""JobPlan: everything a pipeline needs to run a job, picklable and free of secrets.

The controller builds it from the job record; the pipeline carries it to every
worker. Workers read only their segments' bytes and talk back through JobControl.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cosbatch.storage import Storage


@dataclass(frozen=True)
class SegmentRef:
    seg_no: int
    source: str  # SegmentSource JSON
    start: int
    end: int
    first_line: int
    task_count: int
    # The pipeline run this reference belongs to. A job re-run after a pause or a failure
    # would otherwise build a Dask graph with exactly the keys of the run just released
    # (Dask names tasks by hashing their inputs), and Dask can deadlock on keys released and
    # submitted again (dask/distributed#7356).
    run_id: str = ""


@dataclass(frozen=True)
class ReportTarget:
    bucket: str
    prefix: str
    scope: str  # ReportScope value
    format: str = "Report_CSV_20180820"  # ReportFormat value


#: Object operations in flight per worker unless a job's runner is told otherwise (`--concurrency`).
#: 128, not 64: on SeaweedFS a server-side copy of 1 KiB cost the server 0.86 ms of CPU at 128 in
#: flight against 0.91 ms at 64 (1.06 at 32, 1.13 at 16), and a copy job ran 4-5% faster; a
#: cross-storage copy of 1 KiB objects 7% faster (docs/performance.md, "Operations in flight: why
#: 128"; benchmarks/results/hot-path-s12.md).
DEFAULT_CONCURRENCY = 128


@dataclass(frozen=True)
class JobPlan:
    job_id: str
    store_url: str
    storage: Storage  # the job's own: manifest, objects and report
    operation: dict  # JobOperation wire shape
    segments: tuple[SegmentRef, ...]
    report: ReportTarget | None = None
    dry_run: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    control_poll_s: float = 0.5
    progress_push_s: float = 1.0
    labels: dict[str, str] = field(default_factory=dict)
    target_storage: Storage | None = None  # a copy's target, when it is another storage
    verify: bool = False  # compare each copy with its source (the cosbatch:verify tag)
    skip_identical: bool = False  # leave targets already identical alone (the cosbatch:skip-identical tag)
    undoable: bool = False  # record what each task overwrites next to the report (the cosbatch:undoable tag)
    undo_of: str | None = None  # this job restores that job's records (the cosbatch:undo-of tag)
