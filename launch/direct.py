"""DirectRunner: in-process (default), multi-threaded or multi-process on this machine."""

from __future__ import annotations

from collections.abc import Mapping

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult, PipelineRunner

from cosbatch.control.plan import JobPlan
from cosbatch.errors import ConfigError
from launch.base import int_option
from pipelines.batch_job import run_pipeline

MODES = ("in_memory", "multi_threading", "multi_processing")
OPTIONS = {
    "direct_running_mode": f"one of {', '.join(MODES)} (default in_memory)",
    "direct_num_workers": "parallel workers (default 1 in memory, else 2)",
}
REQUIRED: tuple[tuple[str, ...], ...] = ()
#: Whole numbers of at least 1 (RunnerConfig checks them before a job is created).
COUNT_OPTIONS = ("direct_num_workers",)


def check_option_values(options: Mapping[str, str]) -> None:
    mode = options.get("direct_running_mode") or "in_memory"
    if mode not in MODES:
        raise ConfigError(f"direct_running_mode must be one of {', '.join(MODES)}, not {mode!r}")


def pipeline_options(plan: JobPlan, options: Mapping[str, str]) -> PipelineOptions:
    check_option_values(options)
    mode = options.get("direct_running_mode") or "in_memory"
    workers = int_option("direct", options, "direct_num_workers", 1 if mode == "in_memory" else 2)
    return PipelineOptions(
        flags=[],  # never sys.argv: the caller's own arguments are not Beam's
        runner="DirectRunner",
        direct_running_mode=mode,
        direct_num_workers=workers,
        save_main_session=False,
    )


def fn_api_runner(options: PipelineOptions) -> PipelineRunner:
    """Beam's in-process FnApiRunner, set up as DirectRunner sets it up when it falls back to it.

    Named outright because Beam 2.77's DirectRunner first tries to download Prism (a Go
    runner) from GitHub and run the pipeline there: another engine than the one cosbatch is
    tested on, where there is internet access; a failed download where there is none.
    """
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return fn_runner.FnApiRunner(provision_info=info)


def run(plan: JobPlan, options: Mapping[str, str]) -> PipelineResult:
    beam_options = pipeline_options(plan, options)
    return run_pipeline(beam_options, plan, runner=fn_api_runner(beam_options))
