"""The base of the pipeline's composite transforms: each is built from the job's plan."""

from __future__ import annotations

import apache_beam as beam

from cosbatch.control.plan import JobPlan


class PlanTransform(beam.PTransform):
    def __init__(self, plan: JobPlan) -> None:
        super().__init__()
        self.plan = plan
