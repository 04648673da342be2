"""Incremental copy from the command line: create-job --skip-identical, its summary line and
describe-job (JSON and text) counting copied and skipped tasks apart."""

from __future__ import annotations

import json

from tests.conftest import put_objects
from tests.e2e.test_cli import cli, create_args  # noqa: F401  (cli is a fixture)
from tests.integration.helpers import write_manifest


def test_skip_identical_from_the_cli(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k{i:02d}" for i in range(20)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    cli(*create_args(src, dst, rep, "--wait"))
    s3.put_object(Bucket=src, Key="k03", Body=b"changed")

    second = cli(*create_args(src, dst, rep, "--skip-identical", "--wait"))
    job_id = second.stdout.split("Job ", 1)[1].split()[0]
    assert f"Job {job_id} Complete: 20/20 tasks run, 20 succeeded (1 copied, 19 skipped: identical at target), " \
           "0 failed" in second.stdout
    assert "Progress     20/20 tasks: 20 succeeded (1 copied, 19 skipped: identical at target), 0 failed" \
        in cli("describe-job", "--job-id", job_id).stdout
    job = json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]
    assert job["ProgressSummary"]["NumberOfTasksSkipped"] == 19
    assert {"Key": "cosbatch:skip-identical", "Value": "true"} in job["Tags"]
    assert s3.get_object(Bucket=dst, Key="k03")["Body"].read() == b"changed"

    both = cli(*create_args(src, dst, rep, "--skip-identical", "--tags", "Key=cosbatch:skip-identical,Value=false"),
               check=False)
    assert both.returncode == 2 and "--skip-identical contradicts the job tag" in both.stderr
