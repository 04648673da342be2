"""Trial runs (cosbatch:trial-tasks / --trial-tasks) on a real SeaweedFS: which tasks the trial
runs, the Suspended reason, the trial report, confirming (only the rest runs, each task once in
the report), cancelling after the trial, a controller killed mid-trial, and the refusals.

The operation is Invoke with a function that logs every call, so a test sees exactly which tasks
ran and how often (a tagging or copy job could run a task twice unnoticed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import replace

import pytest

from cosbatch.controller import JobService
from cosbatch.controller.trial import trial_ranges
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus as S
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import op_request, read_report, run_until_idle, write_manifest
from tests.integration.lifecycle_checks import job_state

TRIAL = "cosbatch:trial-tasks"


def invoke_job(s3, make_bucket, log, n: int, bad: tuple[int, ...] = (), **over) -> tuple[str, list[str], dict]:
    """(report bucket, keys in manifest order, CreateJob body) of an Invoke job over n objects; the
    objects at the positions `bad` fail (UserFunctionError)."""
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"k/{i:04d}{'-bad' if i in bad else ''}" for i in range(n)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    op = {"Invoke": {"Function": "tests.integration.invoke_functions:record_call", "UserArguments": {"log": str(log)}}}
    return rep, keys, op_request(src, "m.csv", op, rep, **over)


def calls(log) -> Counter:
    return Counter(log.read_text().split()) if log.exists() else Counter()


def run(store, settings) -> None:
    run_until_idle(store, settings)


def report_rows(s3, rep, job, manifest_key) -> list[dict]:
    from cosbatch.reports import parse_csv_row

    manifest = json.loads(s3.get_object(Bucket=rep, Key=f"reports/job-{job.job_id}/{manifest_key}")["Body"].read())
    rows = []
    for result in manifest["Results"]:
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode()
        rows.extend(parse_csv_row(line) for line in body.splitlines() if line)
    return rows


def test_trial_runs_n_tasks_spread_over_segments_then_confirm_runs_only_the_rest(s3, make_bucket, store, settings,
                                                                                tmp_path):
    log = tmp_path / "calls.log"
    rep, keys, body = invoke_job(s3, make_bucket, log, 50, bad=(14, 36),
                                 Tags=[{"Key": TRIAL, "Value": "7"}], token="trial-7")
    cfg = replace(settings, segment_size=10)  # 5 segments of 10 tasks
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(body))
    run(store, cfg)

    trial = service.describe_job(job.job_id)
    assert trial.status is S.SUSPENDED, job_state(service, job.job_id)
    # 7 tasks spread over the manifest: one every 50/7 tasks (segments cut around them)
    expected = {keys[i] for i in (0, 7, 14, 21, 28, 35, 42)}
    assert set(calls(log)) == expected and max(calls(log).values()) == 1
    assert trial.status_update_reason == ("Trial: 7 tasks run, 6 succeeded, 1 failed (by error code: "
                                          "UserFunctionError: 1); confirm to run the remaining 43")
    p = trial.progress_summary
    assert (p.total_number_of_tasks, p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (50, 6, 1)
    trial_rows = report_rows(s3, rep, trial, "trial/manifest.json")
    assert sorted(r["Key"] for r in trial_rows) == sorted(expected)
    trial_job = json.loads(s3.get_object(Bucket=rep, Key=f"reports/job-{job.job_id}/trial/job.json")["Body"].read())
    assert trial_job["Job"]["Status"] == "Suspended"
    assert trial_job["Job"]["StatusUpdateReason"] == trial.status_update_reason

    service.update_job_status(job.job_id, "Ready")
    run(store, cfg)
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, job_state(service, job.job_id)
    assert calls(log) == Counter(keys)  # every task ran exactly once: the trial's were not run again
    _, rows, _ = read_report(s3, rep, done)
    assert Counter(r["Key"] for r in rows) == Counter(keys)  # one row per task
    failed = sorted(r["Key"] for r in rows if r["TaskStatus"] == "failed")
    assert failed == [keys[14], keys[36]]
    assert (done.progress_summary.number_of_tasks_succeeded, done.progress_summary.number_of_tasks_failed) == (48, 2)
    history = [h.to_status for h in service.history(job.job_id)]
    assert history == [S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.SUSPENDED, S.READY, S.ACTIVE, S.COMPLETING,
                       S.COMPLETE]

    # Re-running the failed tasks tries nothing first: the trial's tag is not carried over.
    rerun = service.create_job_from_report(job.job_id, s3)
    assert TRIAL not in {t.key for t in rerun.tags}
    run(store, cfg)
    assert service.describe_job(rerun.job_id).status is S.COMPLETE
    assert calls(log) - Counter(keys) == Counter([keys[14], keys[36]])


def test_trial_asks_no_confirmation_before_it_even_when_confirmation_is_required(s3, make_bucket, store, settings,
                                                                                tmp_path):
    log = tmp_path / "calls.log"
    rep, keys, body = invoke_job(s3, make_bucket, log, 12, ConfirmationRequired=True,
                                 Tags=[{"Key": TRIAL, "Value": "3"}], token="trial-confirm")
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(body))
    run(store, replace(settings, segment_size=4))
    history = [h.to_status for h in service.history(job.job_id)]
    assert history == [S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.SUSPENDED]
    assert set(calls(log)) == {keys[0], keys[4], keys[8]}
    assert service.describe_job(job.job_id).suspended_cause.startswith("Trial run finished")


def test_cancel_after_trial_reports_the_trial_tasks(s3, make_bucket, store, settings, tmp_path):
    log = tmp_path / "calls.log"
    rep, keys, body = invoke_job(s3, make_bucket, log, 30, Tags=[{"Key": TRIAL, "Value": "4"}], token="trial-cancel")
    service = JobService(store, settings.storages)
    cfg = replace(settings, segment_size=10)
    job = service.create_job(parse_create_job(body))
    run(store, cfg)
    assert service.describe_job(job.job_id).status is S.SUSPENDED
    service.update_job_status(job.job_id, "Cancelled")
    run(store, cfg)
    done = service.describe_job(job.job_id)
    assert done.status is S.CANCELLED, job_state(service, job.job_id)
    _, rows, job_doc = read_report(s3, rep, done)
    assert sorted(r["Key"] for r in rows) == sorted(calls(log)) == sorted([keys[0], keys[7], keys[15], keys[22]])
    assert job_doc["Job"]["Status"] == "Cancelled"
    assert done.progress_summary.tasks_run == 4


def test_trial_not_below_the_task_count_fails_with_invalid_request(s3, make_bucket, store, settings, tmp_path):
    _, _, body = invoke_job(s3, make_bucket, tmp_path / "calls.log", 5, Tags=[{"Key": TRIAL, "Value": "5"}],
                            token="trial-too-big")
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(body))
    run(store, settings)
    failed = service.describe_job(job.job_id)
    assert failed.status is S.FAILED
    assert [f.failure_code for f in failed.failure_reasons] == ["InvalidRequest"]
    assert "cosbatch:trial-tasks=5 is not below the job's 5 tasks" in failed.failure_reasons[0].failure_reason
    assert not (tmp_path / "calls.log").exists()  # nothing ran


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "seven", "", "１"])
def test_trial_tag_values_refused(s3, make_bucket, store, settings, tmp_path, value):
    _, _, body = invoke_job(s3, make_bucket, tmp_path / "calls.log", 2, Tags=[{"Key": TRIAL, "Value": value}])
    with pytest.raises(InvalidRequest, match="cosbatch:trial-tasks: must be a whole number of tasks"):
        JobService(store, settings.storages).create_job(parse_create_job(body))


def test_trial_tag_cannot_change_once_prepared(s3, make_bucket, store, settings, tmp_path):
    _, _, body = invoke_job(s3, make_bucket, tmp_path / "calls.log", 6, Tags=[{"Key": TRIAL, "Value": "2"}],
                            token="trial-retag")
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(body))
    service.put_job_tagging(job.job_id, [{"Key": TRIAL, "Value": "3"}])  # New: not read yet, may change
    run(store, settings)
    assert service.describe_job(job.job_id).status is S.SUSPENDED
    assert len(calls(tmp_path / "calls.log")) == 3
    with pytest.raises(InvalidRequest, match="cosbatch:trial-tasks cannot change once the job is prepared"):
        service.put_job_tagging(job.job_id, [{"Key": TRIAL, "Value": "4"}])
    with pytest.raises(InvalidRequest, match="cannot change once the job is prepared"):
        service.delete_job_tagging(job.job_id)
    service.put_job_tagging(job.job_id, [{"Key": TRIAL, "Value": "3"}, {"Key": "team", "Value": "a"}])  # unchanged


def _controller(store_url: str, endpoint: str, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", endpoint,
         "run", "--no-progress", "--segment-size", "10"],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )


def test_controller_killed_mid_trial_then_restarted(s3, s3_server, make_bucket, store, settings, tmp_path):
    log = tmp_path / "calls.log"
    # 200 tasks, 20 segments of 10; a trial of 60 at 20 tasks/s: Active for ~3 s
    rep, keys, body = invoke_job(s3, make_bucket, log, 200, token="trial-kill",
                                 Tags=[{"Key": TRIAL, "Value": "60"}, {"Key": "cosbatch:max-ops-per-second",
                                                                      "Value": "20"}])
    service = JobService(store, settings.storages)
    job = service.create_job(parse_create_job(body))
    trial_keys = {keys[i] for a, b in trial_ranges(200, 60, 20) for i in range(a, b)}  # 10 places of 6
    with open(tmp_path / "controller.log", "wb") as out:
        first = _controller(store.url, s3_server.endpoint_url, out)
        wait_for(lambda: service.describe_job(job.job_id).progress_summary.tasks_run >= 12, 120,
                 what="trial progress", state=lambda: job_state(service, job.job_id))
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = service.describe_job(job.job_id)
        assert at_kill.status is S.ACTIVE and at_kill.progress_summary.tasks_run < 60
        second = _controller(store.url, s3_server.endpoint_url, out)
        try:
            assert second.wait(120) == 0  # `run` over every job: a Suspended job is no failure
        finally:
            if second.poll() is None:
                second.kill()
    trial = service.describe_job(job.job_id)
    assert trial.status is S.SUSPENDED, (tmp_path / "controller.log").read_text()[-3000:]
    assert trial.status_update_reason == ("Trial: 60 tasks run, 60 succeeded, 0 failed (by error code: none); "
                                          "confirm to run the remaining 140")
    assert f"Job {job.job_id} Suspended (Trial: 60 tasks run" in (tmp_path / "controller.log").read_text()
    assert set(calls(log)) == trial_keys  # a segment cut short by the kill ran again, nothing else
    before_confirm = calls(log)
    assert sorted(r["Key"] for r in report_rows(s3, rep, trial, "trial/manifest.json")) == sorted(trial_keys)

    service.update_job_status(job.job_id, "Ready")
    service.put_job_tagging(job.job_id, [{"Key": TRIAL, "Value": "60"}])  # unchanged trial; no rate limit
    run(store, replace(settings, segment_size=10))
    done = service.describe_job(job.job_id)
    assert done.status is S.COMPLETE, job_state(service, job.job_id)
    after = calls(log) - before_confirm
    assert set(after) == set(keys) - trial_keys and max(after.values()) == 1  # no trial task ran again
    _, rows, _ = read_report(s3, rep, done)
    assert Counter(r["Key"] for r in rows) == Counter(keys)
