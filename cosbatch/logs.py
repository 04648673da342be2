"""Structured, quiet-by-default logging: `event key=value ...` lines on the `cosbatch` logger."""

from __future__ import annotations

import json
import logging
import sys

LOGGER = logging.getLogger("cosbatch")


def event(name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log one event with its fields; values are JSON-quoted when they need it."""
    if not LOGGER.isEnabledFor(level):
        return
    parts = [name]
    for key, value in fields.items():
        text = str(value)
        if not text or any(c in text for c in ' "=\n'):
            text = json.dumps(text)
        parts.append(f"{key}={text}")
    LOGGER.log(level, " ".join(parts))


class _Hidden(logging.Filter):
    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        return str(record.msg).partition(" ")[0] not in self.names


def hide(*names: str) -> logging.Filter:
    """Drop these events from the `cosbatch` logger until the returned filter is removed
    (`LOGGER.removeFilter`): for what the command shows another way (a progress line)."""
    hidden = _Hidden(names)
    LOGGER.addFilter(hidden)
    return hidden


def _quiet_beam(record: logging.LogRecord) -> bool:
    """Unless -vv: Beam's import-time notices (on the root logger) are kept out, and a Beam error
    keeps its line but not its traceback. A step that fails (a manifest read during an outage)
    is logged by Beam with the storage error's whole traceback; cosbatch says itself what it
    does about it (`pipeline_retry`, or the job's PipelineError), and the line names the error
    and the step."""
    if not (record.name.startswith("apache_beam") or "apache_beam" in record.pathname):
        return True
    return _error_line_only(record)


def _error_line_only(record: logging.LogRecord) -> bool:
    """A third party's record, kept quiet: below ERROR dropped, an error kept as its line alone."""
    if record.levelno < logging.ERROR:
        return False
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    return True


def _quiet_dask(record: logging.LogRecord) -> bool:
    """Unless -v: Dask's scheduler, nanny and worker INFO lines (30-40 a LocalCluster run; Dask
    sets its logger to INFO when it is imported, so a level set here would not hold) are kept
    out, and its errors (a lost scheduler: two chained tracebacks) keep their line only;
    cosbatch says what it does about them (job_waiting_for_runner)."""
    if not record.name.startswith(("distributed", "tornado")):
        return True
    return _error_line_only(record)


def configure(verbose: int = 0) -> None:
    """WARNING by default; -v shows cosbatch's INFO events, -vv adds Beam's."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    if verbose < 2:
        handler.addFilter(_quiet_beam)
    if verbose < 1:
        handler.addFilter(_quiet_dask)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    LOGGER.setLevel(level)
    logging.getLogger("apache_beam").setLevel(logging.INFO if verbose >= 2 else logging.ERROR)
    # psycopg's pool logs every failed reconnect (several multi-line warnings a second); the
    # store's own error says what is wrong once. -v shows them.
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING if verbose >= 1 else logging.ERROR)
