"""Client: cosbatch from Python, in local mode (JobService + a background Scheduler)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosbatch.client.background import BackgroundScheduler
from cosbatch.client.job import WORK, Job, JobList, tag_list, with_options
from cosbatch.client.progress import watch
from cosbatch.client.request import ManifestArg, fill_defaults, manifest_body, report_body
from cosbatch.control.plan import DEFAULT_CONCURRENCY
from cosbatch.controller import JobService
from cosbatch.controller.cosbatch_tags import SKIP_IDENTICAL, TRIAL_TASKS, UNDOABLE
from cosbatch.controller.notify_policy import allow_from_env, secret_from_env
from cosbatch.errors import InvalidRequest
from cosbatch.lifecycle import JobStatus
from cosbatch.settings import FailureThreshold, Settings
from cosbatch.storage import StorageCatalog, StorageClients
from cosbatch.store import open_store
from cosbatch.store.opener import local_dir
from cosbatch.wire.dialects import parse_create_job
from launch.base import RunnerConfig

if TYPE_CHECKING:
    from cosbatch.models import Job as JobModel


class Client:
    """Create, watch and steer batch jobs from Python or a notebook.

    Jobs live in the metadata store (`store`: a SQLite URL or path; default as the
    CLI's: $COSBATCH_STORE, else ~/.cosbatch/cosbatch.db) and act on the object storage
    at `endpoint_url` (credentials from the usual boto3 chain). Jobs run in this
    process, on a Scheduler in a background thread that starts when a job is waited on
    (`Job.wait`), or on `run()` / `start()`, and stops once no job needs it.
    """

    def __init__(
        self,
        store: str | Path | None = None,
        endpoint_url: str | None = None,
        *,
        region: str | None = None,
        storage_config: str | Path | None = None,
        runner: str | RunnerConfig = "direct",
        runner_options: dict[str, str] | None = None,
        account_id: str | None = None,
        segment_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        capacity: int = 1,
        failure_threshold: FailureThreshold | None = None,
        poll_s: float = 0.1,
        notify_allow: Sequence[str] = (),
    ) -> None:
        """`notify_allow`: URL prefixes a job's notify URL may lie under (also $COSBATCH_NOTIFY_ALLOW;
        notifications are signed with $COSBATCH_NOTIFY_SECRET; docs/notifications.md)."""
        self.store = open_store(None if store is None else str(store))
        self.account_id = account_id
        storages = StorageCatalog.from_env(endpoint_url, region, str(storage_config) if storage_config else None)
        allow = allow_from_env(notify_allow)
        self.service = JobService(self.store, storages, notify_allow=allow)
        if not isinstance(runner, RunnerConfig):
            runner = RunnerConfig(runner, dict(runner_options or {}))
        self.settings = Settings(
            store_url=self.store.url,
            storages=storages,
            runner=runner,
            segment_size=segment_size,
            concurrency=concurrency,
            capacity=capacity,
            threshold=failure_threshold or FailureThreshold(),
            poll_s=poll_s,
            notify_allow=allow,
            notify_secret=secret_from_env(allow),
        )
        self._scheduler = BackgroundScheduler(self.store.url, self.settings)
        self.clients = StorageClients(storages)

    @property
    def s3(self) -> Any:
        """A boto3 S3 client for the default storage (the one jobs bind to unless their role names another)."""
        return self.clients.get(None)

    # -- jobs ----------------------------------------------------------------
    def create_job(
        self,
        manifest: ManifestArg | None = None,
        operation: dict[str, Any] | None = None,
        report: dict[str, Any] | str | None = None,
        *,
        priority: int = 10,
        description: str | None = None,
        confirmation_required: bool = False,
        manifest_generator: dict[str, Any] | None = None,
        manifest_fields: Sequence[str] = ("Bucket", "Key"),
        dry_run: bool = False,
        tags: dict[str, str] | Sequence[dict[str, str]] | None = None,
        trial_tasks: int | None = None,
        skip_identical: bool = False,
        undoable: bool = False,
        **fields: Any,
    ) -> Job:
        """Create a job (status New); it runs on `Job.wait()`, `run()` or `start()`.

        manifest: a JobManifest dict (S3 or COS shape), the URL/ARN/path of a CSV manifest
        (s3://bucket/key, arn:aws:s3:::bucket/key, file:///path; columns `manifest_fields`),
        or the objects themselves (["s3://bucket/key", ...] or [(bucket, key), ...]).
        operation: exactly one operation, e.g. {"S3PutObjectCopy": {"TargetResource": ...}}.
        report: a JobReport dict, "s3://bucket/prefix" (CSV, every task), or None (no report).
        tags: job tags, {"key": "value"} or [{"Key": .., "Value": ..}] (`cosbatch:` keys set options).
        trial_tasks: run this many tasks first, then wait in Suspended (`job.confirm()` runs the rest);
        the tag cosbatch:trial-tasks.
        skip_identical: copy jobs: skip objects already identical at the target (cosbatch:skip-identical).
        undoable: record what each task overwrites, so that `client.undo(job_id)` can restore it
        (cosbatch:undoable; tagging jobs).
        Other CreateJob fields go as keywords by their API names (RoleArn=..., AccountId=...).
        """
        if operation is None:
            raise TypeError("create_job() needs an operation, e.g. {'S3PutObjectCopy': {...}}")
        if isinstance(priority, bool):  # an int to Python, never meant as a priority
            raise InvalidRequest(f"priority must be an integer from 0 to 2147483647, not {priority!r}")
        body: dict[str, Any] = {
            "Operation": operation,
            "Report": report_body(report),
            "Priority": priority,
            "ConfirmationRequired": confirmation_required,
        }
        if manifest is not None:
            body["Manifest"] = manifest_body(manifest, manifest_fields, local_dir(self.store) / "manifests")
        if manifest_generator is not None:
            body["ManifestGenerator"] = manifest_generator
        if description is not None:
            body["Description"] = description
        if dry_run:
            body["DryRun"] = True
        options = {TRIAL_TASKS: None if trial_tasks is None else str(trial_tasks),
                   SKIP_IDENTICAL: "true" if skip_identical else None,
                   UNDOABLE: "true" if undoable else None}
        if tags is not None or any(options.values()):
            body["Tags"] = with_options(tag_list(tags or []), options)
        for name in fields:
            if "_" in name or name[:1].islower():  # role_arn=: CreateJob's fields go by their API names
                camel = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
                raise InvalidRequest(f"create_job() has no keyword {name!r}; other CreateJob fields go by their "
                                     f"API names, e.g. {camel}=")
        body.update(fields)
        return self.submit(body)

    def submit(self, request: dict[str, Any]) -> Job:
        """Create a job from a whole CreateJob request (S3 or COS shape, as `--cli-input-json`);
        AccountId, ClientRequestToken, RoleArn and Priority default as in the CLI."""
        model = self.service.create_job(parse_create_job(fill_defaults(request, self.account_id)))
        return Job(self, model)

    def undo(self, job_id: str, **overrides: Any) -> Job:
        """A new job (status New) that restores what the finished undoable job `job_id` overwrote,
        with its role, storage and report; an object changed since fails with ChangedSinceJob.
        Overrides by CreateJob name: Priority=..., Description=..., ConfirmationRequired=..."""
        earlier = self.service.describe_job(job_id, self.account_id)
        return Job(self, self.service.create_undo_job(job_id, self.clients.get(earlier.storage), self.account_id,
                                                      **overrides))

    def job(self, job_id: str) -> Job:
        return Job(self, self.service.describe_job(job_id, self.account_id))

    def jobs(
        self,
        status: str | JobStatus | Sequence[str | JobStatus] = (),
        text: str | None = None,
        limit: int = 100,
    ) -> JobList:
        """Jobs of the last 90 days, newest first, by status and description/ID substring."""
        statuses = [status] if isinstance(status, str) else list(status)
        found = JobList()
        token: str | None = None
        while len(found) < limit:
            page = self.service.list_jobs(self.account_id, statuses, text, min(limit - len(found), 1000), token)
            found.extend(Job(self, j) for j in page.jobs)
            token = page.next_token
            if not token:
                break
        return found

    # -- running -------------------------------------------------------------
    def start(self) -> None:
        """Run jobs in a background thread until none needs the scheduler; returns at once."""
        self._scheduler.ensure_running()

    @property
    def running(self) -> bool:
        return self._scheduler.running

    def run(self, timeout: float | None = None, progress: bool = True, poll_s: float = 0.2) -> JobList:
        """Run every runnable job until each is final or Suspended; returns the jobs that ran."""
        seen: dict[str, Job] = {}

        def look() -> tuple[list[JobModel], bool]:
            # Whether the scheduler runs is read before it is started: started here just before
            # the check, a thread that had run out of work would count as running, on every look.
            was_running = self.running
            pending = self.store.jobs_in(WORK)
            for model in pending:
                seen.setdefault(model.job_id, Job(self, model))
            if pending or was_running:
                self.start()  # again each time: the scheduler stops when it runs out of work
            else:
                self._scheduler.raise_error()  # what ended the last thread, if anything did
                return [job.refresh().model for job in seen.values()], True
            return [self.service.describe_job(i) for i in seen], False

        watch(look, progress=progress, timeout=timeout, poll_s=poll_s,
              late=lambda: f"jobs still running after {timeout} s")
        return JobList(seen.values())

    def close(self) -> None:
        """Stop the background scheduler (running segments finish first) and close the store."""
        self._scheduler.stop()
        self.clients.close()
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<cosbatch.Client store={self.store.url} storage={self.settings.storages.default.describe()}>"
