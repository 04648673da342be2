"""The `cosbatch` CLI as a user runs it: aws s3control command lines, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import put_objects
from tests.integration.helpers import write_manifest

ACCOUNT = "123456789012"


@pytest.fixture()
def cli(tmp_path, s3_server):
    store = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "cosbatch.cli.main", "--store", store, "--endpoint-url", s3_server.endpoint_url, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ.copy())
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr}")
        return proc

    return run


def create_args(src: str, dst: str, rep: str, *extra: str) -> list[str]:
    return [
        "create-job", "--account-id", ACCOUNT,
        "--manifest", json.dumps({"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                                  "Location": {"ObjectArn": f"arn:aws:s3:::{src}/m.csv"}}),
        "--operation", json.dumps({"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}),
        "--report", json.dumps({"Bucket": f"arn:aws:s3:::{rep}", "Prefix": "r", "Format": "Report_CSV_20180820",
                                "Enabled": True, "ReportScope": "AllTasks"}),
        "--priority", "10", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/batch", *extra,
    ]


def test_aws_style_job_lifecycle(cli, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, [f"k{i}" for i in range(30)])
    write_manifest(s3, src, "m.csv", [(src, f"k{i}") for i in range(30)])

    out = cli(*create_args(src, dst, rep, "--no-confirmation-required", "--description", "cli copy",
                           "--client-request-token", "tok-1"), "--output", "json")
    job_id = json.loads(out.stdout)["JobId"]
    again = cli(*create_args(src, dst, rep, "--no-confirmation-required", "--description", "cli copy",
                             "--client-request-token", "tok-1"), "--output", "json")
    assert json.loads(again.stdout)["JobId"] == job_id  # idempotent token

    listed = json.loads(cli("list-jobs", "--account-id", ACCOUNT, "--job-statuses", "New", "--output", "json").stdout)
    assert [j["JobId"] for j in listed["Jobs"]] == [job_id]
    assert listed["Jobs"][0]["Operation"] == "S3PutObjectCopy"

    assert json.loads(cli("update-job-priority", "--account-id", ACCOUNT, "--job-id", job_id, "--priority", "77",
                          "--output", "json").stdout) == {"JobId": job_id, "Priority": 77}

    run = cli("run", "--no-progress")
    assert run.stderr == ""  # quiet by default

    desc = json.loads(cli("describe-job", "--account-id", ACCOUNT, "--job-id", job_id, "--output", "json").stdout)
    job = desc["Job"]
    assert job["Status"] == "Complete" and job["Priority"] == 77
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == job["ProgressSummary"]["NumberOfTasksSucceeded"] == 30
    text = cli("describe-job", "--job-id", job_id, "--history").stdout
    assert "Status       Complete" in text and "30/30 tasks: 30 succeeded, 0 failed" in text
    assert text.count("History") == 6
    table = cli("list-jobs", "--account-id", ACCOUNT).stdout
    assert job_id in table and "cli copy" in table and "30/30 (0 failed)" in table


def test_confirmation_and_cancel(cli, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a"])
    write_manifest(s3, src, "m.csv", [(src, "a")])
    job_id = cli(*create_args(src, dst, rep, "--confirmation-required")).stdout.strip()
    cli("run", "--no-progress")
    job = json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]
    assert job["Status"] == "Suspended" and job["SuspendedCause"] and job["SuspendedDate"]
    assert s3.list_objects_v2(Bucket=dst).get("KeyCount", 0) == 0  # nothing ran
    out = cli("update-job-status", "--job-id", job_id, "--requested-job-status", "Ready",
              "--status-update-reason", "checked", "--output", "json")
    assert json.loads(out.stdout) == {"JobId": job_id, "Status": "Ready", "StatusUpdateReason": "checked"}
    cli("run", "--no-progress")
    assert json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]["Status"] == "Complete"

    other = cli(*create_args(src, dst, rep, "--confirmation-required")).stdout.strip()
    cli("run", "--no-progress")
    cli("update-job-status", "--job-id", other, "--requested-job-status", "Cancelled")
    cancelled = cli("run", "--no-progress", check=False)
    assert cancelled.returncode == 4 and f"Job {other} Cancelled" in cancelled.stdout  # said, not plain success
    assert json.loads(cli("describe-job", "--job-id", other, "--output", "json").stdout)["Job"]["Status"] == "Cancelled"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["update-job-priority", "--job-id", "{job}", "--priority", "-1"], "InvalidRequest"),
        (["update-job-priority", "--job-id", "{job}", "--priority", "2147483648"], "InvalidRequest"),
        (["update-job-status", "--job-id", "{job}", "--requested-job-status", "Ready"], "JobStatusException"),
        (["update-job-status", "--job-id", "{job}", "--requested-job-status", "Paused"], "InvalidRequest"),
        (["describe-job", "--job-id", "00000000-0000-0000-0000-000000000000"], "NoSuchJob"),
        (["update-job-priority", "--job-id", "nope", "--priority", "3"], "NoSuchJob"),
        (["list-jobs", "--job-statuses", "Running"], "InvalidRequest"),
        (["create-job", "--manifest", "{not json", "--operation", "{}", "--report", "{}", "--priority", "1",
          "--role-arn", "r"], "MalformedJSON"),
    ],
)
def test_illegal_requests_give_one_line_errors(cli, s3, make_bucket, args, code):
    src = make_bucket("src")
    job_id = cli(*create_args(src, src, src)).stdout.strip()
    proc = cli(*[a.replace("{job}", job_id) for a in args], check=False)
    assert proc.returncode == (2 if code in ("InvalidRequest", "MalformedJSON") else 1)  # refused: usage error
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cosbatch: {code}: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_role_arn_that_is_not_a_role_is_refused(cli, s3, make_bucket):
    src = make_bucket("src")
    proc = cli(*create_args(src, src, src, "--role-arn", "nonsense"), check=False)  # the last one counts
    assert proc.returncode == 2 and proc.stdout == ""
    assert "cosbatch: InvalidRequest: RoleArn 'nonsense' is not a role" in proc.stderr.splitlines()[-1], proc.stderr
    assert "Traceback" not in proc.stderr


def test_cos_dialect_create_job(cli, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    put_objects(s3, src, ["x/1", "x/2"])
    write_manifest(s3, src, "m.csv", [(src, "x/1"), (src, "x/2")])
    proc = cli(
        "create-job", "--account-id", "1250000000",
        "--manifest", json.dumps({"Spec": {"Format": "COSBatchOperations_CSV_V1", "Fields": ["Bucket", "Key"]},
                                  "Location": {"ObjectArn": f"qcs::cos:ap-guangzhou::{src}/m.csv"}}),
        "--operation", json.dumps({"COSPutObjectCopy": {
            "TargetResource": f"qcs::cos:ap-guangzhou:uid/1250000000:{dst}", "PrefixReplace": True,
            "ResourcesPrefix": "x/", "TargetKeyPrefix": "y/"}}),
        "--report", json.dumps({"Enabled": False}),
        "--priority", "1", "--role-arn", "qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole", "--wait",
        "--no-progress", "--output", "json",
    )
    job = json.loads(proc.stdout)["Job"]
    assert job["Status"] == "Complete"
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]) == ["y/1", "y/2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runner", "dataflow", "--runner-option", "project=batch-proj", "--runner-option", "temp_location=gs://t/x"],
         "dataflow runner needs --runner-option region=..."),
        (["--runner", "flink"], "flink runner needs --runner-option job_endpoint=... or --runner-option flink_master=..."),
        (["--runner-option", "direct_num_workerz=2"], "direct runner has no option 'direct_num_workerz'"),
        (["--runner", "dataflow", "--runner-option", "project=batch-proj", "--runner-option", "region=europe-west1",
          "--runner-option", "temp_location=gs://cosbatch-temp/x"], "dataflow runner: workers cannot reach a SQLite store"),
    ],
)
def test_runner_options_are_checked_before_any_job_runs(cli, args, message):
    proc = cli("run", "--no-progress", *args, check=False)
    assert proc.returncode == 1
    # (after "created new store at ...": run is a writing command and the store was new)
    assert proc.stderr.splitlines()[-1].startswith(f"cosbatch: InvalidConfiguration: {message}"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_on_a_dask_cluster(cli, s3, make_bucket, dask_cluster):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, [f"k{i}" for i in range(30)])
    write_manifest(s3, src, "m.csv", [(src, f"k{i}") for i in range(30)])
    job_id = cli(*create_args(src, dst, rep, "--no-confirmation-required")).stdout.strip()
    cli("run", "--no-progress", "--runner", "dask", "--runner-option",
        f"dask_client_address={dask_cluster.scheduler_address}")
    job = json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 30
    assert s3.list_objects_v2(Bucket=dst)["KeyCount"] == 30
