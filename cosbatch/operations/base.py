"""The operation interface, task results, and the retry policy every operation shares."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from cosbatch.manifests import Task

PERMANENT = "PermanentFailure"
TEMPORARY = "TemporaryFailure"


class TaskResult(NamedTuple):
    """One row of the completion report."""

    bucket: str
    key: str
    version_id: str | None
    succeeded: bool
    http_status: int | None
    error_code: str  # storage error code (NoSuchKey, ...) or "" on success
    message: str  # "Successful", or why it failed
    failure_kind: str = ""  # PermanentFailure | TemporaryFailure | "" on success
    retries: int = 0

    @property
    def status(self) -> str:
        return "succeeded" if self.succeeded else "failed"


_RETRYABLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
     "ServiceUnavailable", "RequestTimeTooSkewed", "TooManyRequests", "503", "500"}
)
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError)


_THROTTLING_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "TooManyRequests"})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter for throttling, 5xx and connection errors.

    Throttling gives up after `max_attempts`. An unavailable storage (connection
    refused/reset/timed out, or a 5xx that is not throttling: a server restarting)
    is retried for at least `outage_s` from the task's first attempt, so an outage
    shorter than that delays tasks instead of failing them.
    """

    max_attempts: int = 10
    base_delay_s: float = 0.05
    max_delay_s: float = 5.0
    outage_s: float = 60.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * (2 ** min(attempt, 30))))

    def retry(self, attempt: int, started: float, unavailable: bool) -> bool:
        """Whether to try again after `attempt` failed attempts (retryable errors only)."""
        if attempt < self.max_attempts:
            return True
        return unavailable and time.monotonic() - started < self.outage_s


def error_parts(exc: BaseException) -> tuple[int | None, str, str]:
    """(HTTP status, error code, message) of a storage or connection error."""
    if not isinstance(exc, ClientError):
        return None, type(exc).__name__, str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    err = exc.response.get("Error", {})
    code = str(err.get("Code") or status or "Unknown")
    message = str(err.get("Message") or exc)
    return status, code, message


def is_retryable_code(code: str) -> bool:
    return code in _RETRYABLE_CODES


def is_unavailable(exc: BaseException) -> bool:
    """The storage cannot serve at all (down, restarting, unreachable), as opposed to throttling."""
    if isinstance(exc, ClientError):
        status, code, _ = error_parts(exc)
        return code not in _THROTTLING_CODES and status is not None and status >= 500
    return isinstance(exc, _CONNECTION_ERRORS)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        status, code, _ = error_parts(exc)
        return code in _RETRYABLE_CODES or (status is not None and status >= 500)
    return isinstance(exc, _CONNECTION_ERRORS)


class RetryStopped(Exception):
    """A task given up between two attempts because its job is stopping (paused, cancelled, or
    failed by its threshold): no new request is sent for it, and it has no result. The job's stop
    accounts for it, as for a task not yet started: a paused segment runs again, a cancelled
    job does not report it."""


def wait_to_retry(delay: float, sleep: Callable[[float], object], stopping: Callable[[], bool] | None) -> bool:
    """Wait `delay` before a retry; False, and no retry, if the job is stopping before the wait
    or by its end (`sleep` may be a stop Event's `wait`, which returns as the job stops)."""
    if stopping is not None and stopping():
        return False
    sleep(delay)
    return stopping is None or not stopping()


def run_with_retries(
    task: Task,
    call: Callable[[], str],
    policy: RetryPolicy,
    sleep: Callable[[float], object] = time.sleep,
    stopping: Callable[[], bool] | None = None,
) -> TaskResult:
    """Run one object operation; `call` returns the success message or raises.

    4xx fail at once (PermanentFailure); throttling, 5xx and connection errors are
    retried per `policy`, then fail as TemporaryFailure. With `stopping`, asked before each
    retry and after its wait, a retry is a new operation like any other: once the job stops,
    RetryStopped instead of another attempt (an outage is retried for a minute: a pause must
    not wait for it). `sleep` may return early when the job stops (an Event's `wait`).
    """
    attempt = 0
    started = time.monotonic()
    while True:
        try:
            message = call()
            return TaskResult(task.bucket, task.key, task.version_id, True, 200, "", message, "", attempt)
        except ClientError as exc:
            status, code, message = error_parts(exc)
            if not is_retryable(exc):
                return TaskResult(task.bucket, task.key, task.version_id, False, status, code, message, PERMANENT, attempt)
            last = (status, code, message)
            unavailable = is_unavailable(exc)
        except _CONNECTION_ERRORS as exc:
            last = (None, type(exc).__name__, str(exc))
            unavailable = True
        except BotoCoreError as exc:  # parameter validation and the like: not worth retrying
            return TaskResult(task.bucket, task.key, task.version_id, False, None, type(exc).__name__, str(exc), PERMANENT, attempt)
        attempt += 1
        if not policy.retry(attempt, started, unavailable):
            status, code, message = last
            return TaskResult(task.bucket, task.key, task.version_id, False, status, code, message, TEMPORARY, attempt - 1)
        if not wait_to_retry(policy.delay(attempt), sleep, stopping):
            raise RetryStopped(f"{task.bucket}/{task.key}: not retried, the job is stopping")


#: Tasks per manifest segment unless the operation or the settings say otherwise.
DEFAULT_SEGMENT_TASKS = 1000


class Operation(Protocol):
    """What a batch operation is: a name, the client it needs, and a per-object action.

    `client_kind` is "lean" for operations the lean S3 client covers (the fast
    path), "boto3" for anything else. An operation may declare `segment_tasks`, the
    segment size it runs best with (default DEFAULT_SEGMENT_TASKS).
    """

    name: ClassVar[str]
    client_kind: ClassVar[str]

    def apply(self, client: Any, task: Task) -> str:
        """Do the work on one object; return the success message or raise ClientError."""
        ...
