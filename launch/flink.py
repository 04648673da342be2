"""Flink: through a Beam job server (`job_endpoint`, PortableRunner) or Beam's FlinkRunner
(`flink_master`, which starts the Flink job server itself; it needs Java).

User code runs in the SDK harness given by `environment_type`: PROCESS (default), which the
TaskManager starts as a command on its own host (default: this Python's `cosbatch-sdk-worker`,
launch/sdk_worker.py, so a local cluster needs nothing else), EXTERNAL (a Beam worker pool at
`environment_config`), DOCKER in `sdk_container_image` (build it from launch/Dockerfile; needs a
Docker engine beside every TaskManager), or LOOPBACK in this process (a local Flink only).
Workers other than this process must reach the store; see docs/scaling.md.

`check_available` is asked before any job goes Active: the job server jar is there (or is
obtained with Maven, in the background when a controller asks), and the Flink master or the job
endpoint answers.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.portable_runner import JobServiceHandle, PortableRunner
from apache_beam.runners.runner import PipelineResult

from cosbatch import logs
from cosbatch.control.plan import JobPlan
from cosbatch.errors import ConfigError, RunnerUnavailable
from launch.base import pass_options
from launch.flink_job_server import JobServerProcess
from launch.flink_rest import call, cancel_leftovers, flink_job_name, rest_url
from pipelines.batch_job import run_pipeline

ENVIRONMENTS = ("DOCKER", "PROCESS", "EXTERNAL", "LOOPBACK")
OPTIONS = {
    "job_endpoint": "Beam job server host:port (PortableRunner), e.g. localhost:8099",
    "artifact_endpoint": "artifact staging host:port, if not the job server's",
    "flink_master": "Flink REST address host:port, [local] or [auto] (FlinkRunner)",
    "flink_version": "Flink version of the FlinkRunner's job server, e.g. 1.19",
    "flink_job_server_jar": "path or URL of the Flink job server jar (FlinkRunner)",
    "parallelism": "Flink parallelism",
    "environment_type": f"one of {', '.join(ENVIRONMENTS)} (default PROCESS)",
    "environment_config": "the environment's command JSON (PROCESS; default: this Python's "
    "cosbatch-sdk-worker), worker pool address (EXTERNAL) or image (DOCKER)",
    "sdk_container_image": "worker image for DOCKER, e.g. built from launch/Dockerfile",
    "sdk_worker_parallelism": "SDK harness processes per Flink task manager",
}
REQUIRED: tuple[tuple[str, ...], ...] = (("job_endpoint", "flink_master"),)
#: Flink restarts the tasks a lost TaskManager had (its restart strategy), so the controller does
#: not give the pipeline up when an SDK worker process dies: that would run its segments twice at once.
RECOVERS_LOST_WORKERS = True
#: Whole numbers of at least 1 (RunnerConfig checks them before a job is created).
COUNT_OPTIONS = ("parallelism", "sdk_worker_parallelism")


def check_option_values(options: Mapping[str, str]) -> None:
    """ConfigError for values no submission could use (RunnerConfig asks before a job exists)."""
    if options.get("job_endpoint") and options.get("flink_master"):
        raise ConfigError("flink runner takes job_endpoint (PortableRunner) or flink_master (FlinkRunner), not both")
    environment = (options.get("environment_type") or "PROCESS").upper()
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"flink runner environment_type must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    if environment == "DOCKER" and not (options.get("environment_config") or options.get("sdk_container_image")):
        raise ConfigError(
            "flink runner with environment_type=DOCKER needs --runner-option sdk_container_image=... "
            "(an image with cosbatch installed: build launch/Dockerfile)"
        )
    if environment == "EXTERNAL" and not options.get("environment_config"):
        raise ConfigError("flink runner with environment_type=EXTERNAL needs --runner-option environment_config=HOST:PORT "
                          "(a Beam worker pool: python -m apache_beam.runners.worker.worker_pool_main --service_port=PORT)")


def pipeline_options(plan: JobPlan, options: Mapping[str, str], job_server: str | None = None) -> PipelineOptions:
    """What is submitted. With `job_server` (the endpoint of the Flink job server `run` started for
    `flink_master`), Beam's PortableRunner submits to it; without, Beam's FlinkRunner options."""
    check_option_values(options)
    environment = (options.get("environment_type") or "PROCESS").upper()
    config = options.get("environment_config") or None
    image = options.get("sdk_container_image") or None
    if environment == "DOCKER":
        config = config or image  # Beam's DOCKER environment takes its image from environment_config
    elif environment == "PROCESS" and not config:
        config = json.dumps({"command": default_worker_command()})
    flags: dict = {
        "environment_type": environment,
        "save_main_session": False,
        "job_name": flink_job_name(plan.job_id),
        # Beam otherwise runs `pip freeze` (1.5 s here) at every submission, only to stage the list
        # for a runner that compares environments (Dataflow); a Flink SDK worker never reads it.
        "experiments": ["disable_logging_submission_environment"],
    }
    if config is not None:
        flags["environment_config"] = config
    if image is not None:
        flags["sdk_container_image"] = image
    if options.get("job_endpoint") or job_server:
        flags["runner"] = "PortableRunner"
        flags["job_endpoint"] = options.get("job_endpoint") or job_server
        if options.get("artifact_endpoint"):
            flags["artifact_endpoint"] = options["artifact_endpoint"]
    else:
        flags["runner"] = "FlinkRunner"
        flags["flink_master"] = options["flink_master"]
        flags["flink_version"] = options.get("flink_version") or _default_flink_version()
        pass_options("flink", options, flags, strings=("flink_job_server_jar",))
    pass_options("flink", options, flags, ints=("parallelism", "sdk_worker_parallelism"))
    return PipelineOptions(flags=[], **flags)


def default_worker_command() -> str:
    """This Python's `cosbatch-sdk-worker` (installed with cosbatch beside the interpreter)."""
    command = Path(sys.executable).parent / "cosbatch-sdk-worker"
    if not command.exists():
        raise ConfigError(f"flink runner's default PROCESS environment runs {command}, which is not installed; "
                          "reinstall cosbatch (pip install -e .) or pass --runner-option environment_config="
                          '\'{"command": "/path/to/cosbatch-sdk-worker"}\'')
    return str(command)


def _default_flink_version() -> str:
    from launch import flink_job_server

    return flink_job_server.FLINK_FOR_BEAM.get(flink_job_server.installed_beam(), "1.19")


def check_available(options: Mapping[str, str], timeout: float = 5.0, wait: bool = True) -> None:
    """RunnerUnavailable naming what is missing, before any job is touched: the Flink master's
    REST API (or the job endpoint) answers, and the FlinkRunner's job server jar is at hand.
    A missing jar is fetched with Maven: at once (`wait`, the CLI before it starts) or in the
    background, the jar being "unavailable" until it is there (a controller's scheduler loop)."""
    if options.get("job_endpoint"):
        _check_port("job_endpoint", options["job_endpoint"], timeout)
        if _is_flink_rest(options["job_endpoint"]):  # an easy mix-up: it answers, but never runs a job
            raise ConfigError(f"job_endpoint={options['job_endpoint']} is Flink's REST address, not a Beam job "
                              f"server: give it as --runner-option flink_master={options['job_endpoint']}")
        return
    master = options["flink_master"]
    url = rest_url(master)
    if url is not None:
        try:
            seen = call(f"{url}/overview", timeout=timeout) or {}
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            # HTTPException: something answers there, not in HTTP (a job server's or Dask's port)
            reason = getattr(error, "reason", None) or f"{type(error).__name__}: not Flink's REST API"
            raise RunnerUnavailable(
                f"no Flink answers at flink_master={master} ({reason}); start one "
                f"(python -m launch.flink_cluster start --rest-port {url.rsplit(':', 1)[-1]}) "
                "or correct --runner-option flink_master") from None
        if not seen.get("taskmanagers"):
            raise RunnerUnavailable(f"the Flink at flink_master={master} has no TaskManager; start one")
    if not options.get("flink_job_server_jar"):
        from launch import flink_job_server

        flink = options.get("flink_version") or None
        if wait:
            flink_job_server.ensure_jar(flink)
        else:
            flink_job_server.jar_or_fetch_in_background(flink)
    elif "://" not in options["flink_job_server_jar"] and not Path(options["flink_job_server_jar"]).exists():
        raise RunnerUnavailable(f"flink_job_server_jar {options['flink_job_server_jar']} does not exist")


def workers_missing(options: Mapping[str, str]) -> str | None:
    """Why the Flink master runs no task now (it answers, with no TaskManager), else None;
    None too when it cannot tell (job_endpoint, [local]) or does not answer (the pipeline's own
    failure says so then)."""
    url = rest_url(options.get("flink_master") or "[local]")
    if url is None:
        return None
    try:
        seen = call(f"{url}/overview", timeout=2) or {}
    except Exception:  # not answering, or not Flink: not this check's to say
        return None
    if seen.get("taskmanagers"):
        return None
    return (f"Flink at flink_master={options['flink_master']} has no TaskManager: the job's tasks wait until "
            "one joins (start one)")


def _is_flink_rest(address: str) -> bool:
    """Whether `address` answers as Flink's REST API (a job server speaks gRPC, not HTTP/1.1)."""
    try:
        return "flink-version" in (call(f"http://{address}/config", timeout=2) or {})
    except Exception:  # anything else there (a job server's gRPC, nothing): not Flink's REST
        return False


def _check_port(option: str, address: str, timeout: float) -> None:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as error:
        raise RunnerUnavailable(f"nothing answers at {option}={address} ({error}); start the job service "
                                "or correct --runner-option " + option) from None


def job_server_for(options: Mapping[str, str]) -> JobServerProcess:
    """The job endpoint of the Flink job server for `flink_master`: one JVM per controller process
    and Flink master, started at the first job (launch/flink_job_server.py says why not Beam's
    FlinkRunner's own)."""
    from launch import flink_job_server

    jar = options.get("flink_job_server_jar")
    jar_path = Path(jar) if jar else flink_job_server.ensure_jar(options.get("flink_version") or None)
    master = options["flink_master"].strip()
    if master not in ("[local]", "[auto]") and not master.startswith(("http://", "https://")):
        master = f"http://{master}"
    log_dir = Path(tempfile.gettempdir()) / "cosbatch-flink"
    return flink_job_server.JobServerProcess.for_master(jar_path, master, log_dir)


class _PortableRunnerPassingAllOptions(PortableRunner):
    """Beam's PortableRunner, passing the job server options the Python SDK does not define
    (here `pipeline_resources_detector_factory_class`, a Java option) instead of dropping them."""

    def create_job_service_handle(self, job_service, options) -> JobServiceHandle:
        return JobServiceHandle(job_service, options, retain_unknown_options=True)


def master_config(flink_master: str, timeout: float = 5.0) -> dict[str, str]:
    """The Flink master's configuration (REST `/jobmanager/config`), empty if it does not answer."""
    url = rest_url(flink_master)
    if url is None:
        return {}
    try:
        return {entry.get("key"): entry.get("value") for entry in call(f"{url}/jobmanager/config", timeout=timeout) or []}
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        return {}


def cluster_holds_runner(config: Mapping[str, str]) -> bool:
    """Whether a Flink master's `config` says (launch/flink_cluster.BEAM_RUNNER_KEY) that its
    JVMs hold this Beam's Flink runner on their class path, so a job needs to ship no jar."""
    from launch.flink_cluster import BEAM_RUNNER_KEY
    from launch.flink_job_server import installed_beam

    return config.get(BEAM_RUNNER_KEY) == installed_beam()


def cluster_job_server(config: Mapping[str, str]) -> str | None:
    """The job endpoint of the Beam job server a cluster started by launch/flink_cluster.py runs
    for this Beam (launch/flink_cluster.JOB_SERVER_KEY), if it answers."""
    from launch.flink_cluster import JOB_SERVER_BEAM_KEY, JOB_SERVER_KEY
    from launch.flink_job_server import installed_beam

    endpoint = config.get(JOB_SERVER_KEY)
    if not endpoint or config.get(JOB_SERVER_BEAM_KEY) != installed_beam():
        return None
    host, _, port = endpoint.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return endpoint
    except (OSError, ValueError):
        return None


def run(plan: JobPlan, options: Mapping[str, str]) -> PipelineResult:
    if options.get("job_endpoint"):
        return run_pipeline(pipeline_options(plan, options), plan)
    # A submission lost with its controller or job server left this job's Flink job running: it
    # is cancelled first, never run beside the new one (they would share the pending segments).
    cancel_leftovers(options["flink_master"], plan.job_id)
    config = master_config(options["flink_master"])
    endpoint = None if options.get("flink_job_server_jar") else cluster_job_server(config)
    if endpoint is None:
        server = job_server_for(options)
        endpoint, stages_nothing = server.endpoint, server.stages_nothing
    else:
        stages_nothing = True  # the cluster's job server has NothingToStage where it holds the runner
    ships_jars = not (stages_nothing and cluster_holds_runner(config))
    logs.event("flink_submit", job_id=plan.job_id, job_endpoint=endpoint, ships_jars=ships_jars)
    beam_options = pipeline_options(plan, options, endpoint)
    if not ships_jars:
        from launch.flink_job_server import NOTHING_TO_STAGE_CLASS

        extra = PipelineOptions([f"--pipeline_resources_detector_factory_class={NOTHING_TO_STAGE_CLASS}"],
                                **beam_options.get_all_options(drop_default=True))
        return run_pipeline(extra, plan, runner=_PortableRunnerPassingAllOptions())
    return run_pipeline(beam_options, plan)
