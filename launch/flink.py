"""Flink: through a Beam job server (`job_endpoint`, PortableRunner) or Beam's FlinkRunner
(`flink_master`, which starts the Flink job server itself; it needs Java).

User code runs in the SDK harness given by `environment_type`: DOCKER (default) in
`sdk_container_image` (build it from launch/Dockerfile), PROCESS or EXTERNAL with
`environment_config`, or LOOPBACK in this process (for a local Flink only).
Workers other than this process must reach the store; see README "Scaling out".
"""

from __future__ import annotations

from collections.abc import Mapping

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from cosbatch.control.plan import JobPlan
from cosbatch.errors import ConfigError
from launch.base import pass_options
from pipelines.batch_job import run_pipeline

ENVIRONMENTS = ("DOCKER", "PROCESS", "EXTERNAL", "LOOPBACK")
OPTIONS = {
    "job_endpoint": "Beam job server host:port (PortableRunner), e.g. localhost:8099",
    "artifact_endpoint": "artifact staging host:port, if not the job server's",
    "flink_master": "Flink REST address host:port, [local] or [auto] (FlinkRunner)",
    "flink_version": "Flink version of the FlinkRunner's job server, e.g. 1.19",
    "flink_job_server_jar": "path or URL of the Flink job server jar (FlinkRunner)",
    "parallelism": "Flink parallelism",
    "environment_type": f"one of {', '.join(ENVIRONMENTS)} (default DOCKER)",
    "environment_config": "the environment's image (DOCKER), command JSON (PROCESS) or address (EXTERNAL)",
    "sdk_container_image": "worker image for DOCKER, e.g. built from launch/Dockerfile",
    "sdk_worker_parallelism": "SDK harness processes per Flink task manager",
}
REQUIRED: tuple[tuple[str, ...], ...] = (("job_endpoint", "flink_master"),)


def pipeline_options(plan: JobPlan, options: Mapping[str, str]) -> PipelineOptions:
    if options.get("job_endpoint") and options.get("flink_master"):
        raise ConfigError("flink runner takes job_endpoint (PortableRunner) or flink_master (FlinkRunner), not both")
    environment = (options.get("environment_type") or "DOCKER").upper()
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"flink runner environment_type must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    config = options.get("environment_config") or None
    image = options.get("sdk_container_image") or None
    if environment == "DOCKER":
        config = config or image  # Beam's DOCKER environment takes its image from environment_config
        if not config:
            raise ConfigError(
                "flink runner with environment_type=DOCKER needs --runner-option sdk_container_image=... "
                "(an image with cosbatch installed: build launch/Dockerfile)"
            )
    elif environment in ("PROCESS", "EXTERNAL") and not config:
        raise ConfigError(f"flink runner with environment_type={environment} needs --runner-option environment_config=...")
    flags: dict = {
        "environment_type": environment,
        "save_main_session": False,
        "job_name": f"cosbatch-{plan.job_id}".lower(),
    }
    if config is not None:
        flags["environment_config"] = config
    if image is not None:
        flags["sdk_container_image"] = image
    if options.get("job_endpoint"):
        flags["runner"] = "PortableRunner"
        flags["job_endpoint"] = options["job_endpoint"]
        if options.get("artifact_endpoint"):
            flags["artifact_endpoint"] = options["artifact_endpoint"]
    else:
        flags["runner"] = "FlinkRunner"
        flags["flink_master"] = options["flink_master"]
        pass_options("flink", options, flags, strings=("flink_version", "flink_job_server_jar"))
    pass_options("flink", options, flags, ints=("parallelism", "sdk_worker_parallelism"))
    return PipelineOptions(flags=[], **flags)


def run(plan: JobPlan, options: Mapping[str, str]) -> PipelineResult:
    return run_pipeline(pipeline_options(plan, options), plan)
