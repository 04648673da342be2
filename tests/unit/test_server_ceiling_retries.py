"""The benchmarks' server-alone ceiling sends a request again after a transient error (as a job
would), so that one SeaweedFS InternalError does not end a run, and still stops on a refusal."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from benchmarks import server_ceiling


def _error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "CopyObject")


def test_a_transient_error_is_sent_again_and_counted(monkeypatch):
    monkeypatch.setattr(server_ceiling, "retried", [])
    answers = [_error("InternalError", 500), "etag"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert server_ceiling._with_retries("src", "big", call) == "etag"
    assert answers == []
    assert server_ceiling.retried == [1]


def test_a_refusal_is_not_retried_and_names_the_key(monkeypatch):
    monkeypatch.setattr(server_ceiling, "retried", [])
    calls = []

    def call() -> str:
        calls.append(1)
        raise _error("AccessDenied", 403)

    with pytest.raises(RuntimeError, match="big: AccessDenied"):
        server_ceiling._with_retries("src", "big", call)
    assert len(calls) == 1
    assert server_ceiling.retried == []
