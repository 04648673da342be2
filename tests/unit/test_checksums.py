"""S3's checksum algorithms and its COMPOSITE type against published test vectors: the CRC
catalogue's check values (the bytes "123456789") and the values AWS's SDKs test with ("Hello world")."""

from __future__ import annotations

import base64

import pytest

from cosbatch.errors import InvalidRequest
from cosbatch.operations.checksum import checksum_of, composite
from cosbatch.wire.dialects import parse_create_job
from tests.unit.test_models import s3_body


@pytest.mark.parametrize(("algorithm", "check"), [
    ("CRC32", 0xCBF43926),          # CRC-32/ISO-HDLC
    ("CRC32C", 0xE3069283),         # CRC-32/ISCSI
    ("CRC64NVME", 0xAE8B14860A799888),  # CRC-64/NVME
])
def test_crc_check_values(algorithm, check):
    width = 8 if algorithm == "CRC64NVME" else 4
    assert checksum_of(algorithm, b"123456789") == check.to_bytes(width, "big")


@pytest.mark.parametrize(("algorithm", "b64"), [
    ("CRC32", "i9aeUg=="),
    ("CRC32C", "crUfeA=="),
    ("CRC64NVME", "OOJZ0D8xKts="),
    ("SHA1", "e1AsOh9IyGCa4hLN+2Od7jlnP14="),
    ("SHA256", "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="),
])
def test_aws_sdk_vectors(algorithm, b64):
    assert base64.b64encode(checksum_of(algorithm, b"Hello world")).decode() == b64


def test_composite_is_the_checksum_of_the_parts_checksums():
    """The value SeaweedFS stored for this upload (three parts of 5, 5 and 1 MiB, CRC32C), as S3
    defines a COMPOSITE checksum: the parts' checksums concatenated, checksummed, `-3`."""
    data = bytes(range(256)) * (11 * 4096)
    parts = [data[i:i + 5 * 1024**2] for i in range(0, len(data), 5 * 1024**2)]
    assert composite("CRC32C", [checksum_of("CRC32C", p) for p in parts]) == "sba4NA==-3"


@pytest.mark.parametrize(("fields", "words"), [
    ({"ChecksumAlgorithm": "XXHASH64"}, "XXHASH64 is not supported"),
    ({"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"}, "COMPOSITE is defined for"),
    ({"ChecksumAlgorithm": "MD5", "ChecksumType": "COMPOSITE"}, "COMPOSITE is defined for"),
    ({"ChecksumType": "PARTS"}, "FULL_OBJECT or COMPOSITE"),
])
def test_checksum_parameters_are_checked(fields, words):
    with pytest.raises(InvalidRequest, match=words):
        parse_create_job(s3_body(Operation={"S3ComputeObjectChecksum": fields}))
