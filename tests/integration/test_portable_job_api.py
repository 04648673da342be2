"""The portable Job API path without Flink: `cosbatch run --runner flink --runner-option
job_endpoint=HOST:PORT` (Beam's PortableRunner) against Beam's own Python job service
(`local_job_service_main`) with the SDK harness in an EXTERNAL Beam worker pool
(`worker_pool_main`), each a separate process. This is the protocol every portable runner (Flink,
Spark) speaks, so it runs wherever Java does not."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cosbatch.control import worker_lease_prefix
from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_exact_report
from tests.support.api_server import free_port

COSBATCH = str(Path(sys.executable).with_name("cosbatch"))


def _serve(args: list[str], log: Path, port: int) -> subprocess.Popen:
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT,
                                env=os.environ.copy(), start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{args[0]} did not listen on {port}: {log.read_text()[-2000:]}")


@pytest.fixture()
def job_service(tmp_path) -> Iterator[tuple[str, str, int]]:
    """(job endpoint, worker pool endpoint, worker pool pid), each a running Beam service process."""
    job_port, pool_port = free_port(), free_port()
    procs = [
        _serve(["apache_beam.runners.portability.local_job_service_main", "--port", str(job_port)],
               tmp_path / "job-service.log", job_port),
        # Each SDK worker the pool starts is cosbatch-sdk-worker (launch/sdk_worker.py): the
        # pool's default command is a bare `python`, the system's rather than this venv's.
        _serve(["apache_beam.runners.worker.worker_pool_main", "--service_port", str(pool_port),
                "--container_executable", str(Path(sys.executable).with_name("cosbatch-sdk-worker"))],
               tmp_path / "worker-pool.log", pool_port),
    ]
    try:
        yield f"localhost:{job_port}", f"localhost:{pool_port}", procs[1].pid
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_a_job_runs_through_the_portable_job_api_with_an_external_worker_pool(
        s3, s3_server, make_bucket, store, job_service, tmp_path):
    job_endpoint, pool, pool_pid = job_service
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"p/{i:04d}" for i in range(500)] + ["p/missing"]
    put_objects(s3, src, keys[:-1])
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    job = JobService(store).create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token="portable")))
    run = subprocess.Popen(
        [COSBATCH, "--store", store.url, "--endpoint-url", s3_server.endpoint_url, "run", "--job-id", job.job_id,
         "--runner", "flink", "--runner-option", f"job_endpoint={job_endpoint}",
         "--runner-option", "environment_type=EXTERNAL", "--runner-option", f"environment_config={pool}",
         "--segment-size", "100", "--no-progress", "--timeout", "240"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    out, err = run.communicate(timeout=300)
    assert run.returncode == 3, (out, err)  # one task failed (the missing object): exit 3, never 0
    job = JobService(store).describe_job(job.job_id)
    assert job.status is S.COMPLETE
    _, rows, _ = read_report(s3, rep, job)
    assert_exact_report(rows, keys, 500, 1)
    assert [r["ResultMessage"] for r in rows if r["Key"] == "p/missing"][0]
    copied = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=dst)
              for o in page.get("Contents", [])}
    assert copied == set(keys[:-1])
    # The tasks ran in SDK workers the pool started (its process group), not in `cosbatch run`.
    workers = {int(owner.rpartition(":")[2]) for owner in store.leases(worker_lease_prefix(job.job_id)).values()}
    assert workers and not workers & {pool_pid, run.pid}, workers
    assert "cosbatch-sdk-worker', '--id=" in (tmp_path / "worker-pool.log").read_text()
