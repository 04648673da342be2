"""Commands that wait for a job exit by how it ended, and end with a one-line summary."""

from __future__ import annotations

import json

from tests.conftest import put_objects
from tests.e2e.test_cli import ACCOUNT, cli, create_args  # noqa: F401  (cli is a fixture)
from tests.integration.helpers import write_manifest


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_every_task_succeeded_exits_0(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "b")])
    proc = cli(*create_args(src, dst, rep, "--no-confirmation-required", "--wait", "--no-progress"))
    job_id = proc.stdout.split()[1]
    assert _last_line(proc.stdout) == (f"Job {job_id} Complete: 2/2 tasks run, 2 succeeded, 0 failed; "
                                       f"report at s3://{rep}/r/job-{job_id}/")


def test_completed_with_failed_tasks_exits_3_with_failures_by_code(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "b"), (src, "gone-1"), (src, "gone-2"), (src, "gone-3")])
    proc = cli(*create_args(src, dst, rep, "--no-confirmation-required", "--wait", "--no-progress",
                            "--failure-threshold-ratio", "0.9"), check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    job_id = proc.stdout.split()[1]
    assert "Failures     NoSuchKey: 3" in proc.stdout
    assert _last_line(proc.stdout) == (
        f"Job {job_id} Complete: 5/5 tasks run, 2 succeeded, 3 failed (by error code: NoSuchKey: 3); "
        f"report at s3://{rep}/r/job-{job_id}/")

    desc = json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)
    assert desc["FailedTasksByErrorCode"] == {"NoSuchKey": 3}
    assert "Failures     NoSuchKey: 3" in cli("describe-job", "--job-id", job_id).stdout

    # run --job-id on a job already finished: the same outcome, the same summary
    again = cli("run", "--job-id", job_id, "--no-progress", check=False)
    assert again.returncode == 3 and _last_line(again.stdout) == _last_line(proc.stdout)


def test_failed_job_exits_4_and_json_output_stays_json(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")  # no manifest written
    proc = cli(*create_args(src, dst, rep, "--no-confirmation-required", "--wait", "--no-progress"),
               "--output", "json", check=False)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["Job"]["Status"] == "Failed"
    assert data["Summary"] == _last_line(proc.stderr)
    assert data["Summary"].startswith(f"Job {data['JobId']} Failed (")


def test_cancelled_job_exits_4_and_suspended_job_exits_5(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a"])
    write_manifest(s3, src, "m.csv", [(src, "a")])
    job_id = cli(*create_args(src, dst, rep, "--confirmation-required")).stdout.strip()
    waiting = cli("run", "--job-id", job_id, "--no-progress", check=False)
    assert waiting.returncode == 5, waiting.stdout + waiting.stderr
    assert _last_line(waiting.stdout).startswith(f"Job {job_id} Suspended (Job requires confirmation")
    cli("update-job-status", "--job-id", job_id, "--requested-job-status", "Cancelled")
    cancelled = cli("run", "--job-id", job_id, "--no-progress", check=False)
    assert cancelled.returncode == 4
    assert _last_line(cancelled.stdout).startswith(f"Job {job_id} Cancelled: 0/1 tasks run")
