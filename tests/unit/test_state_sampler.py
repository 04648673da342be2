"""Beam's per-bundle state sampler runs at cosbatch's shorter period (pipelines/state_sampler.py),
so stopping it at the end of a long bundle takes milliseconds, not up to 200."""

from __future__ import annotations

import time

from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory

import pipelines  # noqa: F401  (installs the sampler)
from pipelines.state_sampler import SAMPLING_PERIOD_MS, ShortPeriodStateSampler


def test_bundle_processors_get_the_short_period_sampler():
    sampler = statesampler.StateSampler("fnapi-step-x", CounterFactory())  # as bundle_processor makes it
    assert isinstance(sampler, ShortPeriodStateSampler) and sampler.sampling_period_ms == SAMPLING_PERIOD_MS


def test_stopping_a_sampler_that_ran_long_is_prompt():
    sampler = statesampler.StateSampler("fnapi-step-x", CounterFactory())
    sampler.start()
    time.sleep(1.5)  # long enough for Beam's ramp to reach its full period
    started = time.perf_counter()
    sampler.stop()
    assert time.perf_counter() - started < 0.1  # Beam's default: up to 0.2 s
