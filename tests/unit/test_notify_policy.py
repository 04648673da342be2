"""Notification URLs: the form a job's URL must have, the server's allowlist (no way around it),
the signature, and the outbox every store keeps (sqlite, postgresql)."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from cosbatch.controller import JobService
from cosbatch.controller.notify_policy import allowed, check_allow_list, secret_from_env, signature
from cosbatch.errors import ConfigError, InvalidRequest
from cosbatch.lifecycle import JobStatus as S
from cosbatch.store.base import NotificationState
from cosbatch.wire.dialects import parse_create_job
from tests.unit.test_models import s3_body

ALLOW = ("http://127.0.0.1:8999/hooks", "https://hooks.example.com")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8999/hooks", "http://127.0.0.1:8999/hooks/", "http://127.0.0.1:8999/hooks/job/done",
    "https://hooks.example.com/", "https://HOOKS.example.com:443/any/path", "https://hooks.example.com",
])
def test_urls_under_an_allowed_prefix_are_allowed(url):
    assert allowed(url, ALLOW)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8999/hooksx",  # not a segment of /hooks
    "http://127.0.0.1:8999/",  # above the prefix
    "http://127.0.0.1:89990/hooks",  # another port
    "http://127.0.0.1:8999.evil.com/hooks",  # another host that starts alike
    "http://127.0.0.1/hooks",  # port 80
    "https://127.0.0.1:8999/hooks",  # another scheme
    "http://hooks.example.com/",  # http, not https
    "https://hooks.example.com@169.254.169.254/",  # user info: the host is the metadata service
    "https://hooks.example.com.evil.com/",
    "ftp://hooks.example.com/", "hooks.example.com", "", "http:///hooks",
])
def test_anything_else_is_refused(url):
    assert not allowed(url, ALLOW)
    assert not allowed(url, ())  # and with no allowlist, nothing at all is allowed


def test_allowlist_prefixes_and_the_secret_are_checked_at_startup(monkeypatch):
    assert check_allow_list([" http://a:1/x "]) == ("http://a:1/x",)
    with pytest.raises(ConfigError, match="--notify-allow takes"):
        check_allow_list(["127.0.0.1:8999"])
    monkeypatch.delenv("COSBATCH_NOTIFY_SECRET", raising=False)
    with pytest.raises(ConfigError, match="COSBATCH_NOTIFY_SECRET"):
        secret_from_env(ALLOW)
    assert secret_from_env(()) is None
    monkeypatch.setenv("COSBATCH_NOTIFY_SECRET", "s3cret")
    assert secret_from_env(ALLOW) == b"s3cret"


def test_signature_is_hmac_sha256_of_the_body():
    body = b'{"JobId": "j"}'
    assert signature(b"key", body) == "sha256=" + hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert signature(b"other", body) != signature(b"key", body)


@pytest.fixture()
def store(any_store):
    return any_store


def _create(service, url: str | None, token: str, **over):
    tags = [{"Key": "cosbatch:notify-url", "Value": url}] if url else []
    return service.create_job(parse_create_job(s3_body(ClientRequestToken=token, Tags=tags, **over)))


def test_create_job_and_put_job_tagging_refuse_a_url_not_allowed(store):
    service = JobService(store, notify_allow=ALLOW)
    with pytest.raises(InvalidRequest, match="job tag cosbatch:notify-url: 'http://10.0.0.1/x' is not allowed"):
        _create(service, "http://10.0.0.1/x", "t1")
    with pytest.raises(InvalidRequest, match="job tag cosbatch:notify-url: must be an http"):
        _create(service, "file:///etc/passwd", "t2")
    with pytest.raises(InvalidRequest, match="empty: the server allows no notification URL"):
        _create(JobService(store), "http://127.0.0.1:8999/hooks", "t3")
    job = _create(service, "http://127.0.0.1:8999/hooks/a", "t4")
    with pytest.raises(InvalidRequest, match="cosbatch:notify-url"):
        service.put_job_tagging(job.job_id, [{"Key": "cosbatch:notify-url", "Value": "http://169.254.169.254/"}])
    assert service.get_job_tagging(job.job_id)[0].value == "http://127.0.0.1:8999/hooks/a"  # unchanged


def test_the_store_records_a_notification_with_each_notified_status(store):
    service = JobService(store, notify_allow=ALLOW)
    job = _create(service, "http://127.0.0.1:8999/hooks/a", "n1")
    plain = _create(service, None, "n2")
    for job_id in (job.job_id, plain.job_id):
        store.transition(job_id, S.NEW, S.PREPARING)
        store.transition(job_id, S.PREPARING, S.SUSPENDED, suspended_cause="confirm")
        store.transition(job_id, S.SUSPENDED, S.READY)
        store.transition(job_id, S.READY, S.ACTIVE)
        store.transition(job_id, S.ACTIVE, S.COMPLETING)
        store.transition(job_id, S.COMPLETING, S.COMPLETE)
    assert store.notifications(plain.job_id) == []  # no URL, no notification
    recorded = store.notifications(job.job_id)
    assert [(n.status, n.seq, n.state) for n in recorded] == [
        (S.SUSPENDED, 3, NotificationState.PENDING), (S.COMPLETE, 7, NotificationState.PENDING)]
    history = {h.seq: h.to_status for h in store.history(job.job_id)}
    assert all(history[n.seq] is n.status for n in recorded)  # each names its own status change

    now = time.time()
    due = store.due_notifications(now + 1)
    assert [(n.job_id, n.seq) for n in due] == [(job.job_id, 3), (job.job_id, 7)]
    store.notification_attempted(job.job_id, 3, None, None)  # delivered
    store.notification_attempted(job.job_id, 7, "HTTP 500", now + 60)  # to retry in a minute
    assert store.due_notifications(now + 1) == []
    [retry] = store.due_notifications(now + 61)
    assert (retry.seq, retry.attempts, retry.last_error) == (7, 1, "HTTP 500")
    store.notification_attempted(job.job_id, 7, "HTTP 500", None)  # given up
    states = [(n.state, n.attempts) for n in store.notifications(job.job_id)]
    assert states == [(NotificationState.DELIVERED, 1), (NotificationState.FAILED, 2)]
    assert store.due_notifications(now + 3600) == []
