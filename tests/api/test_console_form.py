"""The console's job form, without a server: each operation's example parameters are valid."""

from __future__ import annotations

import pytest

from cosbatch.api.console_form import EXAMPLES, OPERATIONS
from cosbatch.wire.dialects import parse_create_job


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_has_a_valid_example(operation):
    request = parse_create_job({
        "AccountId": "111122223333", "ClientRequestToken": "t", "Priority": 1, "Report": {"Enabled": False},
        "RoleArn": "arn:aws:iam::111122223333:role/batch", "Operation": {operation: EXAMPLES[operation]},
        "Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                     "Location": {"ObjectArn": "arn:aws:s3:::bucket/m.csv", "ETag": "0" * 32}}})
    assert request.operation.name == operation
