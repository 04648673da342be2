"""Choosing a runner: the config users set, and the one entry point the controller calls.

Each runner is one module in `launch/` with the same three names:

- `OPTIONS`: the `--runner-option` keys it takes (Beam's own option names), each with
  a one-line help; `REQUIRED`: groups of keys of which at least one must be given;
- `pipeline_options(plan, options) -> PipelineOptions`: what would be submitted;
- `run(plan, options) -> PipelineResult`: build, submit, wait until finished;

and, where the runner can tell, `check_available(options, wait=True)`: RunnerUnavailable if it cannot be
used now (asked before a job goes Active, and after a pipeline fails: see the scheduler).

A `RunnerConfig` checks its keys when it is made, so a typo fails `cosbatch run`
before any job is touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from cosbatch.control.plan import JobPlan
from cosbatch.errors import ConfigError

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.runner import PipelineResult

RUNNERS = ("direct", "dask", "flink", "dataflow")


def runner_module(runner: str) -> ModuleType:
    if runner not in RUNNERS:
        raise ConfigError(f"runner {runner!r} is not available; choose one of: {', '.join(RUNNERS)}")
    return importlib.import_module(f"launch.{runner}")


def check_option_keys(
    runner: str, options: Mapping[str, str], known: Mapping[str, str], required: tuple[tuple[str, ...], ...] = ()
) -> None:
    """ConfigError naming the first unknown key, or the first required option that is missing."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(
            f"{runner} runner has no option {unknown[0]!r}; it takes: {', '.join(sorted(known))}"
        )
    for group in required:
        if not any(options.get(key) for key in group):
            wanted = " or ".join(f"--runner-option {key}=..." for key in group)
            raise ConfigError(f"{runner} runner needs {wanted}")


def int_option(runner: str, options: Mapping[str, str], key: str, default: int | None = None) -> int | None:
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{runner} runner option {key} must be a whole number, not {value!r}") from None


def pass_options(runner: str, options: Mapping[str, str], flags: dict, strings: tuple[str, ...] = (),
                 ints: tuple[str, ...] = ()) -> dict:
    """Copy the given options that are set into Beam's `flags`: `strings` as they are, `ints` as
    whole numbers (ConfigError otherwise)."""
    for key in strings:
        if options.get(key):
            flags[key] = options[key]
    for key in ints:
        value = int_option(runner, options, key)
        if value is not None:
            flags[key] = value
    return flags


@dataclass(frozen=True)
class RunnerConfig:
    runner: str = "direct"  # direct | dask | flink | dataflow
    options: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Names and values checked now, before any store or job is touched: a bad value (parallelism=two,
        environment_type=FOO) is a refused command, never a job that fails when its pipeline is built."""
        module = runner_module(self.runner)
        check_option_keys(self.runner, self.options, module.OPTIONS, module.REQUIRED)
        for key in getattr(module, "COUNT_OPTIONS", ()):
            value = int_option(self.runner, self.options, key)
            if value is not None and value < 1:
                raise ConfigError(f"{self.runner} runner option {key} must be at least 1, not {value}")
        check_values = getattr(module, "check_option_values", None)
        if check_values is not None:
            check_values(self.options)


def check_store_reachable(config: RunnerConfig, store_url: str) -> None:
    """ConfigError if this runner's workers could never reach the store (runners that know)."""
    check = getattr(runner_module(config.runner), "check_store_reachable", None)
    if check is not None:
        check(store_url)


def check_runner_available(config: RunnerConfig, wait: bool = True) -> None:
    """RunnerUnavailable naming what is missing (a job server jar, a Flink master or Dask scheduler
    that does not answer), for runners that can tell; asked before any job goes Active. With
    `wait=False` (a controller's loop) nothing slow is waited for: what takes minutes to obtain
    (the Flink job server jar) is obtained in the background, unavailable until then."""
    check = getattr(runner_module(config.runner), "check_available", None)
    if check is not None:
        check(config.options, wait=wait)


def pipeline_options_for(plan: JobPlan, config: RunnerConfig) -> PipelineOptions:
    """The PipelineOptions `run_plan` would submit this plan with (nothing is submitted)."""
    return runner_module(config.runner).pipeline_options(plan, config.options)


def run_plan(plan: JobPlan, config: RunnerConfig) -> PipelineResult:
    """Build the job's pipeline, run it on the configured runner, wait for it to finish."""
    return runner_module(config.runner).run(plan, config.options)


def runner_recovers_lost_workers(config: RunnerConfig) -> bool:
    """Whether the runner itself runs a dead worker's work again (`RECOVERS_LOST_WORKERS`), so
    the controller must not give the pipeline up and run its segments a second time."""
    return bool(getattr(runner_module(config.runner), "RECOVERS_LOST_WORKERS", False))
