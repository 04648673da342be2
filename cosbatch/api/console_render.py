"""The console's rendering helpers: progress bars (failures in the failure colour), status badges,
failures by code, the throughput chart's frame, times."""

from __future__ import annotations

import html
from typing import Any

from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job
from cosbatch.reports.summary import status_text

e = html.escape


def progress_of(job: Job) -> tuple[float, float, str]:
    """(succeeded %, failed %, text) of the job's tasks."""
    p = job.progress_summary
    total = p.total_number_of_tasks
    if total:
        ok, failed = 100.0 * p.number_of_tasks_succeeded / total, 100.0 * p.number_of_tasks_failed / total
    else:
        ok, failed = (100.0 if job.status is JobStatus.COMPLETE else 0.0), 0.0
    text = f"{p.tasks_run:,}/{'?' if total is None else f'{total:,}'} ({p.number_of_tasks_failed:,} failed)"
    failed = round(min(failed, 100.0), 1)
    return round(min(ok, 100.0 - failed), 1), failed, text


def counters(job: Job) -> list[tuple[str, str, str]]:
    """(field, label, shown value) of the live counters on a job page."""
    p = job.progress_summary
    rows = [
        ("total", "Total tasks", "?" if p.total_number_of_tasks is None else f"{p.total_number_of_tasks:,}"),
        ("succeeded", "Succeeded", f"{p.number_of_tasks_succeeded:,}"),
        ("failed", "Failed", f"{p.number_of_tasks_failed:,}"),
        ("active", "Active time", f"{p.timers.elapsed_time_in_active_seconds:,} s"),
    ]
    if p.number_of_tasks_skipped is not None:  # skip-identical copies: copied and skipped apart
        rows[2:2] = [("copied", "Copied", f"{p.number_of_tasks_succeeded - p.number_of_tasks_skipped:,}"),
                     ("skipped", "Skipped (identical at target)", f"{p.number_of_tasks_skipped:,}")]
    return rows


def bar(job: Job) -> str:
    """Succeeded tasks in green, failed ones in the failure colour, side by side."""
    ok, failed, text = progress_of(job)
    return (f'<span class="bar"><i class="ok" style="width:{ok}%"></i><i class="fail" style="width:{failed}%">'
            f'</i></span> <span class="progress-text">{e(text)}</span>')


def status_badge(job: Job, ident: str = "") -> str:
    failures = " has-failures" if job.progress_summary.number_of_tasks_failed else ""
    return (f"<span class='status {job.status.value}{failures}'{f' id={ident!r}' if ident else ''}>"
            f"{e(status_text(job))}</span>")


def has_tag(job: Job, wanted: str) -> bool:
    """The console's tag filter: `key=value` matches that tag exactly, `key` alone any value."""
    key, sep, value = wanted.partition("=")
    return any(t.key == key and (not sep or t.value == value) for t in job.tags)


def when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"




CHART = ("<svg class='chart' id='throughput' viewBox='0 0 300 110' preserveAspectRatio='none' role='img' "
         "aria-label='tasks per second over time'><polyline points=''></polyline></svg>"
         "<span id='throughput-text'>no samples yet</span>")


def failures_table(by_code: dict[str, int]) -> str:
    if not by_code:
        return "none"
    rows = "".join(f"<tr><td class='mono code'>{e(code)}</td><td class='count'>{n:,}</td></tr>"
                   for code, n in by_code.items())
    return f"<table class='failures'>{rows}</table>"
