"""The batch job pipeline: manifest segments → operation → recorded results.

    p | ReadManifest(plan) | ApplyOperation(plan) | RecordResults(plan)

The pipeline never decides the job's status: it reports progress through
JobControl and stops issuing work when told. Counts are Beam Metrics
(`cosbatch/tasks_succeeded`, ...) and, authoritatively, the segment rows in the
store. The controller writes the final report files (manifest.json, job.json)
once the job reaches its end status.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult, PipelineRunner

from cosbatch.control.plan import JobPlan
from pipelines.transforms import ApplyOperation, ReadManifest, RecordResults


def build_pipeline(pipeline: beam.Pipeline, plan: JobPlan) -> beam.PCollection:
    return (
        pipeline
        | "ReadManifest" >> ReadManifest(plan)
        | "ApplyOperation" >> ApplyOperation(plan)
        | "RecordResults" >> RecordResults(plan)
    )


def run_pipeline(options: PipelineOptions, plan: JobPlan, runner: PipelineRunner | None = None) -> PipelineResult:
    """Build the job's pipeline with `options` (on `runner` if given), submit it, and wait until it finishes."""
    pipeline = beam.Pipeline(runner=runner, options=options)
    build_pipeline(pipeline, plan)
    result = pipeline.run()
    result.wait_until_finish()
    return result
