"""What the SQL stores share: every JobStore method but opening, migrating and taking leases.

Written once with `?` placeholders in SQL that SQLite and PostgreSQL both accept; a store
supplies connections (`_one`, `_all`, `_write`, whose connection's `execute` and
`executemany` take `?`), the errors that mean "unavailable", and `FOR_UPDATE` (row locks
where the database has them; SQLite's write transaction locks the whole file anyway).
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar

from cosbatch.errors import IdempotencyConflict, JobNotFound, StoreUnavailable
from cosbatch.lifecycle import JobStatus, check_transition
from cosbatch.models import FailureReason, Job, StorageWait, Tag
from cosbatch.store import rows
from cosbatch.store.base import (
    NOTIFIED,
    JobPage,
    Notification,
    Segment,
    SegmentState,
    StatusChange,
    failure_codes,
)

T = TypeVar("T")


def guarded(fn: Callable[..., T]) -> Callable[..., T]:
    """The store's own "unavailable" errors (lost connection, locked, disk full) become StoreUnavailable."""

    @functools.wraps(fn)
    def wrapper(self: SqlJobStore, *args: Any, **kwargs: Any) -> T:
        try:
            return fn(self, *args, **kwargs)
        except self.UNAVAILABLE as exc:
            self._on_unavailable()
            raise StoreUnavailable(f"metadata store {rows.without_password(self.url)} unavailable: {exc}") from exc

    return wrapper


class SqlJobStore:
    """The shared half of a SQL JobStore (see the module docstring for what a subclass supplies)."""

    url: str
    UNAVAILABLE: tuple[type[BaseException], ...] = ()
    FOR_UPDATE = ""

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
    def _write(self) -> AbstractContextManager[Any]: ...

    def _on_unavailable(self) -> None:
        """Called before StoreUnavailable is raised (e.g. to drop a pool of dead connections)."""

    # -- jobs --------------------------------------------------------------
    @guarded
    def insert_job(self, job: Job, request_hash: str) -> tuple[Job, bool]:
        """Insert a new job; a repeated (account, token) returns the first job (created=False)."""
        with self._write() as conn:
            placeholders = ",".join(["?"] * rows.INSERT_JOB_COUNT)
            inserted = conn.execute(
                f"INSERT INTO jobs({rows.INSERT_JOB_COLUMNS}) VALUES ({placeholders}) "
                "ON CONFLICT (account_id, client_request_token) DO NOTHING RETURNING job_id",
                rows.job_insert_values(job, request_hash),
            ).fetchone()
            if inserted is not None:
                conn.execute(
                    "INSERT INTO job_events(job_id, seq, from_status, to_status, at, reason) "
                    "VALUES (?,?,?,?,?,?)",
                    (job.job_id, 1, None, job.status.value, job.creation_time.timestamp(), None),
                )
                existing_id = None
            else:
                row = conn.execute(
                    "SELECT job_id, request_hash FROM jobs WHERE account_id=? AND client_request_token=?",
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

    @guarded
    def get_job(self, job_id: str, account_id: str | None = None) -> Job:
        sql = f"SELECT {rows.JOB_COLUMNS} FROM jobs j WHERE j.job_id = ?"
        params: list[Any] = [job_id]
        if account_id is not None:
            sql += " AND j.account_id = ?"
            params.append(account_id)
        row = self._one(sql, params)
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return rows.job_from_row(row)

    @guarded
    def get_status(self, job_id: str) -> JobStatus:
        row = self._one("SELECT status FROM jobs WHERE job_id=?", (job_id,))
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return JobStatus(row["status"])

    @guarded
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
        return JobPage(*rows.job_page_parts(self._all(sql, params), max_results))

    @guarded
    def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]:
        values = [s.value for s in statuses]
        if not values:
            return []
        found = self._all(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs j WHERE j.status IN ({','.join('?' * len(values))})"
            " ORDER BY j.priority DESC, j.creation_time ASC",
            values,
        )
        now = time.time()
        return [rows.job_from_row(r, now) for r in found]

    @guarded
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
                "SELECT status, active_since, active_seconds, failure_reasons, tags FROM jobs WHERE job_id=?"
                + self.FOR_UPDATE,
                (job_id,),
            ).fetchone()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if row["status"] != expected.value:
                return False
            sets, params = rows.transition_sets("?", row, target, now, reason=reason, suspended_cause=suspended_cause,
                                                failure=failure, total_tasks=total_tasks)
            moved = conn.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = ? AND status = ?",
                [*params, job_id, expected.value],
            ).rowcount
            if moved == 0:
                return False
            conn.execute(
                "INSERT INTO job_events(job_id, seq, from_status, to_status, at, reason) "
                "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM job_events WHERE job_id=?",
                (job_id, expected.value, target.value, now, reason, job_id),
            )
            url = rows.notify_url(row["tags"]) if target in NOTIFIED else None
            if url:  # the outbox: recorded with the status, so no crash can lose it
                conn.execute(
                    "INSERT INTO notifications(job_id, seq, url, status, at, state, attempts, next_at) "
                    "SELECT ?, MAX(seq), ?, ?, ?, 'pending', 0, ? FROM job_events WHERE job_id=?",
                    (job_id, url, target.value, now, now, job_id),
                )
        return True

    def _set_job_column(self, column: str, value: Any, job_id: str, account_id: str | None) -> Job:
        with self._write() as conn:
            sql = f"UPDATE jobs SET {column} = ? WHERE job_id = ?"
            params: list[Any] = [value, job_id]
            if account_id is not None:
                sql += " AND account_id = ?"
                params.append(account_id)
            if conn.execute(sql, params).rowcount == 0:
                raise JobNotFound(f"no job with id {job_id!r}")
        return self.get_job(job_id)

    @guarded
    def set_rate_limit(self, job_id: str, max_ops_per_second: float | None, account_id: str | None = None) -> Job:
        return self._set_job_column("max_ops_per_second", max_ops_per_second, job_id, account_id)

    @guarded
    def get_job_tags(self, job_id: str, account_id: str | None = None) -> list[Tag]:
        return list(self.get_job(job_id, account_id).tags)

    @guarded
    def put_job_tags(self, job_id: str, tags: Sequence[Tag], account_id: str | None = None) -> Job:
        """Replace the job's tag set (checked by the caller); the job as it is now."""
        return self._set_job_column("tags", rows.tags_json(tags), job_id, account_id)

    def delete_job_tags(self, job_id: str, account_id: str | None = None) -> Job:
        return self.put_job_tags(job_id, [], account_id)

    @guarded
    def set_priority(self, job_id: str, priority: int, account_id: str | None = None) -> Job:
        return self._set_job_column("priority", priority, job_id, account_id)

    @guarded
    def set_worker_rate(self, job_id: str, rate: float | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE jobs SET worker_rate = ? WHERE job_id = ?", (rate, job_id))

    @guarded
    def get_control(self, job_id: str) -> tuple[JobStatus, float | None]:
        row = self._one("SELECT status, worker_rate FROM jobs WHERE job_id = ?", (job_id,))
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return JobStatus(row["status"]), row["worker_rate"]

    @guarded
    def add_failure(self, job_id: str, failure: FailureReason) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT failure_reasons FROM jobs WHERE job_id=?" + self.FOR_UPDATE, (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            conn.execute("UPDATE jobs SET failure_reasons=? WHERE job_id=?",
                         (rows.with_failure(row["failure_reasons"], failure), job_id))

    @guarded
    def history(self, job_id: str) -> list[StatusChange]:
        found = self._all("SELECT * FROM job_events WHERE job_id=? ORDER BY seq", (job_id,))
        return [rows.status_change_from_row(r) for r in found]

    # -- notifications -----------------------------------------------------
    @guarded
    def due_notifications(self, now: float, limit: int = 50) -> list[Notification]:
        found = self._all("SELECT * FROM notifications WHERE state='pending' AND next_at <= ? "
                          "ORDER BY next_at, job_id, seq LIMIT ?", (now, limit))
        return [rows.notification_from_row(r) for r in found]

    @guarded
    def notification_attempted(self, job_id: str, seq: int, error: str | None, retry_at: float | None) -> None:
        state = "delivered" if error is None else "pending" if retry_at is not None else "failed"
        with self._write() as conn:
            conn.execute("UPDATE notifications SET state=?, attempts=attempts + 1, last_error=?, next_at=? "
                         "WHERE job_id=? AND seq=? AND state='pending'",
                         (state, error, retry_at if retry_at is not None else time.time(), job_id, seq))

    @guarded
    def notifications(self, job_id: str) -> list[Notification]:
        found = self._all("SELECT * FROM notifications WHERE job_id=? ORDER BY seq", (job_id,))
        return [rows.notification_from_row(r) for r in found]

    # -- segments ----------------------------------------------------------
    # Every write that changes a segment's counters, retries, abandoned tasks or result files adds
    # the change to its job's totals in the same transaction (`_count`): the counters, retries and
    # abandoned_tasks columns of its row and its rows of job_failure_codes. So the job's totals are
    # always the sums of its segments', and reading them reads no segment.
    # PostgreSQL: the job row is locked first, then its segments, in every such write (no deadlock).

    def _lock_job(self, conn: Any, job_id: str) -> None:
        if self.FOR_UPDATE:  # SQLite's write transaction already holds the whole file
            conn.execute("SELECT job_id FROM jobs WHERE job_id=?" + self.FOR_UPDATE, (job_id,))

    @staticmethod
    def _count(conn: Any, job_id: str, succeeded: int, failed: int, skipped: int, *, retries: int = 0,
               abandoned: int = 0, codes: Mapping[str, int] | None = None) -> None:
        """Add to the job's totals (negative: subtract): task counters, retries, abandoned tasks,
        and failed tasks by error code."""
        if succeeded or failed or skipped or retries or abandoned:
            conn.execute("UPDATE jobs SET succeeded = succeeded + ?, failed = failed + ?, skipped = skipped + ?, "
                         "retries = retries + ?, abandoned_tasks = abandoned_tasks + ? WHERE job_id = ?",
                         (succeeded, failed, skipped, retries, abandoned, job_id))
        changed = sorted((code, n) for code, n in (codes or {}).items() if n)
        if changed:
            conn.executemany(
                "INSERT INTO job_failure_codes(job_id, code, n) VALUES (?,?,?) ON CONFLICT (job_id, code) "
                "DO UPDATE SET n = job_failure_codes.n + excluded.n",
                [(job_id, code, n) for code, n in changed],
            )

    @staticmethod
    def _codes_change(old_files: str, new_files: str) -> Counter[str]:
        """What a segment's failures by code change by when its result files (JSON) go old → new
        (new ones must be well formed; old ones are counted as they were when stored)."""
        change = failure_codes(json.loads(new_files))
        change.subtract(failure_codes(json.loads(old_files), strict=False))
        return change

    @guarded
    def replace_segments(self, job_id: str, segments: Sequence[Segment]) -> None:
        """The job's segments are these, none of them run yet: its totals restart at zero."""
        with self._write() as conn:
            self._lock_job(conn, job_id)
            conn.execute("DELETE FROM segments WHERE job_id=?", (job_id,))
            conn.executemany(
                """INSERT INTO segments(job_id, seg_no, source, start, "end", first_line, task_count, state)
                   VALUES (?,?,?,?,?,?,?,?)""",
                [rows.segment_values(job_id, s) for s in segments],
            )
            conn.execute("UPDATE jobs SET succeeded = 0, failed = 0, skipped = 0, retries = 0, abandoned_tasks = 0 "
                         "WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM job_failure_codes WHERE job_id = ?", (job_id,))

    @guarded
    def segment_state(self, job_id: str, seg_no: int) -> SegmentState:
        row = self._one("SELECT state FROM segments WHERE job_id=? AND seg_no=?", (job_id, seg_no))
        if row is None:
            raise JobNotFound(f"job {job_id!r} has no segment {seg_no}")
        return SegmentState(row["state"])

    @guarded
    def segments(self, job_id: str, states: Iterable[SegmentState] = ()) -> list[Segment]:
        values = [s.value for s in states]
        sql = "SELECT * FROM segments WHERE job_id=?"
        params: list[Any] = [job_id]
        if values:
            sql += f" AND state IN ({','.join('?' * len(values))})"
            params.extend(values)
        return [rows.segment_from_row(r) for r in self._all(sql + " ORDER BY seg_no", params)]

    @guarded
    def update_segment(
        self,
        job_id: str,
        seg_no: int,
        state: SegmentState,
        succeeded: int,
        failed: int,
        result_files: list[dict] | None = None,
        retries: int = 0,
        skipped: int = 0,
    ) -> None:
        """Set a segment's absolute counters; a segment already DONE or STOPPED is final, and
        the moment it became so is recorded (`Segment.finished_at`)."""
        finished_at = time.time() if state in (SegmentState.DONE, SegmentState.STOPPED) else None
        files = json.dumps(result_files or [])
        with self._write() as conn:
            self._lock_job(conn, job_id)
            old = conn.execute(
                "SELECT state, succeeded, failed, skipped, retries, result_files FROM segments WHERE job_id=? "
                "AND seg_no=? AND state NOT IN ('done', 'stopped')" + self.FOR_UPDATE, (job_id, seg_no),
            ).fetchone()
            if old is None:
                return  # final already (a repeated or late report), or no such segment: counted once
            # A RUNNING segment starting over (a runner ran it again: Flink's restart after a lost
            # TaskManager, Dask's after a lost worker) redoes what it had run. (A segment a paused
            # worker gave back is PENDING: abandon_segment counted that already.)
            ran = old["succeeded"] + old["failed"]
            redone = ran if old["state"] == "running" and state is SegmentState.RUNNING and not (
                succeeded or failed or skipped) else 0
            conn.execute(
                """UPDATE segments SET state=?, succeeded=?, failed=?, result_files=?, retries=?, finished_at=?,
                   skipped=?, abandoned_tasks = abandoned_tasks + ? WHERE job_id=? AND seg_no=?""",
                (state.value, succeeded, failed, files, retries, finished_at, skipped, redone, job_id, seg_no),
            )
            self._count(conn, job_id, succeeded - old["succeeded"], failed - old["failed"], skipped - old["skipped"],
                        retries=retries - old["retries"], codes=self._codes_change(old["result_files"], files),
                        abandoned=redone)

    @guarded
    def abandon_segment(self, job_id: str, seg_no: int, tasks_run: int) -> None:
        """A paused worker gave a segment back: it runs again, whole; count the work redone. The
        results it recorded of the tasks that ran stay (counted, and in the report of a job
        cancelled before it resumes) until the segment's next run replaces them."""
        with self._write() as conn:
            self._lock_job(conn, job_id)
            moved = conn.execute(
                "UPDATE segments SET state='pending', abandoned_tasks = abandoned_tasks + ? "
                "WHERE job_id=? AND seg_no=? AND state NOT IN ('done', 'stopped')",
                (tasks_run, job_id, seg_no),
            ).rowcount
            if moved:
                self._count(conn, job_id, 0, 0, 0, abandoned=tasks_run)

    @guarded
    def retries(self, job_id: str) -> int:
        """The sum of the job's segments' retries, from its row (0 for no such job)."""
        row = self._one("SELECT retries FROM jobs WHERE job_id=?", (job_id,))
        return int(row["retries"]) if row else 0

    @guarded
    def abandoned_tasks(self, job_id: str) -> int:
        """The sum of the job's segments' abandoned tasks, from its row (0 for no such job)."""
        row = self._one("SELECT abandoned_tasks FROM jobs WHERE job_id=?", (job_id,))
        return int(row["abandoned_tasks"]) if row else 0

    @guarded
    def failure_codes(self, job_id: str) -> dict[str, int]:
        """The job's failed tasks by error code as its segments' result files record them (the sum
        of their `base.failure_codes`), from job_failure_codes: a few rows, however big the job."""
        found = self._all("SELECT code, n FROM job_failure_codes WHERE job_id=? AND n <> 0", (job_id,))
        return {r["code"]: int(r["n"]) for r in found}

    @guarded
    def reset_running_segments(self, job_id: str) -> int:
        """Segments left RUNNING by a stopped or crashed pipeline go back to PENDING, their live
        counters zeroed (no report rows stand behind them) and counted as abandoned (redone). A PENDING segment keeps what a paused
        worker recorded when it gave the segment back (`abandon_segment`)."""
        with self._write() as conn:
            self._lock_job(conn, job_id)
            live = conn.execute(
                "SELECT COALESCE(SUM(succeeded), 0) AS ok, COALESCE(SUM(failed), 0) AS failed, "
                "COALESCE(SUM(skipped), 0) AS skipped FROM segments WHERE job_id=? AND state = 'running'",
                (job_id,),
            ).fetchone()
            codes: Counter[str] = Counter()
            for r in conn.execute("SELECT result_files FROM segments WHERE job_id=? AND state = 'running' "
                                  "AND result_files <> '[]'", (job_id,)).fetchall():
                codes.subtract(failure_codes(json.loads(r["result_files"]), strict=False))
            reset = conn.execute(
                "UPDATE segments SET state='pending', abandoned_tasks = abandoned_tasks + succeeded + failed, "
                "succeeded=0, failed=0, skipped=0, result_files='[]' WHERE job_id=? AND state = 'running'",
                (job_id,),
            ).rowcount
            # What those segments ran is run again: redone work, as abandon_segment counts it.
            self._count(conn, job_id, -int(live["ok"]), -int(live["failed"]), -int(live["skipped"]), codes=codes,
                        abandoned=int(live["ok"]) + int(live["failed"]))
            return reset

    @guarded
    def set_estimate(self, job_id: str, estimate: dict | None) -> None:
        """Record the estimate the job shows while it waits in Suspended (None: none)."""
        with self._write() as conn:
            conn.execute("UPDATE jobs SET estimate=? WHERE job_id=?",
                         (None if estimate is None else json.dumps(estimate), job_id))

    @guarded
    def set_storage_wait(self, job_id: str, wait: StorageWait | None) -> None:
        """Record the job's wait for its storage (None: it waits no more)."""
        values = (None, None, None) if wait is None else (wait.since.timestamp(), wait.until.timestamp(), wait.reason)
        with self._write() as conn:
            conn.execute("UPDATE jobs SET storage_wait_since=?, storage_wait_until=?, storage_wait_reason=? "
                         "WHERE job_id=?", (*values, job_id))

    @guarded
    def release_held_segments(self, job_id: str) -> int:
        """HELD segments (those a trial run left for later) become PENDING; how many."""
        with self._write() as conn:
            return conn.execute("UPDATE segments SET state='pending' WHERE job_id=? AND state='held'",
                                (job_id,)).rowcount

    # -- leases (taking one is the store's own: it judges expiry by its clock) --
    @guarded
    def release_lease(self, name: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM leases WHERE name=? AND owner=?", (name, owner))

    @guarded
    def release_leases(self, prefix: str) -> int:
        """Drop every lease whose name starts with `prefix` (whoever holds it)."""
        with self._write() as conn:
            return conn.execute("DELETE FROM leases WHERE name LIKE ? ESCAPE '\\'",
                                (rows.like_prefix(prefix),)).rowcount
