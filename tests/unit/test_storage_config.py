"""The storage config file and binding: pure logic, no server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cosbatch.errors import ConfigError, InvalidRequest
from cosbatch.storage import (
    StorageCatalog,
    StorageNotConfigured,
    implicit_storage,
    load_storage_config,
    role_name,
)

GOOD = """\
[storage.east]
endpoint_url = "http://127.0.0.1:9000/"
region = "us-east-1"
access_key_id_env = "EAST_AK"
secret_access_key_env = "EAST_SK"
max_ops_per_second = 2000
default = true

[storage.west]
endpoint_url = "https://S3.West.example:443"
region = "eu-west-1"
aws_profile = "west"
addressing_style = "virtual"
accounts = ["123456789012"]
multipart_threshold = "8MiB"
multipart_chunksize = 6291456
"""


def load(tmp_path, text: str) -> StorageCatalog:
    path = tmp_path / "storages.toml"
    path.write_text(text)
    return load_storage_config(path, implicit_storage("http://127.0.0.1:8333"))


def test_a_good_config(tmp_path):
    catalog = load(tmp_path, GOOD)
    assert catalog.default.name == "east"
    east, west = catalog.get("east"), catalog.get("west")
    assert east.endpoint_url == "http://127.0.0.1:9000" and east.max_ops_per_second == 2000.0
    assert east.credentials.access_key_id_env == "EAST_AK" and east.credentials.describe() == "env EAST_AK/EAST_SK"
    assert west.endpoint_url == "https://s3.west.example:443" and west.addressing_style == "virtual"
    assert west.credentials.aws_profile == "west" and west.accounts == ("123456789012",)
    assert (west.multipart_threshold, west.multipart_chunksize) == (8 * 1024**2, 6 * 1024**2)
    assert catalog.has("endpoint:http://127.0.0.1:8333")  # the process-wide storage is there too


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace('secret_access_key_env = "EAST_SK"', 'secret_access_key = "wJalrXUtnFEMI"'), 5,
         ["secret_access_key", "never go in the storage config", "secret_access_key_env"]),
        (GOOD.replace('aws_profile = "west"', 'aws_profile = "west"\nendpoint = "x"'), 13, ["unknown key 'endpoint'"]),
        (GOOD.replace('region = "eu-west-1"', 'region = "us-east-1"'), 11,
         ["region 'us-east-1' is already [storage.east]'s"]),
        (GOOD.replace('accounts = ["123456789012"]', 'accounts = ["123456789012"]\ndefault = true'), 15,
         ["[storage.west] default = true", "[storage.east] is the default already"]),
        (GOOD.replace("max_ops_per_second = 2000", "max_ops_per_second = -1"), 6, ["must be positive"]),
        (GOOD.replace("max_ops_per_second = 2000", 'max_ops_per_second = "fast"'), 6, ["wrong type"]),
        (GOOD.replace('multipart_threshold = "8MiB"', 'multipart_threshold = "1MiB"'), 15, ["5 MiB to 5 GiB"]),
        (GOOD.replace('aws_profile = "west"', 'aws_profile = "west"\naccess_key_id_env = "A"\n'
                                              'secret_access_key_env = "B"'), 12, ["either aws_profile"]),
        (GOOD.replace('secret_access_key_env = "EAST_SK"\n', ""), 1, ["go together"]),
        (GOOD.replace('"http://127.0.0.1:9000/"', '"ftp://x"'), 2, ["must be http(s)"]),
    ],
)
def test_bad_configs_name_the_line(tmp_path, text, line, words):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    assert err.value.code == "InvalidConfiguration"
    assert f"storages.toml:{line}:" in err.value.message, err.value.message
    for word in words:
        assert word in err.value.message, err.value.message


@pytest.mark.parametrize(("text", "words"), [
    ("[storage.a\n", "not valid TOML"),
    ("[other]\nx = 1\n", "unknown top-level key 'other'"),
    ("", "no storage declared"),
])
def test_bad_files(tmp_path, text, words):
    with pytest.raises(ConfigError, match=words):
        load(tmp_path, text)


def test_a_bad_config_is_one_line_from_the_cli(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace('secret_access_key_env = "EAST_SK"', 'secret_access_key = "wJalrXUtnFEMI"'))
    proc = subprocess.run([sys.executable, "-m", "cosbatch.cli.main", "--store", f"sqlite:///{tmp_path}/s.db",
                           "--storage-config", str(path), "list-jobs"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"cosbatch: InvalidConfiguration: {path}:5: [storage.east] secret_access_key")
    assert "wJalrXUtnFEMI" not in proc.stderr  # not even the refused secret is echoed


@pytest.mark.parametrize(("arn", "name"), [
    ("arn:aws:iam::123456789012:role/east", "east"),
    ("arn:aws:iam::123456789012:role/service/batch/east", "east"),
    ("arn:aws-cn:iam::123456789012:role/west", "west"),
    ("qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole", "COS_Batch_QcsRole"),
    ("qcs::cam::uin/100000000001:roleName/team/east", "east"),
    ("arn:aws:iam::123456789012:user/east", None),
    ("not an arn", None),
])
def test_role_names(arn, name):
    assert role_name(arn) == name


def test_binding(tmp_path):
    catalog = load(tmp_path, GOOD)
    assert catalog.for_role("arn:aws:iam::123456789012:role/west", "123456789012").name == "west"
    assert catalog.for_role("arn:aws:iam::123456789012:role/batch").name == "east"  # names no storage: default
    east = catalog.get("east")
    assert catalog.for_region(None, east) is east and catalog.for_region("us-east-1", east) is east
    assert catalog.for_region("eu-west-1", east, "123456789012").name == "west"
    with pytest.raises(InvalidRequest, match=r"configured regions: eu-west-1 \(west\), us-east-1 \(east\)"):
        catalog.for_region("ap-south-1", east)
    with pytest.raises(StorageNotConfigured, match="'north' is not configured in storage config"):
        catalog.get("north")


def test_a_job_of_another_endpoint_names_the_flag_that_reaches_it():
    catalog = StorageCatalog.at("http://127.0.0.1:9000")
    with pytest.raises(StorageNotConfigured) as missing:
        catalog.get("endpoint:http://10.0.0.5:8333")
    assert str(missing.value).endswith("(the job was created for endpoint http://10.0.0.5:8333: give "
                                       "--endpoint-url http://10.0.0.5:8333 or set COSBATCH_ENDPOINT_URL)")


def test_without_a_config_the_storage_is_the_endpoint(monkeypatch):
    monkeypatch.delenv("COSBATCH_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    a = StorageCatalog.from_env("http://127.0.0.1:9000")
    b = StorageCatalog.from_env("http://127.0.0.1:9001/")
    assert a.default.name == "endpoint:http://127.0.0.1:9000" and not b.has(a.default.name)
    assert StorageCatalog.from_env(region="eu-west-1").default.name == "endpoint:aws/eu-west-1"
    # Any region in a TargetResource is the one storage's own when no config declares storages.
    assert a.for_region("ap-guangzhou", a.default) is a.default
