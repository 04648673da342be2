"""`/metrics`: Prometheus text, read with prometheus-client's own parser."""

from __future__ import annotations

import io
import uuid

from prometheus_client.parser import text_string_to_metric_families

from cosbatch.api import ApiApp
from cosbatch.controller import JobService
from cosbatch.storage import StorageCatalog
from cosbatch.wire.dialects import parse_create_job
from tests.api.conftest import ALICE, BOB
from tests.api.test_console_routes import basic, created_job, finished, job_fields, post_form
from tests.conftest import put_objects


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(api, key) -> dict[tuple[str, tuple], float]:
    answer = api.http.request("GET", api.url + "/metrics", headers=basic(key))
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return samples(answer.data.decode())


def test_metrics_count_jobs_and_tasks_of_the_signed_in_account(api, alice, s3, make_bucket):
    assert api.http.request("GET", api.url + "/metrics").status == 401  # signed in like the console
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, [f"m/{i}" for i in range(7)])
    before, bob_before = scrape(api, ALICE), scrape(api, BOB)
    lines = "".join(f"{src},m/{i}\n" for i in range(7)) + f"{src},missing/1\n{src},missing/2\n"
    job_id = created_job(post_form(api, job_fields(api, src, dst, rep, manifest_text=lines)))
    assert finished(alice, job_id)["Status"] == "Complete"
    after, bob_after = scrape(api, ALICE), scrape(api, BOB)

    copy = (("operation", "S3PutObjectCopy"),)
    assert after[("cosbatch_tasks_succeeded_total", copy)] - before.get(("cosbatch_tasks_succeeded_total", copy), 0) == 7
    assert after[("cosbatch_tasks_failed_total", copy)] - before.get(("cosbatch_tasks_failed_total", copy), 0) == 2
    complete = ("cosbatch_jobs", (("state", "Complete"),))
    assert after[complete] == before[complete] + 1
    assert {labels for name, labels in after if name == "cosbatch_jobs"} >= {
        (("state", s),) for s in ("New", "Preparing", "Suspended", "Ready", "Active", "Complete", "Failed",
                                  "Cancelled")}
    # Bob's scrape counts Bob's jobs: Alice's job is not in it.
    assert bob_after[complete] == bob_before[complete]
    assert bob_after.get(("cosbatch_tasks_failed_total", copy)) == bob_before.get(("cosbatch_tasks_failed_total", copy))
    # Request latency by route: the console's POST and the API's describe calls made above.
    count = {labels: v for (name, labels), v in after.items() if name == "cosbatch_http_request_duration_seconds_count"}
    assert count[(("method", "POST"), ("route", "console"))] >= 1
    assert count[(("method", "GET"), ("route", "describe_job"))] >= 1
    assert count[(("method", "GET"), ("route", "metrics"))] >= 2


def _call(app: ApiApp, path: str, method: str = "GET") -> tuple[str, bytes]:
    status = []
    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.input": io.BytesIO(),
                         "HTTP_HOST": "localhost"}, lambda s, h: status.append(s)))
    return status[0], body


def _new_job(service: JobService, account: str) -> None:
    service.create_job(parse_create_job({
        "AccountId": account, "ClientRequestToken": str(uuid.uuid4()), "Priority": 1,
        "RoleArn": f"arn:aws:iam::{account}:role/batch", "Report": {"Enabled": False},
        "Operation": {"S3DeleteObjectTagging": {}},
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": "arn:aws:s3:::bucket/m.csv", "ETag": "0" * 32}}}))


def test_two_servers_in_one_process_keep_their_own_metrics(tmp_path):
    from cosbatch.store import open_store

    storages = StorageCatalog.at("http://127.0.0.1:9")
    stores = [open_store(f"sqlite:///{tmp_path / f'{n}.db'}") for n in (1, 2)]
    services = [JobService(s, storages) for s in stores]
    apps = [ApiApp(service, None) for service in services]  # dev mode: every account, no sign-in
    try:
        _new_job(services[0], "111122223333")
        _new_job(services[0], "444455556666")
        for _ in range(3):
            assert _call(apps[0], "/healthz")[0].startswith("200")
        assert _call(apps[0], "/metrics", "POST")[0].startswith("405")
        first, second = (samples(_call(app, "/metrics")[1].decode()) for app in apps)
        new = ("cosbatch_jobs", (("state", "New"),))
        assert first[new] == 2 and second[new] == 0
        healthz = ("cosbatch_http_request_duration_seconds_count", (("method", "GET"), ("route", "healthz")))
        assert first[healthz] == 3 and healthz not in second
        assert first[("cosbatch_tasks_succeeded_total", (("operation", "S3DeleteObjectTagging"),))] == 0
    finally:
        for app in apps:
            app.close()
        for s in stores:
            s.close()
