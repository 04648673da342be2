"""Runner options: what each runner would be submitted with, checked by Beam's own
PipelineOptionsValidator (nothing is submitted), and clear errors for bad options."""

from __future__ import annotations

import pytest
from apache_beam.options.pipeline_options import (
    DebugOptions,
    GoogleCloudOptions,
    PortableOptions,
    SetupOptions,
    StandardOptions,
    TestOptions,
    WorkerOptions,
)
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
from apache_beam.runners.portability.flink_runner import FlinkRunner
from apache_beam.runners.portability.portable_runner import PortableRunner

from cosbatch.control.plan import JobPlan, SegmentRef
from cosbatch.errors import ConfigError
from cosbatch.storage import implicit_storage
from launch import dataflow
from launch.base import RunnerConfig, check_store_reachable, pipeline_options_for

PLAN = JobPlan(
    job_id="7F3A9C2E-0D1B-4E5F-8A6B-1C2D3E4F5A6B",
    store_url="sqlite:////var/lib/cosbatch/cosbatch.db",
    storage=implicit_storage("http://storage.internal:8333"),
    operation={"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::dst"}},
    segments=tuple(SegmentRef(i, "{}", 0, 0, 1, 250) for i in range(3)),
)
DATAFLOW = {
    "project": "batch-proj",
    "region": "europe-west1",
    "temp_location": "gs://cosbatch-temp/tmp",
    "service_account_email": "workers@batch-proj.iam.gserviceaccount.com",
    "machine_type": "n2-standard-4",
    "sdk_container_image": "europe-docker.pkg.dev/batch-proj/cosbatch/worker:0.1.0",
    "max_num_workers": "20",
}


def beam_errors(options, runner) -> list[str]:
    """Beam's own validation of the options, offline: with Beam's GCP modules installed it would
    otherwise ask GCS about the temp bucket (120 s of retries without a network); `--dry_run` is
    Beam's switch for that."""
    options.view_as(TestOptions).dry_run = True
    return PipelineOptionsValidator(options, runner).validate()


def test_dataflow_options_pass_beams_validation():
    options = pipeline_options_for(PLAN, RunnerConfig("dataflow", DATAFLOW))
    assert beam_errors(options, DataflowRunner()) == []
    gcp = options.view_as(GoogleCloudOptions)
    assert (gcp.project, gcp.region, gcp.temp_location, gcp.staging_location) == (
        "batch-proj", "europe-west1", "gs://cosbatch-temp/tmp", "gs://cosbatch-temp/tmp")
    assert gcp.service_account_email == "workers@batch-proj.iam.gserviceaccount.com"
    assert gcp.job_name == "cosbatch-7f3a9c2e-0d1b-4e5f-8a6b-1c2d3e4f5a6b"  # Dataflow's lower-case pattern
    workers = options.view_as(WorkerOptions)
    assert (workers.machine_type, workers.max_num_workers) == ("n2-standard-4", 20)
    assert workers.sdk_container_image == DATAFLOW["sdk_container_image"]
    assert options.view_as(StandardOptions).runner == "DataflowRunner"


def test_dataflow_without_an_image_installs_cosbatch_from_setup_py():
    config = {k: v for k, v in DATAFLOW.items() if k != "sdk_container_image"}
    options = pipeline_options_for(PLAN, RunnerConfig("dataflow", config))
    assert options.view_as(SetupOptions).setup_file == str(dataflow.SETUP_FILE)
    assert dataflow.SETUP_FILE.exists()
    assert beam_errors(options, DataflowRunner()) == []


def test_beams_validation_catches_what_we_pass_through():
    bad = {**DATAFLOW, "project": "123456"}
    errors = beam_errors(pipeline_options_for(PLAN, RunnerConfig("dataflow", bad)), DataflowRunner())
    assert any("Project ID" in e for e in errors)
    # A temp_location that is not gs:// (asked alone: with both locations bad, Beam's full
    # validation goes looking for a default bucket in GCS).
    options = pipeline_options_for(PLAN, RunnerConfig("dataflow", {**DATAFLOW, "temp_location": "/tmp/not-gcs"}))
    validator = PipelineOptionsValidator(options, DataflowRunner())
    errors = validator.validate_gcs_path(options.view_as(GoogleCloudOptions), "temp_location")
    assert any("temp_location" in e for e in errors), errors


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("project", "dataflow runner needs --runner-option project=..."),
        ("region", "dataflow runner needs --runner-option region=..."),
        ("temp_location", "dataflow runner needs --runner-option temp_location=..."),
    ],
)
def test_dataflow_missing_required_option(missing, message):
    with pytest.raises(ConfigError) as err:
        RunnerConfig("dataflow", {k: v for k, v in DATAFLOW.items() if k != missing})
    assert err.value.message == message and err.value.code == "InvalidConfiguration"


def test_dataflow_refuses_a_store_workers_cannot_reach():
    with pytest.raises(ConfigError, match="workers cannot reach a SQLite store"):
        check_store_reachable(RunnerConfig("dataflow", DATAFLOW), PLAN.store_url)
    check_store_reachable(RunnerConfig("dask"), PLAN.store_url)  # workers on this machine: fine
    # The controller's HTTP worker channel is what remote workers use instead.
    check_store_reachable(RunnerConfig("dataflow", DATAFLOW), "http://job:0123abcd@controller.internal:8480")


def test_flink_job_server_options_pass_beams_validation():
    config = {"job_endpoint": "flink-jobserver:8099", "environment_type": "DOCKER",
              "sdk_container_image": "cosbatch-worker:0.1.0", "parallelism": "8"}
    options = pipeline_options_for(PLAN, RunnerConfig("flink", config))
    assert beam_errors(options, PortableRunner()) == []
    portable = options.view_as(PortableOptions)
    assert (portable.job_endpoint, portable.environment_type, portable.environment_config) == (
        "flink-jobserver:8099", "DOCKER", "cosbatch-worker:0.1.0")
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    assert options.get_all_options()["parallelism"] == 8
    # No `pip freeze` at every submission (Beam's stager skips it for this experiment).
    assert options.view_as(DebugOptions).lookup_experiment("disable_logging_submission_environment")


def test_flink_default_environment_is_a_process_the_taskmanager_starts():
    """With only flink_master, the SDK harness is this Python's cosbatch-sdk-worker, started by
    the TaskManager (no Docker engine is needed)."""
    import json
    import sys
    from pathlib import Path

    options = pipeline_options_for(PLAN, RunnerConfig("flink", {"flink_master": "127.0.0.1:8081"}))
    portable = options.view_as(PortableOptions)
    assert portable.environment_type == "PROCESS"
    command = json.loads(portable.environment_config)["command"]
    assert command == str(Path(sys.executable).parent / "cosbatch-sdk-worker") and Path(command).exists()
    assert options.get_all_options()["flink_version"] == "1.19"  # the job server cosbatch obtains


@pytest.mark.parametrize(
    "config",
    [
        {"flink_master": "flink-jobmanager:8081", "flink_version": "1.19", "environment_type": "LOOPBACK"},
        {"flink_master": "flink-jobmanager:8081", "environment_type": "process",
         "environment_config": '{"command": "/opt/apache/beam/boot"}'},
        {"flink_master": "flink-jobmanager:8081", "environment_type": "EXTERNAL",
         "environment_config": "localhost:50000"},
    ],
)
def test_flink_runner_options_pass_beams_validation(config):
    options = pipeline_options_for(PLAN, RunnerConfig("flink", config))
    assert beam_errors(options, FlinkRunner()) == []
    assert options.view_as(StandardOptions).runner == "FlinkRunner"
    assert options.get_all_options()["flink_master"] == "flink-jobmanager:8081"


@pytest.mark.parametrize(
    ("runner", "config", "message"),
    [
        ("flink", {}, "flink runner needs --runner-option job_endpoint=... or --runner-option flink_master=..."),
        ("flink", {"job_endpoint": "h:8099", "environment_type": "docker"},
         "environment_type=DOCKER needs --runner-option sdk_container_image"),
        ("flink", {"flink_master": "h:8081", "environment_type": "EXTERNAL"},
         "needs --runner-option environment_config=HOST:PORT"),
        ("flink", {"flink_master": "h:8081", "job_endpoint": "h:8099"}, "not both"),
        ("flink", {"flink_master": "h:8081", "environment_type": "LOOPBACK", "parallelism": "many"},
         "parallelism must be a whole number"),
        ("dask", {"dask_npartitions": "x"}, "dask_npartitions must be a whole number"),
        ("dask", {"dask_client_address": "tcp://h:8786", "dask_local_workers": "4"},
         "dask_local_workers is for the LocalCluster it starts"),
        ("direct", {"direct_running_mode": "gpu"}, "direct_running_mode must be one of"),
        ("flink", {"flink_master": "h:8081", "environment_type": "FOO"}, "environment_type must be one of"),
        ("flink", {"flink_master": "h:8081", "parallelism": "0"}, "flink runner option parallelism must be at least 1"),
        ("dask", {"dask_local_workers": "-2"}, "dask runner option dask_local_workers must be at least 1"),
        ("dataflow", {"project": "p", "region": "r", "temp_location": "gs://b/t", "num_workers": "two"},
         "num_workers must be a whole number"),
    ],
)
def test_bad_option_values_are_config_errors_before_any_plan(runner, config, message):
    """Refused by RunnerConfig itself: the CLI makes one before any store or job is touched, so a
    bad value is a refused command, never a job that fails when its pipeline is built."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        RunnerConfig(runner, config)


@pytest.mark.parametrize("runner", ["direct", "dask", "flink", "dataflow"])
def test_unknown_option_keys_are_config_errors(runner):
    with pytest.raises(ConfigError, match=rf"{runner} runner has no option 'max_workerz'; it takes: "):
        RunnerConfig(runner, {"max_workerz": "3"})


def test_unknown_runner():
    with pytest.raises(ConfigError, match="runner 'spark' is not available; choose one of: direct, dask, flink, dataflow"):
        RunnerConfig("spark")


def test_dask_options():
    options = pipeline_options_for(PLAN, RunnerConfig("dask", {"dask_client_address": "tcp://10.0.0.5:8786"}))
    all_options = options.get_all_options()
    assert all_options["address"] == "tcp://10.0.0.5:8786"  # DaskOptions' dest for --dask_client_address
    from launch import dask

    assert dask.partitions(PLAN, {}) == 3  # one bag partition per pending segment
    assert dask.partitions(PLAN, {"dask_npartitions": "7"}) == 7
    # Beam 2.62's DaskRunner passes every non-default option to distributed.Client, which refuses
    # `runner`: the runner is an instance (dask_pardo.CosbatchDaskRunner), not a flag.
    assert options.view_as(StandardOptions).runner is None


def test_dask_options_replace_beams_pardo_step(monkeypatch):
    """The DaskRunner that runs a cosbatch job translates ParDos with launch/dask_pardo.py's step."""
    import apache_beam as beam
    from apache_beam.runners.dask import transform_evaluator

    from launch import dask_pardo

    monkeypatch.setitem(transform_evaluator.TRANSLATIONS, beam.ParDo, transform_evaluator.ParDo)  # Beam's own
    pipeline_options_for(PLAN, RunnerConfig("dask"))
    assert transform_evaluator.TRANSLATIONS[beam.ParDo] is dask_pardo.ParDo


def test_each_run_of_a_job_is_a_new_dask_graph(tmp_path):
    """A re-run (after a pause, a failure) must not resubmit the keys of the run just released:
    Dask names tasks by hashing their inputs, and can deadlock on released keys submitted again."""
    from dask.base import tokenize

    from cosbatch.controller import JobService, Scheduler
    from cosbatch.settings import Settings
    from cosbatch.store import Segment, open_store
    from cosbatch.wire.dialects import parse_create_job
    from pipelines.transforms.apply_operation import _ApplyOperationFn
    from tests.unit.test_models import s3_body

    store = open_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    job = JobService(store).create_job(parse_create_job(s3_body()))
    store.replace_segments(job.job_id, [Segment(job.job_id, i, "{}", 0, 10, 1, 10) for i in range(3)])
    scheduler = Scheduler(store, Settings(store_url=store.url))
    try:
        first, again = scheduler._plan(job), scheduler._plan(job)
    finally:
        scheduler.close()
    assert [s.seg_no for s in first.segments] == [s.seg_no for s in again.segments] == [0, 1, 2]
    assert tokenize(list(first.segments)) != tokenize(list(again.segments))  # beam.Create's partitions
    assert tokenize(_ApplyOperationFn(first, None)) != tokenize(_ApplyOperationFn(again, None))  # the DoFns
