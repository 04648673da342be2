"""The undo side of ApplyOperation: an undoable job's operation records what it overwrites;
an undo job's operation restores it, reading its records from its own manifest segments."""

from __future__ import annotations

from typing import Any

from cosbatch.control.plan import JobPlan
from cosbatch.manifests import SegmentSource
from cosbatch.manifests.source import open_segment_source
from cosbatch.models import JobOperation
from cosbatch.operations.undo import UndoOperation, UndoRecorder, restorer_kinds
from cosbatch.operations.undo_kinds import Versioning
from cosbatch.reports import ReportLocation
from cosbatch.storage import make_client


class _LazyClient:
    """One boto3 client for record files and manifest bytes, made on first use."""

    def __init__(self, plan: JobPlan) -> None:
        self.plan = plan
        self.client: Any = None

    def __call__(self) -> Any:
        if self.client is None:
            self.client = make_client(self.plan.storage)
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


def with_undo(plan: JobPlan, operation: Any) -> Any:
    """The operation an ApplyOperation runs: as given, recording (cosbatch:undoable) or undoing
    (cosbatch:undo-of)."""
    if plan.undo_of:
        refs = {s.seg_no: s for s in plan.segments}
        client = _LazyClient(plan)

        def read_segment(seg_no: int) -> bytes:
            ref = refs[seg_no]
            return b"".join(open_segment_source(SegmentSource.from_json(ref.source), client()).chunks(ref.start, ref.end))

        kinds = restorer_kinds(JobOperation.model_validate(plan.operation).params, Versioning())
        return UndoOperation(read_segment, client, kinds, client.close)
    if plan.undoable and plan.report is not None:
        location = ReportLocation(plan.report.bucket, plan.report.prefix, plan.job_id)
        return UndoRecorder(operation, _LazyClient(plan), location.bucket, location.undo_dir,
                            concurrency=plan.concurrency)
    return operation
