"""The console's job form: new jobs, and clones of existing ones (the form prefilled from a job).

The form's fields become the same CreateJob body the HTTP API takes (S3 Control names), so
the console creates jobs exactly as boto3 or the CLI do. The manifest is one of:
an object already in a bucket (its ETag is read), a CSV file uploaded through the server or
pasted into the form (the server writes it to the named bucket), or a manifest generator
(a bucket listing, optionally filtered by key prefix).
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from cosbatch.api.forms import Form
from cosbatch.controller.service import check_priority
from cosbatch.errors import InvalidRequest
from cosbatch.models import Job
from cosbatch.models.job import JobOperation
from cosbatch.names import parse_bucket_name, parse_object_name

e = html.escape

OPERATIONS = [f.alias for f in JobOperation.model_fields.values() if f.alias]
#: A starting point for each operation's parameters (tests/api/test_console_form.py checks each is valid).
EXAMPLES: dict[str, dict[str, Any]] = {
    "S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::TARGET-BUCKET"},
    "S3PutObjectTagging": {"TagSet": [{"Key": "team", "Value": "data"}]},
    "S3DeleteObjectTagging": {},
    "S3PutObjectAcl": {"AccessControlPolicy": {"CannedAccessControlList": "private"}},
    "S3InitiateRestoreObject": {"ExpirationInDays": 1, "GlacierJobTier": "STANDARD"},
    "S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256"},
    "S3DeleteObject": {},
    "S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": "2030-01-01T00:00:00Z"}},
    "S3PutObjectLegalHold": {"LegalHold": {"Status": "ON"}},
    "Invoke": {"Function": "my_module:my_function", "UserArguments": {}},
}
MANIFEST_SOURCES = {"object": "an object in a bucket", "upload": "upload a CSV file", "paste": "paste CSV lines",
                    "generator": "generate from a bucket listing"}
FIELD_LISTS = {"Bucket,Key": ["Bucket", "Key"], "Bucket,Key,VersionId": ["Bucket", "Key", "VersionId"]}
REPORT_SCOPES = ("AllTasks", "FailedTasksOnly")
UPLOAD_PREFIX = "cosbatch-console/manifests/"
PLACEHOLDER_ETAG = "0" * 32  # validates the rest of the form before the manifest is written

#: Puts bytes at (bucket, key) and returns the ETag; reads the ETag of (bucket, key).
PutManifest = Callable[[str, str, bytes], str]
HeadManifest = Callable[[str, str], str]


def _bucket(arn_or_name: str) -> str:
    return arn_or_name.removeprefix("arn:aws:s3:::")


def defaults(account: str | None) -> dict[str, str]:
    return {
        "account": account or "", "description": "", "priority": "10", "confirmation": "",
        "role_arn": f"arn:aws:iam::{account}:role/batch" if account else "",
        "operation": "S3PutObjectCopy", "params": json.dumps(EXAMPLES["S3PutObjectCopy"]),
        "manifest_source": "upload", "manifest_bucket": "", "manifest_key": "", "manifest_text": "",
        "manifest_fields": "Bucket,Key", "generator_prefix": "",
        "report_enabled": "on", "report_bucket": "", "report_prefix": "", "report_scope": "AllTasks",
        "tags": "", "request_token": str(uuid.uuid4()),
    }


def prefill_from_job(job: Job) -> dict[str, str]:
    """The form's values for a clone of `job` (a fresh request token: a new job)."""
    values = defaults(job.account_id)
    values.update({
        "description": f"clone of {job.job_id}" + (f": {job.description}" if job.description else ""),
        "priority": str(job.priority), "confirmation": "on" if job.confirmation_required else "",
        "role_arn": job.role_arn, "operation": job.operation.name,
        "params": json.dumps(job.operation.params.wire(), default=str),
        "tags": "\n".join(f"{t.key}={t.value}" for t in job.tags),
    })
    values["description"] = values["description"][:256]
    if job.manifest is not None:
        where = parse_object_name(job.manifest.location.object_arn)
        fields = ",".join(f.value for f in (job.manifest.spec.fields or []))
        values.update(manifest_source="object", manifest_bucket=where.bucket, manifest_key=where.key,
                      manifest_fields=fields if fields in FIELD_LISTS else "Bucket,Key")
    elif job.manifest_generator is not None:
        gen = job.manifest_generator.s3_job_manifest_generator
        constraint = gen.filter.key_name_constraint if gen.filter else None
        prefixes = (constraint.match_any_prefix or []) if constraint else []
        values.update(manifest_source="generator", manifest_bucket=parse_bucket_name(gen.source_bucket),
                      generator_prefix=prefixes[0] if prefixes else "")
    report = job.report
    values.update(report_enabled="on" if report.enabled else "", report_bucket=report.bucket_name if report.bucket else "",
                  report_prefix=report.prefix or "", report_scope=report.scope.value if report.scope else "AllTasks")
    return values


def _tags(text: str) -> list[dict[str, str]]:
    tags = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.strip().partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"tags: line {n} is not key=value")
        tags.append({"Key": key.strip(), "Value": value.strip()})
    return tags


def _params(text: str, operation: str) -> dict[str, Any]:
    try:
        params = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"operation parameters are not valid JSON: {exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}") from None
    if not isinstance(params, dict):
        raise InvalidRequest(f"operation parameters must be a JSON object for {operation}")
    return params


def request_body(form: Form, account: str | None) -> dict[str, Any]:
    """The CreateJob body the form describes, the manifest's ETag still a placeholder."""
    account = account or form.get("account").strip()
    if not account:
        raise InvalidRequest("the account is required")
    operation = form.get("operation")
    if operation not in OPERATIONS:
        raise InvalidRequest(f"unknown operation {operation[:60]!r}; valid: {', '.join(OPERATIONS)}")
    source = form.get("manifest_source")
    if source not in MANIFEST_SOURCES:
        raise InvalidRequest(f"manifest source must be one of {', '.join(MANIFEST_SOURCES)}")
    bucket = _bucket(form.get("manifest_bucket").strip())
    if not bucket:
        raise InvalidRequest("the manifest bucket is required" if source != "generator"
                             else "the bucket to list is required")
    body: dict[str, Any] = {
        "AccountId": account, "ClientRequestToken": form.get("request_token") or str(uuid.uuid4()),
        "ConfirmationRequired": form.get("confirmation") == "on",
        "Operation": {operation: _params(form.get("params"), operation)},
        "Priority": check_priority(form.get("priority").strip()),
        "RoleArn": form.get("role_arn").strip() or f"arn:aws:iam::{account}:role/batch",
    }
    if form.get("description").strip():
        body["Description"] = form.get("description").strip()
    if source == "generator":
        gen: dict[str, Any] = {"SourceBucket": f"arn:aws:s3:::{bucket}", "EnableManifestOutput": False}
        if form.get("generator_prefix"):
            gen["Filter"] = {"KeyNameConstraint": {"MatchAnyPrefix": [form.get("generator_prefix")]}}
        body["ManifestGenerator"] = {"S3JobManifestGenerator": gen}
    else:
        fields = FIELD_LISTS.get(form.get("manifest_fields"))
        if fields is None:
            raise InvalidRequest(f"manifest fields must be one of {', '.join(FIELD_LISTS)}")
        key = form.get("manifest_key").strip().lstrip("/")
        if source == "object" and not key:
            raise InvalidRequest("the manifest key is required")
        key = key or f"{UPLOAD_PREFIX}{uuid.uuid4()}.csv"
        body["Manifest"] = {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": fields},
                            "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": PLACEHOLDER_ETAG}}
    if form.get("report_enabled") == "on":
        report_bucket = _bucket(form.get("report_bucket").strip())
        if not report_bucket:
            raise InvalidRequest("the report bucket is required (or turn the report off)")
        body["Report"] = {"Bucket": f"arn:aws:s3:::{report_bucket}", "Format": "Report_CSV_20180820",
                          "Enabled": True, "ReportScope": form.get("report_scope") or "AllTasks"}
        if form.get("report_prefix").strip():
            body["Report"]["Prefix"] = form.get("report_prefix").strip()
    else:
        body["Report"] = {"Enabled": False}
    tags = _tags(form.get("tags"))
    if tags:
        body["Tags"] = tags
    return body


def manifest_content(form: Form) -> bytes | None:
    """The CSV to write for an uploaded or pasted manifest (None: the manifest is already stored)."""
    source = form.get("manifest_source")
    if source == "upload":
        _, data = form.files.get("manifest_file", ("", b""))
        if not data.strip():
            raise InvalidRequest("choose a CSV manifest file to upload")
        return data
    if source == "paste":
        text = form.get("manifest_text").replace("\r\n", "\n")
        if not text.strip():
            raise InvalidRequest("paste the manifest's CSV lines")
        return (text if text.endswith("\n") else text + "\n").encode()
    return None


def store_manifest(body: dict[str, Any], form: Form, put: PutManifest, head: HeadManifest) -> None:
    """Write an uploaded/pasted manifest, or read a stored one's ETag, into `body`."""
    if "Manifest" not in body:
        return
    location = body["Manifest"]["Location"]
    bucket, _, key = location["ObjectArn"].removeprefix("arn:aws:s3:::").partition("/")
    content = manifest_content(form)
    location["ETag"] = put(bucket, key, content) if content is not None else head(bucket, key)


# -- the page -------------------------------------------------------------------------------
def _input(name: str, label: str, values: dict[str, str], hint: str = "") -> str:
    placeholder = f" placeholder='{e(hint)}'" if hint else ""
    return (f"<label>{label} <input name='{name}' id='f-{name}' value='{e(values.get(name, ''))}'"
            f"{placeholder}></label>")


def _select(name: str, label: str, options: dict[str, str], chosen: str) -> str:
    opts = "".join(f"<option value='{e(v)}'{' selected' if v == chosen else ''}>{e(text)}</option>"
                   for v, text in options.items())
    return f"<label>{label} <select name='{name}' id='f-{name}'>{opts}</select></label>"


def _check(name: str, label: str, values: dict[str, str]) -> str:
    checked = " checked" if values.get(name) == "on" else ""
    return f"<label><input type='checkbox' name='{name}' id='f-{name}'{checked}> {label}</label>"


def render(values: dict[str, str], form_token: str, ask_account: bool, action: str = "/console/jobs/new") -> str:
    account = _input("account", "Account", values, "12-digit account ID") if ask_account else ""
    return (
        f"<form method='post' action='{e(action)}' enctype='multipart/form-data' id='job-form'>"
        f"<input type='hidden' name='token' value='{e(form_token)}'>"
        f"<input type='hidden' name='request_token' value='{e(values.get('request_token', ''))}'>"
        f"<fieldset><legend>Job</legend>{account}"
        + _input("description", "Description", values)
        + _input("priority", "Priority", values)
        + _check("confirmation", "Require confirmation before it runs", values)
        + _input("role_arn", "Role ARN (names the storage)", values)
        + "</fieldset><fieldset><legend>Operation</legend>"
        + _select("operation", "Operation", {o: o for o in OPERATIONS}, values.get("operation", ""))
        + "<label>Parameters (JSON, the operation's S3 Control fields) "
        f"<textarea name='params' id='f-params' rows='3' data-examples='{e(json.dumps(EXAMPLES))}'>"
        f"{e(values.get('params', ''))}</textarea></label>"
        "</fieldset><fieldset><legend>Manifest</legend>"
        + _select("manifest_source", "Source", MANIFEST_SOURCES, values.get("manifest_source", ""))
            .replace("id='f-manifest_source'", "id='manifest-source'")
        + _input("manifest_bucket", "Bucket", values, "manifest bucket (or the bucket to list)")
        + "<div data-source='object upload paste'>"
        + _input("manifest_key", "Key", values, "upload/paste: optional, default " + UPLOAD_PREFIX + "…")
        + _select("manifest_fields", "Columns", {k: k for k in FIELD_LISTS}, values.get("manifest_fields", ""))
        + "</div><div data-source='upload'><label>CSV file "
          "<input type='file' name='manifest_file' id='f-manifest_file' accept='.csv,text/csv'></label></div>"
        "<div data-source='paste'><label>CSV lines (bucket,key with keys URL-encoded) "
        f"<textarea name='manifest_text' id='f-manifest_text' rows='5'>{e(values.get('manifest_text', ''))}"
        "</textarea></label></div><div data-source='generator'>"
        + _input("generator_prefix", "Only keys starting with", values)
        + "</div></fieldset><fieldset><legend>Completion report</legend>"
        + _check("report_enabled", "Write a completion report", values)
        + _input("report_bucket", "Report bucket", values)
        + _input("report_prefix", "Prefix", values, "optional: the report goes to <bucket>/<prefix>/job-<id>/")
        + _select("report_scope", "Scope", {s: s for s in REPORT_SCOPES}, values.get("report_scope", ""))
        + "</fieldset><fieldset><legend>Tags</legend><label>One key=value a line (cosbatch: options too) "
        f"<textarea name='tags' id='f-tags' rows='3'>{e(values.get('tags', ''))}</textarea></label></fieldset>"
        "<button type='submit' id='create-job'>Create job</button></form>"
    )


def form_values(form: Form) -> dict[str, str]:
    """What was submitted, to show the form again after an error (checkboxes off unless sent)."""
    values = {k: v for k, v in form.fields.items() if re.fullmatch(r"[a-z_]{1,30}", k) and k != "token"}
    values.setdefault("confirmation", "")
    values.setdefault("report_enabled", "")
    return values
