"""Beam's DaskRunner with its ParDo and Create steps replaced: a worker keeps nothing of a
partition it has run, what a DoFn emits in `finish_bundle` reaches the next step, the Create's
partitions are the ones launch/dask.py asks for, and the `distributed.Client` gets only the
scheduler options (Beam 2.62's passes it every non-default pipeline option, `runner` included,
which it refuses).

The ParDo step was written against apache-beam 2.77 and holds for 2.62, the version cosbatch
pins (pyproject.toml, checked by tests/unit/test_beam_version.py): `apache_beam/runners/dask/transform_evaluator.py`, whose
`ParDo.apply` builds, when the graph is built, one `OneReceiver` per ParDo and passes it, with
the `DoFnSignature` (the DoFn) and the `_OutputHandler` that writes into the receiver, as
arguments of every partition's task (`apply_dofn_to_bundle`). A `distributed` worker keeps a
task's arguments (its run_spec) as long as it holds the task's result, which for a bag computed
as one collection is until the whole job ends. So, per partition a worker has run, it kept:

- the receiver's list of every output of the ParDo (for a cosbatch job, each segment's
  `SegmentOutcome` with its `TaskResult`s);
- the task's own unpickled DoFn, with what its constructor put in it (a cosbatch DoFn's job
  plan lists every segment, so this grows with the square of the segments) and what its setup
  made (clients, thread pools, store connections, kept after teardown as attributes).

Together about 2 KiB per task of a cosbatch job, 2.3 GiB for a million tasks
(benchmarks/results/million-tasks.md). And `apply_dofn_to_bundle` copies the outputs out
*before* `invoke_finish_bundle`, so whatever a DoFn emits in `finish_bundle` was lost
(`RecordResults` emits there).

`ParDo` below replaces upstream's evaluator in the runner's `TRANSLATIONS` (`install()`, called
by launch/dask.py's `pipeline_options`, before the runner translates a pipeline). It builds the
same bag graph (same tasks, so Dask fuses them as before), but the task carries its DoFn in a
`_DoFnSlot` that `_run_bundle` empties when it runs, and makes the receiver and the DoFn invoker
inside the task: the outputs belong to the partition's result alone, and the DoFn is freed with
the partition. The lifecycle calls are upstream's (setup, start_bundle, process, finish_bundle,
teardown, once per partition), except that teardown also runs when the bundle fails.
"""

from __future__ import annotations

import contextvars
import typing as t

import apache_beam
from apache_beam import DoFn
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, _OutputHandler
from apache_beam.runners.dask import transform_evaluator as upstream
from apache_beam.runners.dask.dask_runner import DaskOptions, DaskRunner, DaskRunnerResult
from apache_beam.runners.dask.overrides import _Create, dask_overrides
from apache_beam.runners.dask.transform_evaluator import (
    DaskBagOp,
    OneReceiver,
    OpInput,
    OpSide,
    get_windowed_value,
)

if t.TYPE_CHECKING:
    import dask.bag as db


class _DoFnSlot:
    """Carries a task's DoFn, which the task takes out when it runs (see `_run_bundle`)."""

    def __init__(self, fn: DoFn) -> None:
        self.fn: DoFn | None = fn

    def take(self) -> DoFn:
        fn, self.fn = self.fn, None
        if fn is None:
            raise RuntimeError("this Dask task's DoFn was taken by an earlier run of the same task object")
        return fn


def _run_bundle(items: t.Iterable[t.Any], slot: _DoFnSlot, window_fn: t.Any, label: str, side_inputs: OpSide,
                args: list, kwargs: dict) -> list:
    """One partition through the DoFn: its outputs, those of `finish_bundle` included, in a list
    made here. The DoFn is taken out of the task's arguments, so neither the DoFn (with what its
    constructor and its setup put in it) nor the outputs stay behind once the partition is done."""
    fn = slot.take()
    receivers = OneReceiver()
    handler = _OutputHandler(window_fn=window_fn, main_receivers=receivers[None], tagged_receivers=receivers,
                             per_element_output_counter=None, output_batch_converter=None,
                             process_yields_batches=False, process_batch_yields_elements=False)
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(fn), handler, context=DoFnContext(label, state=None), side_inputs=side_inputs,
        input_args=args, input_kwargs=kwargs, user_state_context=None,
        bundle_finalizer_param=DoFn.BundleFinalizerParam())
    invoker.invoke_setup()
    try:
        invoker.invoke_start_bundle()
        for item in items:
            invoker.invoke_process(item)
        invoker.invoke_finish_bundle()
    finally:
        invoker.invoke_teardown()
    return [v.value for v in receivers.values]


class ParDo(DaskBagOp):
    """Upstream's `ParDo` evaluator with the receiver made per partition (see the module doc)."""

    def apply(self, input_bag: db.Bag, side_inputs: OpSide = None) -> db.Bag:
        transform = t.cast(apache_beam.ParDo, self.transform)
        args, kwargs = transform.raw_side_inputs
        main_input = next(iter(self.applied.main_inputs.values()))
        window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
        return input_bag.map(get_windowed_value, window_fn).map_partitions(
            _run_bundle, _DoFnSlot(transform.fn), window_fn, transform.label, side_inputs, list(args), kwargs)


#: The number of bag partitions of the pipeline being translated (None: one per element).
_PARTITIONS: contextvars.ContextVar[int | None] = contextvars.ContextVar("cosbatch_dask_partitions", default=None)
#: The `DaskOptions` that are `distributed.Client` arguments.
CLIENT_OPTIONS = ("address", "timeout", "scheduler_file", "name", "connection_limit")


class Create(DaskBagOp):
    """The pipeline's `beam.Create` as a bag of the asked number of partitions (launch/dask.py asks
    one per pending segment, so each segment is one worker's task)."""

    def apply(self, input_bag: OpInput, side_inputs: OpSide = None) -> db.Bag:
        from dask import bag

        items = t.cast(_Create, self.transform).values
        wanted = _PARTITIONS.get() or len(items)
        return bag.from_sequence(items, npartitions=max(1, min(wanted, len(items))))


class CosbatchDaskRunner(DaskRunner):
    """Beam's DaskRunner, translating with the steps above and connecting with the scheduler
    options alone."""

    def __init__(self, npartitions: int | None = None) -> None:
        super().__init__()
        self.npartitions = npartitions

    def run_pipeline(self, pipeline, options):
        import dask
        import dask.distributed as ddist

        install()
        dask_options = options.view_as(DaskOptions)
        client = ddist.Client(**{key: getattr(dask_options, key) for key in CLIENT_OPTIONS
                                 if getattr(dask_options, key, None) is not None})
        pipeline.replace_all(dask_overrides())
        visitor = self.to_dask_bag_visitor()
        token = _PARTITIONS.set(self.npartitions)
        try:
            pipeline.visit(visitor)
        finally:
            _PARTITIONS.reset(token)
        # The last step's bag reaches every other through the graph: computing only it, as Beam
        # 2.77 does, keeps the intermediate steps' outputs (every task) out of worker memory.
        graph = dask.optimize(list(visitor.bags.values())[-1])
        return DaskRunnerResult(client, client.compute(graph))


def install() -> None:
    """Make the DaskRunner of this process translate every ParDo and Create with the steps above."""
    upstream.TRANSLATIONS[apache_beam.ParDo] = ParDo
    upstream.TRANSLATIONS[_Create] = Create
