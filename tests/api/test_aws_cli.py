"""The real `aws s3control` CLI (awscli from PyPI) against `cosbatch serve`.

The CLI puts the account id in front of the endpoint's host name (123456789012.localhost),
which nothing resolves. Pointing HTTP_PROXY at the server itself sends each request there,
Host header and signature intact, with no resolver set-up (docs/api-and-console.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.api.conftest import ALICE
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest


def aws(api, *args: str) -> dict:
    port = urlsplit(api.url).port
    aws_bin = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ALICE.key_id, "AWS_SECRET_ACCESS_KEY": ALICE.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "HTTP_PROXY": api.url, "http_proxy": api.url, "NO_PROXY": "",
           "no_proxy": "", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    proc = subprocess.run([aws_bin, "s3control", *args, "--account-id", ALICE.account,
                           "--endpoint-url", f"http://localhost:{port}", "--output", "json"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_create_list_describe_with_the_aws_cli(api, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, [f"k{i}" for i in range(12)])
    write_manifest(s3, src, "m.csv", [(src, f"k{i}") for i in range(12)])
    etag = s3.head_object(Bucket=src, Key="m.csv")["ETag"]
    created = aws(
        api, "create-job", "--no-confirmation-required", "--priority", "10",
        "--role-arn", f"arn:aws:iam::{ALICE.account}:role/batch", "--description", "from the aws cli",
        "--manifest", json.dumps({"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                                  "Location": {"ObjectArn": f"arn:aws:s3:::{src}/m.csv", "ETag": etag}}),
        "--operation", json.dumps({"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}),
        "--report", f"Bucket=arn:aws:s3:::{rep},Format=Report_CSV_20180820,Enabled=true,Prefix=r,"
                    "ReportScope=AllTasks",  # the aws CLI's shorthand
    )
    job_id = created["JobId"]
    job = wait_for(lambda: (j := aws(api, "describe-job", "--job-id", job_id)["Job"])["Status"]
                   in ("Complete", "Failed") and j, 120, 0.5, "the job to finish")
    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 12
    assert job["Description"] == "from the aws cli" and job["Report"]["Prefix"] == "r"
    listed = aws(api, "list-jobs", "--job-statuses", "Complete")["Jobs"]
    assert job_id in [j["JobId"] for j in listed]
    assert s3.list_objects_v2(Bucket=dst)["KeyCount"] == 12
