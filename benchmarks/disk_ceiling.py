"""The machine's own write rate (issue 25, item 4): how fast this disk takes bytes written the
way the storage server writes them, so that a copy bound by the disk has its limit beside it.

A server-side copy makes the server write every byte it copies. SeaweedFS writes its volume files
through the page cache, so a copy larger than what the kernel lets sit dirty (`vm.dirty_ratio`, a
few GiB here) runs at the rate the page cache is written back, whatever client sent it. Two figures,
each from one file in the server's own directory (same filesystem), deleted afterwards:

- `buffered`: `size` bytes written in 64 MiB blocks, then fsync: the server's path;
- `direct`: the same bytes with O_DIRECT (no page cache): the device itself.

`python -m benchmarks.disk_ceiling [--gib N] [--dir DIR]` prints both.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

GiB, MiB = 1024**3, 1024**2
BLOCK = 64 * MiB


@dataclass(frozen=True)
class WriteRates:
    buffered: float  # GiB/s, written then fsynced
    direct: float  # GiB/s, O_DIRECT
    size: int  # bytes each

    def line(self) -> str:
        return (f"this disk's own write rate, {self.size / GiB:g} GiB into the server's directory: "
                f"{self.buffered:.3f} GiB/s through the page cache (written, then fsync), "
                f"{self.direct:.3f} GiB/s direct (O_DIRECT)")


def _write(path: Path, size: int, flags: int) -> float:
    """Seconds to write `size` bytes (a whole number of blocks) to a new file at `path`, fsync included."""
    block = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT requires
    block.write(os.urandom(MiB) * (BLOCK // MiB))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(size // BLOCK):
            os.write(fd, block)
        os.fsync(fd)
        return time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink()
        block.close()


def write_rates(directory: Path, size: int = 4 * GiB) -> WriteRates:
    """Both rates, each from `size` bytes (rounded down to whole 64 MiB blocks, at least one)."""
    size = max(1, size // BLOCK) * BLOCK
    path = directory / f"disk-ceiling-{uuid.uuid4().hex[:8]}"
    os.sync()  # start with nothing else queued
    buffered = _write(path, size, 0)
    try:
        direct = _write(path, size, os.O_DIRECT)
    except OSError:  # a filesystem without O_DIRECT (tmpfs): no device figure
        direct = float("nan")
    return WriteRates(size / GiB / buffered, size / GiB / direct, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.disk_ceiling")
    parser.add_argument("--gib", type=float, default=4.0, help="GiB written for each figure (default 4)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    if args.gib * GiB < BLOCK:
        parser.error(f"--gib: at least {BLOCK / GiB:g} (one {BLOCK // MiB} MiB block), not {args.gib:g}")
    if not args.dir.is_dir():
        parser.error(f"--dir: {args.dir} is not a directory")
    print(write_rates(args.dir, int(args.gib * GiB)).line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
