"""Google Cloud Dataflow: the pipeline runs on Dataflow workers in a GCP project.

Workers install cosbatch either from `sdk_container_image` (built from
launch/Dockerfile) or, without one, from this checkout's setup.py (`--setup_file`).
They reach object storage with their own credentials (the boto3 chain) and must reach
the store, which a SQLite file on this machine is not; see docs/scaling.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from cosbatch.control.plan import JobPlan
from cosbatch.errors import ConfigError
from launch.base import pass_options
from pipelines.batch_job import run_pipeline

SETUP_FILE = Path(__file__).resolve().parents[1] / "setup.py"
OPTIONS = {
    "project": "GCP project ID",
    "region": "Dataflow region, e.g. europe-west1",
    "temp_location": "gs:// path for temporary files",
    "staging_location": "gs:// path for staged packages (default: temp_location)",
    "setup_file": f"setup.py workers install cosbatch from (default: {SETUP_FILE.name} of this "
    "checkout, when there is no sdk_container_image)",
    "service_account_email": "service account the workers run as",
    "machine_type": "worker machine type, e.g. n2-standard-4",
    "sdk_container_image": "worker image, e.g. built from launch/Dockerfile and pushed to Artifact Registry",
    "num_workers": "initial workers",
    "max_num_workers": "autoscaling ceiling",
    "network": "VPC network",
    "subnetwork": "VPC subnetwork (regions/REGION/subnetworks/NAME)",
}
REQUIRED: tuple[tuple[str, ...], ...] = (("project",), ("region",), ("temp_location",))
#: Whole numbers of at least 1 (RunnerConfig checks them before a job is created).
COUNT_OPTIONS = ("num_workers", "max_num_workers")


def pipeline_options(plan: JobPlan, options: Mapping[str, str]) -> PipelineOptions:
    flags: dict = {
        "runner": "DataflowRunner",
        "project": options["project"],
        "region": options["region"],
        "temp_location": options["temp_location"],
        "staging_location": options.get("staging_location") or options["temp_location"],
        "job_name": f"cosbatch-{plan.job_id}".lower(),
        "labels": [f"cosbatch-job={plan.job_id}".lower()],
        "save_main_session": False,
    }
    setup_file = options.get("setup_file") or (
        str(SETUP_FILE) if SETUP_FILE.exists() and not options.get("sdk_container_image") else None
    )
    if setup_file:
        flags["setup_file"] = setup_file
    pass_options("dataflow", options, flags,
                 strings=("service_account_email", "machine_type", "sdk_container_image", "network", "subnetwork"),
                 ints=("num_workers", "max_num_workers"))
    return PipelineOptions(flags=[], **flags)


def check_store_reachable(store_url: str) -> None:
    if store_url.startswith("sqlite:"):
        raise ConfigError(
            "dataflow runner: workers cannot reach a SQLite store on this machine "
            f"({store_url}); run the jobs from `cosbatch serve --worker-control http "
            "--advertise-url URL`, whose worker channel Dataflow workers can reach"
        )


def dry_run(plan: JobPlan, options: Mapping[str, str]) -> Any:
    """Build the job's pipeline and translate it to the Dataflow job Beam's DataflowRunner would
    submit, without submitting it (Beam's `--dry_run`; needs `pip install 'cosbatch[dataflow]'`).
    Stages nothing remote: the setup file is packaged locally. Returns Beam's `apiclient.Job`
    (`.proto`: the Dataflow Job message; `.proto_pipeline`: the portable pipeline with its
    worker environment)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import TestOptions

    from pipelines.batch_job import build_pipeline

    beam_options = pipeline_options(plan, options)
    beam_options.view_as(TestOptions).dry_run = True
    pipeline = beam.Pipeline(options=beam_options)
    build_pipeline(pipeline, plan)
    return pipeline.run().job


def run(plan: JobPlan, options: Mapping[str, str]) -> PipelineResult:
    check_store_reachable(plan.store_url)
    return run_pipeline(pipeline_options(plan, options), plan)
