"""ComputeObjectChecksum: stream each object and report its checksum, as S3 defines them.

FULL_OBJECT is the checksum of the object's bytes. COMPOSITE (an object uploaded in parts) is
S3's checksum of checksums: each part's checksum, their binary values concatenated in part
order, the checksum of that, base64, then `-<number of parts>`; the part boundaries are the
upload's own (GetObject ?partNumber=N). An object not uploaded in parts has one checksum, of
the whole object: its result says FULL_OBJECT.

CRC32 is zlib's; CRC32C and CRC64NVME come from awscrt (the library botocore uses for them);
the rest from hashlib. Values are big-endian, as S3 sends them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from awscrt import checksums

from cosbatch.manifests import Task
from cosbatch.models.operation_params import ComputeObjectChecksum

CHUNK = 1 << 20


class _Crc:
    """A CRC with hashlib's update/digest interface."""

    def __init__(self, step: Callable[[bytes, int], int], width: int) -> None:
        self.step = step
        self.width = width
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = self.step(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self.width, "big")


_CRCS: dict[str, tuple[Callable[[bytes, int], int], int]] = {
    "CRC32": (zlib.crc32, 4),
    "CRC32C": (checksums.crc32c, 4),
    "CRC64NVME": (checksums.crc64nvme, 8),
}


def new_hasher(algorithm: str) -> Any:
    """A hasher (update / digest) for one of S3's checksum algorithms."""
    if algorithm in _CRCS:
        return _Crc(*_CRCS[algorithm])
    return hashlib.new(algorithm.lower())


def checksum_of(algorithm: str, data: bytes) -> bytes:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return hasher.digest()


def composite(algorithm: str, part_checksums: list[bytes]) -> str:
    """S3's COMPOSITE checksum from the parts' binary checksums: base64 of the checksum of their
    concatenation, then `-<parts>`."""
    return f"{base64.b64encode(checksum_of(algorithm, b''.join(part_checksums))).decode()}-{len(part_checksums)}"


def _digest(algorithm: str, chunks: Iterable[bytes]) -> bytes:
    hasher = new_hasher(algorithm)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.digest()


class ChecksumOperation:
    name: ClassVar[str] = "S3ComputeObjectChecksum"
    client_kind: ClassVar[str] = "boto3"

    def __init__(self, params: ComputeObjectChecksum) -> None:
        self.algorithm = params.checksum_algorithm
        self.checksum_type = params.checksum_type

    def _part(self, client: Any, task: Task, number: int | None) -> tuple[bytes, int]:
        """(checksum of part `number`, or of the whole object for None; the object's parts count)."""
        extra: dict[str, Any] = {"VersionId": task.version_id} if task.version_id else {}
        if number is not None:
            extra["PartNumber"] = number
        answer = client.get_object(Bucket=task.bucket, Key=task.key, **extra)
        body = answer["Body"]
        try:
            return _digest(self.algorithm, body.iter_chunks(CHUNK)), int(answer.get("PartsCount") or 1)
        finally:
            body.close()

    def apply(self, client: Any, task: Task) -> str:
        if self.checksum_type == "COMPOSITE":
            first, parts = self._part(client, task, 1)
            if parts > 1:
                digests = [first] + [self._part(client, task, n)[0] for n in range(2, parts + 1)]
                return self._result("COMPOSITE", composite(self.algorithm, digests),
                                    checksum_of(self.algorithm, b"".join(digests)))
            digest = first  # uploaded in one part: its one checksum is the whole object's
        else:
            digest, _ = self._part(client, task, None)
        return self._result("FULL_OBJECT", base64.b64encode(digest).decode(), digest)

    def _result(self, checksum_type: str, value: str, digest: bytes) -> str:
        return json.dumps(
            {
                "checksumAlgorithm": self.algorithm,
                "checksumType": checksum_type,
                "checksum_base64": value,
                "checksum_hex": digest.hex(),
            },
            separators=(",", ":"),
        )
