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

import os
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from cosbatch.errors import StoreUnavailable
from cosbatch.store import rows, schema
from cosbatch.store.pg_schema import LATEST, MIGRATION_LOCK, MIGRATIONS
from cosbatch.store.sql import SqlJobStore, guarded

#: The database's clock, in epoch seconds: leases are judged by it, not by each host's.
_DB_NOW = "extract(epoch from clock_timestamp())::double precision"


def _without_password(url: str) -> str:
    """The store URL as it may be shown: a password in it becomes ***."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class _Qmark:
    """A psycopg connection whose execute/executemany take the shared SQL's `?` placeholders."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(_pg(sql), params)  # type: ignore[arg-type]

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg(sql), seq)  # type: ignore[arg-type]


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresJobStore(SqlJobStore):
    """JobStore on a PostgreSQL database (`postgresql://user@host:port/db`)."""

    UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)
    FOR_UPDATE = " FOR UPDATE"

    def __init__(self, url: str, *, timeout_s: float = 5.0, max_connections: int = 10) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._max = max_connections
        self._lock = threading.Lock()
        self._pool_obj: psycopg_pool.ConnectionPool | None = None
        self._pid = os.getpid()
        self._probe()
        self._migrate()

    def _probe(self) -> None:
        """Connect once, directly, before the pool: a database that cannot be reached is
        StoreUnavailable saying why (refused, no such database, password), not the pool's
        "couldn't get a connection". Retried for the store's timeout, as the pool would."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=max(1, int(self._timeout_s))).close()
                return
            except psycopg.Error as exc:
                if time.monotonic() >= deadline:
                    reason = " ".join(str(exc).split()) or type(exc).__name__
                    raise StoreUnavailable(f"cannot connect to the metadata store {_without_password(self.url)}: "
                                           f"{reason}") from None
            time.sleep(0.5)

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

    def _on_unavailable(self) -> None:
        self._drop_pool()  # the next call connects afresh, not after the pool's growing backoff

    def _drop_pool(self) -> None:
        with self._lock:
            pool, self._pool_obj = self._pool_obj, None
        if pool is not None and self._pid == os.getpid():
            threading.Thread(target=pool.close, kwargs={"timeout": 1.0}, daemon=True).start()

    @contextmanager
    def _write(self) -> Iterator[_Qmark]:
        """One transaction: all of it is committed, or none of it."""
        with self._pool().connection() as conn, conn.transaction():
            yield _Qmark(conn)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        with self._pool().connection() as conn:
            return conn.execute(_pg(sql), params).fetchone()  # type: ignore[arg-type,return-value]

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        with self._pool().connection() as conn:
            return conn.execute(_pg(sql), params).fetchall()  # type: ignore[arg-type,return-value]

    @guarded
    def _migrate(self) -> None:
        with self._write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            applied = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
            schema.refuse_newer_schema(self.url, max(applied, default=0), LATEST)
            for version, statements in MIGRATIONS:
                if version in applied:
                    continue
                for step in statements:
                    if callable(step):
                        step(conn)
                    else:
                        conn.execute(step)
                conn.execute("INSERT INTO schema_migrations(version) VALUES (?)", (version,))

    def schema_versions(self) -> list[int]:
        """The migrations applied to this database, in order."""
        return [r["version"] for r in self._all("SELECT version FROM schema_migrations ORDER BY version")]

    def close(self) -> None:
        with self._lock:
            pool, self._pool_obj = self._pool_obj, None
        if pool is not None and self._pid == os.getpid():
            pool.close()

    # -- leases ------------------------------------------------------------
    @guarded
    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew a named lease; False while another owner holds it unexpired."""
        with self._write() as conn:
            row = conn.execute(
                f"INSERT INTO leases(name, owner, expires_at) VALUES (?, ?, {_DB_NOW} + ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
                f"WHERE leases.owner = excluded.owner OR leases.expires_at <= {_DB_NOW} RETURNING name",
                (name, owner, ttl_s),
            ).fetchone()
        return row is not None

    @guarded
    def lease_holder(self, name: str) -> str | None:
        row = self._one(f"SELECT owner FROM leases WHERE name=? AND expires_at > {_DB_NOW}", (name,))
        return None if row is None else row["owner"]

    @guarded
    def leases(self, prefix: str) -> dict[str, str]:
        """Unexpired leases whose name starts with `prefix`: name → owner."""
        found = self._all(
            f"SELECT name, owner FROM leases WHERE name LIKE ? ESCAPE '\\' AND expires_at > {_DB_NOW}",
            (rows.like_prefix(prefix),),
        )
        return {r["name"]: r["owner"] for r in found}
