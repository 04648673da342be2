"""Ctrl-C on `run` / `create-job --wait` / `quickstart`: the process stops at once, the job is left
Paused (never Active), exit 130; the next run resumes it to an exact report.

Each job is held Active on purpose by a rate limit (it cannot finish within many seconds of the
moment it is interrupted), and each process is started from a parent that ignores SIGINT, as a
suite run from a background shell is: `start_interruptible` must give it Ctrl-C back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest

from cosbatch.controller import JobService
from cosbatch.lifecycle import JobStatus as S
from cosbatch.store import open_store
from tests.conftest import put_objects, wait_for
from tests.e2e.test_cli import ACCOUNT, cli, create_args  # noqa: F401  (cli is a fixture)
from tests.integration.helpers import read_report, write_manifest
from tests.support.signals import sigint_ignored, start_interruptible

pytestmark = pytest.mark.serial  # time bounds: stopped within STOP_BOUND_S

#: The contract is 2 s; the bound allows for a machine loaded by other work.
STOP_BOUND_S = 10.0
#: 800 tasks at 40 per second: once a segment of 40 is recorded, the job needs 19 s more at least.
TASKS, RATE, SEGMENT = 800, 40, 40


@pytest.fixture()
def source(s3, make_bucket) -> tuple[str, list[str]]:
    src = make_bucket("src")
    keys = [f"obj/{i:04d}" for i in range(TASKS)]
    put_objects(s3, src, keys, body=lambda k: k.encode())
    write_manifest(s3, src, "all.csv", [(src, k) for k in keys])
    return src, keys


def _limited_job_args(src: str, dst: str, rep: str, *extra: str) -> list[str]:
    args = create_args(src, dst, rep, "--no-confirmation-required", "--max-ops-per-second", str(RATE), *extra)
    args[args.index("--manifest") + 1] = json.dumps({
        "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
        "Location": {"ObjectArn": f"arn:aws:s3:::{src}/all.csv"}})
    return args


def _start(command: list[str], **kwargs) -> subprocess.Popen:
    """Started from this process while it ignores SIGINT (the background shell's condition)."""
    with sigint_ignored():
        return start_interruptible(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _interrupt(proc: subprocess.Popen, started: Callable[[], bool], sig: int = signal.SIGINT) -> tuple[str, float]:
    """Send `sig` once `started()`; (stderr, seconds from the signal until it exited)."""
    try:
        wait_for(started, 180, what="the job under way", state=proc.poll)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130), err
    assert "Traceback" not in err, err
    return err, elapsed


def _interrupt_mid_job(command: list[str], service: JobService, job_id: Callable[[], str | None],
                       sig: int = signal.SIGINT, resume_with: str = "cosbatch run") -> tuple[str, float]:
    """Start `command`, send it `sig` once its job has recorded a segment; (job id, seconds until it exited)."""
    proc = _start(command, env=os.environ.copy())
    seen: list[str] = []

    def running() -> bool:
        jid = job_id()
        if jid and service.describe_job(jid).progress_summary.tasks_run >= SEGMENT:
            seen.append(jid)
        return bool(seen)

    err, elapsed = _interrupt(proc, running, sig)
    assert err.strip().splitlines()[-1] == ("cosbatch: interrupted; running jobs are Paused and continue from "
                                            f"where they stopped on the next `{resume_with}`"), err
    return seen[0], elapsed


def _assert_paused(service: JobService, job_id: str, elapsed: float, by: str = "Ctrl-C") -> None:
    assert elapsed < STOP_BOUND_S, f"took {elapsed:.1f} s to stop"
    paused = service.describe_job(job_id)
    assert paused.status is S.PAUSED, paused.status
    assert paused.progress_summary.tasks_run < TASKS
    assert f"interrupted ({by})" in (paused.status_update_reason or "")
    history = [h.to_status for h in service.history(job_id)]
    assert history[-3:] == [S.ACTIVE, S.PAUSING, S.PAUSED]
    service.update_rate_limit(job_id, None)  # the rest goes at full speed


def _assert_exact_report(s3, rep: str, service: JobService, job_id: str, keys: list[str]) -> None:
    done = service.describe_job(job_id)
    assert done.status is S.COMPLETE
    p = done.progress_summary
    assert p.total_number_of_tasks == p.number_of_tasks_succeeded == len(keys) and p.number_of_tasks_failed == 0
    _, rows, _ = read_report(s3, rep, done, prefix="r")
    counts = Counter(r["Key"] for r in rows)
    assert set(counts) == set(keys) and max(counts.values()) == 1  # each task exactly once


def test_ctrl_c_on_run_pauses_the_job_and_the_next_run_resumes_it(cli, tmp_path, s3, s3_server,  # noqa: F811
                                                                  make_bucket, source):
    src, keys = source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    job_id = json.loads(cli(*_limited_job_args(src, dst, rep, "--output", "json")).stdout)["JobId"]
    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    service = JobService(open_store(store_url))
    run = [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", s3_server.endpoint_url,
           "run", "--job-id", job_id, "--no-progress", "--concurrency", "4", "--segment-size", str(SEGMENT)]

    _, elapsed = _interrupt_mid_job(run, service, lambda: job_id)
    _assert_paused(service, job_id, elapsed)

    resumed = cli("run", "--job-id", job_id, "--no-progress")
    assert resumed.stdout.strip().splitlines()[-1].startswith(f"Job {job_id} Complete: {len(keys)}/{len(keys)}")
    _assert_exact_report(s3, rep, service, job_id, keys)


def test_sigterm_pauses_like_ctrl_c_and_the_hint_names_the_runner(cli, tmp_path, s3, s3_server,  # noqa: F811
                                                                   make_bucket, source):
    """`timeout`, `kill` or a service manager's stop: the job is Paused (it was left Active), exit
    143; the hint repeats the runner words, since a plain `cosbatch run` would resume on DirectRunner."""
    src, keys = source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    job_id = json.loads(cli(*_limited_job_args(src, dst, rep, "--output", "json")).stdout)["JobId"]
    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    service = JobService(open_store(store_url))
    runner = ["--runner", "direct", "--runner-option", "direct_running_mode=in_memory"]
    run = [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", s3_server.endpoint_url,
           "run", "--job-id", job_id, "--no-progress", "--concurrency", "4", "--segment-size", str(SEGMENT), *runner]

    _, elapsed = _interrupt_mid_job(run, service, lambda: job_id, signal.SIGTERM,
                                    "cosbatch run " + " ".join(runner))
    _assert_paused(service, job_id, elapsed, by="SIGTERM")

    resumed = cli("run", "--job-id", job_id, "--no-progress", *runner)
    assert resumed.stdout.strip().splitlines()[-1].startswith(f"Job {job_id} Complete: {len(keys)}/{len(keys)}")
    _assert_exact_report(s3, rep, service, job_id, keys)


def test_ctrl_c_on_create_job_wait_leaves_a_resumable_job(tmp_path, s3, s3_server, make_bucket, source):
    src, keys = source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    store_url = f"sqlite:///{tmp_path / 'wait.db'}"
    base = [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", s3_server.endpoint_url]
    create = base + _limited_job_args(src, dst, rep, "--wait", "--no-progress", "--concurrency", "4",
                                      "--segment-size", str(SEGMENT))
    open_store(store_url).close()  # the store exists before the waiter and this test look into it
    service = JobService(open_store(store_url))

    def created() -> str | None:
        jobs = service.list_jobs(ACCOUNT).jobs
        return jobs[0].job_id if jobs else None

    job_id, elapsed = _interrupt_mid_job(create, service, created)
    _assert_paused(service, job_id, elapsed)

    resumed = subprocess.run(base + ["run", "--no-progress"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    _assert_exact_report(s3, rep, service, job_id, keys)


def test_ctrl_c_on_quickstart_stops_its_s3_server_and_removes_its_directory(tmp_path):
    import re
    import socket
    from pathlib import Path

    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), TMPDIR=str(tmp_path / "tmp"))
    # 400 copies at 20 per second: once its first segment of 25 is recorded, 18 s of work are left.
    proc = _start([sys.executable, "-m", "cosbatch.cli.main", "quickstart", "--objects", "400",
                   "--max-ops-per-second", "20"], env=env, cwd=tmp_path)
    seen: dict[str, str] = {}
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if m := re.match(r"Working directory: (\S+) \(S3 data in s3/; store (\S+)\)", line):
                seen["workdir"], seen["store"] = m.groups()
            elif m := re.match(r"S3 endpoint: http://127\.0\.0\.1:(\d+)", line):
                seen["port"] = m.group(1)
            elif m := re.match(r"Created job (\S+);", line):
                seen["job"] = m.group(1)
                break
        assert "job" in seen, f"quickstart exited {proc.poll()} before creating its job"
        service = JobService(open_store(seen["store"]))
        _interrupt(proc, lambda: service.describe_job(seen["job"]).progress_summary.tasks_run >= 25)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not Path(seen["workdir"]).exists()  # no --keep: its directory is gone
    with socket.socket() as probe:  # and its S3 server with it
        assert probe.connect_ex(("127.0.0.1", int(seen["port"]))) != 0
