"""The metadata store: jobs, status history, segments and progress, idempotency tokens.

It must not import the controller, the pipelines, operations, storage clients or surfaces.
"""

from cosbatch.store.base import JobPage, JobStore, Segment, SegmentState, StatusChange
from cosbatch.store.sqlite import SqliteJobStore, open_store

__all__ = [
    "JobPage",
    "JobStore",
    "Segment",
    "SegmentState",
    "SqliteJobStore",
    "StatusChange",
    "open_store",
]
