"""The tables every SQL store has, in SQL both SQLite and PostgreSQL accept (and the one fill
that is Python: a job's failure codes, read from its segments' result files).

Timestamps are epoch seconds (DOUBLE PRECISION), JSON documents are TEXT, flags are INTEGER.
SQLite creates these at open (and adds later columns itself); PostgreSQL's first migration is
exactly these statements (pg_schema.py). Change them only together with a new PostgreSQL
migration and SQLite's added columns.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from cosbatch.errors import ConfigError
from cosbatch.store.base import failure_codes

TABLES: list[str] = [
    """CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        status TEXT NOT NULL,
        priority INTEGER NOT NULL,
        description TEXT,
        confirmation_required INTEGER NOT NULL,
        creation_time DOUBLE PRECISION NOT NULL,
        termination_date DOUBLE PRECISION,
        suspended_date DOUBLE PRECISION,
        suspended_cause TEXT,
        status_update_reason TEXT,
        total_tasks BIGINT,
        active_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        active_since DOUBLE PRECISION,
        failure_reasons TEXT NOT NULL DEFAULT '[]',
        client_request_token TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        dialect TEXT NOT NULL,
        manifest TEXT NOT NULL,
        operation TEXT NOT NULL,
        report TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        dry_run INTEGER NOT NULL DEFAULT 0,
        manifest_generator TEXT,
        storage TEXT,
        target_storage TEXT,
        max_ops_per_second DOUBLE PRECISION,
        worker_rate DOUBLE PRECISION
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_token ON jobs(account_id, client_request_token)",
    "CREATE INDEX IF NOT EXISTS jobs_account_created ON jobs(account_id, creation_time DESC, job_id DESC)",
    "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(creation_time DESC, job_id DESC)",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status)",
    """CREATE TABLE IF NOT EXISTS job_events (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        reason TEXT,
        PRIMARY KEY (job_id, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS segments (
        job_id TEXT NOT NULL,
        seg_no INTEGER NOT NULL,
        source TEXT NOT NULL,
        start BIGINT NOT NULL,
        "end" BIGINT NOT NULL,
        first_line BIGINT NOT NULL,
        task_count BIGINT NOT NULL,
        state TEXT NOT NULL,
        succeeded BIGINT NOT NULL DEFAULT 0,
        failed BIGINT NOT NULL DEFAULT 0,
        result_files TEXT NOT NULL DEFAULT '[]',
        abandoned_tasks BIGINT NOT NULL DEFAULT 0,
        retries BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, seg_no)
    )""",
    """CREATE TABLE IF NOT EXISTS leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
]

#: Added in schema version 3 (PostgreSQL migration 3): the notifications outbox, written by
#: `transition` with the status it reports, read and updated by the controller's notifier.
NOTIFICATION_TABLES: list[str] = [
    """CREATE TABLE IF NOT EXISTS notifications (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        url TEXT NOT NULL,
        status TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at DOUBLE PRECISION NOT NULL,
        last_error TEXT,
        PRIMARY KEY (job_id, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS notifications_due ON notifications(state, next_at)",
]

#: Added in schema version 4 (PostgreSQL migration 4): when a segment was recorded DONE or
#: STOPPED (epoch seconds), so a finished job's throughput can be drawn from the store alone; and
#: the tasks of a segment that succeeded without work, because the target was already identical
#: (cosbatch:skip-identical).
ADDED_SEGMENT_COLUMNS: dict[str, str] = {"finished_at": "DOUBLE PRECISION", "skipped": "BIGINT NOT NULL DEFAULT 0"}

#: Added in schema version 6 (PostgreSQL migration 6), on jobs. The job's task counters, kept equal
#: to the sums of its segments' counters by every write that changes a segment's (in the same
#: transaction), so DescribeJob reads one row however many segments the job has. And the wait of a
#: job in Preparing for its unreachable storage: when it began and when it gives up (epoch seconds),
#: and why in a few words; so a restarted controller continues the wait rather than starting it afresh.
ADDED_JOB_COLUMNS_6: dict[str, str] = {
    "succeeded": "BIGINT NOT NULL DEFAULT 0",
    "failed": "BIGINT NOT NULL DEFAULT 0",
    "skipped": "BIGINT NOT NULL DEFAULT 0",
    "storage_wait_since": "DOUBLE PRECISION",
    "storage_wait_until": "DOUBLE PRECISION",
    "storage_wait_reason": "TEXT",
}

#: Fills the counters of jobs that existed before schema version 6 from their segments.
FILL_JOB_COUNTERS = """UPDATE jobs SET
    succeeded = (SELECT COALESCE(SUM(s.succeeded), 0) FROM segments s WHERE s.job_id = jobs.job_id),
    failed = (SELECT COALESCE(SUM(s.failed), 0) FROM segments s WHERE s.job_id = jobs.job_id),
    skipped = (SELECT COALESCE(SUM(s.skipped), 0) FROM segments s WHERE s.job_id = jobs.job_id)"""

#: Added in schema version 7 (PostgreSQL migration 7), on jobs: the sums of its segments' retries
#: and abandoned tasks, kept like the task counters (same transaction as every segment write).
ADDED_JOB_COLUMNS_7: dict[str, str] = {
    "retries": "BIGINT NOT NULL DEFAULT 0",
    "abandoned_tasks": "BIGINT NOT NULL DEFAULT 0",
}

#: Added in schema version 7 (PostgreSQL migration 7): a job's failed tasks by error code, as its
#: segments' result files record them (`base.failure_codes`), summed over its segments and changed
#: by deltas in the same transaction as every segment write that changes a segment's result files.
#: A row whose n came back to 0 may stay; readers skip it.
FAILURE_CODE_TABLES: list[str] = [
    """CREATE TABLE IF NOT EXISTS job_failure_codes (
        job_id TEXT NOT NULL,
        code TEXT NOT NULL,
        n BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, code)
    )""",
]

#: Fills the retries and abandoned tasks of jobs that existed before schema version 7.
FILL_JOB_TOTALS_7 = """UPDATE jobs SET
    retries = (SELECT COALESCE(SUM(s.retries), 0) FROM segments s WHERE s.job_id = jobs.job_id),
    abandoned_tasks = (SELECT COALESCE(SUM(s.abandoned_tasks), 0) FROM segments s WHERE s.job_id = jobs.job_id)"""


def fill_failure_codes(conn: Any) -> None:
    """Fill job_failure_codes for the jobs that existed before schema version 7 from their segments'
    result files, one job at a time (`conn`: a store's write connection, taking `?` placeholders)."""
    job_ids = [r["job_id"] for r in conn.execute("SELECT job_id FROM jobs").fetchall()]
    for job_id in job_ids:
        codes: Counter[str] = Counter()
        for r in conn.execute("SELECT result_files FROM segments WHERE job_id = ? AND result_files LIKE ?",
                              (job_id, "%failed%")).fetchall():
            codes.update(failure_codes(json.loads(r["result_files"]), strict=False))
        conn.execute("DELETE FROM job_failure_codes WHERE job_id = ?", (job_id,))
        if codes:
            conn.executemany("INSERT INTO job_failure_codes(job_id, code, n) VALUES (?,?,?)",
                             [(job_id, code, n) for code, n in codes.items() if n])


def refuse_newer_schema(store: str, version: int, understood: int) -> None:
    """ConfigError when the store at `store` was written by a newer cosbatch (schema `version` above
    the `understood` one): reading or migrating it could corrupt it, and only an upgrade helps."""
    if version > understood:
        raise ConfigError(f"store {store} has schema version {version}, newer than this "
                          f"cosbatch understands ({understood}); upgrade cosbatch")
