"""A copy job on a real `distributed` cluster, started as a user would: `dask scheduler` and two
`dask worker` commands (separate OS processes), `cosbatch run --runner dask --runner-option
dask_client_address=...` as a separate process, a SQLite store on the same machine and SeaweedFS.
Then the same with one `dask worker` SIGKILLed mid-job."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed import Client

from cosbatch.control import worker_lease_prefix
from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, write_manifest
from tests.reliability.checks import assert_completed_exactly
from tests.support.dask_cluster import DaskProcesses, dask_processes

pytestmark = pytest.mark.serial  # its own `dask scheduler` and workers, killed mid-job: alone on the machine

COSBATCH = str(Path(sys.executable).with_name("cosbatch"))
N_OBJECTS = 1500
SEGMENT = 50  # 30 segments: both workers get several


@pytest.fixture()
def cluster(tmp_path) -> DaskProcesses:
    with dask_processes(tmp_path / "dask") as processes:
        yield processes


@pytest.fixture()
def copy_job(s3, make_bucket, store):
    """A 1,500-object copy job in the store; (job id, keys, source, target, report bucket)."""
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"d/{i:05d}" for i in range(N_OBJECTS)]
    put_objects(s3, src, keys, body=lambda k: f"body of {k} ".encode() * 8)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    job = JobService(store).create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token="dask-cluster")))
    return job.job_id, keys, src, dst, rep


def _cosbatch_run(store, s3_server, cluster: DaskProcesses, log: Path) -> subprocess.Popen:
    cmd = [COSBATCH, "--store", store.url, "--endpoint-url", s3_server.endpoint_url, "run",
           "--runner", "dask", "--runner-option", f"dask_client_address={cluster.address}",
           "--segment-size", str(SEGMENT), "--concurrency", "4", "--no-progress", "--timeout", "300", "-v"]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
                                start_new_session=True)


def _finish(run: subprocess.Popen, log: Path, cluster: DaskProcesses) -> None:
    try:
        code = run.wait(330)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, 9)
    assert code == 0, f"cosbatch run exited {code}:\n{log.read_text()[-4000:]}\n{cluster.logs()}"


def _running_tasks(client) -> dict[str, int]:
    """Tasks occupying a thread on each worker, by worker address; released tasks still running count."""
    return client.run(lambda dask_worker: len(dask_worker.state.all_running_tasks))


def _cluster_idle(cluster: DaskProcesses) -> None:
    """Wait until no task runs on the cluster any more: nothing may still write after the job ended."""
    with Client(cluster.address, timeout=30) as client:
        wait_for(lambda: not any(_running_tasks(client).values()), 60, what="the dask cluster to be idle")


def _check_exact(s3, store, job_id: str, keys: list[str], src: str, dst: str, rep: str,
                 files_as_recorded: bool = True) -> None:
    """Complete, every task once in the report and in the job's counters, every object copied
    with its bytes, each results file has the rows its segment recorded; with `files_as_recorded`,
    it is byte for byte the file its segment recorded (its MD5Checksum)."""
    manifest, _ = assert_completed_exactly(s3, store, job_id, keys, rep)
    recorded = {f["Key"]: f for segment in store.segments(job_id) for f in segment.result_files}
    assert sorted(r["Key"] for r in manifest["Results"]) == sorted(recorded)
    for key, file in recorded.items():
        body = s3.get_object(Bucket=rep, Key=key)["Body"].read()
        assert len(body.splitlines()) == file["Rows"], key
        if files_as_recorded:
            assert hashlib.md5(body).hexdigest() == file["MD5Checksum"], key
    copied = {o["Key"]: o["Size"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=dst)
              for o in page.get("Contents", [])}
    assert sorted(copied) == sorted(keys)
    for key in (keys[0], keys[len(keys) // 2], keys[-1]):
        assert s3.get_object(Bucket=dst, Key=key)["Body"].read() == s3.get_object(Bucket=src, Key=key)["Body"].read()
    assert set(copied.values()) == {len(f"body of {keys[0]} ".encode() * 8)}


def _worker_pids(store, job_id: str) -> set[int]:
    return {int(owner.rpartition(":")[2]) for owner in store.leases(worker_lease_prefix(job_id)).values()}


def test_copy_job_on_dask_scheduler_and_worker_processes(s3, s3_server, store, cluster, copy_job, tmp_path):
    job_id, keys, src, dst, rep = copy_job
    log = tmp_path / "run.log"
    _finish(_cosbatch_run(store, s3_server, cluster, log), log, cluster)
    _cluster_idle(cluster)
    _check_exact(s3, store, job_id, keys, src, dst, rep)
    # The segments ran on both `dask worker` processes, not in the `cosbatch run` process.
    groups = {os.getpgid(pid) for pid in _worker_pids(store, job_id)}
    assert groups == {w.pid for w in cluster.workers}


@pytest.mark.reliability
def test_dask_worker_killed_mid_job(s3, s3_server, store, cluster, copy_job, tmp_path):
    job_id, keys, src, dst, rep = copy_job
    service = JobService(store)
    log = tmp_path / "run.log"
    run = _cosbatch_run(store, s3_server, cluster, log)
    try:
        with Client(cluster.address, timeout=30) as client:
            # Mid-job: both workers have taken segments, the job is far from done, and the
            # victim is running one (a partition is a segment: read, applied and recorded).
            wait_for(lambda: len(_worker_pids(store, job_id)) == 2
                     and service.describe_job(job_id).progress_summary.tasks_run >= 3 * SEGMENT
                     and any(_running_tasks(client).values()),
                     120, interval_s=0.02, what="both dask workers with segments in hand",
                     state=lambda: log.read_text()[-2000:])
            busy = next(addr for addr, n in _running_tasks(client).items() if n)
            victim = cluster.worker_of(client.run(os.getpid)[busy])
            done_at_kill = service.describe_job(job_id).progress_summary.tasks_run
            killed_at = time.monotonic()
            cluster.kill_worker(victim)
    except BaseException:
        os.killpg(run.pid, 9)
        raise
    _finish(run, log, cluster)
    recovered_s = time.monotonic() - killed_at
    _cluster_idle(cluster)
    assert done_at_kill < N_OBJECTS
    # Byte for byte: Dask recomputes the partitions whose outputs the dead worker held, but a
    # recorded segment is never run again, and the controller leaves the recovery to Dask.
    _check_exact(s3, store, job_id, keys, src, dst, rep)
    assert [h.to_status for h in service.history(job_id)] == [
        S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING, S.COMPLETE]
    print(f"dask worker death: killed `dask worker` pid {victim.pid} at task {done_at_kill}/{N_OBJECTS}; "
          f"job complete {recovered_s:.1f}s later; tasks redone {store.abandoned_tasks(job_id)}")
