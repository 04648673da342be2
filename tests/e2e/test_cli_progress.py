"""Progress off a terminal: plain lines (no carriage returns, no colour codes), and a last line
for every job that settled, whether the command waits for one job or runs them all."""

from __future__ import annotations

from tests.conftest import put_objects
from tests.e2e.test_cli import cli, create_args  # noqa: F401  (cli is a fixture)
from tests.integration.helpers import write_manifest


def _job_lines(stderr: str) -> list[str]:
    assert "\r" not in stderr and "\033" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("job ")]


def test_create_job_wait_ends_with_the_settled_line(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "gone")])
    proc = cli(*create_args(src, dst, rep, "--no-confirmation-required", "--wait"), check=False)
    assert proc.returncode == 3, proc.stderr
    lines = _job_lines(proc.stderr)
    assert lines and lines[-1].endswith("2/2 ok=1 failed=1 Complete"), proc.stderr
    assert "[###############xxxxxxxxxxxxxxx]" in lines[-1]  # failed tasks are marked apart


def test_run_prints_a_last_line_for_each_job_it_finished(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "b")])
    first = cli(*create_args(src, dst, rep, "--no-confirmation-required")).stdout.strip()
    second = cli(*create_args(src, dst, rep, "--no-confirmation-required", "--priority", "5")).stdout.strip()
    proc = cli("run", "--progress")  # forced: redrawn in place ("\r" reads as a line end here), no colour
    assert "\033[31m" not in proc.stderr
    lines = [line.removeprefix("\033[K") for line in proc.stderr.splitlines()]
    for job_id in (first, second):
        mine = [line for line in lines if line.startswith(f"job {job_id[:8]}")]
        assert mine and mine[-1].endswith("2/2 ok=2 failed=0 Complete"), proc.stderr
    proc = cli("run")  # nothing left to run: nothing to show
    assert _job_lines(proc.stderr) == []
