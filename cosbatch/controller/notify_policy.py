"""Job notifications: which URLs a job may name, what is sent, and how it is signed.

A job names its URL with the job tag `cosbatch:notify-url` (or `create-job --notify-url`).
Only URLs under a prefix of the server's allowlist are accepted (`--notify-allow`,
`$COSBATCH_NOTIFY_ALLOW`; empty by default, so no URL is), so a user cannot make the server
call an address of the operator's network it did not mean to expose (SSRF). A prefix is
`scheme://host[:port][/path]`: a URL matches it with the same scheme, host and port and a
path at or under the prefix's, segment by segment.

Each notification is a JSON POST signed with the server's secret (`$COSBATCH_NOTIFY_SECRET`):
`X-Cosbatch-Signature: sha256=<hex HMAC-SHA256 of the body>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cosbatch.errors import ConfigError, InvalidRequest
from cosbatch.models import Job, Tag
from cosbatch.reports.summary import report_url
from cosbatch.store.base import NOTIFY_URL_TAG, Notification

SIGNATURE_HEADER = "X-Cosbatch-Signature"
DELIVERY_HEADER = "X-Cosbatch-Delivery"  # JOB_ID:SEQ, the same on every attempt: receivers dedupe by it
EVENT_HEADER = "X-Cosbatch-Event"  # the status notified
ENV_ALLOW = "COSBATCH_NOTIFY_ALLOW"
ENV_SECRET = "COSBATCH_NOTIFY_SECRET"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class _Url:
    scheme: str
    host: str
    port: int
    path: str


def _parse(value: str) -> _Url | None:
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None \
            or parts.password is not None or parts.fragment:
        return None
    return _Url(parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme], parts.path or "/")


def check_url(value: str) -> str:
    """A notify URL's form: http(s)://host[:port][/path], no user info; InvalidRequest if not."""
    if _parse(value) is None:
        raise InvalidRequest(f"must be an http:// or https:// URL with a host (no user info), not {value[:80]!r}")
    return value


def allowed(url: str, allow: Iterable[str]) -> bool:
    """Whether `url` lies under one of the prefixes of `allow` (same scheme, host and port; path
    at or under the prefix's path, whole segments only)."""
    target = _parse(url)
    if target is None:
        return False
    for prefix in allow:
        p = _parse(prefix)
        if p is None or (p.scheme, p.host, p.port) != (target.scheme, target.host, target.port):
            continue
        base = p.path.rstrip("/")
        if target.path == p.path or target.path.startswith(base + "/"):
            return True
    return False


def check_allowed(tags: Iterable[Tag], allow: Sequence[str]) -> None:
    """InvalidRequest naming the tag if the job's notify URL is not allowed by this server."""
    url = next((t.value for t in tags if t.key == NOTIFY_URL_TAG), None)
    if url is not None and not allowed(url, allow):
        raise InvalidRequest(
            f"job tag {NOTIFY_URL_TAG}: {url[:120]!r} is not allowed by this server's notification allowlist"
            + ("" if allow else " (empty: the server allows no notification URL)")
            + f"; its operator allows URL prefixes with --notify-allow or ${ENV_ALLOW}")


def check_allow_list(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The allowlist's prefixes, each an http(s)://host[:port][/path]; ConfigError naming a bad one."""
    out = []
    for prefix in prefixes:
        if _parse(prefix) is None:
            raise ConfigError(f"--notify-allow takes http(s)://HOST[:PORT][/PATH] prefixes, not {prefix[:80]!r}")
        out.append(prefix.strip())
    return tuple(out)


def allow_from_env(given: Iterable[str] = ()) -> tuple[str, ...]:
    """`given` prefixes (--notify-allow) plus $COSBATCH_NOTIFY_ALLOW's (separated by spaces or commas)."""
    env = os.environ.get(ENV_ALLOW, "").replace(",", " ").split()
    return check_allow_list([*given, *env])


def secret_from_env(allow: Sequence[str]) -> bytes | None:
    """The signing secret ($COSBATCH_NOTIFY_SECRET); ConfigError if URLs are allowed without one."""
    secret = os.environ.get(ENV_SECRET, "")
    if allow and not secret:
        raise ConfigError(f"notification URLs are allowed (--notify-allow) but no signing secret is set: "
                          f"set ${ENV_SECRET}")
    return secret.encode() if secret else None


def payload(job: Job, notification: Notification, failures_by_code: dict[str, int]) -> bytes:
    """The JSON body: the status notified and when, the job as DescribeJob shows it now,
    failed tasks by error code and where the report is."""
    return json.dumps({
        "JobId": job.job_id,
        "Status": notification.status.value,
        "At": notification.at.isoformat(),
        "Delivery": delivery_id(notification),
        "Job": job.describe(),
        "FailedTasksByErrorCode": failures_by_code,
        "Report": report_url(job),
    }, default=str, sort_keys=True).encode()


def delivery_id(notification: Notification) -> str:
    return f"{notification.job_id}:{notification.seq}"


def signature(secret: bytes, body: bytes) -> str:
    """The X-Cosbatch-Signature value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
