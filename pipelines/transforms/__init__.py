"""The stages of the batch job pipeline."""

from pipelines.transforms.apply_operation import ApplyOperation, SegmentOutcome
from pipelines.transforms.read_manifest import ReadManifest, SegmentBatch
from pipelines.transforms.record_results import RecordResults

__all__ = ["ApplyOperation", "ReadManifest", "RecordResults", "SegmentBatch", "SegmentOutcome"]
