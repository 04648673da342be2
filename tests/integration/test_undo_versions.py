"""Undo of deletes and copies on versioned buckets (issue #24): a delete's marker is removed, a
copy's new version is deleted, each only if it is still the latest; unversioned buckets are refused."""

from __future__ import annotations

import pytest

from cosbatch.controller import JobService
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects
from tests.integration.helpers import (
    create_and_run,
    op_request,
    read_report,
    run_until_idle,
    write_manifest,
)

UNDOABLE = [{"Key": "cosbatch:undoable", "Value": "true"}]


def versioned_bucket(s3, make_bucket, prefix: str) -> str:
    bucket = make_bucket(prefix)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def body_of(s3, bucket: str, key: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def undo(store, settings, job_id: str):
    service = JobService(store, settings.storages)
    undo_job = service.create_undo_job(job_id)
    run_until_idle(store, settings)
    return service.describe_job(undo_job.job_id)


def test_undo_of_a_delete_removes_the_markers_it_made(s3, make_bucket, store, settings):
    src, rep = versioned_bucket(s3, make_bucket, "vsrc"), make_bucket("rep")
    keys = [f"v/{i} ü" for i in range(20)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    job = create_and_run(store, settings, op_request(src, "m.csv", {"S3DeleteObject": {}}, rep, Tags=UNDOABLE))
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == 20
    assert all(body_of(s3, src, k) is None for k in keys)  # deleted: a delete marker on top

    s3.put_object(Bucket=src, Key="v/3 ü", Body=b"written after the job")  # a later change
    done = undo(store, settings, job.job_id)
    assert done.status is JobStatus.COMPLETE
    assert done.progress_summary.number_of_tasks_succeeded == 19
    _, rows, _ = read_report(s3, rep, done)
    failed = [r for r in rows if r["TaskStatus"] == "failed"]
    assert [(r["Key"], r["ErrorCode"]) for r in failed] == [("v/3 ü", "ChangedSinceJob")]
    assert "its latest version is now" in failed[0]["ResultMessage"]
    assert all(body_of(s3, src, k) == f"content of {k}".encode() for k in keys if k != "v/3 ü")
    assert body_of(s3, src, "v/3 ü") == b"written after the job"  # left alone
    ok = next(r for r in rows if r["Key"] == "v/0 ü")
    assert ok["ResultMessage"].startswith("Successful: removed the delete marker ")


def test_undo_of_a_copy_deletes_the_versions_it_wrote(s3, make_bucket, store, settings):
    src, dst, rep = make_bucket("src"), versioned_bucket(s3, make_bucket, "vdst"), make_bucket("rep")
    keys = [f"c/{i}" for i in range(10)]
    put_objects(s3, src, keys, body=lambda k: f"new {k}".encode())
    put_objects(s3, dst, keys[:5], body=lambda k: f"old {k}".encode())  # half the targets exist already
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])
    copy = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}"}}
    job = create_and_run(store, settings, op_request(src, "m.csv", copy, rep, Tags=UNDOABLE))
    assert job.status is JobStatus.COMPLETE
    assert all(body_of(s3, dst, k) == f"new {k}".encode() for k in keys)

    done = undo(store, settings, job.job_id)
    assert done.status is JobStatus.COMPLETE and done.progress_summary.number_of_tasks_succeeded == 10
    assert all(body_of(s3, dst, k) == f"old {k}".encode() for k in keys[:5])  # the overwritten ones are back
    assert all(body_of(s3, dst, k) is None for k in keys[5:])  # the new ones are gone
    _, rows, _ = read_report(s3, rep, done)
    messages = {r["Key"]: r["ResultMessage"] for r in rows}
    assert "is current again" in messages["c/0"] and "there was no object before" in messages["c/9"]


def test_unversioned_buckets_are_refused_or_warned_about(s3, make_bucket, store, settings):
    plain, rep = make_bucket("plain"), make_bucket("rep")
    put_objects(s3, plain, ["a", "b"])
    write_manifest(s3, plain, "m.csv", [(plain, "a"), (plain, "b")])
    service = JobService(store, settings.storages)
    with pytest.raises(InvalidRequest, match=f"bucket {plain} is not versioned, so a delete there cannot be undone"):
        service.create_job(parse_create_job(op_request(plain, "m.csv", {"S3DeleteObject": {}}, rep, Tags=UNDOABLE)))
    copy = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{plain}", "TargetKeyPrefix": "copies"}}
    with pytest.raises(InvalidRequest, match=f"target bucket {plain} is not versioned"):
        service.create_job(parse_create_job(op_request(plain, "m.csv", copy, rep, token="copy", Tags=UNDOABLE)))

    # Without --undoable the delete runs, and the preflight says it cannot be undone.
    job = create_and_run(store, settings, op_request(plain, "m.csv", {"S3DeleteObject": {}}, rep, token="warned"))
    assert job.status is JobStatus.COMPLETE
    reasons = [h.reason for h in service.history(job.job_id) if h.reason]
    assert f"Warning: bucket {plain} is not versioned: these deletes are permanent and cannot be undone" in reasons


def test_a_delete_segment_run_again_makes_no_second_marker(s3, s3_server, make_bucket):
    """A segment killed after its deletes, before it was recorded, runs again: it reuses the state
    recorded before its first run and takes the marker on top as its own (a second DeleteObject
    would stack a second marker, and the undo would then leave the object hidden)."""
    from cosbatch.manifests import Task
    from cosbatch.models.operation_params import DeleteObject
    from cosbatch.operations import TaskResult
    from cosbatch.operations.delete import DeleteOperation
    from cosbatch.operations.undo import UndoRecorder
    from cosbatch.operations.undo_records import parse_records, record_key

    src, rep = versioned_bucket(s3, make_bucket, "vsrc"), make_bucket("rep")
    keys = ["a", "b"]
    put_objects(s3, src, keys)
    versions = {k: s3.head_object(Bucket=src, Key=k)["VersionId"] for k in keys}
    tasks = [Task(src, k) for k in keys]

    def recorder() -> UndoRecorder:
        return UndoRecorder(DeleteOperation(DeleteObject()), lambda: s3, rep, "r/job-x/undo", concurrency=2)

    first = recorder()
    first.begin_segment(s3, 0, tasks)
    for t in tasks:
        first.apply(s3, t)
    first.close()  # the worker dies here: no end_segment, the segment is not recorded
    again = recorder()
    again.begin_segment(s3, 0, tasks)
    assert again.rerun
    for t in tasks:
        again.apply(s3, t)
    again.end_segment(0, [TaskResult(t.bucket, t.key, None, True, 200, "", "Successful") for t in tasks])
    listed = s3.list_object_versions(Bucket=src)
    assert sorted(m["Key"] for m in listed["DeleteMarkers"]) == keys  # one marker per key
    records = parse_records(s3.get_object(Bucket=rep, Key=record_key("r/job-x/undo", 0))["Body"].read())
    markers = {m["Key"]: m["VersionId"] for m in listed["DeleteMarkers"]}
    assert {r.task.key: (r.before, r.after) for r in records} == {k: (versions[k], markers[k]) for k in keys}
