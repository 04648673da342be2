"""Undo of ACL, Object Lock retention and legal hold jobs (issue #24); COMPLIANCE retention is
refused per task, saying why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cosbatch.lifecycle import JobStatus
from tests.integration.helpers import create_and_run, op_request, read_report
from tests.integration.test_object_lock_operations import locked_bucket, retention_of
from tests.integration.test_undo_versions import undo

UNDOABLE = [{"Key": "cosbatch:undoable", "Value": "true"}]


def grants_of(s3, bucket: str, key: str) -> list:
    return sorted((g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"])
                  for g in s3.get_object_acl(Bucket=bucket, Key=key)["Grants"])


def test_undo_of_an_acl_job_restores_the_grants(s3, make_bucket, store, settings):
    keys = [f"acl/{i}" for i in range(8)]
    src, rep = locked_bucket(s3, keys), make_bucket("rep")
    before = {k: grants_of(s3, src, k) for k in keys}
    op = {"S3PutObjectAcl": {"AccessControlPolicy": {"CannedAccessControlList": "public-read"}}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, Tags=UNDOABLE))
    assert job.status is JobStatus.COMPLETE and job.progress_summary.number_of_tasks_succeeded == len(keys)
    assert all(grants_of(s3, src, k) != before[k] for k in keys)
    done = undo(store, settings, job.job_id)
    assert done.status is JobStatus.COMPLETE and done.progress_summary.number_of_tasks_succeeded == len(keys)
    assert {k: grants_of(s3, src, k) for k in keys} == before


def test_undo_of_legal_hold_and_governance_retention(s3, make_bucket, store, settings):
    keys = [f"lock/{i}" for i in range(6)]
    src, rep = locked_bucket(s3, keys), make_bucket("rep")
    hold = create_and_run(store, settings, op_request(src, "m.csv", {"S3PutObjectLegalHold": {
        "LegalHold": {"Status": "ON"}}}, rep, token="hold", Tags=UNDOABLE))
    assert hold.progress_summary.number_of_tasks_succeeded == len(keys), [(r["ErrorCode"], r["ResultMessage"]) for r in read_report(s3, rep, hold)[1][:1]]
    assert undo(store, settings, hold.job_id).progress_summary.number_of_tasks_succeeded == len(keys)
    assert all(s3.get_object_legal_hold(Bucket=src, Key=k)["LegalHold"]["Status"] == "OFF" for k in keys)

    first = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    later = first + timedelta(days=2)

    def retain(until: datetime, token: str, tags=UNDOABLE):
        op = {"S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": until.isoformat()},
                                       "BypassGovernanceRetention": True}}
        return create_and_run(store, settings, op_request(src, "m.csv", op, rep, token=token, Tags=tags))

    retain(first, "first", tags=None)
    job = retain(later, "later")
    assert job.progress_summary.number_of_tasks_succeeded == len(keys)
    assert all(retention_of(s3, src, k) == ("GOVERNANCE", later) for k in keys)
    done = undo(store, settings, job.job_id)
    assert done.progress_summary.number_of_tasks_succeeded == len(keys), read_report(s3, rep, done)[1][:1]
    assert all(retention_of(s3, src, k) == ("GOVERNANCE", first) for k in keys)


def test_compliance_retention_is_refused_per_task_with_the_reason(s3, make_bucket, store, settings):
    keys = [f"comp/{i}" for i in range(3)]
    src, rep = locked_bucket(s3, keys), make_bucket("rep")
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    op = {"S3PutObjectRetention": {"Retention": {"Mode": "COMPLIANCE", "RetainUntilDate": until.isoformat()}}}
    job = create_and_run(store, settings, op_request(src, "m.csv", op, rep, Tags=UNDOABLE))
    assert job.progress_summary.number_of_tasks_succeeded == len(keys)
    done = undo(store, settings, job.job_id)
    assert done.status is JobStatus.COMPLETE and done.progress_summary.number_of_tasks_failed == len(keys)
    _, rows, _ = read_report(s3, rep, done)
    assert {r["ErrorCode"] for r in rows} == {"NotUndoable"}
    assert all("COMPLIANCE retention until" in r["ResultMessage"] and "nobody can shorten or remove"
               in r["ResultMessage"] for r in rows)
    assert all(retention_of(s3, src, k) == ("COMPLIANCE", until) for k in keys)
