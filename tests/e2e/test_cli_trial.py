"""A trial run from the command line, as a user types it: create-job --trial-tasks N --wait stops
in Suspended with the trial's outcome; update-job-status Ready and run finish the rest."""

from __future__ import annotations

import json

from tests.conftest import put_objects
from tests.e2e.test_cli import cli, create_args  # noqa: F401  (cli is a fixture)
from tests.integration.helpers import write_manifest


def test_trial_from_the_cli(cli, s3, make_bucket):  # noqa: F811
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k{i:02d}" for i in range(20)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys] + [(src, "missing")])

    waited = cli(*create_args(src, dst, rep, "--trial-tasks", "4", "--segment-size", "7", "--wait"), check=False)
    assert waited.returncode == 5, waited.stderr  # not finished: waits for confirmation
    job_id = waited.stdout.split("Job ", 1)[1].split()[0]
    reason = "Trial: 4 tasks run, 4 succeeded, 0 failed (by error code: none); confirm to run the remaining 17"
    assert f"Job {job_id} Suspended ({reason}): 4/21 tasks run" in waited.stdout
    copied = {o["Key"] for o in s3.list_objects_v2(Bucket=dst).get("Contents", [])}
    assert copied == {"k00", "k05", "k10", "k15"}  # spread over the manifest's 21 tasks

    job = json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]
    assert job["Status"] == "Suspended" and job["StatusUpdateReason"] == reason
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 4
    assert {"Key": "cosbatch:trial-tasks", "Value": "4"} in job["Tags"]
    trial = json.loads(s3.get_object(Bucket=rep, Key=f"r/job-{job_id}/trial/manifest.json")["Body"].read())
    assert trial["Results"] and all(r["TaskExecutionStatus"] == "succeeded" for r in trial["Results"])

    cli("update-job-status", "--job-id", job_id, "--requested-job-status", "Ready")
    done = cli("run", "--job-id", job_id, check=False)
    assert done.returncode == 3, done.stderr  # completed, one task failed (the missing object)
    assert f"Job {job_id} Complete: 21/21 tasks run, 20 succeeded, 1 failed (by error code: NoSuchKey: 1)" \
        in done.stdout
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]} == set(keys)

    refused = cli(*create_args(src, dst, rep, "--trial-tasks", "0"), check=False)
    assert refused.returncode == 2 and "InvalidRequest: --trial-tasks must be a whole number of tasks, at least 1, " \
        "not '0'" in refused.stderr  # the flag the user typed, not the tag it sets
    both = cli(*create_args(src, dst, rep, "--trial-tasks", "3", "--tags", "Key=cosbatch:trial-tasks,Value=2"),
               check=False)
    assert both.returncode == 2 and "--trial-tasks contradicts the job tag cosbatch:trial-tasks=2" in both.stderr
