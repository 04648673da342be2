"""What every SQL store shares: row → value mapping, NextToken encoding, and the SQL it builds.

Rows are anything indexable by column name (sqlite3.Row, psycopg's dict_row). Timestamps are
stored as epoch seconds (float) and JSON documents as text in every store. Builders take the
store's placeholder (`?` for SQLite, `%s` for psycopg).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cosbatch import models
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import RUNNING, TERMINAL, JobStatus
from cosbatch.store.base import (
    NOTIFY_URL_TAG,
    SKIP_IDENTICAL_TAG,
    Notification,
    NotificationState,
    Segment,
    SegmentState,
    StatusChange,
)

Row = Mapping[str, Any]

#: The job's columns, its task counters among them (kept with the job row, equal to the sums
#: of its segments' counters: SqlJobStore): reading a job never reads its segments.
JOB_COLUMNS = "j.*"

INSERT_JOB_COLUMNS = (
    "job_id, account_id, status, priority, description, confirmation_required, creation_time, "
    "client_request_token, request_hash, dialect, manifest, operation, report, role_arn, dry_run, "
    "manifest_generator, storage, target_storage, max_ops_per_second, tags"
)
INSERT_JOB_COUNT = INSERT_JOB_COLUMNS.count(",") + 1


def without_password(url: str) -> str:
    """A store URL fit to show: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def tags_json(tags: Sequence[models.Tag]) -> str:
    return json.dumps([t.wire() for t in tags])


def ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _optional(model: Any, text: str | None) -> Any:
    data = json.loads(text) if text else None
    return None if data is None else model.model_validate(data)


def job_insert_values(job: models.Job, request_hash: str) -> tuple[Any, ...]:
    """The values of INSERT_JOB_COLUMNS for a new job."""
    return (
        job.job_id,
        job.account_id,
        job.status.value,
        job.priority,
        job.description,
        int(job.confirmation_required),
        job.creation_time.timestamp(),
        job.client_request_token,
        request_hash,
        job.dialect.value,
        json.dumps(job.manifest.wire() if job.manifest else None),
        json.dumps(job.operation.wire()),
        json.dumps(job.report.wire()),
        job.role_arn,
        int(job.dry_run),
        json.dumps(job.manifest_generator.wire()) if job.manifest_generator else None,
        job.storage,
        job.target_storage,
        job.max_ops_per_second,
        tags_json(job.tags),
    )


def job_from_row(row: Row, now: float | None = None) -> models.Job:
    now = time.time() if now is None else now
    active = row["active_seconds"] + (now - row["active_since"] if row["active_since"] else 0.0)
    return models.Job.model_construct(
        job_id=row["job_id"],
        account_id=row["account_id"],
        confirmation_required=bool(row["confirmation_required"]),
        description=row["description"],
        failure_reasons=[models.FailureReason.model_validate(f) for f in json.loads(row["failure_reasons"])],
        manifest=_optional(models.Manifest, row["manifest"]),
        manifest_generator=_optional(models.ManifestGenerator, row["manifest_generator"]),
        operation=models.JobOperation.model_validate(json.loads(row["operation"])),
        priority=row["priority"],
        progress_summary=models.ProgressSummary(
            total_number_of_tasks=row["total_tasks"],
            number_of_tasks_succeeded=int(row["succeeded"]),
            number_of_tasks_failed=int(row["failed"]),
            number_of_tasks_skipped=int(row["skipped"]) if _skips(row["tags"]) else None,
            timers=models.JobTimers(elapsed_time_in_active_seconds=int(active)),
        ),
        status=JobStatus(row["status"]),
        status_update_reason=row["status_update_reason"],
        suspended_cause=row["suspended_cause"],
        suspended_date=ts(row["suspended_date"]),
        creation_time=ts(row["creation_time"]),
        termination_date=ts(row["termination_date"]),
        report=models.ReportConfig.model_validate(json.loads(row["report"])),
        role_arn=row["role_arn"],
        client_request_token=row["client_request_token"],
        dry_run=bool(row["dry_run"]),
        dialect=models.Dialect(row["dialect"]),
        storage=row["storage"],
        target_storage=row["target_storage"],
        max_ops_per_second=row["max_ops_per_second"],
        tags=[models.Tag.model_validate(t) for t in json.loads(row["tags"] or "[]")],
        estimate=json.loads(row["estimate"]) if row["estimate"] else None,
        storage_wait=None if row["storage_wait_until"] is None else models.StorageWait(
            since=ts(row["storage_wait_since"]), until=ts(row["storage_wait_until"]),
            reason=row["storage_wait_reason"] or ""),
    )


def _skips(tags: str | None) -> bool:
    """Whether the job's tags ask to skip identical objects (its ProgressSummary then counts them)."""
    return any(t.get("Key") == SKIP_IDENTICAL_TAG and str(t.get("Value", "")).lower() == "true"
               for t in json.loads(tags or "[]"))


def status_change_from_row(r: Row) -> StatusChange:
    return StatusChange(
        job_id=r["job_id"],
        seq=r["seq"],
        from_status=JobStatus(r["from_status"]) if r["from_status"] else None,
        to_status=JobStatus(r["to_status"]),
        at=ts(r["at"]),  # type: ignore[arg-type]
        reason=r["reason"],
    )


def notify_url(tags_column: str | None) -> str | None:
    """The job's notify URL, from its tags column (a JSON list), or None."""
    return next((t["Value"] for t in json.loads(tags_column or "[]") if t.get("Key") == NOTIFY_URL_TAG), None)


def notification_from_row(r: Row) -> Notification:
    return Notification(
        job_id=r["job_id"],
        seq=r["seq"],
        url=r["url"],
        status=JobStatus(r["status"]),
        at=ts(r["at"]),  # type: ignore[arg-type]
        state=NotificationState(r["state"]),
        attempts=r["attempts"],
        last_error=r["last_error"],
    )


def segment_from_row(r: Row) -> Segment:
    return Segment(
        job_id=r["job_id"],
        seg_no=r["seg_no"],
        source=r["source"],
        start=r["start"],
        end=r["end"],
        first_line=r["first_line"],
        task_count=r["task_count"],
        state=SegmentState(r["state"]),
        succeeded=r["succeeded"],
        failed=r["failed"],
        result_files=json.loads(r["result_files"]),
        finished_at=r["finished_at"],
        skipped=r["skipped"],
    )


def segment_values(job_id: str, s: Segment) -> tuple[Any, ...]:
    """Values for INSERT INTO segments(job_id, seg_no, source, start, "end", first_line, task_count, state)."""
    return (job_id, s.seg_no, s.source, s.start, s.end, s.first_line, s.task_count, s.state.value)


def encode_token(creation_time: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([creation_time, job_id]).encode()).decode()


def decode_token(token: str) -> tuple[float, str]:
    try:
        ct, job_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(ct), str(job_id)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"invalid NextToken {token!r}") from exc


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching names that start with `prefix`, taken literally."""
    return _like_escape(prefix) + "%"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_jobs_query(
    ph: str,
    account_id: str | None,
    statuses: Sequence[JobStatus],
    text: str | None,
    created_after: datetime | None,
    max_results: int,
    next_token: str | None,
) -> tuple[str, list[Any]]:
    """The ListJobs SELECT (newest first, one row more than a page) and its parameters."""
    where: list[str] = []
    params: list[Any] = []
    if account_id is not None:
        where.append(f"j.account_id = {ph}")
        params.append(account_id)
    if statuses:
        where.append(f"j.status IN ({','.join([ph] * len(statuses))})")
        params.extend(s.value for s in statuses)
    if text:
        where.append(f"(j.description LIKE {ph} ESCAPE '\\' OR j.job_id LIKE {ph} ESCAPE '\\')")
        params.extend([f"%{_like_escape(text)}%"] * 2)
    if created_after is not None:
        where.append(f"j.creation_time >= {ph}")
        params.append(created_after.timestamp())
    if next_token:
        ct, jid = decode_token(next_token)
        where.append(f"(j.creation_time, j.job_id) < ({ph}, {ph})")
        params.extend([ct, jid])
    sql = f"SELECT {JOB_COLUMNS} FROM jobs j"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY j.creation_time DESC, j.job_id DESC LIMIT {ph}"
    params.append(max_results + 1)
    return sql, params


def job_page_parts(rows: Sequence[Row], max_results: int) -> tuple[list[models.Job], str | None]:
    """The jobs of a page and its NextToken, from the rows list_jobs_query selected."""
    now = time.time()
    jobs = [job_from_row(r, now) for r in rows[:max_results]]
    token = None
    if len(rows) > max_results and rows[:max_results]:
        last = rows[max_results - 1]
        token = encode_token(last["creation_time"], last["job_id"])
    return jobs, token


def transition_sets(
    ph: str,
    row: Row,
    target: JobStatus,
    now: float,
    *,
    reason: str | None,
    suspended_cause: str | None,
    failure: models.FailureReason | None,
    total_tasks: int | None,
) -> tuple[list[str], list[Any]]:
    """The SET clauses (and their values) of a status change, given the job's current row
    (status, active_since, active_seconds, failure_reasons)."""
    sets = [f"status = {ph}"]
    params: list[Any] = [target.value]
    if target is JobStatus.ACTIVE:
        sets.append(f"active_since = {ph}")
        params.append(now)
    elif target not in RUNNING and row["active_since"] is not None:
        sets += [f"active_seconds = {ph}", "active_since = NULL"]
        params.append(row["active_seconds"] + (now - row["active_since"]))
    if target in TERMINAL:
        sets.append(f"termination_date = {ph}")
        params.append(now)
    if target is JobStatus.SUSPENDED:
        sets += [f"suspended_date = {ph}", f"suspended_cause = {ph}"]
        params += [now, suspended_cause]
    if reason is not None:
        sets.append(f"status_update_reason = {ph}")
        params.append(reason[:256])
    if failure is not None:
        sets.append(f"failure_reasons = {ph}")
        params.append(with_failure(row["failure_reasons"], failure))
    if total_tasks is not None:
        sets.append(f"total_tasks = {ph}")
        params.append(total_tasks)
    return sets, params


def with_failure(failure_reasons: str, failure: models.FailureReason) -> str:
    """The failure_reasons JSON text with one more failure appended."""
    failures = json.loads(failure_reasons)
    failures.append(failure.wire())
    return json.dumps(failures)
