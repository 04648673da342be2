"""cosbatch.Client against a real SeaweedFS: create, wait, report, cancel, priority, display."""

from __future__ import annotations

import pytest

import cosbatch
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus as S
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest


@pytest.fixture()
def client(tmp_path, s3_server):
    c = cosbatch.Client(store=tmp_path / "cosbatch.db", endpoint_url=s3_server.endpoint_url, segment_size=250)
    yield c
    c.close()


def _copy(target: str) -> dict:
    return {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{target}", "TargetKeyPrefix": "copied"}}


def test_copy_job_from_a_list_of_objects_waits_to_complete_with_a_report(client, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"photos/img {i:03d}.jpg" for i in range(25)]  # a space: keys are URL-encoded in manifests
    put_objects(s3, src, keys)

    job = client.create_job(manifest=[(src, k) for k in keys], operation=_copy(dst), report=f"s3://{rep}/batch",
                            description="copy photos")
    assert job.status is S.NEW  # runs when waited on
    assert job.wait(timeout=120, progress=False) is job
    assert job.status is S.COMPLETE
    assert job.progress.number_of_tasks_succeeded == 25
    described = job.describe()  # the DescribeJob shape, as `describe-job --output json`
    assert described["Job"]["Status"] == "Complete" and described["Job"]["JobId"] == job.id
    assert described["FailedTasksByErrorCode"] == {}

    table = job.report()
    assert table.num_rows == len(keys)
    assert sorted(table.column("Key").to_pylist()) == keys
    assert set(table.column("TaskStatus").to_pylist()) == {"succeeded"}
    assert set(table.column("HTTPStatusCode").to_pylist()) == {200}
    assert job.report(task_status="failed").num_rows == 0
    assert job.report(task_status="Succeeded").num_rows == 25  # as the report's manifest.json, any case
    with pytest.raises(InvalidRequest, match="task_status must be 'succeeded' or 'failed'.*not 'bogus'"):
        job.report(task_status="bogus")
    assert job.report_url == f"s3://{rep}/batch/job-{job.id}/"
    assert s3.list_objects_v2(Bucket=dst, Prefix="copied/")["KeyCount"] == 25

    assert [h.to_status for h in job.history()][-1] is S.COMPLETE
    printed = str(job.history()).splitlines()  # readable lines, not reprs
    assert printed[0].endswith(" New") and printed[-1].endswith(" Complete") and len(printed) == len(job.history())
    assert "StatusChange(" not in repr(job.history()) and repr(job.history()) == str(job.history())
    assert job in client.jobs(status="Complete")
    assert job in client.jobs(text="copy photos")
    assert client.jobs(status=["Failed", "Cancelled"]) == []
    assert client.job(job.id).model.description == "copy photos"
    assert not client.running  # the background scheduler stopped when no job needed it


def test_manifest_url_and_parquet_report_read_back_as_one_table(client, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k/{i}" for i in range(12)]
    put_objects(s3, src, keys[:10])  # two objects missing: two failed tasks
    write_manifest(s3, src, "m.csv", [(src, k) for k in keys])

    job = client.create_job(
        manifest=f"s3://{src}/m.csv", operation=_copy(dst),
        report={"Bucket": f"arn:aws:s3:::{rep}", "Format": "Report_Parquet", "Prefix": "pq"},
    )
    ran = client.run(timeout=120, progress=False)
    assert job in ran and job.status is S.COMPLETE  # under the failure threshold
    table = job.report()
    assert table.num_rows == 12
    failed = job.report(task_status="failed")
    assert sorted(failed.column("Key").to_pylist()) == ["k/10", "k/11"]
    assert set(failed.column("HTTPStatusCode").to_pylist()) == {404}
    assert job.failures_by_code() == {"NoSuchKey": 2}  # failed tasks by error code, with counts
    assert job.failures == job.failures_by_code()
    assert job.describe()["FailedTasksByErrorCode"] == {"NoSuchKey": 2}
    assert "Failures     NoSuchKey: 2" in str(job)

    put_objects(s3, src, keys[10:])  # the missing objects arrive: a re-run of the failed tasks succeeds
    rerun = job.rerun_failed(Description="again")
    assert rerun.wait(timeout=120, progress=False).status is S.COMPLETE
    assert rerun.report().num_rows == 2 and rerun.failures == {}


def test_cancel_an_active_job(client, s3, make_bucket, big_source):
    src, keys = big_source
    dst, rep = make_bucket("dst"), make_bucket("rep")
    job = client.create_job(manifest=f"s3://{src}/all.csv", operation=_copy(dst), report=f"s3://{rep}")
    client.start()
    wait_for(lambda: job.progress.tasks_run >= 200, 120, what="progress")
    job.cancel("wrong target")
    assert job.wait(timeout=60, progress=False).status is S.CANCELLED
    assert job.model.status_update_reason == "wrong target"
    ran = job.progress.tasks_run
    assert 200 <= ran < len(keys)
    assert job.report().num_rows == ran
    assert [h.to_status for h in job.history()][-2:] == [S.CANCELLING, S.CANCELLED]


def test_confirm_priority_and_cancel_a_suspended_job(client, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    put_objects(s3, src, ["a", "b"])
    job = client.create_job(manifest=[f"s3://{src}/a", f"s3://{src}/b"], operation=_copy(dst),
                            confirmation_required=True, priority=5)
    assert job.wait(timeout=60, progress=False).status is S.SUSPENDED  # waits for a user
    assert job.set_priority(50).model.priority == 50
    assert job.describe()["Job"]["Priority"] == 50
    with pytest.raises(InvalidRequest):
        job.set_priority(-1)
    with pytest.raises(InvalidRequest):
        job.report()  # not finished (and Report is disabled by default)

    other = client.create_job(manifest=[f"s3://{src}/a"], operation=_copy(dst), confirmation_required=True)
    assert other.wait(timeout=60, progress=False).status is S.SUSPENDED
    assert job.confirm().status in (S.READY, S.ACTIVE, S.COMPLETE)
    other.cancel("not needed")
    assert job.wait(timeout=60, progress=False).status is S.COMPLETE
    assert other.wait(timeout=60, progress=False).status is S.CANCELLED
    assert s3.list_objects_v2(Bucket=dst)["KeyCount"] == 2


def test_html_escapes_user_text(client, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    evil = '<script>alert("x")</script>'
    job = client.create_job(manifest=[(src, "a")], operation=_copy(dst), description=evil,
                            confirmation_required=True)
    for html in (job._repr_html_(), client.jobs()._repr_html_()):
        assert "<script>" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert job.id in client.jobs()._repr_html_()
    assert "New" in job.history()._repr_html_()
    assert repr(job).startswith(f"<cosbatch.Job {job.id} New")
    assert "Status" in str(job) and evil in str(job)  # plain text is not HTML


def test_job_tags_from_python(client, s3, make_bucket):
    from cosbatch.errors import TooManyTags

    src = make_bucket("src")
    put_objects(s3, src, ["a"])
    job = client.create_job(manifest=[f"s3://{src}/a"], operation=_copy(src), confirmation_required=True,
                            tags={"team": "data"})
    assert job.tags == {"team": "data"}
    assert job.describe()["Job"]["Tags"] == [{"Key": "team", "Value": "data"}]
    assert job.put_tags([{"Key": "team", "Value": "ml"}, {"Key": "x", "Value": "1"}]).tags == {"team": "ml", "x": "1"}
    with pytest.raises(TooManyTags):
        job.put_tags({f"k{i}": "v" for i in range(51)})
    assert job.tags == {"team": "ml", "x": "1"}
    assert job.delete_tags().tags == {} and "Tags" not in job.describe()["Job"]
    job.cancel()


def test_trial_run_from_python(client, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    keys = [f"k{i:03d}" for i in range(600)]  # segments of 250: 250, 250, 100
    put_objects(s3, src, keys)
    job = client.create_job(manifest=[(src, k) for k in keys], operation=_copy(dst), trial_tasks=6)
    assert {"Key": "cosbatch:trial-tasks", "Value": "6"} in job.describe()["Job"]["Tags"]
    job.wait(timeout=120, progress=False)
    assert job.status is S.SUSPENDED
    assert job.model.status_update_reason == ("Trial: 6 tasks run, 6 succeeded, 0 failed (by error code: none); "
                                              "confirm to run the remaining 594")
    copied = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"])
    assert copied == [f"copied/k{i:03d}" for i in range(0, 600, 100)]
    estimate = job.describe()["Estimate"]  # next to "Job" while it waits
    assert estimate["Tasks"] == 594 and estimate["Requests"] == {"CopyObject": 594}
    assert estimate["SecondsBasis"].startswith("trial: 6 tasks in ")
    job.confirm().wait(timeout=120, progress=False)
    assert job.status is S.COMPLETE and job.progress.number_of_tasks_succeeded == 600
    assert "Estimate" not in job.describe()
    with pytest.raises(InvalidRequest, match="contradicts the tag cosbatch:trial-tasks=2"):
        client.create_job(manifest=[(src, "k000")], operation=_copy(dst), trial_tasks=6,
                          tags={"cosbatch:trial-tasks": "2"})


def test_skip_identical_from_python(client, s3, make_bucket):
    src, dst = make_bucket("src"), make_bucket("dst")
    keys = [f"k{i:03d}" for i in range(40)]
    put_objects(s3, src, keys)
    client.create_job(manifest=[(src, k) for k in keys], operation=_copy(dst)).wait(timeout=120, progress=False)
    again = client.create_job(manifest=[(src, k) for k in keys], operation=_copy(dst), skip_identical=True)
    again.wait(timeout=120, progress=False)
    assert again.progress.number_of_tasks_skipped == 40
    assert again.describe()["Job"]["ProgressSummary"]["NumberOfTasksSkipped"] == 40
    assert "40 succeeded (0 copied, 40 skipped: identical at target)" in str(again)  # the text view
    assert "0 copied, 40 skipped (identical)" in again._repr_html_()  # the notebook view


@pytest.mark.parametrize("kwargs, words", [
    ({"manifest": 42}, "manifest: give a JobManifest dict, the path, s3:// URL or ARN of a CSV manifest, or a list "
                       "of objects; not int"),
    ({"manifest": [("src", "k", "v1", "x")]}, "manifest entry ('src', 'k', 'v1', 'x'): give 's3://bucket/key' or a "
                                              "(bucket, key) pair"),
    ({"manifest": "http://x/y.csv"}, "invalid object name 'http://x/y.csv': http:// is not read"),
    ({"report": 5}, "report: give s3://bucket[/prefix], a JobReport dict or None; not int"),
    ({"role_arn": "arn:aws:iam::1:role/r"}, "create_job() has no keyword 'role_arn'; other CreateJob fields go by "
                                            "their API names, e.g. RoleArn="),
    ({"priority": True}, "priority must be an integer from 0 to 2147483647, not True"),
])
def test_wrong_arguments_are_refused_by_name_before_a_job_exists(client, kwargs, words):
    args = {"manifest": ["s3://src/k"], "operation": _copy("dst"), **kwargs}
    with pytest.raises(InvalidRequest) as refused:
        client.create_job(**args)
    assert words in refused.value.message
    assert client.jobs() == []


def test_the_report_of_a_job_without_one_says_so_at_once(client, make_bucket):
    job = client.create_job(manifest=[f"s3://{make_bucket('src')}/k"], operation=_copy("dst"),
                            confirmation_required=True)
    with pytest.raises(InvalidRequest, match="has no completion report"):
        job.report()
