"""Open the store a URL names: SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

from cosbatch.errors import ConfigError
from cosbatch.store.base import JobStore
from cosbatch.store.sqlite import SqliteJobStore, default_store_url

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(url: str | None = None) -> JobStore:
    """`sqlite:///relative.db`, `sqlite:////abs/path.db` (SQLAlchemy's convention), a bare file
    path, or `postgresql://user@host:port/db` (any libpq URL)."""
    url = url or default_store_url()
    if url.startswith("sqlite:///"):
        return SqliteJobStore(url[len("sqlite:///") :])
    if url.startswith(_POSTGRES_SCHEMES):
        from cosbatch.store.postgres import PostgresJobStore

        return PostgresJobStore(url)
    if "://" in url:
        raise ConfigError(
            f"unsupported store URL {url!r}; use sqlite:////abs/path/cosbatch.db or postgresql://user@host:port/db"
        )
    return SqliteJobStore(url)


def local_dir(store: JobStore) -> Path:
    """Where this host keeps files that go with the store (worker key, uploaded manifests): the
    SQLite file's directory, or $COSBATCH_HOME (default ~/.cosbatch) for a database server."""
    if isinstance(store, SqliteJobStore):
        return store.path.parent
    return Path(os.environ.get("COSBATCH_HOME") or Path.home() / ".cosbatch").absolute()


def worker_key_file(store: JobStore) -> Path:
    """The HTTP worker channel's secret: next to the SQLite file, or in local_dir()."""
    if isinstance(store, SqliteJobStore):
        return Path(f"{store.path}.worker-key")
    return local_dir(store) / "worker-key"
