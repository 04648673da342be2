"""The Scheduler in a background thread, while any job needs it.

It steps until no job is left to move (every job final or Suspended), then stops
and releases the store's lease, so a `cosbatch run` or `cosbatch serve` elsewhere
can take over. `ensure_running()` starts it again when there is new work.
"""

from __future__ import annotations

import logging
import threading

from cosbatch.controller import Scheduler
from cosbatch.errors import ConfigError
from cosbatch.settings import Settings
from cosbatch.store import JobStore


def check_beam_in_ipython() -> None:
    """Inside IPython, Beam builds every pipeline through its interactive module, which
    needs pandas (a version Beam supports): fail here, with the fix, not in each job."""
    from cosbatch.client.progress import in_ipython

    if not in_ipython():
        return
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # Beam's import-time warnings about optional extras we do not use
    try:
        from apache_beam.runners.interactive import interactive_environment
    except Exception as exc:  # ImportError, or AttributeError from an unsupported pandas
        raise ConfigError(
            f"Apache Beam cannot run pipelines inside IPython/Jupyter here ({type(exc).__name__}: {exc}); "
            "install the pandas it supports: pip install 'cosbatch[notebook]'"
        ) from exc
    finally:
        logging.disable(previous)
    # Its environment warns, once per kernel, that charts of PCollections need more packages.
    logging.getLogger(interactive_environment.__name__).setLevel(logging.ERROR)


class BackgroundScheduler:
    def __init__(self, store_url: str, settings: Settings) -> None:
        self.store_url = store_url
        self.settings = settings
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def raise_error(self) -> None:
        """Raise the error that ended the last thread, once."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def ensure_running(self) -> None:
        """Start the thread unless it runs; raise the error that ended the last one, once."""
        with self._lock:
            self.raise_error()
            if self._stop.is_set():
                raise RuntimeError("this cosbatch Client is closed")
            if self.running:
                return
            if self._thread is None:
                check_beam_in_ipython()
            self._thread = threading.Thread(target=self._run, name="cosbatch-client-scheduler", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        from cosbatch.store import open_store

        store: JobStore = open_store(self.store_url)  # its own connections, as any controller
        scheduler = Scheduler(store, self.settings)
        try:
            scheduler.run_until_idle(done=lambda: self._stop.is_set() or scheduler.idle())
        except BaseException as exc:  # surfaced by the next ensure_running() (Job.wait, Client.run)
            self.error = exc
        finally:
            scheduler.close()
            store.close()

    def stop(self, timeout_s: float = 60) -> None:
        """Stop stepping; running pipelines finish their segments first (a later controller
        resumes whatever is left)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
