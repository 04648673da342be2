"""Named storages: each job acts on its own storage, never another; copies across storages.

Two SeaweedFS servers, each accepting only its own keys, and one storage config naming
both ("east" and "west"); the keys reach cosbatch only by environment variable name.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog, implicit_storage, load_storage_config
from cosbatch.storage.embedded import start_embedded_s3
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job
from tests.integration.helpers import read_report, write_manifest

ACCOUNT = "123456789012"
KEYS = {"east": ("EASTAKID0001", "east-secret-9f8e7d6c5b4a"), "west": ("WESTAKID0002", "west-secret-1a2b3c4d5e6f")}
SECRETS = [secret for _, secret in KEYS.values()]
BUCKETS = ("src", "dst", "rep")


@pytest.fixture(scope="module")
def storages(tmp_path_factory):
    """Two servers with their own keys; env vars EAST_AK/EAST_SK, WEST_AK/WEST_SK hold the keys."""
    base = tmp_path_factory.mktemp("storages")
    servers = {}
    try:
        for name, (key, secret) in KEYS.items():
            servers[name] = start_embedded_s3(base / name, buckets=BUCKETS, access_key=key, secret_key=secret)
            os.environ[f"{name.upper()}_AK"], os.environ[f"{name.upper()}_SK"] = key, secret
        config = base / "storages.toml"
        config.write_text(storage_toml(servers, multipart_threshold='"6MiB"', multipart_chunksize='"5MiB"'))
        yield servers, config
    finally:
        for server in servers.values():
            server.stop(timeout=3)  # their data is not read again


def storage_toml(servers: dict, **extra: str) -> str:
    out = []
    for name, region in (("east", "us-east-1"), ("west", "eu-west-1")):
        if name not in servers:
            continue
        out += [f"[storage.{name}]", f'endpoint_url = "{servers[name].endpoint_url}"', f'region = "{region}"',
                f'access_key_id_env = "{name.upper()}_AK"', f'secret_access_key_env = "{name.upper()}_SK"']
        out += [f"{k} = {v}" for k, v in extra.items()]
        out += ["default = true" if name == "east" else "", ""]
    return "\n".join(out)


def copy_body(token: str, role: str, target: str = "arn:aws:s3:::dst", prefix: str = "", **over) -> dict:
    body = {
        "AccountId": ACCOUNT, "ClientRequestToken": token, "Priority": 10,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "ConfirmationRequired": False,
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": f"arn:aws:s3:::src/{prefix}m.csv"}},
        "Operation": {"S3PutObjectCopy": {"TargetResource": target, "TargetKeyPrefix": f"{token}"}},
        "Report": {"Enabled": True, "Bucket": "arn:aws:s3:::rep", "Prefix": "reports", "Format": "Report_CSV_20180820",
                   "ReportScope": "AllTasks"},
    }
    body.update(over)
    return body


def seed(server, prefix: str, n: int) -> list[str]:
    s3 = server.client()
    keys = [f"{prefix}o{i:04d}" for i in range(n)]
    for k in keys:
        s3.put_object(Bucket="src", Key=k, Body=f"{prefix} {k}".encode())
    write_manifest(s3, "src", f"{prefix}m.csv", [("src", k) for k in keys])
    return keys


def cli(store: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "cosbatch.cli.main", "--store", store, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def cli_create(store: str, config: Path | None, body: dict, *extra: str) -> subprocess.CompletedProcess:
    args = ["--storage-config", str(config)] if config else []
    return cli(store, *args, "create-job", "--cli-input-json", json.dumps(body), "--output", "json", *extra)


def test_each_job_runs_on_its_own_storage(storages, tmp_path):
    servers, config = storages
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    keys = {name: seed(server, "both-", 20) for name, server in servers.items()}
    ids = {}
    for name in servers:
        out = cli_create(store, config, copy_body(f"both-{name}", name, prefix="both-"))
        assert out.returncode == 0, out.stderr
        ids[name] = json.loads(out.stdout)["JobId"]
    # One run, no endpoint of its own: it finishes both, each on its own storage.
    run = cli(store, "--storage-config", str(config), "-v", "run")
    assert run.returncode == 0, run.stderr
    for name, server in servers.items():
        s3 = server.client()
        described = json.loads(cli(store, "describe-job", "--job-id", ids[name], "--output", "json").stdout)["Job"]
        assert described["Status"] == "Complete" and described["Storage"] == name
        assert described["ProgressSummary"]["NumberOfTasksSucceeded"] == 20
        copied = s3.list_objects_v2(Bucket="dst", Prefix=f"both-{name}/")["KeyCount"]
        assert copied == 20
        for k in keys[name][:3]:
            assert s3.get_object(Bucket="dst", Key=f"both-{name}/{k}")["Body"].read() == f"both- {k}".encode()
        job = JobService(open_store(store)).describe_job(ids[name])
        _, rows, job_doc = read_report(s3, "rep", job)
        assert len(rows) == 20 and job_doc["Job"]["Status"] == "Complete" and job_doc["Job"]["Storage"] == name
    # Neither job touched the other storage: no copies of the other's job there.
    for name, server in servers.items():
        other = "west" if name == "east" else "east"
        assert server.client().list_objects_v2(Bucket="dst", Prefix=f"both-{other}/")["KeyCount"] == 0
    # Nothing secret was written down: not in the store, the reports, or the logs.
    assert_no_secrets(Path(store.removeprefix("sqlite:///")), run.stdout + run.stderr, servers)


def assert_no_secrets(db: Path, logs: str, servers: dict) -> None:
    blobs = {"store": b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*")), "logs": logs.encode()}
    for name, server in servers.items():
        s3 = server.client()
        for obj in s3.list_objects_v2(Bucket="rep").get("Contents", []):
            blobs[f"{name} report {obj['Key']}"] = s3.get_object(Bucket="rep", Key=obj["Key"])["Body"].read()
    assert len(blobs) > 2
    for where, blob in blobs.items():
        for secret in SECRETS:
            assert secret.encode() not in blob, f"secret found in {where}"


def test_a_storage_refuses_the_other_storages_keys(storages):
    servers, _ = storages
    key, secret = KEYS["west"]
    crossed = implicit_storage(servers["east"].endpoint_url)
    os.environ["CROSSED_AK"], os.environ["CROSSED_SK"] = key, secret
    from dataclasses import replace

    from cosbatch.storage import CredentialsRef, make_client

    client = make_client(replace(crossed, credentials=CredentialsRef("CROSSED_AK", "CROSSED_SK")))
    with pytest.raises(ClientError) as err:
        client.list_objects_v2(Bucket="src")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_job_is_never_run_on_another_storage(storages, tmp_path):
    servers, config = storages
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    seed(servers["west"], "lack-", 5)
    west_job = json.loads(cli_create(store, config, copy_body("lack-west", "west", prefix="lack-")).stdout)["JobId"]
    east_only = tmp_path / "east-only.toml"
    east_only.write_text(storage_toml({"east": servers["east"]}))
    # A process without "west" leaves the job alone, says so, and never runs it on east.
    run = cli(store, "--storage-config", str(east_only), "run")
    assert run.returncode == 0, run.stderr
    assert west_job in run.stderr and "bound to storages this process does not have" in run.stderr
    job = json.loads(cli(store, "describe-job", "--job-id", west_job, "--output", "json").stdout)["Job"]
    assert job["Status"] == "New" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 0
    # Asked for that job by id: a clear error naming the storage, and still nothing done.
    one = cli(store, "--storage-config", str(east_only), "run", "--job-id", west_job)
    assert one.returncode != 0 and "StorageNotConfigured" in one.stderr and "'west'" in one.stderr
    assert "Traceback" not in one.stderr
    assert servers["east"].client().list_objects_v2(Bucket="dst", Prefix="lack-west/")["KeyCount"] == 0
    # The process that has it runs it.
    assert cli(store, "--storage-config", str(config), "run", "--job-id", west_job).returncode == 0
    assert servers["west"].client().list_objects_v2(Bucket="dst", Prefix="lack-west/")["KeyCount"] == 5


def test_without_config_a_job_stays_on_its_endpoint(storages, tmp_path):
    servers, _ = storages
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    seed(servers["east"], "ep-", 4)
    east_env = {"AWS_ACCESS_KEY_ID": KEYS["east"][0], "AWS_SECRET_ACCESS_KEY": KEYS["east"][1]}
    west_env = {"AWS_ACCESS_KEY_ID": KEYS["west"][0], "AWS_SECRET_ACCESS_KEY": KEYS["west"][1]}
    east_url, west_url = servers["east"].endpoint_url, servers["west"].endpoint_url
    out = cli(store, "--endpoint-url", east_url, "create-job", "--cli-input-json",
              json.dumps(copy_body("ep", "batch", prefix="ep-")), "--output", "json", env=east_env)
    job_id = json.loads(out.stdout)["JobId"]
    run = cli(store, "--endpoint-url", west_url, "run", env=west_env)
    assert run.returncode == 0 and job_id in run.stderr
    job = json.loads(cli(store, "describe-job", "--job-id", job_id, "--output", "json").stdout)["Job"]
    assert job["Status"] == "New" and job["Storage"] == f"endpoint:{east_url}"
    assert cli(store, "--endpoint-url", east_url, "run", env=east_env).returncode == 0
    assert servers["east"].client().list_objects_v2(Bucket="dst", Prefix="ep/")["KeyCount"] == 4


def test_create_job_wait_drives_only_its_own_job(storages, tmp_path):
    servers, config = storages
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    seed(servers["east"], "w-", 6)
    queued = json.loads(cli_create(store, config, copy_body("w-queued", "east", prefix="w-")).stdout)["JobId"]
    waited = cli_create(store, config, copy_body("w-mine", "east", prefix="w-"), "--wait")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["Job"]["Status"] == "Complete"
    other = json.loads(cli(store, "describe-job", "--job-id", queued, "--output", "json").stdout)["Job"]
    assert other["Status"] == "New" and other["ProgressSummary"]["NumberOfTasksSucceeded"] == 0
    assert servers["east"].client().list_objects_v2(Bucket="dst", Prefix="w-queued/")["KeyCount"] == 0


def test_cross_storage_copy_is_byte_identical(storages, tmp_path):
    """1,000 objects from east to west: small ones in one PUT, a few above the (lowered) multipart
    threshold in parallel parts; every byte checked by hash; metadata, content type and tags
    carried as a server-side copy carries them."""
    servers, config = storages
    east, west = servers["east"].client(max_pool_connections=32), servers["west"].client()
    rng = random.Random(7)
    sizes = {f"x/{i:04d}": rng.randrange(0, 64 * 1024) for i in range(990)}
    sizes.update({f"x/big-{i}": rng.randrange(6 * 1024**2 + 1, 13 * 1024**2) for i in range(10)})
    digests = {}
    from concurrent.futures import ThreadPoolExecutor

    def put(key: str) -> None:
        body = rng.randbytes(sizes[key]) if key.startswith("x/big") else os.urandom(sizes[key])
        digests[key] = hashlib.sha256(body).hexdigest()
        extra = {"ContentType": "image/jpeg", "Metadata": {"origin": "east"}, "Tagging": "tier=gold"} \
            if key.endswith("7") else {}
        east.put_object(Bucket="src", Key=key, Body=body, **extra)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, sizes))
    write_manifest(east, "src", "x-m.csv", [("src", k) for k in sizes])
    done = run_across(tmp_path, config, copy_body("x", "east", target="arn:aws:s3:eu-west-1::dst", prefix="x-"))
    _, rows, _ = read_report(east, "rep", done)  # the report is on the job's own storage
    failed = [(r["Key"], r["ErrorCode"], r["ResultMessage"]) for r in rows if r["TaskStatus"] != "succeeded"]
    assert len(rows) == 1000 and failed == []
    assert done.progress_summary.number_of_tasks_succeeded == 1000
    for key, digest in digests.items():
        got = west.get_object(Bucket="dst", Key=f"x/{key}")
        assert hashlib.sha256(got["Body"].read()).hexdigest() == digest, key
        if key.startswith("x/big"):
            assert got["ETag"].strip('"').endswith("-" + str(-(-sizes[key] // (5 * 1024**2))))  # multipart
        if key.endswith("7"):
            assert got["ContentType"] == "image/jpeg" and got["Metadata"] == {"origin": "east"}
            tags = west.get_object_tagging(Bucket="dst", Key=f"x/{key}")["TagSet"]
            assert tags == [{"Key": "tier", "Value": "gold"}]
    assert not west.list_multipart_uploads(Bucket="dst").get("Uploads")


def run_across(tmp_path: Path, config: Path, body: dict) -> Job:
    """Create a copy job from east to west in process and run it to its end."""
    catalog = load_storage_config(config, implicit_storage("http://127.0.0.1:1"))
    store = open_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    service = JobService(store, catalog)
    job = service.create_job(parse_create_job(body))
    assert (job.storage, job.target_storage) == ("east", "west")
    scheduler = Scheduler(store, Settings(store_url=store.url, storages=catalog, segment_size=250))
    try:
        scheduler.run_until_idle(timeout_s=600)
    finally:
        scheduler.close()
    done = service.describe_job(job.job_id)
    store.close()
    assert done.status is JobStatus.COMPLETE, done.failure_reasons
    return done


def test_a_verified_cross_storage_copy(storages, tmp_path):
    """cosbatch:verify on a copy to another storage: each copy compared with its source across the
    two storages (by ETag after one PUT, by content after a multipart upload)."""
    servers, config = storages
    east = servers["east"].client()
    keys = {"v/small-0": b"a" * 100, "v/small-1": b"b" * 200, "v/big": os.urandom(7 * 1024**2)}
    for key, body in keys.items():
        east.put_object(Bucket="src", Key=key, Body=body)
    write_manifest(east, "src", "v-m.csv", [("src", k) for k in keys])
    body = copy_body("v", "east", target="arn:aws:s3:eu-west-1::dst", prefix="v-",
                     Tags=[{"Key": "cosbatch:verify", "Value": "true"}])
    done = run_across(tmp_path, config, body)
    _, rows, _ = read_report(east, "rep", done)
    messages = {r["Key"]: r["ResultMessage"] for r in rows if r["TaskStatus"] == "succeeded"}
    assert set(messages) == set(keys), rows
    assert messages["v/small-0"].endswith("verified by ETag") and "in 2 parts" in messages["v/big"]
    assert messages["v/big"].endswith("verified by SHA-256 of the content")


@pytest.mark.parametrize("target", ["arn:aws:s3:ap-south-1::dst", "qcs::cos:ap-beijing:uid/1250000000:dst"])
def test_a_region_no_storage_serves_is_refused(storages, tmp_path, target):
    _, config = storages
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    out = cli_create(store, config, copy_body("bad-region", "east", target=target))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "InvalidRequest" in out.stderr and "us-east-1 (east)" in out.stderr and "eu-west-1 (west)" in out.stderr


def test_an_account_outside_a_storages_accounts_is_denied(storages, tmp_path):
    from cosbatch.errors import CosbatchError

    servers, _ = storages
    config = tmp_path / "accounts.toml"
    config.write_text(storage_toml(servers).replace('region = "eu-west-1"',
                                                     'region = "eu-west-1"\naccounts = ["999999999999"]'))
    service = JobService(open_store(f"sqlite:///{tmp_path / 'jobs.db'}"),
                         StorageCatalog.from_env(config_path=str(config)))
    with pytest.raises(CosbatchError) as err:
        service.create_job(parse_create_job(copy_body("acct", "west")))
    assert err.value.http_status == 403 and err.value.code == "AccessDenied" and "'west'" in err.value.message
    with pytest.raises(CosbatchError) as err:  # nor as a copy's target
        service.create_job(parse_create_job(copy_body("acct2", "east", target="arn:aws:s3:eu-west-1::dst")))
    assert err.value.http_status == 403


def test_skip_identical_across_storages(storages, tmp_path):
    """A second cross-storage pass with cosbatch:skip-identical: the target storage is listed (its
    own keys) and compared with the source's listing; only the changed and new objects stream."""
    servers, config = storages
    east, west = servers["east"].client(), servers["west"].client()
    keys = [f"s/{i:04d}" for i in range(400)]
    for k in keys:
        east.put_object(Bucket="src", Key=k, Body=f"first {k}".encode())
    write_manifest(east, "src", "s-m.csv", [("src", k) for k in keys])
    run_across(tmp_path, config, copy_body("s", "east", target="arn:aws:s3:eu-west-1::dst", prefix="s-"))
    east.put_object(Bucket="src", Key=keys[5], Body=b"second version")
    east.put_object(Bucket="src", Key="s/new", Body=b"new")
    write_manifest(east, "src", "s-m.csv", [("src", k) for k in [*keys, "s/new"]])
    body = copy_body("s", "east", target="arn:aws:s3:eu-west-1::dst", prefix="s-",
                     ClientRequestToken="s-again", Tags=[{"Key": "cosbatch:skip-identical", "Value": "true"}])
    body["Operation"]["S3PutObjectCopy"]["TargetKeyPrefix"] = "s"
    done = run_across(tmp_path, config, body)
    _, rows, _ = read_report(east, "rep", done)
    messages = {r["Key"]: r["ResultMessage"] for r in rows}
    copied = {k for k, m in messages.items() if not m.startswith("Skipped: identical at target (by ETag)")}
    assert copied == {keys[5], "s/new"} and messages[keys[5]].startswith("Successful: 14 bytes")
    assert done.progress_summary.number_of_tasks_skipped == 399
    assert west.get_object(Bucket="dst", Key=f"s/{keys[5]}")["Body"].read() == b"second version"
    assert west.get_object(Bucket="dst", Key="s/s/new")["Body"].read() == b"new"
