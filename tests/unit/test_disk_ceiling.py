"""The benchmarks' disk ceiling writes what it says, in whole blocks, and leaves nothing behind."""

from __future__ import annotations

import math

from benchmarks.disk_ceiling import BLOCK, GiB, write_rates


def test_write_rates_are_measured_and_the_file_is_gone(tmp_path):
    rates = write_rates(tmp_path, BLOCK + 1)  # rounded down to one whole block
    assert rates.size == BLOCK
    assert rates.buffered > 0
    assert rates.direct > 0 or math.isnan(rates.direct)  # tmpfs has no O_DIRECT
    assert list(tmp_path.iterdir()) == []
    assert f"{BLOCK / GiB:g} GiB" in rates.line()
