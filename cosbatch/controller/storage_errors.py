"""What a storage error met while preparing a job means, as a typed, truthful ManifestError.

- connection refused, timeouts, 5xx, throttling: `StorageUnreachable`, transient (the
  scheduler retries it with backoff for Settings.storage_patience_s, the job staying in
  Preparing with StatusUpdateReason "waiting for storage: <reason>");
- 403 / bad key id / bad signature: `AccessDenied`, naming the storage and the access key id
  (never the secret);
- no credentials at all (boto3's chain found none): `CredentialsNotSet`, saying where to set them;
- anything else keeps the code its caller gives it (ManifestNotFound, ReportBucketNotFound,
  ... on a real 404).
"""

from __future__ import annotations

import urllib.parse

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectTimeoutError as BotoConnectTimeout,
)

from cosbatch.errors import ManifestError
from cosbatch.storage import Storage

#: Error codes a storage answers when it is busy or restarting: worth waiting for.
THROTTLING = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                        "TooManyRequests", "ServiceUnavailable", "InternalError", "RequestTimeout",
                        "503", "500", "502", "504"})
DENIED = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
                    "ExpiredToken", "403"})


class StorageUnreachable(ManifestError):
    """The storage did not answer, or answered "busy": retried while the job waits in Preparing."""

    code = "StorageUnreachable"
    http_status = 503

    def __init__(self, message: str, *, brief: str | None = None) -> None:
        super().__init__(message)
        #: The same in a few words, for a progress line: "127.0.0.1:18999 unreachable".
        self.brief = brief or message


def status_of(exc: ClientError) -> tuple[int | None, str]:
    """(HTTP status, error code) of a ClientError."""
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), exc.response.get("Error", {}).get("Code", "")


def storage_cause(exc: BaseException) -> BaseException | None:
    """The botocore error behind `exc` (itself, or one it was raised while handling)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, BotoCoreError | ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _key_id(storage: Storage) -> str:
    try:
        key = storage.credentials.access_key_id()
    except Exception:  # a broken profile: the key id is unknown, the error still names the storage
        key = None
    return repr(key) if key else "(none found)"


def classify(exc: BaseException, storage: Storage, what: str) -> ManifestError | None:
    """A StorageUnreachable or AccessDenied error for a storage failure met doing `what`
    (e.g. "HEAD s3://b/k"); None when the failure is neither (the caller's code applies)."""
    cause = storage_cause(exc)
    where = storage.describe()
    host = _host(storage)
    if isinstance(cause, EndpointConnectionError | BotoConnectTimeout | ReadTimeoutError | ConnectionClosedError):
        return StorageUnreachable(f"{where} is unreachable ({type(cause).__name__}) on {what}",
                                  brief=f"{host} unreachable")
    if isinstance(cause, NoCredentialsError):
        return ManifestError(f"{where}: no credentials found for {what}: set AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or name the storage's keys in a "
                             "--storage-config", code="CredentialsNotSet")
    if isinstance(cause, ClientError):
        status, code = status_of(cause)
        if (status or 0) >= 500 or code in THROTTLING or status == 429:
            return StorageUnreachable(f"{where} answered {status} {code or ''} on {what}".replace("  ", " "),
                                      brief=f"{host} answered {status} {code or ''}".strip())
        if status == 403 or code in DENIED:
            detail = "" if code in ("403", "AccessDenied", "") else f" ({code})"
            return ManifestError(f"{where} denied access to access key id {_key_id(storage)} on {what}{detail}",
                                 code="AccessDenied")
    elif isinstance(cause, BotoCoreError):  # other connection-level trouble (e.g. a proxy error)
        return StorageUnreachable(f"{where} is unreachable ({type(cause).__name__}) on {what}",
                                  brief=f"{host} unreachable")
    return None


def _host(storage: Storage) -> str:
    """Where the storage is, shortly: its endpoint's host:port, else "AWS S3 <region>"."""
    if storage.endpoint_url:
        return urllib.parse.urlsplit(storage.endpoint_url).netloc or storage.endpoint_url
    return f"AWS S3 {storage.region}"
