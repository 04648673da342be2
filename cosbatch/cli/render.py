"""Human-readable renderings of API results (`--output text`, the default)."""

from __future__ import annotations

from datetime import datetime

from cosbatch.models import Job
from cosbatch.reports.summary import (
    failures_text,
    manifest_text,
    operation_text,
    report_text,
    status_text,
    suspended_label,
)
from cosbatch.store.base import JobPage, StatusChange


def _time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


def _progress(job: Job) -> str:
    p = job.progress_summary
    total = "?" if p.total_number_of_tasks is None else str(p.total_number_of_tasks)
    return (
        f"{p.tasks_run}/{total} tasks: {p.number_of_tasks_succeeded} succeeded{p.copied_and_skipped()}, "
        f"{p.number_of_tasks_failed} failed ({p.timers.elapsed_time_in_active_seconds} s active)"
    )


def _status(job: Job) -> str:
    """The status (never a plain "Complete" for a job with failed tasks), and why it changed."""
    return status_text(job) + (f" ({job.status_update_reason})" if job.status_update_reason else "")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _money(amount: float) -> str:
    """An amount as people read prices: cents above one cent, else the digits that are there."""
    if amount >= 0.01 or amount == 0:
        return f"{amount:.2f}"
    return f"{amount:.6f}".rstrip("0")


def estimate_text(estimate: dict) -> str:
    """A Suspended job's estimate in one line: tasks, bytes (with the 95% interval of a sample),
    requests by kind, duration and what it rests on."""
    parts = [f"{estimate['Tasks']} tasks"]
    if "BytesRead" in estimate:
        interval = estimate.get("BytesInterval95")
        exact = "" if estimate.get("BytesExact") else (
            f" (95%: {_size(interval[0])} to {_size(interval[1])}, from {estimate.get('SampleSize')} HEADs)"
            if interval else f" (from {estimate.get('SampleSize')} HEAD: no interval)")
        parts.append(f"{_size(estimate['BytesRead'])} read, {_size(estimate['BytesWritten'])} written{exact}")
    elif "SampleSize" in estimate:
        parts.append("bytes unknown (no sampled object could be read)")
    if estimate.get("Requests"):
        parts.append("requests " + ", ".join(f"{k} {v}" for k, v in estimate["Requests"].items()))
    cost = estimate.get("Cost")
    if cost:
        transfer = f" + {_money(cost['Transfer'])} transfer" if cost.get("Transfer") else ""
        parts.append(f"cost {_money(cost['Total'])} {cost['Currency']} ({_money(cost['Requests'])} requests{transfer})")
    seconds = estimate.get("Seconds")
    parts.append(f"about {seconds:g} s ({estimate.get('SecondsBasis')})" if seconds is not None
                 else f"duration {estimate.get('SecondsBasis')}")
    return "; ".join(parts)


def describe(job: Job, history: list[StatusChange] | None = None, by_code: dict[str, int] | None = None) -> str:
    """DescribeJob as aligned rows; `by_code`: failed tasks by error code (JobService.failures_by_code)."""
    rows = [
        ("Job", job.job_id),
        ("Status", _status(job)),
        ("Priority", str(job.priority)),
        ("Description", job.description or "-"),
        ("Operation", operation_text(job)),
        ("Progress", _progress(job)),
    ]
    if by_code:
        rows.append(("Failures", failures_text(by_code)))
    rows += [
        ("Manifest", manifest_text(job)),
        ("Storage", job.storage_text()),
    ]
    if job.tags:
        rows.append(("Tags", ", ".join(f"{t.key}={t.value}" for t in job.tags)))
    rows.append(("Report", report_text(job)))
    if job.shown_estimate():
        rows.append(("Estimate", estimate_text(job.shown_estimate())))
    rows += [("Created", _time(job.creation_time)), ("Terminated", _time(job.termination_date))]
    if job.suspended_cause:
        rows.append((suspended_label(job), f"{_time(job.suspended_date)}: {job.suspended_cause}"))
    for f in job.failure_reasons:
        rows.append(("Failure", f"{f.failure_code}: {f.failure_reason}"))
    if history:
        for h in history:
            rows.append(("History", f"{_time(h.at)} {h.to_status.value}" + (f" ({h.reason})" if h.reason else "")))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def job_table(page: JobPage) -> str:
    header = ("JOB ID", "STATUS", "PRIORITY", "PROGRESS", "CREATED", "DESCRIPTION")
    rows = [header]
    for j in page.jobs:
        p = j.progress_summary
        total = "?" if p.total_number_of_tasks is None else str(p.total_number_of_tasks)
        rows.append(
            (j.job_id, j.status.value, str(j.priority), f"{p.tasks_run}/{total} ({p.number_of_tasks_failed} failed)",
             _time(j.creation_time), j.description or "")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if not page.jobs:
        lines.append("(no jobs)")
    if page.next_token:
        lines.append(f"NextToken: {page.next_token}")
    return "\n".join(lines)
