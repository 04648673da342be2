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
