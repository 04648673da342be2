"""The WSGI application: routing, authentication, size limits, and error answers.

Routes: `/v20180820/jobs...` (S3 Control dialect), `/jobs...` (COS dialect),
`/console...` (the web console), `/internal/v1/jobs...` (pipeline workers'
channel, token per job), `/metrics` (Prometheus; signed in like the console), `/healthz`.
Every failure is an XML error with
the dialect's code and HTTP status; nothing reaches the client as a traceback.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from cosbatch import logs
from cosbatch.api.auth import AccessDenied, AccessKey, SignedRequest, verify
from cosbatch.api.console import Console
from cosbatch.api.http import MAX_BODY_BYTES, REASONS, Response, read_body, request_headers
from cosbatch.api.jobs_api import Call, JobsApi, account_header
from cosbatch.api.metrics import Metrics
from cosbatch.api.samples import ProgressSampler
from cosbatch.api.worker_api import WorkerApi
from cosbatch.controller import JobService
from cosbatch.errors import (
    CosbatchError,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    JobNotFound,
    MalformedRequest,
    TooManyTags,
)
from cosbatch.models import Dialect, Job

log = logging.getLogger("cosbatch.api")


StartResponse = Callable[..., Any]

_ROUTES = [
    ("POST", re.compile(r"^$"), "create_job"),
    ("GET", re.compile(r"^$"), "list_jobs"),
    ("GET", re.compile(r"^/(?P<job_id>[^/]+)$"), "describe_job"),
    ("POST", re.compile(r"^/(?P<job_id>[^/]+)/priority$"), "update_job_priority"),
    ("POST", re.compile(r"^/(?P<job_id>[^/]+)/status$"), "update_job_status"),
    ("PUT", re.compile(r"^/(?P<job_id>[^/]+)/tagging$"), "put_job_tagging"),
    ("GET", re.compile(r"^/(?P<job_id>[^/]+)/tagging$"), "get_job_tagging"),
    ("DELETE", re.compile(r"^/(?P<job_id>[^/]+)/tagging$"), "delete_job_tagging"),
]
_DIALECT_PREFIXES = (("/v20180820/jobs", Dialect.S3), ("/jobs", Dialect.COS))


class MethodNotAllowed(CosbatchError, code="MethodNotAllowed", http_status=405):
    """A route that exists, asked with a method it does not answer."""


class NoSuchRoute(CosbatchError, code="NotFound", http_status=404):
    """A path no route answers."""


def s3_error_code(exc: CosbatchError, operation: str | None) -> str:
    """The S3 Control error code boto3 turns into its modeled exception."""
    if isinstance(exc, JobNotFound):
        return "NotFoundException"
    if isinstance(exc, IllegalTransition):
        return "JobStatusException"
    if isinstance(exc, IdempotencyConflict):
        return "IdempotencyException"
    if isinstance(exc, TooManyTags):
        return "TooManyTagsException"
    if exc.http_status == 400:
        return "InvalidRequestException" if operation == "list_jobs" else "BadRequestException"
    if exc.http_status >= 500 and exc.http_status != 503:
        return "InternalServiceException"
    return exc.code


def route_name(path: str, method: str) -> str:
    """A request's route as a metrics label: the API operation, or the area (few distinct values)."""
    if path in ("/healthz", "/metrics"):
        return path[1:]
    if path.startswith("/internal/"):
        return "worker"
    if path == "/" or path.startswith("/console"):
        return "console_api" if path.startswith("/console/api/") else "console"
    for prefix, _ in _DIALECT_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            rest = path[len(prefix):]
            hits = [name for m, rx, name in _ROUTES if rx.match(rest)]
            return next((name for m, rx, name in _ROUTES if m == method and rx.match(rest)),
                        hits[0] if hits else "unknown")
    return "unknown"


def error_document(code: str, message: str, request_id: str) -> bytes:
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = code
    ET.SubElement(root, "Message").text = message
    ET.SubElement(root, "RequestId").text = request_id
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


class ApiApp:
    """cosbatch's HTTP server application (WSGI)."""

    def __init__(self, service: JobService, keys: dict[str, AccessKey] | None,
                 max_body_bytes: int = MAX_BODY_BYTES, storage: Callable[[Job], Any] | None = None,
                 worker_secret: bytes | None = None) -> None:
        self.service = service
        self.keys = keys  # None: dev mode, no authentication
        self.max_body_bytes = max_body_bytes
        self.jobs = JobsApi(service)
        self.sampler = ProgressSampler(service.store)
        self.console = Console(service, keys, storage, self.sampler)
        self.workers = WorkerApi(service.store, worker_secret)
        self.metrics = Metrics(service.store)

    def close(self) -> None:
        """Stop the background sampling (the process's end stops it too: a daemon thread)."""
        self.sampler.stop()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        self.sampler.start()  # from the first request on: the throughput chart's samples
        request_id = uuid.uuid4().hex[:16].upper()
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz":
            response = Response(200, b"ok\n", "text/plain")
        elif path == "/metrics":
            response = self._metrics(environ, method)
        elif path.startswith("/internal/"):
            response = self.workers.handle(environ, path)
        elif path == "/" or path.startswith("/console"):
            response = self.console.handle(environ, path)
        else:
            response = self._api(environ, path, request_id)
        self.metrics.observe(route_name(path, method), method, time.perf_counter() - started)
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
                   ("x-amz-request-id", request_id), ("x-cos-request-id", request_id), *response.headers]
        start_response(f"{response.status} {REASONS.get(response.status, 'Error')}", headers)
        return [response.body]

    def _metrics(self, environ: dict[str, Any], method: str) -> Response:
        signed_in, account = self.console.sign_in(environ)
        if not signed_in:
            return self.console.challenge()
        if method != "GET":
            return Response(405, b"GET /metrics\n", "text/plain", (("Allow", "GET"),))
        try:
            body, content_type = self.metrics.scrape(account)
        except CosbatchError as exc:  # the store is unreachable: the scrape fails, visibly
            return Response(exc.http_status if exc.http_status >= 500 else 503,
                            f"{exc.code}: {exc.message}\n".encode(), "text/plain")
        return Response(200, body, content_type)

    def _api(self, environ: dict[str, Any], path: str, request_id: str) -> Response:
        dialect, rest = None, ""
        for prefix, d in _DIALECT_PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                dialect, rest = d, path[len(prefix):]
                break
        operation = None
        try:
            if dialect is None:
                raise NoSuchRoute(f"no such resource: {path[:200]}")
            method = environ.get("REQUEST_METHOD", "GET")
            matched = [(m, name, rx.match(rest)) for m, rx, name in _ROUTES]
            matched = [(m, name, hit) for m, name, hit in matched if hit]
            if not matched:
                raise NoSuchRoute(f"no such resource: {path[:200]}")
            chosen = next(((name, hit) for m, name, hit in matched if m == method), None)
            if chosen is None:
                raise MethodNotAllowed(f"{method} is not allowed on {path[:200]}")
            operation, hit = chosen
            body = read_body(environ, self.max_body_bytes)
            call = self._authenticate(environ, dialect, body)
            handler = getattr(self.jobs, operation)
            return Response(200, handler(call, **hit.groupdict()))
        except CosbatchError as exc:
            code = s3_error_code(exc, operation) if dialect is Dialect.S3 else exc.code
            if exc.http_status >= 500:
                logs.event("api_error", logging.WARNING, code=exc.code, request_id=request_id)
            return Response(exc.http_status, error_document(code, exc.message, request_id))
        except Exception:  # a bug: log it with its traceback, answer without one
            log.exception("unexpected error answering %s (request %s)", operation or path[:100], request_id)
            code = "InternalServiceException" if dialect is Dialect.S3 else "InternalError"
            return Response(500, error_document(code, "internal error; see the server log for request "
                                                + request_id, request_id))

    def _authenticate(self, environ: dict[str, Any], dialect: Dialect, body: bytes) -> Call:
        headers = request_headers(environ)
        try:
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True, strict_parsing=False,
                             max_num_fields=100)
        except ValueError:
            raise MalformedRequest("too many query parameters") from None
        header = account_header(dialect)
        account = headers.get(header)
        if account is not None and not 1 <= len(account.encode()) <= 64:
            raise InvalidRequest(f"{header} must be 1 to 64 bytes")
        if dialect is Dialect.S3 and account is not None and not re.fullmatch(r"\d{12}", account):
            raise InvalidRequest(f"{header} must be a 12-digit account ID")
        if self.keys is not None:
            raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
            if raw_uri.startswith(("http://", "https://")):  # absolute form: sent to us as a proxy (aws CLI)
                raw_uri = "/" + raw_uri.split("/", 3)[3] if raw_uri.count("/") >= 3 else "/"
            path, _, raw_query = raw_uri.partition("?")
            key = verify(SignedRequest(environ.get("REQUEST_METHOD", "GET"), path, raw_query, headers, body),
                         self.keys)
            if account is None:
                raise InvalidRequest(f"the {header} header is required")
            if account != key.account_id:
                raise AccessDenied(f"access key {key.access_key_id} may not act for account {account}")
        return Call(dialect, account, query, body)
