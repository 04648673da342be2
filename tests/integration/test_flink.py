"""cosbatch on a real Apache Flink session cluster (launch/flink_cluster.py: a JobManager and two
TaskManagers, separate JVMs), submitted as a Flink user submits: `cosbatch run --runner flink
--runner-option flink_master=HOST:PORT` with nothing else, Beam's Flink job server obtained with
Maven, SDK harnesses in the PROCESS environment the TaskManagers start. Then a TaskManager
SIGKILLed mid-job, and pause (priority preemption) and cancel reaching a running Flink job."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cosbatch.control import worker_lease_prefix
from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from launch import flink_cluster
from launch import flink_cluster as flink_cluster_module
from launch.flink import cluster_holds_runner as flink_cluster_holds_runner
from launch.flink import cluster_job_server, master_config
from launch.flink_job_server import NOTHING_TO_STAGE_CLASS
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import copy_request, read_report, write_manifest
from tests.reliability.checks import assert_completed_exactly

COSBATCH = str(Path(sys.executable).with_name("cosbatch"))


def flink_rest(cluster: flink_cluster.Cluster, path: str) -> dict:
    with urllib.request.urlopen(f"http://{cluster.address}{path}", timeout=5) as reply:
        return json.load(reply)


def flink_jobs(cluster: flink_cluster.Cluster) -> list[dict]:
    return flink_rest(cluster, "/jobs/overview")["jobs"]


def _copy_job(s3, make_bucket, store, n: int, token: str, max_ops: float | None = None, **over):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"f/{i:05d}" for i in range(n)]
    put_objects(s3, src, keys, body=lambda k: f"body of {k}".encode())
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    job = JobService(store).create_job(parse_create_job(copy_request(src, "m.csv", dst, rep, token=token, **over)),
                                       max_ops)
    return job.job_id, keys, src, dst, rep


def _cosbatch_run(store, s3_server, cluster, log: Path, *extra: str, job_id: str | None = None) -> subprocess.Popen:
    cmd = [COSBATCH, "--store", store.url, "--endpoint-url", s3_server.endpoint_url, "run",
           "--runner", "flink", "--runner-option", f"flink_master={cluster.address}",
           "--no-progress", "--timeout", "300", "-v", *extra]
    if job_id:
        cmd += ["--job-id", job_id]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
                                start_new_session=True)


def _finish(run: subprocess.Popen, log: Path, expected: int = 0) -> None:
    try:
        code = run.wait(330)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert code == expected, f"cosbatch run exited {code}:\n{log.read_text()[-4000:]}"


def _check_complete(s3, store, job_id: str, keys: list[str], dst: str, rep: str) -> None:
    assert_completed_exactly(s3, store, job_id, keys, rep)
    copied = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=dst)
              for o in page.get("Contents", [])}
    assert copied == set(keys)
    # No segment was recorded twice: the segments' recorded rows add up to the tasks exactly.
    assert sum(f["Rows"] for seg in store.segments(job_id) for f in seg.result_files) == len(keys)


def test_a_job_runs_on_flink_given_only_the_flink_master(s3, s3_server, make_bucket, store, flink_cluster, tmp_path):
    """What a user types after `python -m launch.flink_cluster start`: only flink_master."""
    job_id, keys, _, dst, rep = _copy_job(s3, make_bucket, store, 600, "flink-defaults")
    log = tmp_path / "run.log"
    _finish(_cosbatch_run(store, s3_server, flink_cluster, log, job_id=job_id), log)
    _check_complete(s3, store, job_id, keys, dst, rep)
    ran = [j for j in flink_jobs(flink_cluster) if j["name"].startswith(f"cosbatch-{job_id}".lower())]
    assert ran and all(j["state"] == "FINISHED" for j in ran), flink_jobs(flink_cluster)
    # The cluster holds Beam's runner on its class path, so the job shipped no jar (Beam's job
    # server otherwise uploads its ~160 jars, 151 MB, with every job): it ran on the cluster's classes.
    config = master_config(flink_cluster.address)
    assert flink_cluster_holds_runner(config)
    # ... and it was submitted through the cluster's own job server: no job server JVM was started
    # by `cosbatch run` (whose -v log says which endpoint it used).
    assert cluster_job_server(config) == config[flink_cluster_module.JOB_SERVER_KEY]
    assert f"job_endpoint={config[flink_cluster_module.JOB_SERVER_KEY]} ships_jars=False" in log.read_text()
    for flink_job in ran:
        user_config = flink_rest(flink_cluster, f"/jobs/{flink_job['jid']}/config")["execution-config"]["user-config"]
        assert user_config.get("pipelineResourcesDetectorFactoryClass") == NOTHING_TO_STAGE_CLASS, user_config


def test_flinks_rest_address_given_as_job_endpoint_is_named(s3, s3_server, make_bucket, store, flink_cluster,
                                                            tmp_path):
    """An easy mix-up: the REST port answers, but is no Beam job server (the job went Active and
    retried a timeout every minute). Refused before the job is touched, naming the right option."""
    job_id, *_ = _copy_job(s3, make_bucket, store, 5, "flink-rest-as-endpoint")
    done = subprocess.run([COSBATCH, "--store", store.url, "--endpoint-url", s3_server.endpoint_url, "run",
                           "--runner", "flink", "--runner-option", f"job_endpoint={flink_cluster.address}",
                           "--no-progress"], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 1, done
    assert done.stderr.strip() == (f"cosbatch: InvalidConfiguration: job_endpoint={flink_cluster.address} is Flink's "
                                   f"REST address, not a Beam job server: give it as --runner-option "
                                   f"flink_master={flink_cluster.address}"), done.stderr
    assert JobService(store).describe_job(job_id).status is S.NEW


def _tasks_run(service: JobService, job_id: str) -> int:
    return service.describe_job(job_id).progress_summary.tasks_run


@pytest.mark.reliability
def test_taskmanager_sigkilled_mid_job(s3, s3_server, make_bucket, store, flink_cluster, tmp_path):
    """Flink runs the lost TaskManager's tasks again (its restart strategy); the job ends Complete
    with one report row per task and no segment recorded twice."""
    n = 2000
    job_id, keys, _, dst, rep = _copy_job(s3, make_bucket, store, n, "flink-tm-kill", max_ops=200)
    service = JobService(store)
    log = tmp_path / "run.log"
    # 20 segments at 200 tasks/s (a rate limit holds the job Active for ~10 s, deterministically).
    run = _cosbatch_run(store, s3_server, flink_cluster, log, "--segment-size", "100", "--runner-option", "parallelism=2",
                        job_id=job_id)
    victim = None
    try:
        wait_for(lambda: _tasks_run(service, job_id) >= 300 and _taskmanagers_running(store, job_id, flink_cluster),
                 180, interval_s=0.05, what="the Flink job to have run 300 tasks on a TaskManager's SDK worker",
                 state=lambda: log.read_text()[-2000:])
        victim = sorted(_taskmanagers_running(store, job_id, flink_cluster))[-1]
        done_at_kill = _tasks_run(service, job_id)
        killed_at = time.monotonic()
        os.kill(flink_cluster.pids[victim], signal.SIGKILL)
        _finish(run, log)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        if victim is not None:
            flink_cluster_restore(flink_cluster, victim)
    assert done_at_kill < n
    # The kill hit the running job: Flink recorded the lost TaskManager and restarted its tasks.
    ran = [j for j in flink_jobs(flink_cluster) if j["name"].startswith(f"cosbatch-{job_id}".lower())]
    history = [e for j in ran for e in flink_rest(flink_cluster, f"/jobs/{j['jid']}/exceptions")
               .get("exceptionHistory", {}).get("entries", [])]
    assert history, ran
    _check_complete(s3, store, job_id, keys, dst, rep)
    assert [h.to_status for h in service.history(job_id)] == [
        S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING, S.COMPLETE]
    print(f"flink taskmanager death: killed {victim} at task {done_at_kill}/{n}; complete "
          f"{time.monotonic() - killed_at:.1f}s later; Flink's exceptions: "
          f"{[e.get('exceptionName') for e in history]}")


@pytest.mark.reliability
def test_a_lost_controllers_flink_job_is_cancelled_before_the_job_runs_again(s3, s3_server, make_bucket, store,
                                                                            flink_cluster, tmp_path):
    """The controller SIGKILLed mid-job leaves its Flink job running (Flink does not know its
    submitter went away). The next `cosbatch run` cancels it before it submits the job again, so
    the two never run at once on the pending segments; the job ends exactly once."""
    n = 1200
    job_id, keys, _, dst, rep = _copy_job(s3, make_bucket, store, n, "flink-lost-controller", max_ops=100)
    service = JobService(store)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _cosbatch_run(store, s3_server, flink_cluster, first_log, "--segment-size", "100", job_id=job_id)
    try:
        wait_for(lambda: _tasks_run(service, job_id) >= 200, 180, interval_s=0.1,
                 what="the Flink job to have run 200 tasks", state=lambda: first_log.read_text()[-2000:])
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    left = [j for j in flink_jobs(flink_cluster) if j["name"].startswith(f"cosbatch-{job_id}".lower())]
    assert [j["state"] for j in left] == ["RUNNING"], left  # still running, its submitter gone
    second = _cosbatch_run(store, s3_server, flink_cluster, second_log, "--segment-size", "100", job_id=job_id)
    _finish(second, second_log)
    _check_complete(s3, store, job_id, keys, dst, rep)
    ran = {j["jid"]: j for j in flink_jobs(flink_cluster) if j["name"].startswith(f"cosbatch-{job_id}".lower())}
    leftover, = left
    assert ran[leftover["jid"]]["state"] == "CANCELED", ran
    resubmitted = [j for jid, j in ran.items() if jid != leftover["jid"]]
    assert [j["state"] for j in resubmitted] == ["FINISHED"], ran
    # Never two at once: the leftover had ended before the new submission started.
    assert ran[leftover["jid"]]["end-time"] <= resubmitted[0]["start-time"], ran
    assert f"flink_leftover_cancelled job_id={job_id} flink_jobs={leftover['jid']}" in second_log.read_text()


@pytest.mark.reliability
def test_a_flink_with_no_taskmanager_left_is_named_while_the_job_waits(s3, s3_server, make_bucket, store,
                                                                       flink_cluster, tmp_path):
    """Every TaskManager killed: Flink still answers and keeps the job waiting for slots (its
    restart strategy), nothing fails. The controller says so (it was silent, the job Active with
    its progress still), and again once TaskManagers are back; the job then ends exactly once."""
    n = 1500
    job_id, keys, _, dst, rep = _copy_job(s3, make_bucket, store, n, "flink-no-taskmanager", max_ops=100)
    service = JobService(store)
    log = tmp_path / "run.log"
    run = _cosbatch_run(store, s3_server, flink_cluster, log, "--segment-size", "100", job_id=job_id)
    names = sorted(name for name in flink_cluster.pids if name.startswith("taskmanager"))
    try:
        wait_for(lambda: _tasks_run(service, job_id) >= 200, 180, interval_s=0.1,
                 what="the Flink job to have run 200 tasks", state=lambda: log.read_text()[-2000:])
        for name in names:
            flink_cluster_module.kill(flink_cluster.pids[name], signal.SIGKILL)
        wait_for(lambda: "runner_has_no_workers" in log.read_text(), 60, interval_s=0.5,
                 what="the controller to say Flink has no TaskManager", state=lambda: log.read_text()[-2000:])
        assert service.describe_job(job_id).status is S.ACTIVE  # waiting, not failed
        for name in names:
            flink_cluster_module.start_taskmanager(flink_cluster, name)
        _finish(run, log)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        wait_for(lambda: (flink_cluster_module.overview(flink_cluster.rest_port) or {}).get("taskmanagers") == 2
                 and (flink_cluster_module.overview(flink_cluster.rest_port) or {}).get("slots-available") == 4, 120,
                 what="the Flink cluster back at 2 TaskManagers with every slot free")
    text = log.read_text()
    assert (f"runner_has_no_workers runner=flink jobs={job_id} reason=\"Flink at flink_master={flink_cluster.address} "
            "has no TaskManager: the job's tasks wait until one joins (start one)\"") in text, text[-3000:]
    assert f"runner_workers_back runner=flink jobs={job_id}" in text
    _check_complete(s3, store, job_id, keys, dst, rep)


def _taskmanagers_running(store, job_id: str, cluster: flink_cluster.Cluster) -> set[str]:
    """The TaskManagers whose SDK worker (a process the TaskManager started, in its process group)
    holds a worker lease of the job."""
    groups = set()
    for owner in store.leases(worker_lease_prefix(job_id)).values():
        with contextlib.suppress(ProcessLookupError, ValueError):
            groups.add(os.getpgid(int(owner.rpartition(":")[2])))
    return {name for name, pid in cluster.pids.items() if name.startswith("taskmanager") and pid in groups}


def flink_cluster_restore(cluster: flink_cluster.Cluster, name: str) -> None:
    """Put the killed TaskManager back, so the session's other Flink tests have two."""
    flink_cluster.kill(cluster.pids[name], signal.SIGKILL)
    flink_cluster.start_taskmanager(cluster, name)
    wait_for(lambda: (flink_cluster.overview(cluster.rest_port) or {}).get("taskmanagers") == 2
             and (flink_cluster.overview(cluster.rest_port) or {}).get("slots-available") == 4, 120,
             what="the Flink cluster back at 2 TaskManagers with every slot free")


@pytest.mark.parametrize("requested", ["cancel", "preempt"])
def test_cancel_and_preemption_reach_a_running_flink_job(s3, s3_server, make_bucket, store, flink_cluster, tmp_path,
                                                         requested):
    """Cancel, and a higher-priority job's preemption (Active -> Pausing -> Paused), stop the
    running Flink job within seconds; the preempted job then resumes and completes exactly."""
    n = 1500  # at 100 tasks/s: ~15 s of work, stopped after ~2 s
    job_id, keys, src, dst, rep = _copy_job(s3, make_bucket, store, n, f"flink-{requested}", max_ops=100,
                                            Priority=10)
    service = JobService(store)
    log = tmp_path / "run.log"
    run = _cosbatch_run(store, s3_server, flink_cluster, log, "--segment-size", "100")
    try:
        wait_for(lambda: _tasks_run(service, job_id) >= 100, 180, interval_s=0.05,
                 what="the Flink job to run", state=lambda: log.read_text()[-2000:])
        asked_at = time.monotonic()
        if requested == "cancel":
            service.update_job_status(job_id, "Cancelled", "test cancels")
            wait_for(lambda: service.describe_job(job_id).status is S.CANCELLED, 60, what="Cancelled")
        else:
            urgent, _, _, _, _ = _copy_job(s3, make_bucket, store, 20, "flink-urgent", Priority=90)
            wait_for(lambda: S.PAUSED in [h.to_status for h in service.history(job_id)], 60, what="Paused")
            assert service.describe_job(urgent).status in (S.ACTIVE, S.COMPLETING, S.COMPLETE)
        stopped_s = time.monotonic() - asked_at
        tasks_then = _tasks_run(service, job_id)
        assert stopped_s < 20, stopped_s
        assert tasks_then < n
        _finish(run, log, expected=4 if requested == "cancel" else 0)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    print(f"flink {requested}: job stopped {stopped_s:.1f}s after the request, at task {tasks_then}/{n}")
    if requested == "cancel":
        job = service.describe_job(job_id)
        _, rows, _ = read_report(s3, rep, job)
        assert len(rows) == len({r["Key"] for r in rows}) == job.progress_summary.tasks_run
    else:
        _check_complete(s3, store, job_id, keys, dst, rep)
        statuses = [h.to_status for h in service.history(job_id)]
        assert statuses[3:] == [S.ACTIVE, S.PAUSING, S.PAUSED, S.ACTIVE, S.COMPLETING, S.COMPLETE], statuses
    wait_for(lambda: not [j for j in flink_jobs(flink_cluster) if j["state"] in ("RUNNING", "RESTARTING")], 60,
             what="no Flink job left running", state=lambda: flink_jobs(flink_cluster))
