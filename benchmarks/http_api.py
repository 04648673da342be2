"""Scenario (g): DescribeJob requests/s against `cosbatch serve` on loopback, SigV4 auth on.

Clients sign every request with botocore's SigV4 signer (as boto3 does) and send it over
keep-alive connections from 8 threads; the server verifies each signature and reads the job
from a store holding `jobs` jobs. Client and server share the machine's cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmarks.harness import Measurement, ScenarioResult
from cosbatch.controller import JobService
from cosbatch.store import open_store
from cosbatch.wire.dialects import parse_create_job

ACCOUNT, KEY_ID, SECRET = "123456789012", "AKIDBENCH", "bench-secret"


def _seed(db: Path, jobs: int) -> list[str]:
    service = JobService(open_store(f"sqlite:///{db}"))
    ids = []
    for i in range(jobs):
        body = {"AccountId": ACCOUNT, "ClientRequestToken": f"t{i}", "Priority": i % 100,
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/bench", "Description": f"job {i}",
                "ConfirmationRequired": True,
                "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820"},
                             "Location": {"ObjectArn": "arn:aws:s3:::bench/m.csv"}},
                "Operation": {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
                "Report": {"Enabled": False}}
        ids.append(service.create_job(parse_create_job(body)).job_id)
    return ids


def _start(workdir: Path, db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "COSBATCH_ACCESS_KEYS": f"{ACCOUNT}:{KEY_ID}:{SECRET}"}
    with open(workdir / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cosbatch.cli.main", "--store", f"sqlite:///{db}", "serve",
                                 "--port", str(port), "--no-scheduler"], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
    http = urllib3.PoolManager()
    for _ in range(300):
        try:
            if http.request("GET", f"http://127.0.0.1:{port}/healthz", timeout=1).status == 200:
                return proc
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("cosbatch serve did not start")


def _hammer(url: str, ids: list[str], seconds: float, threads: int) -> float:
    creds = Credentials(KEY_ID, SECRET)
    count = [0] * threads
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def worker(t: int) -> None:
        http = urllib3.PoolManager(maxsize=1)
        signer = S3SigV4Auth(creds, "s3", "us-east-1")
        i = t
        while time.monotonic() < stop:
            req = AWSRequest("GET", f"{url}/v20180820/jobs/{ids[i % len(ids)]}",
                             headers={"x-amz-account-id": ACCOUNT})
            signer.add_auth(req)
            answer = http.request("GET", req.url, headers=dict(req.headers.items()))
            if answer.status != 200:
                errors.append(f"{answer.status} {answer.data[:200]!r}")
                return
            count[t] += 1
            i += threads

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    if errors:
        raise RuntimeError(f"describe-job failed: {errors[0]}")
    return sum(count) / (time.monotonic() - started)


def http_describe(workdir: Path, rounds: int, jobs: int = 1000, seconds: float = 5.0) -> ScenarioResult:
    from tests.support.api_server import free_port

    db = workdir / "http.db"
    ids = _seed(db, jobs)
    port = free_port()
    proc = _start(workdir, db, port)
    try:
        values = [_hammer(f"http://127.0.0.1:{port}", ids, seconds, threads=8) for _ in range(rounds)]
    finally:
        proc.terminate()
        proc.wait(20)
    m = Measurement("http", "DescribeJob over HTTP, SigV4 (8 client threads)", "requests/s", values)
    return ScenarioResult("http", f"(g) HTTP describe-job, {jobs:,} jobs stored", [m], ">= 300 requests/s",
                          None, m.median >= 300)
