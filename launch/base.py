"""Choosing a runner: the config users set, and the one entry point the controller calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cosbatch.errors import ConfigError
from cosbatch.plan import JobPlan

if TYPE_CHECKING:
    from apache_beam.runners.runner import PipelineResult


@dataclass(frozen=True)
class RunnerConfig:
    runner: str = "direct"  # direct | dask | flink | dataflow
    options: dict[str, str] = field(default_factory=dict)


def run_plan(plan: JobPlan, config: RunnerConfig) -> PipelineResult:
    """Build the job's pipeline, run it on the configured runner, wait for it to finish."""
    if config.runner == "direct":
        from launch import direct

        return direct.run(plan, config.options)
    raise ConfigError(f"runner {config.runner!r} is not available; choose one of: direct")
