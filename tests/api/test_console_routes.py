"""The console's routes over plain HTTP (the browser test drives the same ones through the page):
the job form with a pasted manifest or a manifest generator, its errors, re-running failed tasks,
the progress detail (failures by code, throughput samples)."""

from __future__ import annotations

import base64
import html
import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from cosbatch.lifecycle import JobStatus
from tests.api.conftest import ALICE, BOB
from tests.conftest import put_objects, wait_for


def basic(key) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key.key_id}:{key.secret}".encode()).decode()}


def form_token(api, key=ALICE) -> str:
    page = api.http.request("GET", api.url + "/console/jobs/new", headers=basic(key)).data.decode()
    return re.search(r"name='token' value='([0-9a-f]+)'", page).group(1)


def post_form(api, fields: dict, key=ALICE, path: str = "/console/jobs/new", origin: str | None = None):
    """A multipart POST as the browser sends the job form; redirects are not followed."""
    headers = {**basic(key), "Origin": origin or api.url}
    return api.http.request("POST", api.url + path, fields=fields, headers=headers, redirect=False)


def job_fields(api, src: str, dst: str, rep: str, **over) -> dict:
    fields = {
        "token": form_token(api), "request_token": str(uuid.uuid4()), "description": "routes",
        "priority": "10", "role_arn": f"arn:aws:iam::{ALICE.account}:role/batch", "operation": "S3PutObjectCopy",
        "params": json.dumps({"TargetResource": f"arn:aws:s3:::{dst}"}), "manifest_source": "paste",
        "manifest_bucket": src, "manifest_key": "", "manifest_fields": "Bucket,Key", "manifest_text": "",
        "generator_prefix": "", "report_enabled": "on", "report_bucket": rep, "report_prefix": "reports",
        "report_scope": "AllTasks", "tags": "",
    }
    fields.update(over)
    return fields


def created_job(answer) -> str:
    assert answer.status == 303, answer.data.decode()[:2000]
    where = urlsplit(answer.headers["Location"])
    assert parse_qs(where.query)["ok"] == ["job created"]
    return where.path.rsplit("/", 1)[1]


def finished(alice, job_id: str) -> dict:
    def done():
        job = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
        return job if job["Status"] in ("Complete", "Failed", "Cancelled") else None

    return wait_for(done, 120, 0.2, "the job to finish")


@pytest.fixture()
def buckets(s3, make_bucket):
    return make_bucket("src"), make_bucket("dst"), make_bucket("rep")


def test_a_pasted_manifest_is_written_to_the_bucket_and_run(api, alice, s3, buckets):
    src, dst, rep = buckets
    put_objects(s3, src, ["a/1", "a/2", "b/3"])
    fields = job_fields(api, src, dst, rep, manifest_key="pasted/m.csv", manifest_text=f"{src},a/1\r\n{src},b/3",
                        tags="team=data\ncosbatch:max-ops-per-second=500")
    job_id = created_job(post_form(api, fields))
    assert s3.get_object(Bucket=src, Key="pasted/m.csv")["Body"].read() == f"{src},a/1\n{src},b/3\n".encode()
    assert created_job(post_form(api, fields)) == job_id  # a double submit is the same job (its request token)
    job = finished(alice, job_id)
    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert job["Manifest"]["Location"]["ObjectArn"] == f"arn:aws:s3:::{src}/pasted/m.csv"
    tags = alice.get_job_tagging(AccountId=ALICE.account, JobId=job_id)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "data", "cosbatch:max-ops-per-second": "500"}
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=dst)["Contents"]) == ["a/1", "b/3"]

    # Nothing failed: re-running its failed tasks is refused, and said so on the job page.
    rerun = post_form(api, {"token": form_token(api)}, path=f"/console/jobs/{job_id}/rerun")
    assert rerun.status == 303
    assert "no failed tasks" in parse_qs(urlsplit(rerun.headers["Location"]).query)["err"][0]

    # The progress detail the job page draws from: failures by code (none) and throughput samples.
    detail = json.loads(api.http.request("GET", api.url + f"/console/api/progress?ids={job_id}&detail=1",
                                         headers=basic(ALICE)).data)[job_id]
    assert detail["failures"] == {} and detail["ok_percent"] == 100 and detail["failed_percent"] == 0
    samples = detail["samples"]
    assert len(samples) >= 2 and samples[0][1] == 0 and samples[-1][1] == 2
    assert [t for t, _ in samples] == sorted(t for t, _ in samples)


def test_a_generated_manifest_lists_the_bucket_under_a_prefix(api, alice, s3, buckets):
    src, dst, rep = buckets
    put_objects(s3, src, ["logs/1", "logs/2", "logs/3", "other/4"])
    fields = job_fields(api, src, dst, rep, manifest_source="generator", generator_prefix="logs/")
    job = finished(alice, created_job(post_form(api, fields)))
    assert job["Status"] == "Complete", job.get("FailureReasons")
    gen = job["ManifestGenerator"]["S3JobManifestGenerator"]
    assert gen["SourceBucket"] == f"arn:aws:s3:::{src}"
    assert gen["Filter"]["KeyNameConstraint"]["MatchAnyPrefix"] == ["logs/"]
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 3


def test_the_rerun_route_creates_a_job_of_the_failed_tasks(api, alice, s3, buckets):
    src, dst, rep = buckets
    put_objects(s3, src, ["here/1", "here/2"])
    fields = job_fields(api, src, dst, rep, manifest_text=f"{src},here/1\n{src},here/2\n{src},gone/3\n")
    first = created_job(post_form(api, fields))
    assert finished(alice, first)["ProgressSummary"]["NumberOfTasksFailed"] == 1
    # The job page lists the failure by its code.
    page = api.http.request("GET", api.url + f"/console/jobs/{first}", headers=basic(ALICE)).data.decode()
    assert "<td class='mono code'>NoSuchKey</td><td class='count'>1</td>" in page
    put_objects(s3, src, ["gone/3"])
    answer = post_form(api, {"token": form_token(api)}, path=f"/console/jobs/{first}/rerun")
    assert answer.status == 303
    rerun_id = urlsplit(answer.headers["Location"]).path.rsplit("/", 1)[1]
    job = finished(alice, rerun_id)
    assert job["Status"] == "Complete" and job["ProgressSummary"]["TotalNumberOfTasks"] == 1
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    # Bob cannot re-run Alice's job: it does not exist for him.
    bob_try = post_form(api, {"token": form_token(api, BOB)}, key=BOB, path=f"/console/jobs/{first}/rerun")
    assert bob_try.status == 303 and "NoSuchJob" in parse_qs(urlsplit(bob_try.headers["Location"]).query)["err"][0]


@pytest.mark.parametrize("over, message", [
    ({"params": "{not json"}, "operation parameters are not valid JSON"),
    ({"operation": "S3Teleport"}, "valid: S3PutObjectCopy, S3PutObjectTagging"),
    ({"manifest_source": "object", "manifest_key": "no/such/manifest.csv"},
     "ManifestNotFound: manifest object s3://SRC/no/such/manifest.csv does not exist"),
    ({"manifest_text": ""}, "paste the manifest"),
    ({"manifest_source": "upload"}, "choose a CSV manifest file"),
    ({"report_bucket": ""}, "the report bucket is required"),
    ({"priority": "high"}, "priority must be an integer"),
    ({"tags": "no-equals-sign"}, "tags: line 1 is not key=value"),
])
def test_form_errors_show_the_form_again_with_what_was_sent(api, alice, buckets, over, message):
    src, dst, rep = buckets
    marker = uuid.uuid4().hex
    fields = job_fields(api, src, dst, rep, description=f"refused {marker}", manifest_text=f"{src},k\n")
    fields.update(over)
    answer = post_form(api, fields)
    page = answer.data.decode()
    assert answer.status == 400, page[:2000]
    assert html.escape(message.replace("SRC", src)) in page
    assert f"value='refused {marker}'" in page  # the form keeps what was typed
    assert not [j for j in alice.list_jobs(AccountId=ALICE.account)["Jobs"] if marker in j.get("Description", "")]


def test_a_manifest_in_a_bucket_that_does_not_exist_is_named_and_no_bucket_is_made(api, alice, s3, buckets):
    """Read from (an object) or written to (a paste): the missing bucket is named, and the paste is
    not written, so a storage that makes buckets on PUT (SeaweedFS) is not left with a new one."""
    src, dst, rep = buckets
    missing = f"nosuch-{uuid.uuid4().hex[:8]}"
    read = post_form(api, job_fields(api, src, dst, rep, manifest_source="object", manifest_bucket=missing,
                                     manifest_key="m.csv"))
    assert read.status == 400
    assert html.escape(f"manifest object s3://{missing}/m.csv does not exist (its bucket '{missing}' does not "
                       "exist)") in read.data.decode()
    pasted = post_form(api, job_fields(api, src, dst, rep, manifest_bucket=missing, manifest_text=f"{src},k\n"))
    assert pasted.status == 400
    assert html.escape(f"ManifestBucketNotFound: manifest bucket '{missing}' does not exist") in pasted.data.decode()
    assert missing not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_job_whose_report_was_not_written_links_to_no_report(api, alice, s3, buckets):
    src, dst, _ = buckets
    missing = f"nosuch-{uuid.uuid4().hex[:8]}"
    job_id = created_job(post_form(api, job_fields(api, src, dst, missing, manifest_text=f"{src},k\n")))
    assert finished(alice, job_id)["FailureReasons"][0]["FailureCode"] == "ReportBucketNotFound"
    page = api.http.request("GET", api.url + f"/console/jobs/{job_id}", headers=basic(ALICE)).data.decode()
    assert f"none: <span class='mono'>s3://{missing}/reports/job-{job_id}/</span> cannot be written: its bucket " \
           "does not exist" in page
    assert "report-manifest" not in page and "results not readable" not in page


def test_the_form_refuses_cross_site_posts_and_missing_tokens(api, buckets):
    src, dst, rep = buckets
    fields = job_fields(api, src, dst, rep, manifest_text=f"{src},k\n")
    assert post_form(api, fields, origin="http://evil.example").status == 403
    assert post_form(api, {**fields, "token": "0" * 32}).status == 403


def test_clone_prefills_the_form_from_the_job(api, alice, s3, buckets):
    src, dst, rep = buckets
    put_objects(s3, src, ["c/1"])
    fields = job_fields(api, src, dst, rep, manifest_key="clone/m.csv", manifest_text=f"{src},c/1\n",
                        priority="42", description="to clone", tags="team=x", confirmation="on")
    job_id = created_job(post_form(api, fields))
    page = api.http.request("GET", api.url + f"/console/jobs/new?from={job_id}", headers=basic(ALICE)).data.decode()
    assert "value='clone/m.csv'" in page and "value='42'" in page and "team=x</textarea>" in page
    assert f"value='clone of {job_id}: to clone'" in page
    assert "<option value='object' selected>" in page
    assert "id='f-confirmation' checked" in page
    assert fields["request_token"] not in page  # a clone is a new job
    assert api.http.request("GET", api.url + "/console/jobs/new?from=nosuchjob0",
                            headers=basic(ALICE)).status == 404


def test_a_message_about_the_status_names_the_status_the_page_shows(api, alice, s3, buckets):
    """The redirect after Cancel says "job is Cancelling"; a page served once the job is Cancelled
    says "job is Cancelled", never the older status beside the newer one (the page's script only
    removes the message when the status moves on from the one the page shows)."""
    src, dst, rep = buckets
    put_objects(s3, src, ["m/1"])
    job_id = created_job(post_form(api, job_fields(api, src, dst, rep, manifest_key="msg/m.csv",
                                                   manifest_text=f"{src},m/1\n", confirmation="on")))
    wait_for(lambda: alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Status"] == "Suspended",
             60, 0.2, "Suspended")
    alice.update_job_status(AccountId=ALICE.account, JobId=job_id, RequestedJobStatus="Cancelled")
    assert finished(alice, job_id)["Status"] == "Cancelled"

    def page(query: str) -> str:
        return api.http.request("GET", api.url + f"/console/jobs/{job_id}?{query}", headers=basic(ALICE)).data.decode()

    served = page("ok=job+is+Cancelling")
    assert "<div class='flash ok about-status'>job is Cancelled</div>" in served and "job is Cancelling" not in served
    assert "<div class='flash ok'>job created</div>" in page("ok=job+created")  # other messages as sent


def test_a_development_server_asks_for_the_account_in_the_form(tmp_path):
    """`serve --no-auth`: no sign-in, so the form names the account; without one it is refused."""
    import io

    from cosbatch.api import ApiApp
    from cosbatch.controller import JobService
    from cosbatch.storage import StorageCatalog
    from cosbatch.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'dev.db'}")
    app = ApiApp(JobService(store, StorageCatalog.at("http://127.0.0.1:9")), None)
    try:
        def call(method: str, body: bytes = b"", content_type: str = "") -> tuple[str, str]:
            status = []
            environ = {"PATH_INFO": "/console/jobs/new", "REQUEST_METHOD": method, "wsgi.input": io.BytesIO(body),
                       "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type, "HTTP_HOST": "localhost",
                       "HTTP_ORIGIN": "http://localhost"}
            answer = b"".join(app(environ, lambda s, h: status.append(s)))
            return status[0], answer.decode()

        status, page = call("GET")
        assert status.startswith("200") and "id='f-account'" in page
        token = re.search(r"name='token' value='([0-9a-f]+)'", page).group(1)
        status, page = call("POST", f"token={token}&account=&manifest_source=paste".encode(),
                            "application/x-www-form-urlencoded")
        assert status.startswith("400") and "the account is required" in page
        status, page = call("POST", b"token=x", "text/plain")
        assert status.startswith("400") and "not text/plain" in page
        assert store.jobs_in(list(JobStatus)) == []
    finally:
        app.close()
        store.close()


def test_trial_and_skip_identical_from_the_console(api, alice, s3, buckets):
    """Both options through the job form's tags: the trial's reason and the Confirm button on the job
    page, confirming there; then a skip-identical pass showing copied and skipped apart."""
    src, dst, rep = buckets
    keys = [f"t/{i}" for i in range(6)]
    put_objects(s3, src, keys)
    text = "".join(f"{src},{k}\n" for k in keys)
    fields = job_fields(api, src, dst, rep, manifest_key="trial/m.csv", manifest_text=text,
                        tags="cosbatch:trial-tasks=2")
    job_id = created_job(post_form(api, fields))

    def suspended():
        job = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
        return job if job["Status"] == "Suspended" else None

    job = wait_for(suspended, 120, 0.2, "the trial to finish")
    reason = "Trial: 2 tasks run, 2 succeeded, 0 failed (by error code: none); confirm to run the remaining 4"
    assert job["StatusUpdateReason"] == reason  # over the S3 Control API (boto3)
    page = api.http.request("GET", api.url + f"/console/jobs/{job_id}", headers=basic(ALICE)).data.decode()
    assert reason in page and "Confirm and run" in page
    token = re.search(r"name='token' value='([0-9a-f]+)'", page).group(1)
    confirm = post_form(api, {"token": token, "requestedJobStatus": "Ready"}, path=f"/console/jobs/{job_id}/status")
    assert confirm.status == 303
    assert finished(alice, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] == 6

    again = job_fields(api, src, dst, rep, manifest_key="trial/m.csv", manifest_text=text,
                       tags="cosbatch:skip-identical=true")
    second = created_job(post_form(api, again))
    assert finished(alice, second)["ProgressSummary"]["NumberOfTasksSucceeded"] == 6
    page = api.http.request("GET", api.url + f"/console/jobs/{second}", headers=basic(ALICE)).data.decode()
    assert "<span data-field='copied'>0</span>" in page and "<span data-field='skipped'>6</span>" in page
