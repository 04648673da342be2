"""The web console: job list with the seed's filters, job pages, confirm / cancel (asked to
confirm first) / priority, a job form (new, or a clone of a job), re-running a job's failed
tasks, failed tasks by error code, and a throughput chart.

Server-rendered HTML with a little inline JavaScript (console_assets) that refreshes progress;
no asset is fetched from anywhere at run time. People sign in with HTTP Basic
authentication, access key id as the user name and secret key as the password,
and see only their account's jobs (dev mode without keys: every account).
POSTs carry a per-server form token and must come from the console's own origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from botocore.exceptions import BotoCoreError, ClientError

from cosbatch.api import console_form
from cosbatch.api.auth import AccessKey
from cosbatch.api.console_assets import CSS, JS
from cosbatch.api.console_render import (
    CHART,
    bar,
    counters,
    failures_table,
    has_tag,
    progress_of,
    status_badge,
    when,
)
from cosbatch.api.forms import Form, read_form
from cosbatch.api.http import Response
from cosbatch.api.samples import ProgressSampler
from cosbatch.cli.render import estimate_text
from cosbatch.controller import JobService
from cosbatch.controller.preparer import check_bucket
from cosbatch.errors import CosbatchError, InvalidRequest
from cosbatch.lifecycle import TERMINAL, JobStatus
from cosbatch.manifests.source import ManifestSource
from cosbatch.models import Dialect, Job
from cosbatch.models.job import utcnow
from cosbatch.names import ObjectRef
from cosbatch.reports.layout import ReportLocation
from cosbatch.reports.summary import (
    DRY_RUN,
    is_undo_job,
    operation_text,
    report_not_written,
    status_text,
    suspended_label,
    undo_of,
)
from cosbatch.wire.dialects import parse_create_job

e = html.escape
log = logging.getLogger("cosbatch.api")

class Console:
    def __init__(self, service: JobService, keys: dict[str, AccessKey] | None,
                 storage: Callable[[Any], Any] | None = None, sampler: ProgressSampler | None = None) -> None:
        self.service = service
        self.keys = keys
        # a job (anything with .storage, the storage's name) → an S3 client on that storage, to read
        # reports and write uploaded manifests (None: neither)
        self._storage = storage
        self.sampler = sampler or ProgressSampler(service.store)
        self._form_secret = secrets.token_bytes(32)

    # -- plumbing ------------------------------------------------------------------
    def challenge(self) -> Response:
        return Response(401, b"sign in with your access key id and secret key\n", "text/plain",
                        (("WWW-Authenticate", 'Basic realm="cosbatch console", charset="UTF-8"'),))

    def sign_in(self, environ: dict[str, Any]) -> tuple[bool, str | None]:
        """(signed in, account). Dev mode: signed in as every account."""
        if self.keys is None:
            return True, None
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if not auth.startswith("Basic "):
            return False, None
        try:
            user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False, None
        key = self.keys.get(user)
        if key is None or not hmac.compare_digest(key.secret_access_key.encode(), password.encode()):
            return False, None
        return True, key.account_id

    def _token(self, account: str | None) -> str:
        return hmac.new(self._form_secret, (account or "*").encode(), hashlib.sha256).hexdigest()[:32]

    def _page(self, title: str, body: str, status: int = 200, headers: tuple = ()) -> Response:
        doc = (f"<!doctype html><html><head><meta charset='utf-8'>"
               "<meta name='viewport' content='width=device-width, initial-scale=1'>"
               "<link rel='icon' href='data:,'>"  # no icon: no request for /favicon.ico (a 404 a page)
               f"<title>{e(title)} · cosbatch</title><style>{CSS}</style></head><body><header>"
               "<a href='/console/jobs'>cosbatch · Batch Operations</a> <a href='/console/jobs/new' id='new-job'>"
               f"New job</a></header><main>{body}</main><script>{JS}</script></body></html>")
        return Response(status, doc.encode(), "text/html; charset=utf-8", headers)

    def _redirect(self, location: str) -> Response:
        return Response(303, b"", "text/plain", (("Location", location),))

    def handle(self, environ: dict[str, Any], path: str) -> Response:
        signed_in, account = self.sign_in(environ)
        if not signed_in:
            return self.challenge()
        method = environ.get("REQUEST_METHOD", "GET")
        query = parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=50)
        try:
            if path in ("/", "/console", "/console/"):
                return self._redirect("/console/jobs")
            if path == "/console/jobs" and method == "GET":
                return self.job_list(account, query)
            if path == "/console/jobs/new" and method == "GET":
                return self.new_job_page(account, query)
            if path == "/console/jobs/new" and method == "POST":
                return self.create_job(environ, account)
            if path == "/console/api/progress" and method == "GET":
                return self.progress(account, query)
            report = re.fullmatch(r"/console/jobs/([a-zA-Z0-9_-]{5,36})/report/"
                                  r"(manifest\.json|job\.json|results/[A-Za-z0-9_.-]{1,100})", path)
            if report and method == "GET" and ".." not in report.group(2):
                return self.report_file(account, report.group(1), report.group(2))
            m = re.fullmatch(r"/console/jobs/([a-zA-Z0-9_-]{5,36})(/(status|priority|rerun|undo))?", path)
            if m and method == "GET" and not m.group(2):
                return self.job_page(account, m.group(1), query)
            if m and method == "POST" and m.group(2):
                return self.job_action(environ, account, m.group(1), m.group(3))
            return self._page("Not found", "<p>No such page.</p>", 404)
        except CosbatchError as exc:
            return self._page("Error", f"<div class='flash err'>{e(exc.code)}: {e(exc.message)}</div>",
                              exc.http_status)
        except Exception:  # a bug: logged with its traceback, answered without one
            log.exception("unexpected error answering %s %s", method, path[:100])
            return self._page("Error", "<div class='flash err'>internal error; see the server log</div>", 500)

    # -- pages ---------------------------------------------------------------------
    def job_list(self, account: str | None, query: dict[str, list[str]]) -> Response:
        status = (query.get("status") or [""])[0]
        text = (query.get("q") or [""])[0].strip()[:256]
        sort = (query.get("sort") or ["created"])[0]
        tag = (query.get("tag") or [""])[0].strip()[:400]  # key=value (or key: any value)
        page = self.service.list_jobs(account, [status] if status else [], text or None,
                                      max_results=1000, next_token=(query.get("next") or [None])[0])
        jobs = [j for j in page.jobs if has_tag(j, tag)] if tag else list(page.jobs)
        if sort == "priority":
            jobs.sort(key=lambda j: (-j.priority, -j.creation_time.timestamp()))
        options = "".join(f"<option value='{s.value}'{' selected' if s.value == status else ''}>{s.value}</option>"
                          for s in JobStatus)

        def sort_link(key: str, label: str) -> str:
            params = {k: v for k, v in (("status", status), ("q", text), ("tag", tag), ("sort", key)) if v}
            mark = " ▼" if sort == key else ""
            return f"<a href='/console/jobs?{e(urlencode(params))}'>{label}{mark}</a>"

        rows = "".join(
            f"<tr data-job='{e(j.job_id)}'><td class='mono'><a href='/console/jobs/{e(j.job_id)}'>{e(j.job_id)}</a>"
            f"</td><td>{status_badge(j)}</td><td>{j.priority}</td>"
            f"<td>{e(j.operation.name)}</td><td>{bar(j)}</td><td>{when(j.creation_time)}</td>"
            f"<td>{e(j.description or '')}</td></tr>"
            for j in jobs
        ) or "<tr><td colspan='7'>No jobs match.</td></tr>"
        more = ""
        if page.next_token:
            params = {k: v for k, v in (("status", status), ("q", text), ("tag", tag), ("sort", sort),
                                        ("next", page.next_token)) if v}
            more = f"<p><a href='/console/jobs?{e(urlencode(params))}'>Older jobs →</a></p>"
        body = (
            "<h1>Batch jobs</h1>"
            "<form class='filters' method='get' action='/console/jobs'>"
            f"<label>Status <select name='status' id='status-filter'><option value=''>All</option>{options}"
            "</select></label> "
            f"<label>Description or job ID <input name='q' id='text-filter' value='{e(text)}'></label> "
            f"<label>Tag <input name='tag' id='tag-filter' placeholder='key=value' value='{e(tag)}'></label> "
            f"<input type='hidden' name='sort' value='{e(sort)}'>"
            "<button type='submit' id='apply-filters'>Filter</button></form>"
            "<div class='scroll'><table id='jobs'><thead><tr><th>Job ID</th><th>Status</th>"
            f"<th>{sort_link('priority', 'Priority')}</th><th>Operation</th><th>Progress</th>"
            f"<th>{sort_link('created', 'Created')}</th><th>Description</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>{more}"
        )
        return self._page("Batch jobs", body)

    def job_page(self, account: str | None, job_id: str, query: dict[str, list[str]]) -> Response:
        job = self.service.describe_job(job_id, account)
        token = self._token(account)
        flash = ""
        if query.get("ok"):
            message = query["ok"][0][:200]
            about = ""
            if re.fullmatch(r"job is [A-Za-z]+", message):  # about the job's status: say the one shown
                message, about = f"job is {job.status.value}", " about-status"  # (the page's script
                # removes it once the status moves on; it may have moved since the redirect)
            flash = f"<div class='flash ok{about}'>{e(message)}</div>"
        if query.get("err"):
            flash = f"<div class='flash err'>{e(query['err'][0][:300])}</div>"
        actions = []
        if job.status is JobStatus.SUSPENDED:
            actions.append(self._button(job, token, "status", "Ready", "Confirm and run", "confirm"))
        if job.status not in TERMINAL and job.status is not JobStatus.CANCELLING:
            actions.append(self._button(job, token, "status", "Cancelled", "Cancel job", "cancel",
                                        f"Cancel job {job.job_id}? Tasks not yet run will not run."))
        failed = job.progress_summary.number_of_tasks_failed
        actions.append(self._button(job, token, "rerun", "", "Re-run failed tasks", "rerun",
                                    hidden=not (job.status in TERMINAL and failed)))
        if any(t.key == "cosbatch:undoable" and t.value.lower() == "true" for t in job.tags):
            actions.append(self._button(job, token, "undo", "", "Undo", "undo",
                                        f"Create a job that restores what job {job.job_id} overwrote? "
                                        "Objects changed since are left alone.", hidden=job.status not in TERMINAL))
        actions.append(
            f"<form class='inline' method='post' action='/console/jobs/{e(job.job_id)}/priority'>"
            f"<input type='hidden' name='token' value='{token}'>"
            f"<input name='priority' id='priority-input' size='10' value='{job.priority}'> "
            "<button type='submit' id='set-priority'>Set priority</button></form>"
        )
        if not is_undo_job(job):  # an undo job is made again from its job's Undo button
            actions.append(f"<a class='button' id='clone' href='/console/jobs/new?{e(urlencode({'from': job.job_id}))}'>"
                           "Clone job</a>")
        rows: list[tuple[str, str]] = [
            ("Job ID", f"<span class='mono'>{e(job.job_id)}</span>"),
            ("Status", status_badge(job, "job-status")),
            ("Progress", bar(job)),
            ("Priority", str(job.priority)),
            ("Description", e(job.description or "-")),
            ("Operation", e(operation_text(job)) if is_undo_job(job) else
                          f"{e(job.operation.name)} <span class='mono'>"
                          f"{e(json.dumps(job.operation.params.wire(), default=str))}</span>"
                          + (f" <strong class='dry-run'>{DRY_RUN}</strong>" if job.dry_run else "")),
        ]
        if job.manifest is not None:
            rows.append(("Manifest", f"<span class='mono'>{e(job.manifest.location.object_arn)}</span> "
                                     f"({e(job.manifest.spec.format.value)})"))
        elif job.manifest_generator is not None:
            gen = job.manifest_generator.s3_job_manifest_generator
            rows.append(("Manifest", f"generated from <span class='mono'>{e(gen.source_bucket)}</span>"))
        rows += [
            *((label, f"<span data-field='{name}'>{value}</span>") for name, label, value in counters(job)),
            ("Failed tasks by error code", f"<div id='failures'>{failures_table(self.service.failures_by_code(job))}</div>"),
            ("Throughput", CHART),
            ("Report", self._report(job)),
            ("Confirmation required", "yes" if job.confirmation_required else "no"),
            ("Role", e(job.role_arn)),
            ("Storage", f"<span class='mono' data-field='storage'>{e(job.storage_text())}</span>"),
            ("Tags", "<span id='tags'>" + (", ".join(f"<span class='tag mono'>{e(t.key)}={e(t.value)}</span>"
                                                       for t in job.tags) or "-") + "</span>"),
            ("Created", when(job.creation_time)),
            ("Terminated", when(job.termination_date)),
        ]
        if job.status_update_reason:
            rows.append(("Status update reason", e(job.status_update_reason)))
        if job.suspended_cause:
            rows.append((suspended_label(job), f"{when(job.suspended_date)}: {e(job.suspended_cause)}"))
        if job.shown_estimate():  # what confirming it will take
            rows.append(("Estimate", f"<span id='estimate'>{e(estimate_text(job.shown_estimate()))}</span>"))
        for f in job.failure_reasons:
            rows.append(("Failure", f"<span class='failure'>{e(f.failure_code)}: {e(f.failure_reason)}</span>"))
        history = "".join(f"<li>{when(h.at)} {h.to_status.value}{' — ' + e(h.reason) if h.reason else ''}</li>"
                          for h in self.service.history(job.job_id))
        body = (
            f"<p><a href='/console/jobs'>← all jobs</a></p><h1>Job {e(job.job_id)}</h1>{flash}"
            f"<p id='actions'>{''.join(actions)}</p>"
            f"<div data-job='{e(job.job_id)}' data-shown-status='{job.status.value}'><dl>"
            + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
            + f"</dl></div><h2>History</h2><ul id='history'>{history}</ul>"
        )
        return self._page(f"Job {job.job_id}", body)

    def _report(self, job: Job) -> str:
        if not job.report.enabled:
            return "disabled"
        location = ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)
        where = f"s3://{location.bucket}/{location.job_dir}/"
        text = (f"<span class='mono'>{e(where)}</span> ({job.report.scope.value}, "
                f"{e(job.report.format.value if job.report.format else '')})")
        if job.status not in TERMINAL:
            return text
        why = report_not_written(job)
        if why is not None:  # as describe-job says it: nothing to link to
            return f"none: <span class='mono'>{e(where)}</span> {e(why)}"
        base = f"/console/jobs/{e(job.job_id)}/report/"
        links = [f"<a id='report-manifest' href='{base}manifest.json'>manifest.json</a>",
                 f"<a href='{base}job.json'>job.json</a>"]
        try:
            manifest = json.loads(self._read(job, location.manifest_key, location.bucket))
            for item in manifest.get("Results", []):
                name = str(item.get("Key", "")).removeprefix(location.job_dir + "/")
                links.append(f"<a class='report-file' href='{base}{e(quote(name))}'>{e(name)}</a> "
                             f"({e(str(item.get('TaskExecutionStatus', '')))})")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                links.append(f"<span class='flash err'>results not readable: {e(type(exc).__name__)}</span>")
            else:  # a job that just ended: its report is being written
                links.append("<span id='report-pending'>the report is being written: reload to see its files</span>")
        except Exception as exc:  # storage unreachable: say so, keep the page
            links.append(f"<span class='flash err'>results not readable: {e(type(exc).__name__)}</span>")
        return text + "<br>" + " · ".join(links)

    def _read(self, job: Job, key: str, bucket: str) -> bytes:
        if self._storage is None:
            raise CosbatchError("this server has no storage client for reports")
        return self._storage(job).get_object(Bucket=bucket, Key=key)["Body"].read()

    def report_file(self, account: str | None, job_id: str, name: str) -> Response:
        job = self.service.describe_job(job_id, account)
        if not job.report.enabled:
            return self._page("Not found", "<p>This job has no report.</p>", 404)
        location = ReportLocation(job.report.bucket_name, job.report.prefix or "", job.job_id)
        try:
            body = self._read(job, f"{location.job_dir}/{name}", location.bucket)
        except Exception as exc:
            return self._page("Not found", f"<p>{e(name)} cannot be read: {e(type(exc).__name__)}</p>", 404)
        kind = {"json": "application/json", "csv": "text/csv; charset=utf-8"}.get(name.rsplit(".", 1)[-1],
                                                                                 "application/octet-stream")
        filename = name.rsplit("/", 1)[-1]
        return Response(200, body, kind, (("Content-Disposition", f'inline; filename="{filename}"'),
                                          ("X-Content-Type-Options", "nosniff")))

    def _button(self, job: Job, token: str, what: str, value: str, label: str, ident: str,
                confirm: str = "", hidden: bool = False) -> str:
        ask = f" data-confirm='{e(confirm)}'" if confirm else ""
        status = f"<input type='hidden' name='requestedJobStatus' value='{value}'>" if value else ""
        return (f"<form class='inline' method='post' action='/console/jobs/{e(job.job_id)}/{what}' "
                f"id='{ident}-form'{ask}{' hidden' if hidden else ''}>"
                f"<input type='hidden' name='token' value='{token}'>{status}"
                f"<button type='submit' id='{ident}'>{label}</button></form>")

    def _refused(self, environ: dict[str, Any], account: str | None, limit: int) -> tuple[Response | None, Form]:
        """(a refusal for a cross-site POST or one without this server's form token, or None; the form)."""
        host = environ.get("HTTP_HOST", "")
        origin = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER") or ""
        if not re.match(rf"^https?://{re.escape(host)}(/|$)", origin):
            return self._page("Forbidden", "<div class='flash err'>cross-site request refused</div>", 403), Form()
        form = read_form(environ, limit)
        if not hmac.compare_digest(form.get("token"), self._token(account)):
            return self._page("Forbidden", "<div class='flash err'>form expired; reload the page</div>", 403), form
        return None, form

    def job_action(self, environ: dict[str, Any], account: str | None, job_id: str, what: str) -> Response:
        refused, form = self._refused(environ, account, 64 * 1024)
        if refused is not None:
            return refused
        where = f"/console/jobs/{quote(job_id)}"
        try:
            if what == "priority":
                job = self.service.update_job_priority(job_id, form.get("priority"), account)
                message = f"priority set to {job.priority}"
            elif what == "rerun":
                earlier = self.service.describe_job(job_id, account)
                try:
                    job = self.service.create_job_from_report(job_id, self._client(earlier.storage), account)
                except (BotoCoreError, ClientError) as exc:
                    raise InvalidRequest(f"the failed tasks cannot be written beside the report: {exc}") from None
                count = job.description or ""
                return self._redirect(f"/console/jobs/{quote(job.job_id)}?"
                                      + urlencode({"ok": f"created job {job.job_id}: {count}"}))
            elif what == "undo":
                earlier = self.service.describe_job(job_id, account)
                asked = utcnow() - timedelta(milliseconds=1)  # the store keeps times as float seconds
                try:
                    job = self.service.create_undo_job(job_id, self._client(earlier.storage), account)
                except (BotoCoreError, ClientError) as exc:
                    raise InvalidRequest(f"the undo records cannot be read beside the report: {exc}") from None
                # The same undo asked again is the same job (its request token is the job's).
                said = (f"created job {job.job_id}: {job.description}" if job.creation_time >= asked
                        else f"job {job.job_id} already undoes job {job_id}")
                return self._redirect(f"/console/jobs/{quote(job.job_id)}?" + urlencode({"ok": said}))
            else:
                job = self.service.update_job_status(job_id, form.get("requestedJobStatus"),
                                                     "requested in the console", account)
                message = f"job is {job.status.value}"
        except CosbatchError as exc:
            return self._redirect(f"{where}?{urlencode({'err': f'{exc.code}: {exc.message}'})}")
        return self._redirect(f"{where}?{urlencode({'ok': message})}")

    def _client(self, storage: str) -> Any:
        """An S3 client on the named storage (the server's storage clients)."""
        if self._storage is None:
            raise CosbatchError("this server has no storage client for the console")
        return self._storage(_StorageRef(storage))

    # -- the job form: new jobs and clones ----------------------------------------------
    def new_job_page(self, account: str | None, query: dict[str, list[str]]) -> Response:
        source = (query.get("from") or [""])[0]
        if source:
            job = self.service.describe_job(source, account)
            undone = undo_of(job)
            if undone is not None:  # its manifest and tag only make sense as the Undo button sets them
                return self._page("Not a job to clone", f"<p class='flash err'>Job {e(job.job_id)} is an undo job: "
                                  f"its manifest is job {e(undone)}'s undo records. To undo that job again, use "
                                  f"Undo on <a href='/console/jobs/{e(quote(undone))}'>its page</a>.</p>", 400)
            values = console_form.prefill_from_job(job)
            title = f"Clone of job {source}"
        else:
            values, title = console_form.defaults(account), "New job"
        return self._form_page(title, values, account)

    def _form_page(self, title: str, values: dict[str, str], account: str | None, error: str = "",
                   status: int = 200) -> Response:
        flash = f"<div class='flash err' id='form-error'>{e(error)}</div>" if error else ""
        body = (f"<p><a href='/console/jobs'>← all jobs</a></p><h1>{e(title)}</h1>{flash}"
                + console_form.render(values, self._token(account), ask_account=self.keys is None))
        return self._page(title, body, status)

    def create_job(self, environ: dict[str, Any], account: str | None) -> Response:
        refused, form = self._refused(environ, account, MAX_MANIFEST_UPLOAD)
        if refused is not None:
            return refused
        try:
            body = console_form.request_body(form, account)
            request = parse_create_job(body, Dialect.S3)  # every field checked before anything is written
            storage, _ = self.service.bind(request)
            client = self._client(storage)

            def put(bucket: str, key: str, data: bytes) -> str:
                # Asked first: some storages (SeaweedFS) would make a missing bucket on PUT.
                check_bucket(client, bucket, "ManifestBucketNotFound", "manifest", self.service.storages.get(storage))
                return client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/csv")["ETag"]

            def head(bucket: str, key: str) -> str:
                # As Preparing words it: names the object, and its bucket when that is what is missing.
                return ManifestSource(ObjectRef(bucket, key), client).resolve().etag or ""

            try:
                console_form.store_manifest(body, form, put, head)
            except (BotoCoreError, ClientError) as exc:
                raise InvalidRequest(f"the manifest cannot be stored or read: {exc}") from None
            job = self.service.create_job(parse_create_job(body, Dialect.S3))
        except CosbatchError as exc:
            return self._form_page("New job", console_form.form_values(form), account,
                                   f"{exc.code}: {exc.message}", exc.http_status)
        return self._redirect(f"/console/jobs/{quote(job.job_id)}?{urlencode({'ok': 'job created'})}")

    def progress(self, account: str | None, query: dict[str, list[str]]) -> Response:
        """Live counters of the listed jobs; with detail=1, failures by code and throughput samples too."""
        ids = [i for i in (query.get("ids") or [""])[0].split(",") if re.fullmatch(r"[a-zA-Z0-9_-]{5,36}", i)]
        detail = (query.get("detail") or [""])[0] == "1"
        out: dict[str, Any] = {}
        for job_id in ids[:200]:
            try:
                job = self.service.describe_job(job_id, account)
            except CosbatchError:
                continue
            ok, failed, text = progress_of(job)
            entry = {"status": job.status.value, "status_text": status_text(job), "terminal": job.status in TERMINAL,
                     "percent": ok + failed,
                     "ok_percent": ok, "failed_percent": failed, "text": text,
                     "failed_tasks": job.progress_summary.number_of_tasks_failed,
                     **{name: value for name, _, value in counters(job)}}
            if detail:
                if job.status is JobStatus.ACTIVE:
                    self.sampler.record(job)
                segments = self.service.segments(job)
                entry["failures"] = self.service.failures_by_code(job)
                entry["samples"] = self.sampler.series(job, self.service.history(job.job_id), segments)
            out[job_id] = entry
        return Response(200, json.dumps(out).encode(), "application/json")


class _StorageRef:
    """A storage by name, for the server's `job → client` callable."""

    def __init__(self, storage: str) -> None:
        self.storage = storage


MAX_MANIFEST_UPLOAD = 32 * 1024 * 1024
