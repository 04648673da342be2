"""The benchmarks' seeders over a real SeaweedFS, through public interfaces only: the lean client's
put_object (the threads seeder) and the one s5cmd runner the benchmarks share."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from benchmarks import scenarios, seeding
from cosbatch.storage import StorageCatalog
from cosbatch.storage.lean import LeanS3Client


def test_the_lean_client_puts_a_small_object_and_raises_a_refusal(s3_server, s3, make_bucket):
    bucket = make_bucket("lean")
    client = LeanS3Client(StorageCatalog.at(s3_server.endpoint_url).default)
    try:
        body = b"sixteen bytes!!!"
        answer = client.put_object(Bucket=bucket, Key="dir/a b+c", Body=body)
        assert answer["ETag"] == hashlib.md5(body).hexdigest()
        assert s3.get_object(Bucket=bucket, Key="dir/a b+c")["Body"].read() == body
        with pytest.raises(ClientError) as refused:  # SeaweedFS refuses such keys (TESTING.md)
            client.put_object(Bucket=bucket, Key="./x/../y", Body=body)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 400
    finally:
        client.close()


@pytest.mark.parametrize("seeder", seeding.SEEDERS)
def test_each_seeder_puts_every_object(s3_server, s3, make_bucket, tmp_path, seeder):
    bucket = make_bucket("seed")
    seeded = seeding.seed_tiny_objects(s3_server.endpoint_url, bucket, 40, tmp_path, seeder=seeder)
    assert seeded.count == 40 and seeded.seconds > 0
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == [seeding.object_key(i) for i in range(40)]
    assert {o["Size"] for o in listed} == {16}
    assert not list(tmp_path.glob("seed-commands.txt"))  # s5cmd's commands file is removed


def test_the_benchmarks_run_s5cmd_in_one_place_and_say_why_it_failed(s3_server):
    assert not hasattr(seeding, "s5cmd_binary")
    assert scenarios.s5cmd is seeding.s5cmd
    with pytest.raises(RuntimeError, match=r"s5cmd ls s3://no-such-bucket-[0-9a-f]+ exited 1: .*"):
        seeding.s5cmd(s3_server.endpoint_url, "ls", "s3://no-such-bucket-5e5e5e")
