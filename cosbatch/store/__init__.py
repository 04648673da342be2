"""The metadata store: jobs, status history, segments and progress, idempotency tokens.

SQLite (embedded default) and PostgreSQL behind one `JobStore` protocol. It must not import
the controller, the pipelines, operations, storage clients or surfaces; it imports only
models, lifecycle and errors.
"""

from cosbatch.store.base import JobPage, JobStore, Segment, SegmentState, StatusChange
from cosbatch.store.opener import open_store
from cosbatch.store.sqlite import SqliteJobStore

__all__ = [
    "JobPage",
    "JobStore",
    "Segment",
    "SegmentState",
    "SqliteJobStore",
    "StatusChange",
    "open_store",
]
