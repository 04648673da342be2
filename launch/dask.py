"""DaskRunner: the pipeline as a Dask bag graph on a `distributed` cluster.

With `dask_client_address` (or `dask_scheduler_file`) the job runs on that cluster;
without, this module starts a LocalCluster of worker processes on this machine for
the job and closes it afterwards.

Beam's DaskRunner turns `beam.Create` into a bag whose partitions are the unit of
parallelism (its Reshuffle is a no-op), so each pending segment becomes its own
partition unless `dask_npartitions` says otherwise: a segment is then read, applied
and recorded by one worker, and pause/cancel are noticed between segments as on
DirectRunner. Beam's DaskRunner reports no metrics; the store's counts are
authoritative anyway. Its ParDo step is replaced by launch/dask_pardo.py: upstream's keeps
every output on the worker until the job ends and loses those of `finish_bundle`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from cosbatch.control.plan import JobPlan
from cosbatch.errors import ConfigError, RunnerUnavailable
from launch import dask_pardo
from launch.base import int_option
from pipelines.batch_job import build_pipeline

OPTIONS = {
    "dask_client_address": "address of a running distributed scheduler, e.g. tcp://10.0.0.5:8786 "
    "(default: start a LocalCluster on this machine)",
    "dask_scheduler_file": "a distributed scheduler file, instead of dask_client_address",
    "dask_connection_timeout": "seconds to wait for the scheduler",
    "dask_npartitions": "bag partitions (default: one per pending segment)",
    "dask_local_workers": "LocalCluster worker processes (default: Dask's choice for this machine)",
    "dask_threads_per_worker": "threads per LocalCluster worker (default 1; each worker's DoFn "
    "has its own pool of --concurrency threads)",
}
REQUIRED: tuple[tuple[str, ...], ...] = ()
LOCAL_CLUSTER_OPTIONS = ("dask_local_workers", "dask_threads_per_worker")
#: Whole numbers of at least 1 (RunnerConfig checks them before a job is created).
COUNT_OPTIONS = ("dask_connection_timeout", "dask_npartitions", *LOCAL_CLUSTER_OPTIONS)
#: The distributed scheduler runs a lost worker's tasks again on the others (up to its
#: `allowed-failures`, then the pipeline fails with KilledWorker), so the controller does not
#: give the pipeline up when a worker process dies: that would run its segments twice at once.
RECOVERS_LOST_WORKERS = True


def check_option_values(options: Mapping[str, str]) -> None:
    remote = options.get("dask_client_address") or options.get("dask_scheduler_file")
    local = [key for key in LOCAL_CLUSTER_OPTIONS if options.get(key)]
    if remote and local:
        raise ConfigError(f"dask runner option {local[0]} is for the LocalCluster it starts; "
                          "with dask_client_address or dask_scheduler_file, size the cluster itself")


def pipeline_options(plan: JobPlan, options: Mapping[str, str]) -> PipelineOptions:
    """The scheduler's options (the runner is `dask_pardo.CosbatchDaskRunner`, made by `run` with
    the partition count `partitions` gives)."""
    # As flags: DaskOptions' attribute names (address, ...) differ from its flags, and
    # PipelineOptions(**kwargs) silently drops keys that are not attribute names.
    try:
        import distributed  # noqa: F401  (Beam's DaskRunner needs it; its import error is vague)
    except ImportError:
        raise ConfigError("dask runner needs dask and distributed: pip install 'cosbatch[dask]'") from None
    from apache_beam.runners.dask.dask_runner import DaskOptions  # registers the flags

    dask_pardo.install()  # before the runner translates the pipeline: see launch/dask_pardo.py
    check_option_values(options)
    partitions(plan, options)  # a bad value fails here, before any job is touched
    flags = []
    for key in ("dask_client_address", "dask_scheduler_file"):
        if options.get(key):
            flags.append(f"--{key}={options[key]}")
    timeout = int_option("dask", options, "dask_connection_timeout")
    if timeout is not None:
        flags.append(f"--dask_connection_timeout={timeout}")
    return PipelineOptions(flags=flags).view_as(DaskOptions)


def check_available(options: Mapping[str, str], timeout: float = 5.0, wait: bool = True) -> None:
    """RunnerUnavailable if the Dask scheduler given does not answer (a LocalCluster is started
    per job, so there is nothing to check without one). Nothing is fetched, so `wait` changes
    nothing."""
    import json
    import socket
    from pathlib import Path
    from urllib.parse import urlparse

    address = options.get("dask_client_address")
    where = f"dask_client_address={address}"
    if not address and options.get("dask_scheduler_file"):
        path = Path(options["dask_scheduler_file"])
        where = f"the scheduler in dask_scheduler_file={path}"
        try:
            address = json.loads(path.read_text())["address"]
        except (OSError, ValueError, KeyError) as error:
            raise RunnerUnavailable(f"cannot read dask_scheduler_file={path} ({error}); start the scheduler "
                                    "(dask scheduler --scheduler-file ...) or correct the option") from None
    if not address:
        return
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    try:
        with socket.create_connection((parsed.hostname or "localhost", parsed.port or 8786), timeout=timeout):
            pass
    except OSError as error:
        raise RunnerUnavailable(f"no Dask scheduler answers at {where} ({error}); start it "
                                "(dask scheduler) or correct --runner-option dask_client_address") from None


def partitions(plan: JobPlan, options: Mapping[str, str]) -> int:
    return int_option("dask", options, "dask_npartitions", max(1, len(plan.segments)))


@contextmanager
def _scheduler_address(options: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """The options with a scheduler to talk to: the user's, or a LocalCluster started here."""
    if options.get("dask_client_address") or options.get("dask_scheduler_file"):
        yield dict(options)
        return
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=int_option("dask", options, "dask_local_workers"),
        threads_per_worker=int_option("dask", options, "dask_threads_per_worker", 1),
        processes=True,
        dashboard_address=":0",  # a free port: 8787 may be taken
    )
    try:
        resolved = {k: v for k, v in options.items() if k not in LOCAL_CLUSTER_OPTIONS}
        yield {**resolved, "dask_client_address": cluster.scheduler_address}
    finally:
        cluster.close()


def run(plan: JobPlan, options: Mapping[str, str]) -> PipelineResult:
    with _scheduler_address(options) as resolved:
        runner = dask_pardo.CosbatchDaskRunner(partitions(plan, resolved))
        pipeline = beam.Pipeline(runner=runner, options=pipeline_options(plan, resolved))
        build_pipeline(pipeline, plan)
        result = pipeline.run()
        try:
            result.wait_until_finish()
        finally:
            result.client.close()  # Beam's DaskRunner opens a Client per run and never closes it
    return result
