"""`Client` and `Job` do not import each other: job.py knows the client only as a protocol
(cosbatch.client.host.JobHost), and each module imports alone in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "cosbatch" / "client"


def imported(path: Path) -> set[str]:
    """Every module the file imports, anywhere in it (TYPE_CHECKING blocks and functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_job_and_client_do_not_import_each_other():
    assert not {n for n in imported(CLIENT / "job.py") if n.startswith("cosbatch.client.client")}
    assert not {n for n in imported(CLIENT / "host.py") if n.startswith(("cosbatch.client.client",
                                                                          "cosbatch.client.job"))}
    assert "cosbatch.client.job" in imported(CLIENT / "client.py")  # the one direction that stays


@pytest.mark.parametrize("module", ["cosbatch.client.job", "cosbatch.client.client", "cosbatch.client.host"])
def test_each_module_imports_alone(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_client_is_what_a_job_needs():
    from cosbatch.client.client import Client
    from cosbatch.client.host import JobHost

    needs = {name for name in vars(JobHost) if not name.startswith("_")} | set(JobHost.__annotations__)
    have = set(dir(Client)) | set(Client.__init__.__code__.co_names)
    assert needs <= have, needs - have
