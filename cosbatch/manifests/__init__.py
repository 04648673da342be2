"""Manifests: where the job's object list comes from and how it is split into segments.

It must not import the controller, launch, the pipelines or the surfaces.
"""

from cosbatch.manifests.csv_manifest import CsvLayout, Task, parse_csv_line, scan_csv
from cosbatch.manifests.source import ManifestSource, SegmentSource

__all__ = ["CsvLayout", "ManifestSource", "SegmentSource", "Task", "parse_csv_line", "scan_csv"]
