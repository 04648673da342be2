"""`cosbatch quickstart`: the README's first command ends with a Complete job and a full report."""

import os
import re
import subprocess
import sys


def test_quickstart_runs_a_job_to_complete(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # a fresh user's environment
    env["HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "quickstart", "--objects", "40"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert re.search(r"^Status\s+Complete$", out, re.M)
    assert re.search(r"^Progress\s+40/40 tasks: 40 succeeded, 0 failed", out, re.M)
    assert "(1 results files, 40 rows)" in out or re.search(r"results files, 40 rows\)", out)
    assert out.count("  succeeded  200  Successful") == 5  # the first rows are shown
    assert "Objects now in s3://cosbatch-target/copied/: 40" in out
    assert "Quickstart succeeded" in out
    assert "Traceback" not in proc.stderr
