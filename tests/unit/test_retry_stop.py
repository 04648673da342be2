"""run_with_retries and a stopping job: a retry is a new operation, so once the job stops
(pause, cancel, failure threshold) a task waiting to be tried again is given up, without a result."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cosbatch.manifests import Task
from cosbatch.operations import RetryPolicy, RetryStopped, run_with_retries

TASK = Task("src", "a/b.txt", None)


def _error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "CopyObject")


class Flaky:
    """Fails with `error` `failures` times, then succeeds; counts its calls."""

    def __init__(self, failures: int, error: ClientError) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "Successful"


def test_without_a_stop_a_transient_error_is_retried_until_it_succeeds():
    call = Flaky(3, _error(503, "ServiceUnavailable"))
    naps: list[float] = []
    result = run_with_retries(TASK, call, RetryPolicy(), sleep=naps.append, stopping=lambda: False)
    assert result.succeeded and result.retries == 3 and call.calls == 4 and len(naps) == 3


def test_a_job_that_stopped_sends_no_retry():
    call = Flaky(5, _error(503, "ServiceUnavailable"))
    naps: list[float] = []
    with pytest.raises(RetryStopped, match="a/b.txt"):
        run_with_retries(TASK, call, RetryPolicy(), sleep=naps.append, stopping=lambda: True)
    assert call.calls == 1 and naps == []  # neither another attempt nor a wait for one


def test_a_stop_during_the_wait_ends_it_without_another_attempt():
    call = Flaky(5, _error(503, "SlowDown"))
    stopped: list[bool] = []
    with pytest.raises(RetryStopped):
        # The job stops while the task waits for its retry (the DoFn's wait is the stop Event's).
        run_with_retries(TASK, call, RetryPolicy(), sleep=lambda _s: stopped.append(True),
                         stopping=lambda: bool(stopped))
    assert call.calls == 1 and stopped == [True]


def test_an_attempt_that_ended_keeps_its_result_when_the_job_stops():
    # A refusal (4xx) is the task's result, retried or not: the stop does not hide it.
    refused = run_with_retries(TASK, Flaky(1, _error(403, "AccessDenied")), RetryPolicy(), stopping=lambda: True)
    assert not refused.succeeded and refused.error_code == "AccessDenied"
    # Retries used up before the stop: a TemporaryFailure, as without a stop.
    exhausted = run_with_retries(TASK, Flaky(9, _error(503, "SlowDown")), RetryPolicy(max_attempts=1),
                                 stopping=lambda: True)
    assert not exhausted.succeeded and exhausted.failure_kind == "TemporaryFailure"
    done = run_with_retries(TASK, Flaky(0, _error(503, "SlowDown")), RetryPolicy(), stopping=lambda: True)
    assert done.succeeded


class DeleteObjectsClient:
    """delete_objects answers from `answers` in turn (an exception is raised); counts the calls."""

    def __init__(self, *answers: object) -> None:
        self.answers, self.calls = list(answers), 0

    def delete_objects(self, Bucket: str, Delete: dict) -> dict:  # noqa: N803 (boto3's names)
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


def _delete_operation():
    from cosbatch.models.operation_params import DeleteObject
    from cosbatch.operations.delete import DeleteOperation

    return DeleteOperation(DeleteObject())


def test_a_multi_object_delete_sends_no_retry_once_the_job_stopped():
    tasks = [Task("b", f"k{i}", None) for i in range(3)]
    # The request failed as a whole: nothing was decided, nothing is reported.
    client = DeleteObjectsClient(_error(503, "ServiceUnavailable"), {})
    results = _delete_operation().apply_batch(client, tasks, RetryPolicy(), sleep=lambda _s: None,
                                              stopping=lambda: client.calls >= 1)
    assert results == [] and client.calls == 1
    # One key throttled, the others deleted: the deleted ones keep their results, the throttled
    # one is not sent again.
    client = DeleteObjectsClient({"Errors": [{"Key": "k1", "Code": "SlowDown", "Message": "slow"}]}, {})
    results = _delete_operation().apply_batch(client, tasks, RetryPolicy(), sleep=lambda _s: None,
                                              stopping=lambda: client.calls >= 1)
    assert [(r.key, r.succeeded) for r in results] == [("k0", True), ("k2", True)] and client.calls == 1
    # Not stopping: the throttled key is sent again and deleted.
    client = DeleteObjectsClient({"Errors": [{"Key": "k1", "Code": "SlowDown", "Message": "slow"}]}, {})
    results = _delete_operation().apply_batch(client, tasks, RetryPolicy(), sleep=lambda _s: None)
    assert sorted(r.key for r in results if r.succeeded) == ["k0", "k1", "k2"] and client.calls == 2
