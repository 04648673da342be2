"""launch/dask_pardo.py on a real `distributed` cluster (2 worker processes) with Beam's DaskRunner:
a worker keeps neither the outputs nor the DoFns of the partitions it has run, and what a DoFn
emits in `finish_bundle` reaches the next step once. Beam 2.77's own ParDo step failed all four
tests; 2.62's (the version cosbatch pins) is the same code."""

from __future__ import annotations

import gc
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.window import GlobalWindows

from launch import dask_pardo

N, PARTITIONS = 600, 30


class Payload:
    """What the first step emits: each bundle counts those still alive in its worker process."""

    def __init__(self, n: int, alive_before: int) -> None:
        self.n, self.alive_before = n, alive_before
        self.data = bytes(1000)


def _alive(class_name: str) -> int:
    """Objects of that class alive in this process."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o).__name__ == class_name)


class _EmitPayload(beam.DoFn):
    def start_bundle(self) -> None:
        # Workers run one partition at a time (one thread), so any Payload alive now was
        # emitted by a partition this worker finished earlier.
        self.alive_before = _alive("Payload")

    def process(self, n: int):
        yield Payload(n, self.alive_before)


class Resource:
    """What a DoFn's setup makes (a client, a pool, a store connection in cosbatch's DoFns)."""

    def __init__(self) -> None:
        self.data = bytes(100_000)


class _Probe(beam.DoFn):
    """Counts, at the start of each bundle, the DoFns of its kind and the Resources alive in its worker."""

    def __init__(self) -> None:
        self.plan = list(range(10_000))  # what cosbatch's DoFns carry: the job plan

    def setup(self) -> None:
        self.resource = Resource()  # kept after teardown, as an attribute is

    def start_bundle(self) -> None:
        self.alive = (_alive("_Probe"), _alive("Resource"))

    def process(self, n: int):
        yield n, self.alive


class _EmitInFinishBundle(beam.DoFn):
    """Holds the bundle's numbers and emits them in finish_bundle, as cosbatch's RecordResults does."""

    def start_bundle(self) -> None:
        self.held: list[int] = []

    def process(self, n: int):
        self.held.append(n)

    def finish_bundle(self):
        for n in self.held:
            yield GlobalWindows.windowed_value(n)


class _FailOn(beam.DoFn):
    def __init__(self, bad: int, marker: str) -> None:
        self.bad, self.marker = bad, marker

    def setup(self) -> None:
        self.failed = False

    def process(self, n: int):
        if n == self.bad:
            self.failed = True
            raise ValueError(f"element {n} fails")
        yield n

    def teardown(self) -> None:
        if self.failed:  # the failed bundle's instance, not another partition's
            Path(self.marker).write_text("torn down")


def _run(dask_cluster, build):
    """Start the pipeline that `build` adds to the numbers 0..N-1 on the cluster; its result."""
    options = PipelineOptions(flags=[f"--dask_client_address={dask_cluster.scheduler_address}"])
    pipeline = beam.Pipeline(runner=dask_pardo.CosbatchDaskRunner(PARTITIONS), options=options)
    build(pipeline | beam.Create(list(range(N))))
    return pipeline.run()


def _outputs(dask_cluster, build) -> list:
    """Run that pipeline to its end; its final outputs, in any order."""
    result = _run(dask_cluster, build)
    try:
        result.wait_until_finish()
        return [x for future in result.futures for x in future.result()]
    finally:
        result.client.close()


def test_workers_keep_no_output_of_the_partitions_they_ran(dask_cluster):
    outputs = _outputs(dask_cluster, lambda numbers: numbers | "Payload" >> beam.ParDo(_EmitPayload())
                      | "Numbers" >> beam.Map(lambda payload: (payload.n, payload.alive_before)))
    assert sorted(n for n, _ in outputs) == list(range(N))
    # With Beam 2.77's step, a worker's k-th partition finds the Payloads of the k-1 before it
    # (each partition's outputs stay in its task's arguments until the job ends).
    assert Counter(alive for _, alive in outputs) == {0: N}


def test_workers_keep_no_dofn_of_the_partitions_they_ran(dask_cluster):
    outputs = _outputs(dask_cluster, lambda numbers: numbers | "Probe" >> beam.ParDo(_Probe()))
    assert sorted(n for n, _ in outputs) == list(range(N))
    dofns, resources = Counter(alive[0] for _, alive in outputs), Counter(alive[1] for _, alive in outputs)
    # Alive in a worker: the running DoFn, with its Resource, and those of the next task the
    # scheduler has sent it (up to 2 tasks in hand: distributed's worker-saturation). Beam 2.77's
    # step keeps every DoFn it ran (with its plan and its Resource) until the job ends: the k-th
    # partition of a worker finds k of them (up to 15 here: 30 partitions on 2 workers).
    assert resources == {1: N}, resources
    assert max(dofns) <= 3, dofns


def test_finish_bundle_outputs_reach_the_next_step_once(dask_cluster):
    outputs = _outputs(dask_cluster, lambda numbers: numbers | "Held" >> beam.ParDo(_EmitInFinishBundle())
                      | "Times10" >> beam.Map(lambda n: n * 10))
    assert Counter(outputs) == Counter(n * 10 for n in range(N))  # Beam 2.77's step: none at all


def test_teardown_runs_when_a_bundle_fails(dask_cluster, tmp_path):
    marker = tmp_path / "teardown"
    result = _run(dask_cluster, lambda numbers: numbers | "Fail" >> beam.ParDo(_FailOn(7, str(marker))))
    try:
        with pytest.raises(ValueError, match="element 7 fails"):
            result.wait_until_finish()
    finally:
        result.client.close()
    assert marker.read_text() == "torn down"
