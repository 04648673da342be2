"""Estimate cost arithmetic: requests by class at the storage's prices, cross-storage bytes at the
source's per-GiB price; no prices (or mixed currencies), no Cost."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cosbatch.cli.render import estimate_text
from cosbatch.controller.cost import GIB, estimate_cost
from cosbatch.errors import ConfigError
from cosbatch.storage import Storage
from cosbatch.storage.catalog import load_storage_config
from cosbatch.storage.config import Prices, implicit_storage

AWS = Prices("USD", class_a_per_1000=0.005, class_b_per_1000=0.0004, per_gib_read_across=0.09)


def test_requests_by_class_and_overrides():
    s = Storage("a", prices=AWS)
    cost = estimate_cost({"CopyObject": 2000, "HeadObject": 1000, "DeleteObjects": 5}, s)
    assert cost == {"Currency": "USD", "Requests": pytest.approx(0.0104), "Transfer": 0.0,
                    "Total": pytest.approx(0.0104)}
    cheap = Storage("b", prices=replace(AWS, per_1000=(("CopyObject", 0.001),)))
    assert estimate_cost({"CopyObject": 2000}, cheap)["Total"] == pytest.approx(0.002)
    # skip-identical's listing line is priced as ListObjectsV2 (class A)
    assert estimate_cost({"ListObjectsV2 (instead of HEADs where keys are dense)": 1000}, s)["Total"] == 0.005


def test_cross_storage_copy_prices_target_requests_at_the_targets_prices_and_bytes_at_the_sources():
    src = Storage("src", prices=AWS)
    dst = Storage("dst", prices=Prices("USD", class_a_per_1000=0.01))
    cost = estimate_cost({"GetObject": 1000, "PutObject": 1000}, src, dst, bytes_read=10 * GIB)
    assert cost["Requests"] == pytest.approx(0.0004 + 0.01)
    assert cost["Transfer"] == pytest.approx(0.9)
    assert cost["Total"] == pytest.approx(0.9104)


def test_no_cost_without_prices_or_with_mixed_currencies():
    assert estimate_cost({"CopyObject": 10}, Storage("a")) is None
    assert estimate_cost({"PutObject": 10}, Storage("a", prices=AWS), Storage("b")) is None
    assert estimate_cost({"PutObject": 10}, Storage("a", prices=AWS),
                         Storage("b", prices=Prices("EUR", 0.005))) is None


def test_the_estimate_line_shows_the_cost():
    line = estimate_text({"Tasks": 10, "Requests": {"CopyObject": 10}, "Seconds": None, "SecondsBasis": "unknown",
                          "Cost": {"Currency": "USD", "Requests": 0.00005, "Transfer": 0.0, "Total": 0.00005}})
    assert "cost 0.00005 USD (0.00005 requests)" in line
    big = estimate_text({"Tasks": 10, "Requests": {}, "Seconds": None, "SecondsBasis": "unknown",
                         "Cost": {"Currency": "EUR", "Requests": 1.5, "Transfer": 0.9, "Total": 2.4}})
    assert "cost 2.40 EUR (1.50 requests + 0.90 transfer)" in big
    assert "cost" not in estimate_text({"Tasks": 10, "Requests": {}, "Seconds": None, "SecondsBasis": "unknown"})


def test_prices_table_in_the_storage_config(tmp_path):
    path = tmp_path / "storages.toml"
    path.write_text('[storage.aws]\nendpoint_url = "http://127.0.0.1:9000"\ndefault = true\n'
                    '[storage.aws.prices]\ncurrency = "USD"\nclass_a_per_1000 = 0.005\nclass_b_per_1000 = 0.0004\n'
                    'per_gib_read_across = 0.09\nper_1000 = { DeleteObjects = 0.001 }\n')
    storage = load_storage_config(path, implicit_storage("http://127.0.0.1:1")).get("aws")
    assert storage.prices == Prices("USD", 0.005, 0.0004, 0.09, (("DeleteObjects", 0.001),))
    assert storage.prices.per_request("DeleteObjects") == pytest.approx(0.000001)
    path.write_text('[storage.aws]\nendpoint_url = "http://127.0.0.1:9000"\n[storage.aws.prices]\nclass_a = 1\n')
    with pytest.raises(ConfigError, match=r"storages.toml:\d+: \[storage.aws\] prices: unknown key 'class_a'"):
        load_storage_config(path, implicit_storage("http://127.0.0.1:1"))
    path.write_text('[storage.aws]\nendpoint_url = "http://127.0.0.1:9000"\n[storage.aws.prices]\n'
                    'class_b_per_1000 = -1\n')
    with pytest.raises(ConfigError, match="class_b_per_1000 must not be negative"):
        load_storage_config(path, implicit_storage("http://127.0.0.1:1"))
