"""How a job's pipeline is submitted to each runner (one module per runner).

It must not import the controller or the surfaces.
"""

from __future__ import annotations

from launch.base import RunnerConfig, run_plan

__all__ = ["RunnerConfig", "run_plan"]
