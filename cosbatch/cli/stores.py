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
    if path is not None:
        _check_is_a_store_file(path)
    return open_store(url)


#: The first bytes of every SQLite database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_is_a_store_file(path: Path) -> None:
    """A --store that names a directory or a file of another kind is a mistake in the command, not
    a store that is down: say so (InvalidConfiguration), naming the path."""
    if path.is_dir():
        raise ConfigError(f"store {path} (--store or $COSBATCH_STORE) is a directory; give the store's file, "
                          f"e.g. {path / 'cosbatch.db'}")
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError:
        return  # unreadable: opening it says why
    if head and head != _SQLITE_MAGIC:
        raise ConfigError(f"store {path} (--store or $COSBATCH_STORE) is not a cosbatch store: not an SQLite database")
