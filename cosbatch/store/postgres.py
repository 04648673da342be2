"""PostgreSQL store: psycopg 3 with a connection pool, for controllers on several hosts.

Same semantics as the SQLite store. Status changes lock the job row (`SELECT … FOR UPDATE`)
and are compare-and-set; idempotent create relies on the unique (account, token) index with
`ON CONFLICT DO NOTHING`; leases are one atomic upsert judged by the database's clock, so
controllers on hosts with skewed clocks agree on who holds one. Lost connections and a server
that is down surface as StoreUnavailable and drop the pool; the next call opens a fresh one
(and the pool checks a connection before lending it), so calls work again as soon as the
server is back.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from cosbatch.errors import ConfigError, IdempotencyConflict, JobNotFound, StoreUnavailable
from cosbatch.lifecycle import JobStatus, check_transition
from cosbatch.models import FailureReason, Job, Tag
from cosbatch.store import rows
from cosbatch.store.base import JobPage, Segment, SegmentState, StatusChange
from cosbatch.store.pg_schema import LATEST, MIGRATION_LOCK, MIGRATIONS

T = TypeVar("T")

#: The database's clock, in epoch seconds: leases are judged by it, not by each host's.
_DB_NOW = "extract(epoch from clock_timestamp())::double precision"


def _guard(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn lost connections, a server that is down and an exhausted pool into StoreUnavailable."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout) as exc:
            args[0]._drop_pool()  # the next call connects afresh, not after the pool's growing backoff
            raise StoreUnavailable(f"metadata store unavailable: {exc}") from exc

    return wrapper


class PostgresJobStore:
    """JobStore on a PostgreSQL database (`postgresql://user@host:port/db`)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, max_connections: int = 10) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._max = max_connections
        self._lock = threading.Lock()
        self._pool_obj: psycopg_pool.ConnectionPool | None = None
        self._pid = os.getpid()
        self._migrate()

    # -- connections -------------------------------------------------------
    def _pool(self) -> psycopg_pool.ConnectionPool:
        with self._lock:
            if self._pool_obj is None or self._pid != os.getpid():  # a forked child opens its own
                self._pid = os.getpid()
                self._pool_obj = psycopg_pool.ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self._max,
                    timeout=self._timeout_s,
                    kwargs={"row_factory": dict_row, "autocommit": True,
                            "connect_timeout": max(1, int(self._timeout_s))},
                    check=psycopg_pool.ConnectionPool.check_connection,
                    open=True,
                    name="cosbatch-store",
                )
            return self._pool_obj

    def _drop_pool(self) -> None:
        with self._lock:
            pool, self._pool_obj = self._pool_obj, None
        if pool is not None and self._pid == os.getpid():
            threading.Thread(target=pool.close, kwargs={"timeout": 1.0}, daemon=True).start()

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection]:
        with self._pool().connection() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection]:
        """One transaction: all of it is committed, or none of it."""
        with self._pool().connection() as conn, conn.transaction():
            yield conn

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        with self._read() as conn:
            return conn.execute(sql, params).fetchone()  # type: ignore[return-value]

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        with self._read() as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[return-value]

    @_guard
    def _migrate(self) -> None:
        with self._write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            applied = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
            if applied and max(applied) > LATEST:
                raise ConfigError(
                    f"store {self.url} has schema version {max(applied)}, newer than this "
                    f"cosbatch understands ({LATEST}); upgrade cosbatch"
                )
            for version, statements in MIGRATIONS:
                if version in applied:
                    continue
                for stmt in statements:
                    conn.execute(stmt)  # type: ignore[arg-type]
                conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (version,))

    def schema_versions(self) -> list[int]:
        """The migrations applied to this database, in order."""
        return [r["version"] for r in self._all("SELECT version FROM schema_migrations ORDER BY version")]

    def close(self) -> None:
        with self._lock:
            pool, self._pool_obj = self._pool_obj, None
        if pool is not None and self._pid == os.getpid():
            pool.close()

    # -- jobs --------------------------------------------------------------
    @_guard
    def insert_job(self, job: Job, request_hash: str) -> tuple[Job, bool]:
        """Insert a new job; a repeated (account, token) returns the first job (created=False)."""
        with self._write() as conn:
            placeholders = ",".join(["%s"] * rows.INSERT_JOB_COUNT)
            inserted = conn.execute(
                f"INSERT INTO jobs({rows.INSERT_JOB_COLUMNS}) VALUES ({placeholders}) "
                "ON CONFLICT (account_id, client_request_token) DO NOTHING RETURNING job_id",
                rows.job_insert_values(job, request_hash),
            ).fetchone()
            if inserted is not None:
                conn.execute(
                    "INSERT INTO job_events(job_id, seq, from_status, to_status, at, reason) "
                    "VALUES (%s,%s,%s,%s,%s,%s)",
                    (job.job_id, 1, None, job.status.value, job.creation_time.timestamp(), None),
                )
                existing_id = None
            else:
                row = conn.execute(
                    "SELECT job_id, request_hash FROM jobs WHERE account_id=%s AND client_request_token=%s",
                    (job.account_id, job.client_request_token),
                ).fetchone()
                if row is None or row["request_hash"] != request_hash:
                    raise IdempotencyConflict(
                        "ClientRequestToken was already used for a different CreateJob request"
                    )
                existing_id = row["job_id"]
        if existing_id is not None:
            return self.get_job(existing_id), False
        return self.get_job(job.job_id), True

    @_guard
    def get_job(self, job_id: str, account_id: str | None = None) -> Job:
        sql = f"SELECT {rows.JOB_COLUMNS} FROM jobs j WHERE j.job_id = %s"
        params: list[Any] = [job_id]
        if account_id is not None:
            sql += " AND j.account_id = %s"
            params.append(account_id)
        row = self._one(sql, params)
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return rows.job_from_row(row)

    @_guard
    def get_status(self, job_id: str) -> JobStatus:
        row = self._one("SELECT status FROM jobs WHERE job_id=%s", (job_id,))
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
        sql, params = rows.list_jobs_query("%s", account_id, statuses, text, created_after, max_results, next_token)
        return JobPage(*rows.job_page_parts(self._all(sql, params), max_results))

    @_guard
    def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]:
        values = [s.value for s in statuses]
        if not values:
            return []
        found = self._all(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs j WHERE j.status = ANY(%s)"
            " ORDER BY j.priority DESC, j.creation_time ASC",
            (values,),
        )
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
                "SELECT status, active_since, active_seconds, failure_reasons FROM jobs WHERE job_id=%s FOR UPDATE",
                (job_id,),
            ).fetchone()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if row["status"] != expected.value:
                return False
            sets, params = rows.transition_sets("%s", row, target, now, reason=reason, suspended_cause=suspended_cause,
                                                failure=failure, total_tasks=total_tasks)
            moved = conn.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = %s AND status = %s",
                [*params, job_id, expected.value],
            ).rowcount
            if moved == 0:
                return False
            conn.execute(
                "INSERT INTO job_events(job_id, seq, from_status, to_status, at, reason) "
                "SELECT %s, COALESCE(MAX(seq), 0) + 1, %s, %s, %s, %s FROM job_events WHERE job_id=%s",
                (job_id, expected.value, target.value, now, reason, job_id),
            )
        return True

    def _set_job_column(self, column: str, value: Any, job_id: str, account_id: str | None) -> Job:
        with self._write() as conn:
            sql = f"UPDATE jobs SET {column} = %s WHERE job_id = %s"
            params: list[Any] = [value, job_id]
            if account_id is not None:
                sql += " AND account_id = %s"
                params.append(account_id)
            if conn.execute(sql, params).rowcount == 0:
                raise JobNotFound(f"no job with id {job_id!r}")
        return self.get_job(job_id)

    @_guard
    def set_rate_limit(self, job_id: str, max_ops_per_second: float | None, account_id: str | None = None) -> Job:
        return self._set_job_column("max_ops_per_second", max_ops_per_second, job_id, account_id)

    @_guard
    def get_job_tags(self, job_id: str, account_id: str | None = None) -> list[Tag]:
        return list(self.get_job(job_id, account_id).tags)

    @_guard
    def put_job_tags(self, job_id: str, tags: Sequence[Tag], account_id: str | None = None) -> Job:
        """Replace the job's tag set (checked by the caller); the job as it is now."""
        return self._set_job_column("tags", rows.tags_json(tags), job_id, account_id)

    def delete_job_tags(self, job_id: str, account_id: str | None = None) -> Job:
        return self.put_job_tags(job_id, [], account_id)

    @_guard
    def set_priority(self, job_id: str, priority: int, account_id: str | None = None) -> Job:
        return self._set_job_column("priority", priority, job_id, account_id)

    @_guard
    def set_worker_rate(self, job_id: str, rate: float | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE jobs SET worker_rate = %s WHERE job_id = %s", (rate, job_id))

    @_guard
    def get_control(self, job_id: str) -> tuple[JobStatus, float | None]:
        row = self._one("SELECT status, worker_rate FROM jobs WHERE job_id = %s", (job_id,))
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return JobStatus(row["status"]), row["worker_rate"]

    @_guard
    def add_failure(self, job_id: str, failure: FailureReason) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT failure_reasons FROM jobs WHERE job_id=%s FOR UPDATE", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            conn.execute("UPDATE jobs SET failure_reasons=%s WHERE job_id=%s",
                         (rows.with_failure(row["failure_reasons"], failure), job_id))

    @_guard
    def history(self, job_id: str) -> list[StatusChange]:
        found = self._all("SELECT * FROM job_events WHERE job_id=%s ORDER BY seq", (job_id,))
        return [rows.status_change_from_row(r) for r in found]

    # -- segments ----------------------------------------------------------
    @_guard
    def replace_segments(self, job_id: str, segments: Sequence[Segment]) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM segments WHERE job_id=%s", (job_id,))
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO segments(job_id, seg_no, source, start, "end", first_line, task_count, state)
                       VALUES (%s,%s,%s,%s,%s,%s,%s,%s)""",
                    [rows.segment_values(job_id, s) for s in segments],
                )

    @_guard
    def segment_state(self, job_id: str, seg_no: int) -> SegmentState:
        row = self._one("SELECT state FROM segments WHERE job_id=%s AND seg_no=%s", (job_id, seg_no))
        if row is None:
            raise JobNotFound(f"job {job_id!r} has no segment {seg_no}")
        return SegmentState(row["state"])

    @_guard
    def segments(self, job_id: str, states: Iterable[SegmentState] = ()) -> list[Segment]:
        values = [s.value for s in states]
        sql = "SELECT * FROM segments WHERE job_id=%s"
        params: list[Any] = [job_id]
        if values:
            sql += " AND state = ANY(%s)"
            params.append(values)
        return [rows.segment_from_row(r) for r in self._all(sql + " ORDER BY seg_no", params)]

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
        """Set a segment's absolute counters; a segment already DONE or STOPPED is final."""
        with self._write() as conn:
            conn.execute(
                """UPDATE segments SET state=%s, succeeded=%s, failed=%s, result_files=%s, retries=%s
                   WHERE job_id=%s AND seg_no=%s AND state NOT IN ('done', 'stopped')""",
                (state.value, succeeded, failed, json.dumps(result_files or []), retries, job_id, seg_no),
            )

    @_guard
    def abandon_segment(self, job_id: str, seg_no: int, tasks_run: int) -> None:
        """A paused worker gave a segment back: it runs again, whole; count the work redone."""
        with self._write() as conn:
            conn.execute(
                """UPDATE segments SET state='pending', succeeded=0, failed=0, result_files='[]',
                   abandoned_tasks = abandoned_tasks + %s
                   WHERE job_id=%s AND seg_no=%s AND state NOT IN ('done', 'stopped')""",
                (tasks_run, job_id, seg_no),
            )

    @_guard
    def retries(self, job_id: str) -> int:
        row = self._one("SELECT COALESCE(SUM(retries), 0) AS n FROM segments WHERE job_id=%s", (job_id,))
        return int(row["n"]) if row else 0

    @_guard
    def abandoned_tasks(self, job_id: str) -> int:
        row = self._one("SELECT COALESCE(SUM(abandoned_tasks), 0) AS n FROM segments WHERE job_id=%s", (job_id,))
        return int(row["n"]) if row else 0

    @_guard
    def reset_running_segments(self, job_id: str) -> int:
        """Segments left RUNNING by a stopped or crashed pipeline go back to PENDING (counters zeroed)."""
        with self._write() as conn:
            return conn.execute(
                "UPDATE segments SET state='pending', succeeded=0, failed=0, result_files='[]' "
                "WHERE job_id=%s AND state IN ('running', 'pending')",
                (job_id,),
            ).rowcount

    # -- leases ------------------------------------------------------------
    @_guard
    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew a named lease; False while another owner holds it unexpired."""
        with self._write() as conn:
            row = conn.execute(
                f"INSERT INTO leases(name, owner, expires_at) VALUES (%s, %s, {_DB_NOW} + %s) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
                f"WHERE leases.owner = excluded.owner OR leases.expires_at <= {_DB_NOW} RETURNING name",
                (name, owner, ttl_s),
            ).fetchone()
        return row is not None

    @_guard
    def lease_holder(self, name: str) -> str | None:
        row = self._one(f"SELECT owner FROM leases WHERE name=%s AND expires_at > {_DB_NOW}", (name,))
        return None if row is None else row["owner"]

    @_guard
    def release_lease(self, name: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM leases WHERE name=%s AND owner=%s", (name, owner))

    @_guard
    def leases(self, prefix: str) -> dict[str, str]:
        """Unexpired leases whose name starts with `prefix`: name → owner."""
        found = self._all(
            f"SELECT name, owner FROM leases WHERE name LIKE %s ESCAPE '\\' AND expires_at > {_DB_NOW}",
            (rows.like_prefix(prefix),),
        )
        return {r["name"]: r["owner"] for r in found}

    @_guard
    def release_leases(self, prefix: str) -> int:
        """Drop every lease whose name starts with `prefix` (whoever holds it)."""
        with self._write() as conn:
            return conn.execute("DELETE FROM leases WHERE name LIKE %s ESCAPE '\\'",
                                (rows.like_prefix(prefix),)).rowcount
