"""A runner that cannot be used is not a failed job. Tried as a new user would: a Flink master or
a Dask scheduler that does not answer stops `cosbatch run` / `create-job --wait` with one line
(`cosbatch: RunnerUnavailable: ...`, exit 1) before any job is touched; and a runner that goes away
while a job runs (the `dask scheduler` process killed mid-job) pauses the job with the reason in its
history, never Failed, and the job completes exactly once the runner is back."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_exact_report, assert_legal_history
from tests.support.api_server import free_port
from tests.support.dask_cluster import DASK, _spawn, _wait_for_workers

pytestmark = pytest.mark.serial  # a `dask scheduler` process killed mid-job: alone on the machine

COSBATCH = str(Path(sys.executable).with_name("cosbatch"))


def _job(s3, make_bucket, store, n: int = 20, max_ops: float | None = None):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"r/{i:04d}" for i in range(n)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    job = JobService(store).create_job(parse_create_job(copy_request(src, "m.csv", dst, rep)), max_ops)
    return job.job_id, keys, dst, rep


def _cli(store, s3_server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COSBATCH, "--store", store.url, "--endpoint-url", s3_server.endpoint_url, *args],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--runner", "flink", "--runner-option", "flink_master=127.0.0.1:{port}"],
         "no Flink answers at flink_master=127.0.0.1:{port}"),
        (["--runner", "flink", "--runner-option", "flink_master=127.0.0.1:{port}", "--runner-option",
          "environment_type=LOOPBACK"], "no Flink answers at flink_master=127.0.0.1:{port}"),
        (["--runner", "flink", "--runner-option", "job_endpoint=127.0.0.1:{port}"],
         "nothing answers at job_endpoint=127.0.0.1:{port}"),
        (["--runner", "dask", "--runner-option", "dask_client_address=tcp://127.0.0.1:{port}"],
         "no Dask scheduler answers at dask_client_address=tcp://127.0.0.1:{port}"),
    ],
)
def test_run_stops_with_one_line_and_leaves_the_job_as_it_was(s3, s3_server, make_bucket, store, options, named):
    job_id, *_ = _job(s3, make_bucket, store)
    port = free_port()  # nothing listens there
    started = time.monotonic()
    done = _cli(store, s3_server, "run", *[o.format(port=port) for o in options], "--no-progress")
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cosbatch: RunnerUnavailable: "), done.stderr
    assert named.format(port=port) in lines[0]
    assert time.monotonic() - started < 30  # no pipeline retries
    service = JobService(store)
    assert service.describe_job(job_id).status is S.NEW  # not even prepared
    assert [h.to_status for h in service.history(job_id)] == [S.NEW]


def test_a_flink_master_that_is_not_flinks_rest_port_is_one_line(s3, s3_server, make_bucket, store):
    """Something answers there, not in HTTP (a job server's gRPC port, Dask's scheduler): the
    same one line, not http.client's BadStatusLine traceback."""
    import socket
    import threading

    job_id, *_ = _job(s3, make_bucket, store)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_garbage() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(1024)
                    conn.sendall(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00 not http\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        done = _cli(store, s3_server, "run", "--runner", "flink", "--runner-option", f"flink_master=127.0.0.1:{port}",
                    "--no-progress")
    finally:
        listener.close()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cosbatch: RunnerUnavailable: no Flink answers at "
                                                   f"flink_master=127.0.0.1:{port} ("), done.stderr
    assert "not Flink's REST API" in lines[0]
    assert JobService(store).describe_job(job_id).status is S.NEW


def test_create_job_wait_checks_the_runner_before_creating_the_job(s3, s3_server, make_bucket, store):
    src, dst = make_bucket("src"), make_bucket("dst")
    put_objects(s3, src, ["a"])
    write_manifest(s3, src, "m.csv", [(src, "a")])
    body = copy_request(src, "m.csv", dst, None)
    done = _cli(store, s3_server, "create-job", "--wait", "--no-progress", "--runner", "flink",
                "--runner-option", f"flink_master=127.0.0.1:{free_port()}",
                "--account-id", body["AccountId"], "--manifest", _json(body["Manifest"]),
                "--operation", _json(body["Operation"]), "--report", _json(body["Report"]),
                "--priority", "10", "--role-arn", body["RoleArn"], "--no-confirmation-required")
    assert done.returncode == 1 and done.stderr.startswith("cosbatch: RunnerUnavailable: no Flink answers"), done
    assert JobService(store).list_jobs(body["AccountId"]).jobs == []


def _json(value) -> str:
    import json

    return json.dumps(value)


@pytest.mark.reliability
def test_a_runner_that_goes_away_mid_job_pauses_the_job_and_it_resumes(s3, s3_server, make_bucket, store, tmp_path):
    """The `dask scheduler` process is SIGKILLed while the job runs on it: the job is Paused with
    'waiting for the runner: ...' in its history (never Failed, whatever the retry count), and once
    a scheduler answers at the same address again the job resumes and completes exactly."""
    n = 1200
    job_id, keys, dst, rep = _job(s3, make_bucket, store, n, max_ops=150)
    service = JobService(store)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask"
    logs.mkdir()

    def start_cluster() -> list[subprocess.Popen]:
        procs = [_spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                        logs / f"scheduler-{time.monotonic_ns()}.log")]
        procs += [_spawn([DASK, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                          "--host", "127.0.0.1"], logs / f"worker-{i}-{time.monotonic_ns()}.log") for i in range(2)]
        _wait_for_workers(address, 2, 60)
        return procs

    def kill(procs: list[subprocess.Popen]) -> None:
        for proc in procs:
            _kill(proc)

    cluster = start_cluster()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            [COSBATCH, "--store", store.url, "--endpoint-url", s3_server.endpoint_url, "run", "--job-id", job_id,
             "--runner", "dask", "--runner-option", f"dask_client_address={address}", "--segment-size", "50",
             "--no-progress", "--timeout", "300", "-v"],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)
    try:
        wait_for(lambda: service.describe_job(job_id).progress_summary.tasks_run >= 150, 120, interval_s=0.05,
                 what="the job to run on the Dask cluster", state=lambda: log.read_text()[-2000:])
        kill(cluster)  # the runner goes away: scheduler and workers
        wait_for(lambda: service.describe_job(job_id).status is S.PAUSED, 120,
                 what="the job Paused while its runner is away", state=lambda: log.read_text()[-3000:])
        paused = service.describe_job(job_id)
        assert paused.status_update_reason.startswith("waiting for the runner: no Dask scheduler answers"), paused
        time.sleep(3)  # the job stays Paused: no pipeline retry may fail it meanwhile
        assert service.describe_job(job_id).status is S.PAUSED
        cluster = start_cluster()
        try:
            code = run.wait(300)
        except subprocess.TimeoutExpired:  # say where it stood (seen once in CI: no progress after the restart)
            segments = [(seg.seg_no, seg.state.value, seg.succeeded) for seg in store.segments(job_id)]
            worker_logs = "".join(f"\n== {f.name}\n" + f.read_text()[-1500:] for f in sorted(logs.iterdir()))
            raise AssertionError(f"not finished 300 s after the scheduler came back: {service.describe_job(job_id)}; "
                                 f"segments {segments}; run log:\n{log.read_text()[-3000:]}{worker_logs}") from None
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        kill(cluster)
    assert code == 0, log.read_text()[-4000:]
    job = service.describe_job(job_id)
    assert job.status is S.COMPLETE and job.progress_summary.number_of_tasks_succeeded == n, job.failure_reasons
    _, rows, _ = read_report(s3, rep, job)
    assert_exact_report(rows, keys, n, 0)
    history = service.history(job_id)
    assert_legal_history(history)
    statuses = [h.to_status for h in history]
    assert S.FAILING not in statuses and S.FAILED not in statuses
    assert statuses[-5:] == [S.PAUSING, S.PAUSED, S.ACTIVE, S.COMPLETING, S.COMPLETE], statuses
    assert any((h.reason or "").startswith("waiting for the runner: ") for h in history)


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
