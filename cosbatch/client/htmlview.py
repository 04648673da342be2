"""HTML for notebooks: a job, a job list, a status history, progress bars.

Inline styles only (no scripts, no CSS classes a front end must know), so the
output looks the same in Jupyter, VS Code and a saved notebook. Every value that
comes from a user or from storage goes through `esc`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from cosbatch.lifecycle import JobStatus
from cosbatch.models import Job
from cosbatch.reports.summary import (
    failures_text,
    manifest_text,
    operation_text,
    report_text,
    status_text,
    suspended_label,
)
from cosbatch.store.base import StatusChange

S = JobStatus
_COLOURS = {
    S.COMPLETE: "#1a7f37", S.FAILED: "#cf222e", S.FAILING: "#cf222e", S.CANCELLED: "#6e7781",
    S.CANCELLING: "#6e7781", S.ACTIVE: "#0969da", S.SUSPENDED: "#9a6700", S.PAUSED: "#9a6700",
    S.PAUSING: "#9a6700",
}
_TABLE = 'style="border-collapse:collapse;font-size:13px"'
_CELL = 'style="text-align:left;padding:2px 8px;border-bottom:1px solid #ddd;vertical-align:top"'


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


def status_badge(status: JobStatus, job: Job | None = None) -> str:
    """The status in its colour; given the job, a Complete one with failed tasks is in the failure
    colour and says so ("Complete with 2 failed tasks"), never a green "Complete"."""
    failed = job is not None and job.progress_summary.number_of_tasks_failed > 0
    colour = _COLOURS[S.FAILED] if failed and status is S.COMPLETE else _COLOURS.get(status, "#57606a")
    text = status_text(job) if job is not None else status.value
    return f'<span style="color:{colour};font-weight:600">{esc(text)}</span>'


def progress_bar(job: Job, width_px: int = 220) -> str:
    """Succeeded (green) and failed (red) shares of the job's tasks, with the counts."""
    p = job.progress_summary
    total = p.total_number_of_tasks
    ok, failed = p.number_of_tasks_succeeded, p.number_of_tasks_failed
    if total:
        ok_pct, failed_pct = 100 * min(ok, total) / total, 100 * min(failed, total) / total
        label = f"{p.tasks_run}/{total} ({100 * p.tasks_run / total:.0f}%)"
    else:
        ok_pct = failed_pct = 0.0
        label = f"{p.tasks_run}/?"
    if failed:
        label += f", {failed} failed"
    if p.number_of_tasks_skipped is not None:
        label += f", {ok - p.number_of_tasks_skipped} copied, {p.number_of_tasks_skipped} skipped (identical)"
    return (
        f'<div style="display:flex;align-items:center;gap:6px">'
        f'<div style="width:{width_px}px;height:10px;background:#eaeef2;border-radius:3px;'
        f'overflow:hidden;display:flex">'
        f'<div style="width:{ok_pct:.2f}%;background:#2da44e"></div>'
        f'<div style="width:{failed_pct:.2f}%;background:#cf222e"></div></div>'
        f'<span style="white-space:nowrap">{esc(label)}</span></div>'
    )


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th {_CELL}>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def progress_rows(jobs: Sequence[Job]) -> str:
    """The live bar shown while waiting."""
    return _table(
        ("Job", "Status", "Progress"),
        ((f"<code>{esc(j.job_id[:8])}</code>", status_badge(j.status, j), progress_bar(j)) for j in jobs),
    )


def job_detail(job: Job, by_code: dict[str, int] | None = None) -> str:
    """One job as DescribeJob sees it, as a two-column table; `by_code`: its failed tasks by error
    code (JobService.failures_by_code)."""
    status = status_badge(job.status, job)
    if job.status_update_reason:
        status += f" ({esc(job.status_update_reason)})"
    rows: list[tuple[str, str]] = [
        ("Job", f"<code>{esc(job.job_id)}</code>"),
        ("Status", status),
        ("Progress", progress_bar(job)),
        *([("Failures", esc(failures_text(by_code)))] if by_code else []),
        ("Priority", esc(job.priority)),
        ("Description", esc(job.description or "-")),
        ("Operation", esc(operation_text(job))),
        ("Manifest", esc(manifest_text(job))),
        ("Report", esc(report_text(job))),
        ("Created", esc(_time(job.creation_time))),
        ("Terminated", esc(_time(job.termination_date))),
    ]
    if job.suspended_cause:
        rows.append((suspended_label(job), esc(job.suspended_cause)))
    rows += [("Failure", esc(f"{f.failure_code}: {f.failure_reason}")) for f in job.failure_reasons]
    body = "".join(f"<tr><th {_CELL}>{esc(k)}</th><td {_CELL}>{v}</td></tr>" for k, v in rows)
    return f"<table {_TABLE}><tbody>{body}</tbody></table>"


def job_table(jobs: Sequence[Job]) -> str:
    """ListJobs as a table, a progress bar per job."""
    if not jobs:
        return "<p><em>no jobs</em></p>"
    return _table(
        ("Job ID", "Status", "Priority", "Operation", "Progress", "Created", "Description"),
        (
            (f'<code style="white-space:nowrap">{esc(j.job_id)}</code>', status_badge(j.status, j), esc(j.priority),
             esc(j.operation.name),
             progress_bar(j, 140), esc(_time(j.creation_time)), esc(j.description or ""))
            for j in jobs
        ),
    )


def history_table(changes: Sequence[StatusChange]) -> str:
    return _table(
        ("At", "Status", "Reason"),
        ((esc(_time(h.at)), status_badge(h.to_status), esc(h.reason or "")) for h in changes),
    )
