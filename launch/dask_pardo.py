"""The ParDo step of Beam's DaskRunner, replaced: each partition keeps its own outputs and
returns all of them, including those emitted in `finish_bundle`.

Written against apache-beam 2.77, `apache_beam/runners/dask/transform_evaluator.py`, whose
`ParDo.apply` builds one `OneReceiver` per ParDo when the graph is built and passes it, with the
`_OutputHandler` that writes into it, as an argument of every partition's task
(`apply_dofn_to_bundle`). Two faults follow:

- The receiver's output list lives in the task's arguments, and a `distributed` worker keeps a
  task's arguments (its run_spec) as long as it holds the task's result: for a bag computed as
  one collection, until the whole job ends. So a worker keeps every output of every ParDo it
  ran: for a cosbatch job, each segment's `SegmentOutcome` with its `TaskResult`s, ~2.2 KiB
  per task (2.3 GiB for a million tasks; benchmarks/results/million-tasks.md).
- `apply_dofn_to_bundle` copies the outputs out *before* `invoke_finish_bundle`, so whatever
  a DoFn emits in `finish_bundle` is lost (`RecordResults` emits there).

`ParDo` below replaces upstream's evaluator in the runner's `TRANSLATIONS` (`install()`, called
by launch/dask.py's `pipeline_options`, before the runner translates a pipeline). Its task
arguments hold only the DoFn and its inputs; `_run_bundle` makes the receiver and the DoFn
invoker inside the task, so the outputs belong to the partition's result alone and are freed
with it. The lifecycle calls are upstream's (setup,
start_bundle, process, finish_bundle, teardown once per partition), except that teardown also
runs when the bundle fails. The bag graph is unchanged otherwise, so the runner's other
evaluators work with it as before.
"""

from __future__ import annotations

import typing as t

import apache_beam
from apache_beam import DoFn
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, _OutputHandler
from apache_beam.runners.dask import transform_evaluator as upstream
from apache_beam.runners.dask.transform_evaluator import (
    DaskBagOp,
    OneReceiver,
    OpSide,
    get_windowed_value,
)

if t.TYPE_CHECKING:
    import dask.bag as db


def _run_bundle(items: t.Iterable[t.Any], fn: DoFn, window_fn: t.Any, label: str, side_inputs: OpSide,
                args: list, kwargs: dict) -> list:
    """One partition through the DoFn: its outputs, those of `finish_bundle` included, in a list
    made here (nothing of them stays behind in the task's arguments)."""
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
            _run_bundle, transform.fn, window_fn, transform.label, side_inputs, list(args), kwargs)


def install() -> None:
    """Make the DaskRunner of this process translate every ParDo with `ParDo` above."""
    upstream.TRANSLATIONS[apache_beam.ParDo] = ParDo
