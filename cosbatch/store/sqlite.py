"""SQLite store: one file, WAL, safe for readers and writers in other processes.

Every write is one `BEGIN IMMEDIATE` transaction; status changes are
compare-and-set against the status the caller saw, so two processes can never
both move a job. Connections are per thread and per process (fork-safe).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cosbatch.errors import StoreUnavailable
from cosbatch.store import rows, schema
from cosbatch.store.sql import SqlJobStore, guarded

#: 3: notifications; 4: segments.finished_at and .skipped; 5: jobs.estimate; 6: jobs' task counters
#: (filled from their segments when added) and storage wait; 7: jobs' retries and abandoned tasks,
#: and job_failure_codes (filled from their segments when added).
SCHEMA_VERSION = 7
#: Columns added after version 1, with their types: added to an older store's jobs table at open.
_ADDED_JOB_COLUMNS = {"storage": "TEXT", "target_storage": "TEXT", "max_ops_per_second": "REAL",
                      "worker_rate": "REAL", "tags": "TEXT", "estimate": "TEXT", **schema.ADDED_JOB_COLUMNS_6,
                      **schema.ADDED_JOB_COLUMNS_7}

_SCHEMA = [*schema.TABLES, *schema.NOTIFICATION_TABLES, *schema.FAILURE_CODE_TABLES,
           "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"]



class SqliteJobStore(SqlJobStore):
    """JobStore on one SQLite file."""

    #: Locked, disk full, unreadable, gone: SQLite's operational failures.
    UNAVAILABLE = (sqlite3.OperationalError, sqlite3.DatabaseError)

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

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self._conn().execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()

    @guarded
    def _migrate(self) -> None:
        with self._write() as conn:
            for stmt in _SCHEMA:
                conn.execute(stmt)
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is not None:
                schema.refuse_newer_schema(str(self.path), row["version"], SCHEMA_VERSION)
            job_columns = {r["name"] for r in conn.execute("PRAGMA table_info(jobs)")}
            counted, totalled = "succeeded" in job_columns, "abandoned_tasks" in job_columns
            for table, added in (("jobs", _ADDED_JOB_COLUMNS), ("segments", schema.ADDED_SEGMENT_COLUMNS)):
                have = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
                for column, kind in added.items():
                    if column not in have:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            if not counted:
                conn.execute(schema.FILL_JOB_COUNTERS)  # the jobs of a store older than version 6
            if not totalled:  # the jobs of a store older than version 7
                conn.execute(schema.FILL_JOB_TOTALS_7)
                schema.fill_failure_codes(conn)
            if row is None:
                conn.execute("INSERT INTO schema_version(version) VALUES (?)", (SCHEMA_VERSION,))
            elif row["version"] < SCHEMA_VERSION:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    def close(self) -> None:
        self._drop_connection()

    # -- controller lease --------------------------------------------------
    @guarded
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

    @guarded
    def lease_holder(self, name: str) -> str | None:
        row = self._conn().execute(
            "SELECT owner FROM leases WHERE name=? AND expires_at > ?", (name, time.time())
        ).fetchone()
        return None if row is None else row["owner"]

    @guarded
    def leases(self, prefix: str) -> dict[str, str]:
        """Unexpired leases whose name starts with `prefix`: name → owner."""
        found = self._conn().execute(
            "SELECT name, owner FROM leases WHERE name LIKE ? ESCAPE '\\' AND expires_at > ?",
            (rows.like_prefix(prefix), time.time()),
        ).fetchall()
        return {r["name"]: r["owner"] for r in found}


def default_store_url() -> str:
    home = os.environ.get("COSBATCH_HOME") or str(Path.home() / ".cosbatch")
    return os.environ.get("COSBATCH_STORE") or f"sqlite:///{Path(home).absolute() / 'cosbatch.db'}"
