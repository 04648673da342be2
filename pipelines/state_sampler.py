"""Beam's state sampler, at a shorter period: the end of a long bundle is not held up by it.

Each bundle Beam's SDK worker runs has a StateSampler: a thread that wakes up to attribute time
to the step that runs. Its sleep ramps from 2 ms up to `DEFAULT_SAMPLING_PERIOD_MS` (200 ms), and
the bundle's end stops it and joins it, so every bundle that runs longer than about a second ends
0-200 ms late (issue 25: 195 ms after the copy of a one-object 1 GiB job, measured with
benchmarks.job_phases). At SAMPLING_PERIOD_MS the wait is at most that; the thread's wake-ups
(sleeping without the GIL, a lock and a few additions) stay far below a millisecond of CPU a second.

Beam takes the period from StateSampler's default argument and offers no option for it, so the
class its bundle processor makes is replaced, once per process, by a subclass with another
default: installed when this package is imported (by the launcher, or by a worker unpickling
cosbatch's DoFns).
"""

from __future__ import annotations

from typing import Any

from apache_beam.runners.worker import statesampler

SAMPLING_PERIOD_MS = 20


class ShortPeriodStateSampler(statesampler.StateSampler):
    def __init__(self, prefix: str, counter_factory: Any, sampling_period_ms: int = SAMPLING_PERIOD_MS) -> None:
        super().__init__(prefix, counter_factory, min(sampling_period_ms, SAMPLING_PERIOD_MS))


def install() -> None:
    """Make Beam's bundle processors in this process sample at SAMPLING_PERIOD_MS at most."""
    if not issubclass(statesampler.StateSampler, ShortPeriodStateSampler):
        statesampler.StateSampler = ShortPeriodStateSampler  # type: ignore[misc]
