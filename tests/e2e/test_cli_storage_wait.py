"""`create-job --wait` against storage that does not answer: the progress line says the job waits
for its storage and when it gives up, in place of an empty bar; the structured log line only with -v."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.e2e.test_cli import create_args
from tests.support.api_server import free_port

WAITING = re.compile(r"^job [0-9a-f]{8} Preparing: waiting for storage \((?P<host>[^)]+) unreachable\), "
                     r"gives up in (?P<left>\d+)s; Ctrl-C leaves the job resumable$")


def _create_and_wait(tmp_path, *extra: str) -> tuple[subprocess.CompletedProcess, str]:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there: a mistyped endpoint
    cmd = [sys.executable, "-m", "cosbatch.cli.main", "--store", f"sqlite:///{tmp_path / 'w.db'}",
           "--endpoint-url", f"http://{host}", *create_args("src", "dst", "rep", "--no-confirmation-required",
                                                            "--wait", "--storage-patience", "5", "--output", "json"),
           *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=os.environ.copy()), host


def test_off_a_terminal_the_wait_is_one_plain_line_and_no_log(tmp_path):
    proc, host = _create_and_wait(tmp_path)
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["Job"]["FailureReasons"][0]["FailureCode"] == "StorageUnreachable"
    lines = proc.stderr.splitlines()
    waiting = [m for m in map(WAITING.match, lines) if m]
    assert len(waiting) == 1, proc.stderr  # said once, not again every few seconds
    assert waiting[0]["host"] == host and 3 <= int(waiting[0]["left"]) <= 5, proc.stderr
    assert "job_waiting_for_storage" not in proc.stderr  # the progress line says it
    assert not [line for line in lines if "Preparing" in line and "0/?" in line]  # no empty bar while it waits
    job_lines = [line for line in lines if line.startswith("job ")]
    assert job_lines[-1].endswith(" Failed"), proc.stderr


def test_on_a_terminal_the_countdown_runs_and_v_logs_the_wait(tmp_path):
    proc, host = _create_and_wait(tmp_path, "--progress", "-v")
    frames = [frame.removeprefix("\033[K") for frame in re.split(r"[\r\n]", proc.stderr)]
    countdown = re.compile(WAITING.pattern.partition("s; ")[0])  # a frame is cut to the terminal's width
    left = [int(m["left"]) for m in map(countdown.match, frames) if m]
    assert len(left) >= 3 and left == sorted(left, reverse=True) and left[-1] <= 1, proc.stderr
    assert "job_waiting_for_storage job_id=" in proc.stderr and host in proc.stderr  # -v: the log too


def test_ctrl_c_while_waiting_leaves_the_job_resumable_with_its_deadline(tmp_path):
    """What the line promises: after Ctrl-C the job is still Preparing, its wait (and deadline) kept,
    and the next `cosbatch run` continues it to the end."""
    PATIENCE_S = 12
    import signal
    import time

    from cosbatch.lifecycle import JobStatus
    from cosbatch.store import open_store
    from tests.support.signals import start_interruptible

    store_url = f"sqlite:///{tmp_path / 'w.db'}"
    host = f"127.0.0.1:{free_port()}"
    common = [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", f"http://{host}"]
    proc = start_interruptible([*common, *create_args("src", "dst", "rep", "--no-confirmation-required", "--wait",
                                                      "--storage-patience", str(PATIENCE_S))],
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    for line in proc.stderr:  # off a terminal: the waiting line comes at once
        if WAITING.match(line.rstrip("\n")):
            break
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    store = open_store(store_url)
    try:
        (job,) = store.list_jobs(None).jobs
        assert job.status is JobStatus.PREPARING and job.storage_wait is not None
        until = job.storage_wait.until.timestamp()
        time.sleep(PATIENCE_S / 2)  # kept, the deadline is half a patience after `run` starts; afresh, a whole one
        started = time.time()
        again = subprocess.run([*common, "run"], capture_output=True, text=True, timeout=120, env=os.environ.copy())
        job = store.get_job(job.job_id)
    finally:
        store.close()
    assert job.status is JobStatus.FAILED, again.stderr  # the storage never answered: given up at the deadline
    # Afresh, it would give up PATIENCE_S after `run` started, at the earliest.
    assert until <= job.termination_date.timestamp() < started + PATIENCE_S, (until, started)
