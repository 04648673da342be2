"""Port choice for embedded SeaweedFS servers: two servers of one process never share a port,
even one the first server was given but does not listen on."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import tempfile

import pytest

from cosbatch.storage import embedded


class _SameSequence:
    """A SystemRandom stand-in whose every instance yields the same port sequence."""

    def __init__(self) -> None:
        self._n = itertools.count()

    def randint(self, low: int, high: int) -> int:
        return low + (next(self._n) * 7) % (high - low)


@pytest.fixture
def same_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "SystemRandom", _SameSequence)


def test_second_choice_skips_ports_reserved_by_the_first(same_sequence: None) -> None:
    first = embedded._choose_ports()
    try:
        second = embedded._choose_ports()
        try:
            assert not set(first.values()) & set(second.values())
            assert len(set(second.values())) == len(second)
        finally:
            embedded._release(second)
    finally:
        embedded._release(first)


def test_released_ports_can_be_chosen_again(same_sequence: None) -> None:
    first = embedded._choose_ports()
    embedded._release(first)
    again = embedded._choose_ports()
    embedded._release(again)
    assert again == first  # same sequence, nothing reserved: the very same ports


def test_grpc_port_is_http_port_plus_offset() -> None:
    ports = embedded._choose_ports()
    embedded._release(ports)
    for name in embedded.GRPC_SERVICES:
        assert ports[f"{name}.port.grpc"] == ports[f"{name}.port"] + embedded.GRPC_OFFSET


@pytest.fixture
def own_claims(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A claims directory of this test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / "cosbatch-embedded-ports"


def test_ports_claimed_by_another_live_process_are_skipped(same_sequence: None, own_claims) -> None:
    """Two processes choosing ports at once (parallel test workers, two quickstarts): a port one
    has claimed is not chosen by the other, even while its server is down for a restart."""
    first = embedded._choose_ports()
    assert {int(p.name) for p in own_claims.iterdir()} == set(first.values())
    embedded._release(first)
    assert not list(own_claims.iterdir())  # released: the claims are gone

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for port in first.values():  # the same ports, claimed by another process that lives
            (own_claims / str(port)).write_text(str(other.pid))
        second = embedded._choose_ports()
        embedded._release(second)
        assert not set(first.values()) & set(second.values())
    finally:
        other.kill()
        other.wait()
    third = embedded._choose_ports()  # that process is gone: its claims no longer count
    embedded._release(third)
    assert third == first
