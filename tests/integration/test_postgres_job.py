"""A real job on the PostgreSQL store: DirectRunner, SeaweedFS, the report read back."""

from __future__ import annotations

from dataclasses import replace

from cosbatch.lifecycle import JobStatus
from cosbatch.store import SegmentState
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, create_and_run, read_report, write_manifest
from tests.reliability.checks import assert_legal_history


def test_copy_job_on_postgresql(s3, make_bucket, pg_store, settings):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    present = [f"pg/{i:04d}" for i in range(600)]
    missing = [f"gone/{i}" for i in range(5)]
    put_objects(s3, src, present)
    write_manifest(s3, src, "m.csv", [(src, k) for k in present + missing])
    settings = replace(settings, store_url=pg_store.url, segment_size=100)

    job = create_and_run(pg_store, settings, copy_request(src, "m.csv", dst, rep, token="pg-job"))

    assert pg_store.url.startswith("postgresql://")
    assert job.status is JobStatus.COMPLETE, job.failure_reasons
    p = job.progress_summary
    assert (p.total_number_of_tasks, p.number_of_tasks_succeeded, p.number_of_tasks_failed) == (605, 600, 5)
    copied = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=dst)
              for o in page.get("Contents", [])}
    assert copied == set(present)
    _, rows, job_doc = read_report(s3, rep, job)
    assert sorted(r["Key"] for r in rows) == sorted(present + missing)  # every task once
    assert {r["Key"] for r in rows if r["TaskStatus"] == "failed"} == set(missing)
    assert job_doc["Job"]["ProgressSummary"]["NumberOfTasksSucceeded"] == 600
    segments = pg_store.segments(job.job_id)
    assert len(segments) == 7 and all(s.state is SegmentState.DONE for s in segments)
    assert_legal_history(pg_store.history(job.job_id))
    assert [c.to_status for c in pg_store.history(job.job_id)][-1] is JobStatus.COMPLETE
