"""PostgreSQL schema: versioned migrations, applied in order at open under an advisory lock.

Each migration is (version, steps): SQL statements, or a function given the migrating
transaction's connection (a fill that is Python: failure codes read from JSON). Applied versions
are recorded in `schema_migrations`; a process that opens the store applies the ones missing, in one
transaction holding `pg_advisory_xact_lock(MIGRATION_LOCK)`, so two processes starting at
once apply each migration exactly once. Never edit a released migration: append a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cosbatch.store import schema

#: A migration step: a statement, or a function run with the migrating transaction's connection.
Step = str | Callable[[Any], None]

#: The advisory lock key every cosbatch process takes while migrating ("cosbatch" in ASCII).
MIGRATION_LOCK = 0x636F7362617463

MIGRATIONS: list[tuple[int, list[Step]]] = [
    (1, schema.TABLES),  # jobs, job_events, segments, leases and their indexes
    (2, ["ALTER TABLE jobs ADD COLUMN IF NOT EXISTS tags TEXT"]),  # job tags (a JSON list)
    (3, schema.NOTIFICATION_TABLES),  # the notifications outbox
    (4, [f"ALTER TABLE segments ADD COLUMN IF NOT EXISTS {column} {kind}"  # segments: finished_at, skipped
         for column, kind in schema.ADDED_SEGMENT_COLUMNS.items()]),
    (5, ["ALTER TABLE jobs ADD COLUMN IF NOT EXISTS estimate TEXT"]),  # a Suspended job's estimate (JSON)
    (6, [*(f"ALTER TABLE jobs ADD COLUMN IF NOT EXISTS {column} {kind}"  # jobs: task counters, storage wait
           for column, kind in schema.ADDED_JOB_COLUMNS_6.items()), schema.FILL_JOB_COUNTERS]),
    (7, [*(f"ALTER TABLE jobs ADD COLUMN IF NOT EXISTS {column} {kind}"  # jobs: retries, abandoned tasks
           for column, kind in schema.ADDED_JOB_COLUMNS_7.items()), schema.FILL_JOB_TOTALS_7,
         *schema.FAILURE_CODE_TABLES, schema.fill_failure_codes]),  # failed tasks by error code, per job
]

LATEST = MIGRATIONS[-1][0]
