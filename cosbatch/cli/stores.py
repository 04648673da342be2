"""Which store a command opens: a writing command creates a missing one (and says so), a
reading command refuses to, naming the path."""

from __future__ import annotations

import sys
from pathlib import Path

from cosbatch.errors import ConfigError
from cosbatch.store import open_store
from cosbatch.store.sqlite import SqliteJobStore

#: Commands that write jobs: they may create the store.
WRITERS = frozenset({"create-job", "run", "serve"})


def store_path(url: str) -> Path | None:
    """The SQLite file a store URL names (None: not a local file URL; open_store judges it)."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):]).expanduser().absolute()
    return None if "://" in url else Path(url).expanduser().absolute()


def open_for(command: str, url: str) -> SqliteJobStore:
    """The store at `url`; a missing one is created only by a writing command, which says so on
    stderr; a reading command on a missing store is a ConfigError (StoreNotFound) naming the path."""
    path = store_path(url)
    if path is not None and not path.exists():
        if command not in WRITERS:
            raise ConfigError(f"no store at {path} (check --store or $COSBATCH_STORE); "
                              "create-job, run or serve create one", code="StoreNotFound")
        store = open_store(url)
        print(f"cosbatch: created new store at {path}", file=sys.stderr)
        return store
    return open_store(url)
