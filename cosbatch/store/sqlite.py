"""SQLite store: one file, WAL, safe for readers and writers in other processes.

Every write is one `BEGIN IMMEDIATE` transaction; status changes are
compare-and-set against the status the caller saw, so two processes can never
both move a job. Connections are per thread and per process (fork-safe).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from cosbatch.errors import (
    ConfigError,
    IdempotencyConflict,
    JobNotFound,
    StoreUnavailable,
)
from cosbatch.lifecycle import JobStatus, check_transition
from cosbatch.models import FailureReason, Job, Tag
from cosbatch.store import rows
from cosbatch.store.base import JobPage, Segment, SegmentState, StatusChange
from cosbatch.store.schema import TABLES

SCHEMA_VERSION = 2
#: Columns added after version 1, with their types: added to an older store's jobs table at open.
_ADDED_JOB_COLUMNS = {"storage": "TEXT", "target_storage": "TEXT", "max_ops_per_second": "REAL",
                      "worker_rate": "REAL", "tags": "TEXT"}

_SCHEMA = [*TABLES, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"]

T = TypeVar("T")


def _guard(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn SQLite's operational failures (locked, disk full, unreadable) into StoreUnavailable."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            raise StoreUnavailable(f"metadata store unavailable: {exc}") from exc

    return wrapper


class SqliteJobStore:
    """JobStore on one SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path).expanduser().absolute()
        self.url = f"sqlite:///{self.path}"
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the store directory {self.path.parent}: {exc}") from exc
        self._migrate()

    # -- connections -------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            try:
                conn = sqlite3.connect(
                    self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open the metadata store {self.path}: {exc}") from exc
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it.

        A failed statement or COMMIT (disk full, I/O error, lock timeout) rolls back;
        if the connection cannot say it is out of the transaction afterwards, it is
        dropped, so the next call starts clean instead of failing "within a transaction".
        """
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            self._rollback(conn)
            raise

    def _rollback(self, conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        if conn.in_transaction:
            self._drop_connection()

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    @_guard
    def _migrate(self) -> None:
        with self._write() as conn:
            for stmt in _SCHEMA:
                conn.execute(stmt)
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            have = {r["name"] for r in conn.execute("PRAGMA table_info(jobs)")}
            for column, kind in _ADDED_JOB_COLUMNS.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
            if row is None:
                conn.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION,))
            elif row["version"] < SCHEMA_VERSION:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            elif row["version"] > SCHEMA_VERSION:
                raise ConfigError(
                    f"store {self.path} has schema version {row['version']}, newer than this "
                    f"cosbatch understands ({SCHEMA_VERSION}); upgrade cosbatch"
                )

    def close(self) -> None:
        self._drop_connection()

    # -- jobs --------------------------------------------------------------
    @_guard
    def insert_job(self, job: Job, request_hash: str) -> tuple[Job, bool]:
        """Insert a new job; a repeated (account, token) returns the first job (created=False)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT job_id, request_hash FROM jobs WHERE account_id=? AND client_request_token=?",
                (job.account_id, job.client_request_token),
            ).fetchone()
            if row is not None:
                if row["request_hash"] != request_hash:
                    raise IdempotencyConflict(
                        "ClientRequestToken was already used for a different CreateJob request"
                    )
                existing_id = row["job_id"]
            else:
                existing_id = None
                conn.execute(
                    f"INSERT INTO jobs({rows.INSERT_JOB_COLUMNS}) VALUES ({','.join('?' * rows.INSERT_JOB_COUNT)})",
                    rows.job_insert_values(job, request_hash),
                )
                conn.execute(
                    "INSERT INTO job_events(job_id, seq, from_status, to_status, at, reason) VALUES (?,?,?,?,?,?)",
                    (job.job_id, 1, None, job.status.value, job.creation_time.timestamp(), None),
                )
        if existing_id is not None:
            return self.get_job(existing_id), False
        return self.get_job(job.job_id), True

    @_guard
    def get_job(self, job_id: str, account_id: str | None = None) -> Job:
        sql = f"SELECT {rows.JOB_COLUMNS} FROM jobs j WHERE j.job_id = ?"
        params: list[Any] = [job_id]
        if account_id is not None:
            sql += " AND j.account_id = ?"
            params.append(account_id)
        row = self._conn().execute(sql, params).fetchone()
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return rows.job_from_row(row)

    @_guard
    def get_status(self, job_id: str) -> JobStatus:
        row = self._conn().execute("SELECT status FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return JobStatus(row["status"])

    @_guard
    def list_jobs(
        self,
        account_id: str | None,
        statuses: Sequence[JobStatus] = (),
        text: str | None = None,
        created_after: datetime | None = None,
        max_results: int = 1000,
        next_token: str | None = None,
    ) -> JobPage:
        sql, params = rows.list_jobs_query("?", account_id, statuses, text, created_after, max_results, next_token)
        return JobPage(*rows.job_page_parts(self._conn().execute(sql, params).fetchall(), max_results))

    @_guard
    def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]:
        values = [s.value for s in statuses]
        found = self._conn().execute(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs j WHERE j.status IN ({','.join('?' * len(values))})"
            " ORDER BY j.priority DESC, j.creation_time ASC",
            values,
        ).fetchall()
        now = time.time()
        return [rows.job_from_row(r, now) for r in found]

    @_guard
    def transition(
        self,
        job_id: str,
        expected: JobStatus,
        target: JobStatus,
        *,
        reason: str | None = None,
        suspended_cause: str | None = None,
        failure: FailureReason | None = None,
        total_tasks: int | None = None,
    ) -> bool:
        """Move the job expected → target if it is still in `expected`; False if it moved on.

        Raises IllegalTransition (before writing anything) if the arrow is not in the table.
        """
        check_transition(expected, target)
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT status, active_since, active_seconds, failure_reasons FROM jobs WHERE job_id=?",
                (job_id,),
            ).fetchone()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if row["status"] != expected.value:
                return False
            sets, params = rows.transition_sets("?", row, target, now, reason=reason, suspended_cause=suspended_cause,
                                                failure=failure, total_tasks=total_tasks)
            conn.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = ?", [*params, job_id])
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM job_events WHERE job_id=?", (job_id,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO job_events(job_id, seq, from_status, to_status, at, reason) VALUES (?,?,?,?,?,?)",
                (job_id, seq, expected.value, target.value, now, reason),
            )
        return True

    def set_rate_limit(self, job_id: str, max_ops_per_second: float | None, account_id: str | None = None) -> Job:
        return self._set_job_column(job_id, "max_ops_per_second", max_ops_per_second, account_id)

    @_guard
    def get_job_tags(self, job_id: str, account_id: str | None = None) -> list[Tag]:
        return list(self.get_job(job_id, account_id).tags)

    def put_job_tags(self, job_id: str, tags: Sequence[Tag], account_id: str | None = None) -> Job:
        """Replace the job's tag set (checked by the caller); the job as it is now."""
        return self._set_job_column(job_id, "tags", rows.tags_json(tags), account_id)

    def delete_job_tags(self, job_id: str, account_id: str | None = None) -> Job:
        return self.put_job_tags(job_id, [], account_id)

    @_guard
    def set_worker_rate(self, job_id: str, rate: float | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE jobs SET worker_rate = ? WHERE job_id = ?", (rate, job_id))

    @_guard
    def get_control(self, job_id: str) -> tuple[JobStatus, float | None]:
        row = self._conn().execute("SELECT status, worker_rate FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return JobStatus(row["status"]), row["worker_rate"]

    def set_priority(self, job_id: str, priority: int, account_id: str | None = None) -> Job:
        return self._set_job_column(job_id, "priority", priority, account_id)

    @_guard
    def _set_job_column(self, job_id: str, column: str, value: Any, account_id: str | None) -> Job:
        """Set one user-settable column of a job (of that account, if given); NoSuchJob otherwise."""
        assert column in ("priority", "max_ops_per_second", "tags")
        with self._write() as conn:
            sql = f"UPDATE jobs SET {column} = ? WHERE job_id = ?"
            params: list[Any] = [value, job_id]
            if account_id is not None:
                sql += " AND account_id = ?"
                params.append(account_id)
            if conn.execute(sql, params).rowcount == 0:
                raise JobNotFound(f"no job with id {job_id!r}")
        return self.get_job(job_id)

    @_guard
    def add_failure(self, job_id: str, failure: FailureReason) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT failure_reasons FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            conn.execute("UPDATE jobs SET failure_reasons=? WHERE job_id=?",
                         (rows.with_failure(row["failure_reasons"], failure), job_id))

    @_guard
    def history(self, job_id: str) -> list[StatusChange]:
        found = self._conn().execute("SELECT * FROM job_events WHERE job_id=? ORDER BY seq", (job_id,)).fetchall()
        return [rows.status_change_from_row(r) for r in found]

    # -- segments ----------------------------------------------------------
    @_guard
    def replace_segments(self, job_id: str, segments: Sequence[Segment]) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM segments WHERE job_id=?", (job_id,))
            conn.executemany(
                """INSERT INTO segments(job_id, seg_no, source, start, "end", first_line, task_count, state)
                   VALUES (?,?,?,?,?,?,?,?)""",
                [rows.segment_values(job_id, s) for s in segments],
            )

    @_guard
    def segment_state(self, job_id: str, seg_no: int) -> SegmentState:
        row = self._conn().execute("SELECT state FROM segments WHERE job_id=? AND seg_no=?",
                                   (job_id, seg_no)).fetchone()
        if row is None:
            raise JobNotFound(f"job {job_id!r} has no segment {seg_no}")
        return SegmentState(row["state"])

    @_guard
    def segments(self, job_id: str, states: Iterable[SegmentState] = ()) -> list[Segment]:
        values = [s.value for s in states]
        sql = "SELECT * FROM segments WHERE job_id=?"
        if values:
            sql += f" AND state IN ({','.join('?' * len(values))})"
        found = self._conn().execute(sql + " ORDER BY seg_no", [job_id, *values]).fetchall()
        return [rows.segment_from_row(r) for r in found]

    @_guard
    def update_segment(
        self,
        job_id: str,
        seg_no: int,
        state: SegmentState,
        succeeded: int,
        failed: int,
        result_files: list[dict] | None = None,
        retries: int = 0,
    ) -> None:
        """Set a segment's absolute counters (never deltas: a re-run segment can't double count).

        A segment already DONE or STOPPED is final: later writes for it (a retried
        bundle, a stale worker) are ignored.
        """
        with self._write() as conn:
            conn.execute(
                """UPDATE segments SET state=?, succeeded=?, failed=?, result_files=?, retries=?
                   WHERE job_id=? AND seg_no=? AND state NOT IN ('done', 'stopped')""",
                (state.value, succeeded, failed, json.dumps(result_files or []), retries, job_id, seg_no),
            )

    @_guard
    def abandon_segment(self, job_id: str, seg_no: int, tasks_run: int) -> None:
        """A paused worker gave a segment back: it runs again, whole; count the work redone."""
        with self._write() as conn:
            conn.execute(
                """UPDATE segments SET state='pending', succeeded=0, failed=0, result_files='[]',
                   abandoned_tasks = abandoned_tasks + ?
                   WHERE job_id=? AND seg_no=? AND state NOT IN ('done', 'stopped')""",
                (tasks_run, job_id, seg_no),
            )

    @_guard
    def retries(self, job_id: str) -> int:
        """Storage requests retried (throttling, 5xx, connection errors) in the job's persisted segments."""
        row = self._conn().execute("SELECT COALESCE(SUM(retries), 0) FROM segments WHERE job_id=?", (job_id,)).fetchone()
        return int(row[0])

    @_guard
    def abandoned_tasks(self, job_id: str) -> int:
        """Tasks run in attempts of segments that were given back (they will run, or ran, twice)."""
        row = self._conn().execute(
            "SELECT COALESCE(SUM(abandoned_tasks), 0) FROM segments WHERE job_id=?", (job_id,)
        ).fetchone()
        return int(row[0])

    @_guard
    def reset_running_segments(self, job_id: str) -> int:
        """Segments left RUNNING by a stopped or crashed pipeline go back to PENDING (counters zeroed)."""
        with self._write() as conn:
            return conn.execute(
                "UPDATE segments SET state='pending', succeeded=0, failed=0, result_files='[]' "
                "WHERE job_id=? AND state IN ('running', 'pending')",
                (job_id,),
            ).rowcount

    # -- controller lease --------------------------------------------------
    @_guard
    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew a named lease; False while another owner holds it unexpired."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute("SELECT owner, expires_at FROM leases WHERE name=?", (name,)).fetchone()
            if row is not None and row["owner"] != owner and row["expires_at"] > now:
                return False
            conn.execute(
                "INSERT INTO leases(name, owner, expires_at) VALUES (?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, expires_at=excluded.expires_at",
                (name, owner, now + ttl_s),
            )
            return True

    @_guard
    def lease_holder(self, name: str) -> str | None:
        row = self._conn().execute(
            "SELECT owner FROM leases WHERE name=? AND expires_at > ?", (name, time.time())
        ).fetchone()
        return None if row is None else row["owner"]

    @_guard
    def release_lease(self, name: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM leases WHERE name=? AND owner=?", (name, owner))

    @_guard
    def leases(self, prefix: str) -> dict[str, str]:
        """Unexpired leases whose name starts with `prefix`: name → owner."""
        found = self._conn().execute(
            "SELECT name, owner FROM leases WHERE name LIKE ? ESCAPE '\\' AND expires_at > ?",
            (rows.like_prefix(prefix), time.time()),
        ).fetchall()
        return {r["name"]: r["owner"] for r in found}

    @_guard
    def release_leases(self, prefix: str) -> int:
        """Drop every lease whose name starts with `prefix` (whoever holds it)."""
        with self._write() as conn:
            return conn.execute("DELETE FROM leases WHERE name LIKE ? ESCAPE '\\'", (rows.like_prefix(prefix),)).rowcount


def default_store_url() -> str:
    home = os.environ.get("COSBATCH_HOME") or str(Path.home() / ".cosbatch")
    return os.environ.get("COSBATCH_STORE") or f"sqlite:///{Path(home).absolute() / 'cosbatch.db'}"
