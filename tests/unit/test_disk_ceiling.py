"""The benchmarks' disk ceiling writes what it says, in whole blocks, and leaves nothing behind."""

from __future__ import annotations

import math

import pytest

from benchmarks.disk_ceiling import BLOCK, GiB, main, write_rates


def test_write_rates_are_measured_and_the_file_is_gone(tmp_path):
    rates = write_rates(tmp_path, BLOCK + 1)  # rounded down to one whole block
    assert rates.size == BLOCK
    assert rates.buffered > 0
    assert rates.direct > 0 or math.isnan(rates.direct)  # tmpfs has no O_DIRECT
    assert list(tmp_path.iterdir()) == []
    assert f"{BLOCK / GiB:g} GiB" in rates.line()


def test_bad_arguments_are_refused_by_name(tmp_path, capsys):
    for argv, named in ((["--gib", "-1", "--dir", str(tmp_path)], "--gib"),
                        (["--dir", str(tmp_path / "missing")], "--dir")):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        assert named in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written
