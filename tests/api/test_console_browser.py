"""The web console in headless Chromium (Debian's chromium, driven by Playwright): sign in, filter by
status, confirm a Suspended job and watch it run to Complete, change a priority. Screenshots are saved
under test-artifacts/."""

from __future__ import annotations

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

    page.click("#confirm")
    assert page.locator(".flash.ok").inner_text() in ("job is Ready", "job is Active", "job is Complete")
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
