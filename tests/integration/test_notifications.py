"""Job notifications to a real HTTP receiver: signed JSON POSTs on Suspended and on each final
status, retried with backoff, delivered after a controller restart, refused when not allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from cosbatch.controller import JobService, Scheduler
from cosbatch.controller.notify_policy import signature
from cosbatch.lifecycle import JobStatus as S
from cosbatch.store.base import NotificationState
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects, running_scheduler, wait_for
from tests.integration.helpers import copy_request, write_manifest
from tests.support.api_server import free_port
from tests.support.receiver import Receiver, receiving

SECRET = b"notify-test-secret"


@pytest.fixture()
def receiver():
    yield from receiving(answers=[500])  # the first POST fails: the notifier must retry


def _job_body(s3, make_bucket, url: str, token: str, **over) -> dict:
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["a", "b"])
    write_manifest(s3, src, "m.csv", [(src, "a"), (src, "b"), (src, "gone")])
    body = copy_request(src, "m.csv", dst, rep, token=token, **over)
    body["Tags"] = [{"Key": "cosbatch:notify-url", "Value": url}, {"Key": "team", "Value": "data"}]
    return body


def _check_signed(post, secret: bytes = SECRET) -> dict:
    assert post.headers["content-type"] == "application/json"
    assert post.headers["x-cosbatch-signature"] == signature(secret, post.body)
    return post.json


def test_complete_job_is_notified_signed_and_retried(s3, make_bucket, store, settings, receiver):
    cfg = replace(settings, notify_allow=(f"{receiver.url}/hooks",), notify_secret=SECRET, notify_retry_s=0.2)
    service = JobService(store, cfg.storages, notify_allow=cfg.notify_allow)
    job = service.create_job(parse_create_job(_job_body(s3, make_bucket, f"{receiver.url}/hooks/batch", "done")))
    with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
        wait_for(lambda: len(receiver.posts) >= 2, 120, what="a notification, then its retry",
                 state=lambda: (service.describe_job(job.job_id).status, store.notifications(job.job_id)))
    first, second = receiver.posts[:2]
    assert first.body == second.body and first.path == "/hooks/batch"  # the same notification, again
    body = _check_signed(second)
    assert body["JobId"] == job.job_id and body["Status"] == "Complete"
    assert body["Job"]["ProgressSummary"]["NumberOfTasksFailed"] == 1
    assert body["FailedTasksByErrorCode"] == {"NoSuchKey": 1}
    assert body["Report"].startswith("s3://") and body["Report"].endswith(f"/job-{job.job_id}/")
    complete = next(h for h in store.history(job.job_id) if h.to_status is S.COMPLETE)
    assert second.headers["x-cosbatch-delivery"] == f"{job.job_id}:{complete.seq}" == body["Delivery"]
    assert second.headers["x-cosbatch-event"] == "Complete"
    [recorded] = store.notifications(job.job_id)
    assert (recorded.state, recorded.attempts, recorded.last_error) == (NotificationState.DELIVERED, 2, None)
    assert len(receiver.posts) == 2  # delivered once: never sent again


def test_suspended_then_cancelled_are_notified(s3, make_bucket, store, settings):
    with Receiver().start() as receiver:
        cfg = replace(settings, notify_allow=(receiver.url,), notify_secret=SECRET)
        service = JobService(store, cfg.storages, notify_allow=cfg.notify_allow)
        body = _job_body(s3, make_bucket, f"{receiver.url}/x", "suspended", ConfirmationRequired=True)
        job = service.create_job(parse_create_job(body))
        with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
            wait_for(lambda: receiver.posts, 60, what="the Suspended notification")
            service.update_job_status(job.job_id, "Cancelled", "not today")
            wait_for(lambda: len(receiver.posts) >= 2, 60, what="the Cancelled notification")
        statuses = [_check_signed(p)["Status"] for p in receiver.posts]
    assert statuses == ["Suspended", "Cancelled"]
    assert receiver.posts[1].json["Job"]["StatusUpdateReason"] == "not today"


def test_a_hanging_receiver_never_holds_up_the_scheduler(s3, make_bucket, store, settings):
    import threading

    release = threading.Event()
    with Receiver(hold=release).start() as receiver:
        cfg = replace(settings, notify_allow=(receiver.url,), notify_secret=SECRET, notify_timeout_s=120)
        service = JobService(store, cfg.storages, notify_allow=cfg.notify_allow)
        first = service.create_job(parse_create_job(_job_body(s3, make_bucket, f"{receiver.url}/a", "hang-1")))
        with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
            wait_for(lambda: receiver.posts, 120, what="the first job's notification, now hanging")
            second_body = _job_body(s3, make_bucket, f"{receiver.url}/b", "hang-2")
            second = service.create_job(parse_create_job(second_body))
            # The receiver still holds the first POST; the scheduler runs the next job to its end anyway.
            wait_for(lambda: service.describe_job(second.job_id).status is S.COMPLETE, 120, what="the next job",
                     state=lambda: service.describe_job(second.job_id).status)
            assert not release.is_set() and len(receiver.posts) == 1
            release.set()
            wait_for(lambda: len(receiver.posts) == 2, 60, what="the second job's notification")
    assert [p.json["JobId"] for p in receiver.posts] == [first.job_id, second.job_id]


def test_a_receiver_that_keeps_failing_is_given_up_after_the_attempts(s3, make_bucket, store, settings):
    with Receiver(answers=[503, 503, 503]).start() as receiver:
        cfg = replace(settings, notify_allow=(receiver.url,), notify_secret=SECRET, notify_attempts=3,
                      notify_retry_s=0.1)
        service = JobService(store, cfg.storages, notify_allow=cfg.notify_allow)
        job = service.create_job(parse_create_job(_job_body(s3, make_bucket, f"{receiver.url}/x", "gives-up")))
        with running_scheduler(Scheduler(store.__class__(store.path), cfg)):
            wait_for(lambda: store.notifications(job.job_id)
                     and store.notifications(job.job_id)[0].state is NotificationState.FAILED, 120,
                     what="the notification given up", state=lambda: store.notifications(job.job_id))
    [given_up] = store.notifications(job.job_id)
    assert (given_up.attempts, given_up.last_error) == (3, "HTTP 503")
    assert len(receiver.posts) == 3  # and no fourth attempt


def _cli(store_url: str, endpoint: str, *args: str, port: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "COSBATCH_NOTIFY_SECRET": SECRET.decode()}
    cmd = [sys.executable, "-m", "cosbatch.cli.main", "--store", store_url, "--endpoint-url", endpoint,
           "--notify-allow", f"http://127.0.0.1:{port}/hooks", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_cli_notify_url_refused_unless_allowed_and_delivered_after_a_restart(s3, s3_server, make_bucket, tmp_path):
    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    port = free_port()  # the receiver is down at first
    body = _job_body(s3, make_bucket, "", "cli")
    src, dst, rep = (body["Manifest"]["Location"]["ObjectArn"].split(":::")[1].split("/")[0],
                     body["Operation"]["S3PutObjectCopy"]["TargetResource"].split(":::")[1],
                     body["Report"]["Bucket"].split(":::")[1])
    create = ["create-job", "--account-id", "123456789012", "--no-confirmation-required",
              "--manifest", json.dumps(body["Manifest"]), "--operation", json.dumps(body["Operation"]),
              "--report", json.dumps(body["Report"]), "--priority", "10",
              "--role-arn", "arn:aws:iam::123456789012:role/batch", "--no-progress"]

    refused = _cli(store_url, s3_server.endpoint_url, *create, "--notify-url", "http://169.254.169.254/latest",
                   port=port)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines()[-1:] == [
        "cosbatch: InvalidRequest: job tag cosbatch:notify-url: 'http://169.254.169.254/latest' is not allowed by "
        "this server's notification allowlist; its operator allows URL prefixes with --notify-allow or "
        "$COSBATCH_NOTIFY_ALLOW"]

    url = f"http://127.0.0.1:{port}/hooks/{src}"
    waited = _cli(store_url, s3_server.endpoint_url, *create, "--notify-url", url, "--wait", port=port)
    assert waited.returncode == 3, waited.stderr  # Complete with a failed task
    job_id = waited.stdout.split()[1]
    from cosbatch.store import open_store

    store = open_store(store_url)
    [pending] = store.notifications(job_id)
    assert pending.state is NotificationState.PENDING and pending.attempts >= 1  # refused: nobody listens
    assert "ConnectionRefused" in (pending.last_error or "") or "URLError" in (pending.last_error or "")

    with Receiver(port=port).start() as receiver:
        again = _cli(store_url, s3_server.endpoint_url, "run", "--no-progress", port=port)  # a new controller
        assert again.returncode == 0, again.stderr
        [post] = receiver.posts
    assert _check_signed(post)["Status"] == "Complete" and post.path == f"/hooks/{src}"
    assert post.headers["x-cosbatch-delivery"] == f"{job_id}:{pending.seq}"
    assert store.notifications(job_id)[0].state is NotificationState.DELIVERED
    assert s3.list_objects_v2(Bucket=dst)["KeyCount"] == 2 and rep
