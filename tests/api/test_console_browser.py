"""The web console in headless Chromium (Debian's chromium, driven by Playwright): sign in, filter by
status, confirm a Suspended job and watch it run to Complete, change a priority. Screenshots are saved
under test-artifacts/."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import pytest

from tests.api.conftest import ALICE
from tests.api.test_s3control_boto3 import create_kwargs
from tests.conftest import put_objects, wait_for
from tests.integration.helpers import write_manifest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Debian's chromium is needed for the console test: run .ci/install-browser.sh"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, api):
    context = browser.new_context(http_credentials={"username": ALICE.key_id, "password": ALICE.secret},
                                  viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_filter_confirm_and_watch_a_job_run(api, alice, page, s3, make_bucket):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"k{i:03d}" for i in range(60)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]
    marker = uuid.uuid4().hex[:8]
    job_id = alice.create_job(**create_kwargs(src, dst, rep, etag, ConfirmationRequired=True,
                                              Description=f"console {marker} <b>not bold</b>"))["JobId"]
    wait_for(lambda: alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Status"] == "Suspended",
             60, 0.2, "Suspended")

    failed_requests: list[str] = []  # every request the pages make is answered
    page.on("response", lambda r: failed_requests.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(api.url + "/console/jobs")
    page.select_option("#status-filter", "Suspended")
    page.fill("#text-filter", marker)
    page.click("#apply-filters")
    rows = page.locator("#jobs tbody tr")
    assert rows.count() == 1
    assert rows.first.locator(".status").inner_text() == "Suspended"
    assert f"console {marker} <b>not bold</b>" in rows.first.inner_text()  # shown as text, not markup
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-job-list.png"), full_page=True)

    page.click(f"a[href='/console/jobs/{job_id}']")
    assert page.locator("#job-status").inner_text() == "Suspended"
    page.fill("#priority-input", "55")
    page.click("#set-priority")
    assert "priority set to 55" in page.locator(".flash.ok").inner_text()
    assert alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Priority"] == 55

    with page.expect_navigation() as navigation:
        page.click("#confirm")
    # The page as served says so (its script may already have removed a message the status outran).
    assert re.search(r"<div class='flash ok about-status'>job is (Ready|Active|Complete)</div>",
                     navigation.value.text())
    # The page refreshes its status and progress bar by itself every 2 s.
    page.wait_for_function("document.querySelector('#job-status').textContent === 'Complete'", timeout=120_000)
    assert page.locator(".progress-text").first.inner_text().startswith("60/60")
    page.wait_for_function("document.querySelector('[data-field=succeeded]').textContent === '60'")
    page.screenshot(path=str(ARTIFACTS / "console-job-complete.png"), full_page=True)
    assert s3.list_objects_v2(Bucket=dst)["KeyCount"] == 60

    page.reload()
    assert page.locator("#report-manifest").inner_text() == "manifest.json"
    results = page.locator("a.report-file")
    assert results.count() >= 1
    csv_text = page.request.get(api.url + results.first.get_attribute("href")).text()
    assert len(csv_text.splitlines()) == 60 and all(line.startswith(src + ",") for line in csv_text.splitlines())
    with page.expect_navigation():
        page.click("#report-manifest")
    assert '"ReportSchema"' in page.content()
    page.go_back()
    history = page.locator("#history").inner_text()
    assert history.index("Suspended") < history.index("Ready") < history.index("Complete")
    assert failed_requests == []
    # The pages name no icon to fetch (a browser with a tab strip would ask /favicon.ico: a 404).
    assert page.locator("link[rel=icon]").get_attribute("href") == "data:,"


def test_console_needs_credentials_and_refuses_cross_site_posts(api, alice, browser):
    context = browser.new_context(http_credentials={"username": ALICE.key_id, "password": "wrong"})
    answer = context.request.get(api.url + "/console/jobs")
    assert answer.status == 401
    context.close()
    job = alice.list_jobs(AccountId=ALICE.account, MaxResults=1)["Jobs"][0]["JobId"]
    before = alice.describe_job(AccountId=ALICE.account, JobId=job)["Job"]["Priority"]
    context = browser.new_context(http_credentials={"username": ALICE.key_id, "password": ALICE.secret})
    forged = context.request.post(api.url + f"/console/jobs/{job}/priority", form={"priority": str(before + 1), "token": "x"},
                                  headers={"Origin": "http://evil.example"})
    assert forged.status == 403
    no_token = context.request.post(api.url + f"/console/jobs/{job}/priority", form={"priority": str(before + 1)},
                                    headers={"Origin": api.url})
    assert no_token.status == 403
    context.close()
    assert alice.describe_job(AccountId=ALICE.account, JobId=job)["Job"]["Priority"] == before


FAILURE_RGB = "rgb(198, 40, 40)"  # console_assets.FAILURE_COLOUR, as the browser computes it


def _no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_create_from_the_form_watch_it_rerun_its_failures_clone_and_cancel(api, alice, page, browser, s3,
                                                                         make_bucket, tmp_path):
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    present = [f"ok/{i:03d}" for i in range(40)]
    missing = [f"late/{i}" for i in range(6)]  # not there yet: these 6 tasks fail with NoSuchKey
    put_objects(s3, src, present)
    manifest = tmp_path / "upload.csv"
    manifest.write_text("".join(f"{src},{k}\n" for k in present + missing))
    marker = uuid.uuid4().hex[:8]

    # A new job from the form, its manifest uploaded through the server.
    page.goto(api.url + "/console/jobs")
    page.click("#new-job")
    page.fill("#f-description", f"form {marker}")
    page.select_option("#f-operation", "S3PutObjectLegalHold")  # each operation brings its example
    assert json.loads(page.input_value("#f-params")) == {"LegalHold": {"Status": "ON"}}
    page.select_option("#f-operation", "S3PutObjectCopy")
    assert "TargetResource" in page.input_value("#f-params")
    page.fill("#f-params", json.dumps({"TargetResource": f"arn:aws:s3:::{dst}"}))
    page.select_option("#manifest-source", "upload")
    page.fill("#f-manifest_bucket", src)
    page.set_input_files("#f-manifest_file", str(manifest))
    page.fill("#f-report_bucket", rep)
    page.click("#create-job")
    assert page.locator(".flash.ok").inner_text() == "job created"
    job_id = page.url.split("/console/jobs/")[1].split("?")[0]
    job = alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]
    assert job["Description"] == f"form {marker}"
    uploaded = job["Manifest"]["Location"]["ObjectArn"].removeprefix(f"arn:aws:s3:::{src}/")
    assert s3.get_object(Bucket=src, Key=uploaded)["Body"].read() == manifest.read_bytes()

    # Watch it finish.
    assert "ok=" not in page.url  # a reload does not bring the message back
    # Never a plain "Complete": the status says it had failed tasks, on the live page as on a reload.
    page.wait_for_function("document.querySelector('#job-status').textContent === 'Complete with 6 failed tasks'",
                           timeout=120_000)
    page.wait_for_function("document.querySelector('[data-field=failed]').textContent === '6'")
    page.wait_for_function("document.querySelector('#failures td.code')")
    assert page.locator("#failures td.code").all_inner_texts() == ["NoSuchKey"]
    assert page.locator("#failures td.count").all_inner_texts() == ["6"]
    # Failed tasks are drawn in the failure colour, succeeded ones in green; never the same.
    fail_style = page.eval_on_selector("[data-job] .bar > i.fail", "el => [getComputedStyle(el).backgroundColor,"
                                       " el.getBoundingClientRect().width]")
    ok_colour = page.eval_on_selector("[data-job] .bar > i.ok", "el => getComputedStyle(el).backgroundColor")
    assert fail_style[0] == FAILURE_RGB and fail_style[1] > 0
    assert ok_colour != FAILURE_RGB
    assert page.eval_on_selector("#job-status", "el => getComputedStyle(el).color") == FAILURE_RGB
    page.wait_for_function("document.querySelector('#throughput polyline').getAttribute('points').length > 0")
    assert "tasks/s" in page.locator("#throughput-text").inner_text()
    page.screenshot(path=str(ARTIFACTS / "console-job-with-failures.png"), full_page=True)

    # Re-run only the failed tasks, once their objects exist.
    put_objects(s3, src, missing)
    assert page.locator("#rerun").is_visible()
    page.click("#rerun")
    assert page.locator(".flash.ok").inner_text().startswith("created job ")
    rerun_id = page.url.split("/console/jobs/")[1].split("?")[0]
    assert rerun_id != job_id
    page.wait_for_function("document.querySelector('#job-status').textContent === 'Complete'", timeout=120_000)
    page.wait_for_function("document.querySelector('[data-field=succeeded]').textContent === '6'")
    assert page.locator("[data-field=total]").inner_text() == "6"
    assert page.locator("[data-field=failed]").inner_text() == "0"
    assert page.locator("#failures").inner_text() == "none"
    assert page.locator("#rerun").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "console-rerun-complete.png"), full_page=True)

    # Clone the first job: the form comes prefilled; this time it waits for confirmation.
    page.goto(api.url + f"/console/jobs/{job_id}")
    page.click("#clone")
    assert page.locator("#manifest-source").input_value() == "object"
    assert page.locator("#f-manifest_key").input_value() == uploaded
    assert dst in page.locator("#f-params").input_value()
    assert page.locator("#f-report_bucket").input_value() == rep
    page.check("#f-confirmation")
    page.click("#create-job")
    clone_id = page.url.split("/console/jobs/")[1].split("?")[0]
    assert clone_id not in (job_id, rerun_id)
    wait_for(lambda: alice.describe_job(AccountId=ALICE.account, JobId=clone_id)["Job"]["Status"] == "Suspended",
             60, 0.2, "Suspended")
    page.reload()

    # Cancelling asks first: saying no leaves the job alone, saying yes cancels it.
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#cancel")
    assert asked and clone_id in asked[0]
    assert alice.describe_job(AccountId=ALICE.account, JobId=clone_id)["Job"]["Status"] == "Suspended"
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation() as navigation:
        page.click("#cancel")
    # The page as served says so (its script may already have removed a message the status outran).
    served = navigation.value.text()
    assert "<div class='flash ok about-status'>job is Cancell" in served
    page.wait_for_function("document.querySelector('#job-status').textContent === 'Cancelled'", timeout=60_000)
    # A message about an earlier status ("job is Cancelling") does not stay beside the new one.
    assert page.locator(".flash.ok").all_inner_texts() in ([], ["job is Cancelled"])
    assert page.locator("#cancel").is_hidden()
    assert alice.describe_job(AccountId=ALICE.account, JobId=clone_id)["Job"]["Status"] == "Cancelled"

    # A phone-width screen: nothing runs off the side.
    narrow = browser.new_context(http_credentials={"username": ALICE.key_id, "password": ALICE.secret},
                                 viewport={"width": 390, "height": 844})
    phone = narrow.new_page()
    for path in (f"/console/jobs/{job_id}", "/console/jobs", "/console/jobs/new"):
        phone.goto(api.url + path)
        assert _no_horizontal_overflow(phone), path
    phone.goto(api.url + f"/console/jobs/{job_id}")
    phone.wait_for_function("document.querySelector('#throughput-text').textContent.includes('tasks/s')")
    phone.screenshot(path=str(ARTIFACTS / "console-job-390px.png"), full_page=True)
    assert _no_horizontal_overflow(phone)
    narrow.close()


def test_a_finished_short_job_shows_its_rate(api, alice, page, s3, make_bucket):
    """A job that ran about a second (302 tasks, 4 segments) finished between two of the server's
    samples: its chart still shows its rate, drawn from what the store recorded."""
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    keys = [f"short/{i:03d}" for i in range(302)]
    put_objects(s3, src, keys)
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]
    job_id = alice.create_job(**create_kwargs(src, dst, rep, etag))["JobId"]
    wait_for(lambda: alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Status"] == "Complete",
             120, 0.2, "Complete")

    # The page's own load draws the chart: with no periodic refresh at all, it is there.
    page.add_init_script("window.setInterval = () => 0;")
    page.goto(api.url + f"/console/jobs/{job_id}")
    page.wait_for_function("document.querySelector('#throughput-text').textContent !== 'no samples yet'",
                           timeout=30_000)
    assert "tasks/s" in page.locator("#throughput-text").inner_text()
    assert page.locator("#throughput polyline").get_attribute("points")
    samples = json.loads(page.request.get(api.url + f"/console/api/progress?ids={job_id}&detail=1").text())[
        job_id]["samples"]
    assert samples[0][1] == 0 and samples[-1][1] == 302
    recorded = [n for _, n in samples[1:-1]]  # its segments' completions, as the store has them
    assert recorded and recorded == sorted(set(recorded)) and recorded[-1] == 302
    assert all(b[0] > a[0] for a, b in zip(samples, samples[1:], strict=False))


def test_undo_button_creates_the_undo_job_and_it_restores_the_tags(api, alice, page, s3, make_bucket):
    """A finished --undoable tagging job: its page shows Undo; saying no to the question creates
    nothing, saying yes creates the undo job (cosbatch:undo-of), which puts the earlier tags back."""
    src, rep = make_bucket("src"), make_bucket("rep")
    keys = [f"undo/{i:02d}" for i in range(12)]
    put_objects(s3, src, keys)
    s3.put_object_tagging(Bucket=src, Key=keys[0], Tagging={"TagSet": [{"Key": "owner", "Value": "ana"}]})
    write_manifest(s3, src, "manifest.csv", [(src, k) for k in keys])
    etag = s3.head_object(Bucket=src, Key="manifest.csv")["ETag"]
    job_id = alice.create_job(**create_kwargs(
        src, src, rep, etag, Operation={"S3PutObjectTagging": {"TagSet": [{"Key": "stage", "Value": "archived"}]}},
        Tags=[{"Key": "cosbatch:undoable", "Value": "true"}]))["JobId"]
    wait_for(lambda: alice.describe_job(AccountId=ALICE.account, JobId=job_id)["Job"]["Status"] == "Complete",
             60, 0.2, "Complete")
    assert s3.get_object_tagging(Bucket=src, Key=keys[0])["TagSet"] == [{"Key": "stage", "Value": "archived"}]

    page.goto(api.url + f"/console/jobs/{job_id}")
    assert page.locator("#undo").is_visible()
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#undo")
    assert asked and job_id in asked[0] and page.url.endswith(f"/console/jobs/{job_id}")  # no: nothing created
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("#undo")
    undo_id = page.url.split("/console/jobs/")[1].split("?")[0]
    assert undo_id != job_id
    assert page.locator(".flash.ok").inner_text() == f"created job {undo_id}: undo of job {job_id}"
    page.goto(api.url + f"/console/jobs/{job_id}")  # asked again: the same undo job, and said so
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.click("#undo")
    assert page.url.split("/console/jobs/")[1].split("?")[0] == undo_id
    assert page.locator(".flash.ok").inner_text() == f"job {undo_id} already undoes job {job_id}"
    tags = alice.get_job_tagging(AccountId=ALICE.account, JobId=undo_id)["Tags"]
    assert {"Key": "cosbatch:undo-of", "Value": job_id} in tags
    page.wait_for_function("document.querySelector('#job-status').textContent === 'Complete'", timeout=60_000)
    page.wait_for_function("document.querySelector('[data-field=succeeded]').textContent === '12'")
    assert s3.get_object_tagging(Bucket=src, Key=keys[0])["TagSet"] == [{"Key": "owner", "Value": "ana"}]
    assert s3.get_object_tagging(Bucket=src, Key=keys[1])["TagSet"] == []
    assert page.locator("#undo-form").count() == 0  # the undo job itself records nothing to undo
    operation = page.locator("dt:text-is('Operation') + dd").inner_text()
    assert operation.startswith(f"undo of job {job_id}: restores what its S3PutObjectTagging (")
    # An undo job is not cloned (its manifest is the undo records): Undo on its job makes one.
    assert page.locator("#clone").count() == 0
    refused = page.goto(api.url + f"/console/jobs/new?from={undo_id}")
    assert refused.status == 400 and f"Job {undo_id} is an undo job" in page.content()
