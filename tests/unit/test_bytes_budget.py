"""The worker's budget of bytes in flight for whole-object copies (storage key copy_bytes_in_flight)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cosbatch.errors import ConfigError
from cosbatch.manifests import Task
from cosbatch.models import PutObjectCopy
from cosbatch.operations.bytes_budget import BytesInFlight
from cosbatch.operations.copy import CopyOperation, SizedSegmentCopy
from cosbatch.storage import implicit_storage, load_storage_config

KiB, MiB, GiB = 1024, 1024**2, 1024**3


def _together(budget: BytesInFlight, sizes: list[int], barrier: int) -> None:
    """Each size held by its own thread; every holder waits at a barrier of `barrier` parties, which
    breaks (BrokenBarrierError) unless that many hold their bytes at once."""
    meet = threading.Barrier(barrier, timeout=5)

    def one(size: int) -> None:
        with budget.hold(size):
            meet.wait()

    with ThreadPoolExecutor(len(sizes)) as pool:
        for f in [pool.submit(one, s) for s in sizes]:
            f.result()


def test_small_copies_all_run_at_once():
    budget = BytesInFlight(GiB)
    _together(budget, [KiB] * 64, barrier=64)  # 64 KiB of 1 GiB: none waits
    assert budget.peak == 64 * KiB


def test_large_copies_go_a_budget_at_a_time():
    budget = BytesInFlight(GiB)
    _together(budget, [64 * MiB] * 16, barrier=16)  # 16 x 64 MiB fit at once...
    assert budget.peak == GiB
    budget = BytesInFlight(GiB)
    counted = threading.Lock()
    inside, most = [0], [0]

    def one() -> None:
        with budget.hold(64 * MiB):
            with counted:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            threading.Event().wait(0.01)
            with counted:
                inside[0] -= 1

    with ThreadPoolExecutor(64) as pool:
        for f in [pool.submit(one) for _ in range(64)]:
            f.result()
    assert most[0] <= 16 and budget.peak <= GiB  # ... a 17th never joins them


def test_an_object_larger_than_the_budget_runs_alone_and_is_not_starved():
    budget = BytesInFlight(GiB)
    small_ran = threading.Event()

    def small() -> None:
        with budget.hold(KiB):
            small_ran.set()

    with budget.hold(2 * GiB):  # counted as the whole budget
        thread = threading.Thread(target=small)
        thread.start()
        assert not small_ran.wait(0.2)
    assert small_ran.wait(5)
    thread.join()
    with budget.hold(KiB):  # others hold some: the large one waits for them, then goes alone
        def big_copy() -> None:
            with budget.hold(5 * GiB):
                pass

        big = threading.Thread(target=big_copy)
        big.start()
        big.join(0.2)
        assert big.is_alive()
    big.join(5)
    assert not big.is_alive()


def test_a_copy_of_known_size_holds_its_bytes_and_one_of_unknown_size_does_not():
    params = PutObjectCopy.model_validate({"TargetResource": "arn:aws:s3:::dst"})
    op = CopyOperation(params, implicit_storage("http://127.0.0.1:1", copy_bytes_in_flight=128 * MiB))
    meet = threading.Barrier(2, timeout=5)

    class Client:
        def copy_object(self, **kwargs: Any) -> dict:
            meet.wait()  # two 64 MiB copies at once fit 128 MiB
            return {}

    try:
        segment = SizedSegmentCopy(op, {("src", "a"): 64 * MiB, ("src", "b"): 64 * MiB})
        with ThreadPoolExecutor(2) as pool:
            assert [f.result() for f in [pool.submit(segment.apply, Client(), Task("src", k)) for k in "ab"]] \
                == ["Successful", "Successful"]
        assert op._budget.peak == 128 * MiB
        unknown = CopyOperation(params, implicit_storage("http://127.0.0.1:1", copy_bytes_in_flight=MiB,
                                                         copy_largest_first=False))
        meet = threading.Barrier(1)
        assert unknown.apply(Client(), Task("src", "c")) == "Successful"
        assert unknown._budget.peak == 0
        unknown.close()
    finally:
        op.close()


def test_the_storage_config_sets_and_checks_copy_bytes_in_flight(tmp_path):
    path = tmp_path / "storages.toml"
    path.write_text('[storage.a]\nendpoint_url = "http://127.0.0.1:9000"\ndefault = true\n'
                    'copy_bytes_in_flight = "512MiB"\n'
                    '[storage.b]\nendpoint_url = "http://127.0.0.1:9001"\nregion = "eu-west-1"\n'
                    'copy_bytes_in_flight = "off"\n')
    catalog = load_storage_config(path, implicit_storage("http://127.0.0.1:8333"))
    assert catalog.get("a").copy_bytes_in_flight == 512 * MiB
    assert catalog.get("b").copy_bytes_in_flight is None
    assert implicit_storage("http://x").copy_bytes_in_flight == GiB  # the default
    assert CopyOperation(PutObjectCopy.model_validate({"TargetResource": "arn:aws:s3:::dst"}),
                         catalog.get("b"))._budget is None
    for bad in ('"1KiB"', '"lots"', "0"):
        path.write_text(f'[storage.a]\nendpoint_url = "http://127.0.0.1:9000"\ncopy_bytes_in_flight = {bad}\n')
        with pytest.raises(ConfigError, match="copy_bytes_in_flight"):
            load_storage_config(path, implicit_storage("http://127.0.0.1:8333"))
