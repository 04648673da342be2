"""ReadManifest: the job's pending segments → their tasks, spread across workers."""

from __future__ import annotations

from typing import Any, NamedTuple

import apache_beam as beam

from cosbatch.control.plan import JobPlan, SegmentRef
from cosbatch.manifests import CsvLayout, SegmentSource, Task
from cosbatch.manifests.csv_manifest import read_csv_segment
from cosbatch.manifests.inventory import InventoryFile, read_inventory_tasks
from cosbatch.manifests.source import open_segment_source
from cosbatch.models import ManifestField
from cosbatch.storage.clients import hold_client, let_go_client
from pipelines.transforms.plan_transform import PlanTransform


class SegmentBatch(NamedTuple):
    seg_no: int
    tasks: list[Task]


class _ReadSegmentFn(beam.DoFn):
    def __init__(self, plan: JobPlan) -> None:
        self.plan = plan
        self.client: Any = None

    def setup(self) -> None:
        self.client = hold_client(self.plan.storage)  # the results recorder's too

    def process(self, seg: SegmentRef):
        source = SegmentSource.from_json(seg.source)
        if source.format.startswith("inventory-"):
            ref = source.ref
            data_file = InventoryFile(ref.bucket, ref.key, source.format, tuple(source.fields or ()))
            tasks = list(read_inventory_tasks(self.client, data_file, seg.start, seg.end))
        else:
            layout = CsvLayout(tuple(ManifestField(f) for f in source.fields) if source.fields else None)
            reader = open_segment_source(source, self.client)
            tasks = list(read_csv_segment(reader.chunks(seg.start, seg.end), layout, seg.first_line))
        yield SegmentBatch(seg.seg_no, tasks)

    def teardown(self) -> None:
        if self.client is not None:
            self.client = None
            let_go_client(self.plan.storage)


class ReadManifest(PlanTransform):
    """Segment descriptors (tiny) are spread across workers; each worker reads its own bytes.

    `beam.Create` reshuffles its elements itself when it has more than one, so a job of
    one segment runs as one fused stage, and a larger one is shuffled once, not twice.
    (Beam's DaskRunner makes a bag of them instead: one partition per segment.)
    """

    def expand(self, pbegin):
        return (
            pbegin
            | "Segments" >> beam.Create(list(self.plan.segments))
            | "ReadSegment" >> beam.ParDo(_ReadSegmentFn(self.plan))
        )
