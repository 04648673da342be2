"""Job: a handle on one batch job, read fresh from the store; JobList and History for display."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cosbatch.cli import render
from cosbatch.client import htmlview
from cosbatch.client.host import JobHost
from cosbatch.client.progress import watch
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.models import Job as JobModel
from cosbatch.models import ProgressSummary
from cosbatch.reports.summary import report_url
from cosbatch.store.base import StatusChange

if TYPE_CHECKING:
    import pyarrow as pa

#: Where waiting ends: the job is final, or it waits for a user (confirmation).
SETTLED = TERMINAL | {JobStatus.SUSPENDED}
#: Statuses in which a job still needs the scheduler.
WORK = frozenset(JobStatus) - SETTLED


class Job:
    """A batch job. Attributes read the store each time; `model` is the last read."""

    def __init__(self, client: JobHost, model: JobModel) -> None:
        self._client = client
        self.model = model

    @property
    def id(self) -> str:
        return self.model.job_id

    job_id = id

    # -- reading -------------------------------------------------------------
    def refresh(self) -> Job:
        self.model = self._client.service.describe_job(self.id)
        return self

    @property
    def status(self) -> JobStatus:
        return self.refresh().model.status

    @property
    def progress(self) -> ProgressSummary:
        return self.refresh().model.progress_summary

    def describe(self) -> dict[str, Any]:
        """The S3 Control DescribeJob response shape, `{"Job": {...}}`, plus cosbatch's
        `FailedTasksByErrorCode` (`{}` when no task failed) and, while Suspended, `Estimate`, as
        `describe-job --output json`."""
        model = self.refresh().model
        out = {"Job": model.describe(), "FailedTasksByErrorCode": self._client.service.failures_by_code(model)}
        if model.shown_estimate():  # a Suspended job: what confirming it will take
            out["Estimate"] = model.shown_estimate()
        return out

    def history(self) -> History:
        """Every status the job went through, oldest first, with the reasons."""
        return History(self._client.service.history(self.id))

    def failures_by_code(self) -> dict[str, int]:
        """Failed tasks by error code with counts, most frequent first ({"NoSuchKey": 2});
        failures of a job without a report are counted under "Unrecorded"."""
        return self._client.service.failures_by_code(self.refresh().model)

    @property
    def failures(self) -> dict[str, int]:
        """The same as `failures_by_code()`."""
        return self.failures_by_code()

    @property
    def report_url(self) -> str | None:
        """s3://bucket/prefix/job-<id>/, where the completion report is (None if disabled)."""
        return report_url(self.model)

    def report(self, task_status: str | None = None) -> pa.Table:
        """The completion report as a pyarrow Table (Bucket, Key, VersionId, TaskStatus,
        ErrorCode, HTTPStatusCode, ResultMessage); `task_status` "failed"/"succeeded" filters.
        `.to_pandas()` on it needs pandas."""
        from cosbatch.reports.reader import read_report_table

        model = self.refresh().model
        return read_report_table(self._client.clients.get(model.storage), model, task_status)

    # -- changing ------------------------------------------------------------
    def cancel(self, reason: str | None = None) -> Job:
        """Request Cancelled; running work stops, then the job settles Cancelled."""
        self.model = self._client.service.update_job_status(self.id, JobStatus.CANCELLED, reason)
        return self

    def confirm(self, reason: str | None = None) -> Job:
        """Confirm a Suspended job (ConfirmationRequired, or after a trial run): it becomes Ready to run."""
        self.model = self._client.service.update_job_status(self.id, JobStatus.READY, reason)
        return self

    def set_priority(self, priority: int) -> Job:
        """Change the priority; the scheduler re-evaluates preemption on its next step."""
        self.model = self._client.service.update_job_priority(self.id, priority)
        return self

    @property
    def tags(self) -> dict[str, str]:
        """The job's tags, key → value (GetJobTagging)."""
        return {t.key: t.value for t in self._client.service.get_job_tagging(self.id)}

    def put_tags(self, tags: dict[str, str] | Sequence[dict[str, str]]) -> Job:
        """Replace the job's tags (PutJobTagging); {} removes them all."""
        self.model = self._client.service.put_job_tagging(self.id, tag_list(tags))
        return self

    def delete_tags(self) -> Job:
        """Remove every tag (DeleteJobTagging)."""
        self.model = self._client.service.delete_job_tagging(self.id)
        return self

    def rerun_failed(self, **overrides: Any) -> Job:
        """A new job over this finished job's failed tasks (same operation and report)."""
        earlier = self.refresh().model
        model = self._client.service.create_job_from_report(self.id, self._client.clients.get(earlier.storage),
                                                            **overrides)
        return Job(self._client, model)

    def wait(self, timeout: float | None = None, progress: bool = True, poll_s: float = 0.2) -> Job:
        """Run the scheduler in the background until this job is final or Suspended.

        Shows a progress bar (HTML in Jupyter, text on a terminal) unless progress=False.
        Raises TimeoutError after `timeout` seconds; the job keeps running (wait again).
        """
        def look() -> tuple[list[JobModel], bool]:
            self._client.start()  # again each time: the scheduler stops when it runs out of work
            model = self.refresh().model
            return [model], model.status in SETTLED

        watch(look, progress=progress, timeout=timeout, poll_s=poll_s,
              late=lambda: f"job {self.id} is still {self.model.status.value} after {timeout} s")
        return self

    # -- display -------------------------------------------------------------
    def __repr__(self) -> str:
        p = self.model.progress_summary
        total = "?" if p.total_number_of_tasks is None else p.total_number_of_tasks
        return f"<cosbatch.Job {self.id} {self.model.status.value} {p.tasks_run}/{total}>"

    def __str__(self) -> str:
        return render.describe(self.model, by_code=self._client.service.failures_by_code(self.model))

    def _repr_html_(self) -> str:
        model = self.refresh().model
        return htmlview.job_detail(model, by_code=self._client.service.failures_by_code(model))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self.refresh()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def tag_list(tags: dict[str, str] | Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Tags as a dict or as the wire's list → the wire's list."""
    if isinstance(tags, dict):
        return [{"Key": k, "Value": v} for k, v in tags.items()]
    return list(tags)


def with_options(tags: list[dict[str, str]], options: dict[str, str | None]) -> list[dict[str, str]]:
    """The tags plus a tag per option given (key → value; None: not given). A tag already there with
    another value is a contradiction: InvalidRequest naming both."""
    out = list(tags)
    for key, value in options.items():
        if value is None:
            continue
        given = [t for t in out if t.get("Key") == key]
        if any(str(t.get("Value", "")).lower() != value.lower() for t in given):
            raise InvalidRequest(f"the argument for {key}={value} contradicts the tag {key}={given[0].get('Value')}")
        if not given:
            out.append({"Key": key, "Value": value})
    return out


class JobList(list[Job]):
    """Jobs from Client.jobs(): a list, shown as a table with a progress bar per job."""

    def _repr_html_(self) -> str:
        return htmlview.job_table([j.model for j in self])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from cosbatch.store.base import JobPage

        printer.text(render.job_table(JobPage([j.model for j in self], None)))


class History(list[StatusChange]):
    """A job's status changes, shown as a table."""

    def _repr_html_(self) -> str:
        return htmlview.history_table(self)

    def __str__(self) -> str:
        """One line per change: `2026-12-04 06:01:35 Active (reason)`."""
        return "\n".join(f"{h.at:%Y-%m-%d %H:%M:%S} {h.to_status.value}" + (f" ({h.reason})" if h.reason else "")
                         for h in self)

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
