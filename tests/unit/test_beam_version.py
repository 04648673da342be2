"""cosbatch runs on the Beam it was tested with, and says so loudly otherwise: launch/dask_pardo.py
replaces internals of Beam's DaskRunner, and Beam's Flink job server (a Java jar of the same Beam
version) is what the Flink runner submits to."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import apache_beam

from launch import flink_job_server

ROOT = Path(__file__).resolve().parents[2]
TESTED = "2.62.0"  # docs/flink.md: the Beam whose Flink runner Maven Central serves here


def _pins() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [*project["dependencies"], *[d for extra in project["optional-dependencies"].values() for d in extra]]
    return {re.sub(r"^apache-beam(\[[^\]]*\])?", "", d) for d in deps if d.startswith("apache-beam")}


def test_the_installed_beam_is_the_tested_one():
    assert apache_beam.__version__ == TESTED, (
        f"apache-beam {apache_beam.__version__} is installed; cosbatch is tested with {TESTED} only "
        "(launch/dask_pardo.py uses Beam internals; the Flink job server must be the same Beam): "
        f"pip install 'apache-beam=={TESTED}'")


def test_every_beam_requirement_pins_the_tested_range():
    assert _pins() == {">=2.62,<2.63"}


def test_the_flink_job_server_is_known_for_the_tested_beam():
    assert flink_job_server.FLINK_FOR_BEAM == {TESTED: "1.19"}
    assert flink_job_server.jar_path().name == f"beam-runners-flink-1.19-job-server-{TESTED}.jar"
