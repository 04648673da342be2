"""Job tags from the command line, as aws s3control spells the commands."""

from __future__ import annotations

import json

from tests.e2e.test_cli import ACCOUNT, cli, create_args  # noqa: F401  (cli is a fixture)


def test_create_put_get_delete_job_tagging(cli, make_bucket):  # noqa: F811
    src = make_bucket("src")
    out = cli(*create_args(src, src, src, "--confirmation-required",
                           "--tags", '[{"Key": "team", "Value": "data"}]'), "--output", "json")
    job_id = json.loads(out.stdout)["JobId"]
    job = json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]
    assert job["Tags"] == [{"Key": "team", "Value": "data"}]
    assert "Tags         team=data" in cli("describe-job", "--job-id", job_id).stdout

    # the aws CLI's shorthand, several tags
    cli("put-job-tagging", "--account-id", ACCOUNT, "--job-id", job_id,
        "--tags", "Key=team,Value=ml", "Key=stage,Value=")
    got = json.loads(cli("get-job-tagging", "--job-id", job_id, "--output", "json").stdout)
    assert got == {"Tags": [{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": ""}]}
    assert cli("get-job-tagging", "--job-id", job_id).stdout.split() == ["team=ml", "stage="]

    cli("delete-job-tagging", "--job-id", job_id)
    assert json.loads(cli("get-job-tagging", "--job-id", job_id, "--output", "json").stdout) == {"Tags": []}
    assert "Tags" not in json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]

    too_many = json.dumps([{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    for args, code in ((["put-job-tagging", "--job-id", job_id, "--tags", too_many], "TooManyTags"),
                       (["put-job-tagging", "--job-id", job_id, "--tags", "Key=a,Val=b"], "InvalidRequest"),
                       (["put-job-tagging", "--job-id", job_id, "--tags", "Key=a,Value=1", "Key=a,Value=2"],
                        "InvalidRequest"),
                       (["get-job-tagging", "--job-id", "no-such-job"], "NoSuchJob"),
                       ([*create_args(src, src, src, "--tags", too_many)], "TooManyTags")):
        proc = cli(*args, check=False)
        assert proc.returncode == (1 if code == "NoSuchJob" else 2), proc.stderr
        assert proc.stderr.startswith(f"cosbatch: {code}: ") and "Traceback" not in proc.stderr


def test_rate_limit_tag_shows_as_max_ops_per_second(cli, make_bucket):  # noqa: F811
    src = make_bucket("src")
    job_id = cli(*create_args(src, src, src, "--confirmation-required",
                              "--tags", "Key=cosbatch:max-ops-per-second,Value=40")).stdout.strip()

    def described() -> dict:
        return json.loads(cli("describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]

    assert described()["MaxOpsPerSecond"] == 40.0
    assert "at most 40 operations/s" in cli("describe-job", "--job-id", job_id).stdout
    cli("put-job-tagging", "--job-id", job_id, "--tags", "Key=cosbatch:max-ops-per-second,Value=80")
    assert described()["MaxOpsPerSecond"] == 80.0
    cli("delete-job-tagging", "--job-id", job_id)
    assert "MaxOpsPerSecond" not in described()
    proc = cli("put-job-tagging", "--job-id", job_id, "--tags", "Key=cosbatch:bogus,Value=1", check=False)
    assert proc.returncode == 2 and "unknown job tag 'cosbatch:bogus'" in proc.stderr


def test_an_unsupported_field_exits_2_naming_it(cli, make_bucket):  # noqa: F811
    src = make_bucket("src")
    args = create_args(src, src, src)
    op = args.index("--operation") + 1
    args[op] = json.dumps({"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{src}", "RequesterPays": True}})
    proc = cli(*args, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("cosbatch: InvalidRequest: ") and "RequesterPays: not supported" in last, proc.stderr
    assert "Traceback" not in proc.stderr


def test_verify_flag_is_the_verify_tag(cli, make_bucket):  # noqa: F811
    src = make_bucket("src")
    job_id = cli(*create_args(src, src, src, "--verify", "--tags", "Key=team,Value=a")).stdout.strip()
    tags = json.loads(cli("get-job-tagging", "--job-id", job_id, "--output", "json").stdout)["Tags"]
    assert tags == [{"Key": "team", "Value": "a"}, {"Key": "cosbatch:verify", "Value": "true"}]
    both = cli(*create_args(src, src, src, "--verify", "--tags", "Key=cosbatch:verify,Value=false"), check=False)
    assert both.returncode == 2 and "--verify contradicts the job tag cosbatch:verify=false" in both.stderr
    op = {"S3PutObjectTagging": {"TagSet": []}}
    args = create_args(src, src, src, "--verify")
    args[args.index("--operation") + 1] = json.dumps(op)
    refused = cli(*args, check=False)
    assert refused.returncode == 2 and "applies to S3PutObjectCopy jobs only" in refused.stderr, refused.stderr
