"""Completion reports: Report_CSV_20180820 / Report_CSV_V1 layout, plus the job itself.

It must not import the controller, launch, the pipelines or the surfaces.
"""

from cosbatch.reports.layout import REPORT_SCHEMA, ReportLocation, format_csv_row, parse_csv_row
from cosbatch.reports.writer import finalize_report, write_segment_results, write_trial_report

__all__ = [
    "REPORT_SCHEMA",
    "ReportLocation",
    "finalize_report",
    "format_csv_row",
    "parse_csv_row",
    "write_segment_results",
    "write_trial_report",
]
