"""Delivering job notifications, in a thread of their own: the scheduler loop never waits on a receiver.

`JobStore.transition` records a notification with each status a job with a notify URL is
notified of (Complete, Failed, Cancelled, Suspended), in the same transaction. The notifier
of the controller holding the scheduler lease POSTs the due ones; a 2xx answer delivers one,
anything else (an error status, a redirect, no answer within the timeout) is retried with
backoff up to `Settings.notify_attempts` attempts. What is still pending when a controller
stops is sent by the next one: delivery is at least once, and every attempt of one
notification carries the same `X-Cosbatch-Delivery` id.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.client import HTTPException
from typing import Any

from cosbatch import logs
from cosbatch.controller import notify_policy
from cosbatch.errors import StoreUnavailable
from cosbatch.reports.summary import failures_by_code
from cosbatch.settings import Settings
from cosbatch.store.base import JobStore, Notification


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: following it would reach a URL nobody allowed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> str | None:
    """POST; None if the receiver answered 2xx, else what went wrong."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "cosbatch", **headers})
    try:
        with _OPENER.open(request, timeout=timeout_s) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        return f"{type(exc).__name__}: {reason}"
    return None if 200 <= status < 300 else f"HTTP {status}"


class Notifier:
    def __init__(self, store: JobStore, settings: Settings, active: Callable[[], bool] = lambda: True,
                 poll_s: float = 0.5) -> None:
        """`active`: whether this process may deliver now (it holds the scheduler lease)."""
        assert settings.notify_secret, "notifications are signed: Settings.notify_secret is required"
        self.store = store
        self.settings = settings
        self.active = active
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._closing_at: float | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering (again, if the thread ended); cheap when it runs."""
        if self._closing_at is None and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(target=self._loop, name="cosbatch-notifier", daemon=True)
            self._thread.start()

    def close(self, flush_s: float) -> None:
        """Stop, after one more attempt at whatever is due, for at most about `flush_s`."""
        self._closing_at = time.monotonic() + flush_s
        self._wake.set()
        if self._thread is not None:
            self._thread.join(flush_s + self.settings.notify_timeout_s)

    def _loop(self) -> None:
        while True:
            closing = self._closing_at is not None
            try:
                handled = self.deliver_due() if self.active() else 0
            except StoreUnavailable as exc:
                logs.event("notifier_store_unavailable", level=logging.WARNING, error=exc.message)
                handled = 0
            except Exception as exc:  # a bad row must not end delivery for every other job
                logs.event("notifier_failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")
                handled = 0
            if closing and (handled == 0 or time.monotonic() > (self._closing_at or 0)):
                return
            if not closing:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def deliver_due(self) -> int:
        """One attempt at each due notification; how many there were."""
        due = self.store.due_notifications(time.time())
        for notification in due:
            if self._closing_at is not None and time.monotonic() > self._closing_at:
                break
            self._attempt(notification)
        return len(due)

    def _attempt(self, n: Notification) -> None:
        s = self.settings
        if not notify_policy.allowed(n.url, s.notify_allow):
            self.store.notification_attempted(n.job_id, n.seq, "the URL is not allowed by this server's "
                                              "notification allowlist", None)
            logs.event("notification_refused", level=logging.WARNING, job_id=n.job_id, url=n.url)
            return
        job = self.store.get_job(n.job_id)
        body = notify_policy.payload(job, n, failures_by_code(job, self.store.failure_codes(n.job_id)))
        assert s.notify_secret is not None
        headers = {notify_policy.SIGNATURE_HEADER: notify_policy.signature(s.notify_secret, body),
                   notify_policy.DELIVERY_HEADER: notify_policy.delivery_id(n),
                   notify_policy.EVENT_HEADER: n.status.value}
        error = post(n.url, body, headers, s.notify_timeout_s)
        attempts = n.attempts + 1
        retry_at = None
        if error is not None and attempts < s.notify_attempts:
            retry_at = time.time() + min(s.notify_retry_max_s, s.notify_retry_s * 2 ** (attempts - 1))
        self.store.notification_attempted(n.job_id, n.seq, error, retry_at)
        if error is None:
            logs.event("notification_delivered", job_id=n.job_id, status=n.status.value, attempts=attempts)
        else:
            logs.event("notification_failed" if retry_at is None else "notification_retry", level=logging.WARNING,
                       job_id=n.job_id, status=n.status.value, attempts=attempts, error=error)
