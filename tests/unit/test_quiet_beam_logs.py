"""Below -vv, a Beam error reaches stderr as its line, without the traceback Beam attaches."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging, sys
from cosbatch import logs
logs.configure(int(sys.argv[1]))
try:
    raise ConnectionRefusedError("Could not connect to the endpoint URL: http://127.0.0.1:1/src/m.csv")
except ConnectionRefusedError as exc:
    logging.getLogger("apache_beam.runners.common").exception("%s [while running 'ReadManifest/ReadSegment']", exc)
logging.getLogger("apache_beam.io").warning("a Beam notice")
logs.event("pipeline_retry", level=logging.WARNING, attempt=2)
"""


def _stderr(verbose: int) -> str:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(verbose)], capture_output=True, text=True,
                          check=True, timeout=60).stderr


def test_a_beam_error_is_one_line_by_default():
    err = _stderr(0)
    assert "ERROR apache_beam.runners.common Could not connect to the endpoint URL" in err
    assert "[while running 'ReadManifest/ReadSegment']" in err
    assert "Traceback" not in err and "raise ConnectionRefusedError" not in err
    assert "a Beam notice" not in err
    assert "pipeline_retry attempt=2" in err  # cosbatch's own events are untouched
    assert "Traceback" not in _stderr(1)


def test_vv_shows_beam_whole():
    err = _stderr(2)
    assert "Traceback" in err and "a Beam notice" in err


DASK_SCRIPT = """
import logging, sys
from cosbatch import logs
logs.configure(int(sys.argv[1]))
import distributed  # sets its own logger to INFO, after cosbatch configured logging
logging.getLogger("distributed.scheduler").info("Scheduler at: tcp://127.0.0.1:8786")
try:
    raise OSError("Timed out trying to connect to tcp://127.0.0.1:8786")
except OSError:
    logging.getLogger("distributed.client").exception("Failed to reconnect to scheduler after 30.00 seconds")
"""


def _dask_stderr(verbose: int) -> str:
    return subprocess.run([sys.executable, "-c", DASK_SCRIPT, str(verbose)], capture_output=True, text=True,
                          check=True, timeout=60).stderr


def test_dask_is_quiet_by_default_and_whole_with_v():
    err = _dask_stderr(0)
    assert "Scheduler at" not in err
    assert "ERROR distributed.client Failed to reconnect to scheduler after 30.00 seconds" in err
    assert "Traceback" not in err
    err = _dask_stderr(1)
    assert "Scheduler at: tcp://127.0.0.1:8786" in err and "Traceback" in err
