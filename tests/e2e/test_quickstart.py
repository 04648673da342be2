"""`cosbatch quickstart`: the README's first command ends with a Complete job and a full report."""

import os
import re
import subprocess
import sys


def test_quickstart_runs_a_job_to_complete(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # a fresh user's environment
    env["HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "quickstart", "--objects", "40", "--keep"],
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
    kept = re.search(r"^Kept: store sqlite:///(\S+); S3 data \(source, target and report buckets\) in (\S+)\. ", out, re.M)
    assert kept and os.path.isfile(kept.group(1)) and os.path.isdir(kept.group(2)), out
    job_id = re.search(r"--job-id (\S+)`", out).group(1)
    later = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "--store", f"sqlite:///{kept.group(1)}",
                            "describe-job", "--job-id", job_id], capture_output=True, text=True, timeout=60, env=env)
    assert later.returncode == 0 and re.search(r"^Status\s+Complete$", later.stdout, re.M), later.stderr


def test_quickstart_refuses_storage_options_it_cannot_honour(tmp_path):
    for option in (["--endpoint-url", "http://x:1"], ["--region", "eu-west-1"]):
        proc = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", *option, "quickstart"],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines() == [
            "cosbatch: InvalidRequest: quickstart runs its own embedded S3 server: --endpoint-url and --region do "
            "not apply (use create-job and run for another storage)"]


def test_quickstart_refuses_a_bad_rate_before_it_starts_anything(tmp_path):
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "quickstart", "--max-ops-per-second", "0"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "cosbatch: InvalidRequest: max-ops-per-second must be a positive number, not '0'"], proc.stderr
    assert proc.stdout == "" and list((tmp_path / "tmp").iterdir()) == []  # no working directory made
