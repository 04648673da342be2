"""ComputeObjectChecksum: stream each object and report its full-object checksum."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any, ClassVar

from cosbatch.manifests import Task
from cosbatch.models.operation_params import ComputeObjectChecksum

CHUNK = 1 << 20


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def new_hasher(algorithm: str) -> Any:
    return _Crc32() if algorithm == "CRC32" else hashlib.new(algorithm.lower())


class ChecksumOperation:
    name: ClassVar[str] = "S3ComputeObjectChecksum"
    client_kind: ClassVar[str] = "boto3"

    def __init__(self, params: ComputeObjectChecksum) -> None:
        self.algorithm = params.checksum_algorithm
        self.checksum_type = params.checksum_type

    def apply(self, client: Any, task: Task) -> str:
        extra = {"VersionId": task.version_id} if task.version_id else {}
        body = client.get_object(Bucket=task.bucket, Key=task.key, **extra)["Body"]
        hasher = new_hasher(self.algorithm)
        try:
            for chunk in body.iter_chunks(CHUNK):
                hasher.update(chunk)
        finally:
            body.close()
        digest = hasher.digest()
        return json.dumps(
            {
                "checksumAlgorithm": self.algorithm,
                "checksumType": self.checksum_type,
                "checksum_base64": base64.b64encode(digest).decode(),
                "checksum_hex": digest.hex(),
            },
            separators=(",", ":"),
        )
