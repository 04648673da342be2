"""Re-running the failed tasks of a finished job (`create-job --from-report` and its Python twin)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cosbatch.controller import JobService
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest


def test_from_report_creates_a_job_of_exactly_the_failed_tasks(s3, s3_server, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    present = [f"ok/{i}" for i in range(50)]
    late = [f"late/{i} ü+%" for i in range(100)]  # not there yet: these 100 tasks fail
    put_objects(s3, src, present)
    write_manifest(s3, src, "m.csv", [(src, k) for k in present + late])
    tags = [{"Key": "team", "Value": "data"}, {"Key": "cosbatch:max-ops-per-second", "Value": "5000"}]
    first = create_and_run(store, settings, copy_request(src, "m.csv", dst, rep, token="first", Tags=tags))
    assert first.progress_summary.number_of_tasks_failed == 100

    put_objects(s3, src, late)  # the cause is fixed; run the failed tasks again, from the CLI
    proc = subprocess.run(
        [sys.executable, "-m", "cosbatch.cli.main", "--store", store.url, "--endpoint-url", s3_server.endpoint_url,
         "create-job", "--from-report", first.job_id, "--priority", "3", "--output", "json"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    rerun_id = json.loads(proc.stdout)["JobId"]
    service = JobService(store)
    rerun = service.describe_job(rerun_id)
    assert rerun.operation == first.operation and rerun.priority == 3
    assert [t.wire() for t in rerun.tags] == tags and rerun.max_ops_per_second == 5000  # the tags carry over
    assert rerun.manifest.location.object_arn.endswith(f"job-{first.job_id}/failed-tasks.csv")

    from cosbatch.controller import Scheduler

    Scheduler(store, settings).run_until_idle(timeout_s=120)
    rerun = service.describe_job(rerun_id)
    assert rerun.status is JobStatus.COMPLETE
    assert rerun.progress_summary.total_number_of_tasks == 100
    assert rerun.progress_summary.number_of_tasks_succeeded == 100
    _, rows, _ = read_report(s3, rep, rerun)
    assert sorted(r["Key"] for r in rows) == sorted(late)

    # Nothing failed the second time: nothing to re-run, said clearly.
    with pytest.raises(InvalidRequest, match="no failed tasks"):
        service.create_job_from_report(rerun_id, s3)
