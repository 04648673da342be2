"""Invoke: call a user's Python function on each object (cosbatch's LambdaInvoke for notebooks).

The function gets a boto3 S3 client and the object; whatever it returns is the
report's ResultMessage. A ClientError it raises is classified like any storage
error (retried when transient); any other exception fails the task permanently.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from cosbatch.manifests import Task
from cosbatch.models.operation_params import Invoke


class UserFunctionError(Exception):
    """The user's function raised something other than a storage error."""


def load_function(spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    function = getattr(importlib.import_module(module_name), attr)
    if not callable(function):
        raise TypeError(f"{spec} is not callable")
    return function


class InvokeOperation:
    name: ClassVar[str] = "Invoke"
    client_kind: ClassVar[str] = "boto3"

    def __init__(self, params: Invoke) -> None:
        self.function = load_function(params.function)
        self.user_arguments = dict(params.user_arguments)

    def apply(self, client: Any, task: Task) -> str:
        try:
            result = self.function(client, bucket=task.bucket, key=task.key, version_id=task.version_id,
                                   **self.user_arguments)
        except ClientError:
            raise
        except Exception as exc:  # the user's code: report it, never crash the pipeline
            raise ClientError(
                {"Error": {"Code": "UserFunctionError", "Message": f"{type(exc).__name__}: {exc}"},
                 "ResponseMetadata": {"HTTPStatusCode": 400}},
                "Invoke",
            ) from exc
        return "Successful" if result is None else str(result)
