"""Routes for pipeline workers (`/internal/v1/jobs/...`): the server side of the worker channel.

JSON in and out; each request carries the job's token (see cosbatch.control.http_channel).
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

from cosbatch import logs
from cosbatch.api.http import Response, read_body
from cosbatch.control import WORKER_LEASE_TTL_S, worker_lease_prefix
from cosbatch.control.http_channel import PREFIX, worker_token
from cosbatch.errors import CosbatchError, InvalidRequest
from cosbatch.store.base import JobStore, SegmentState

_ROUTE = re.compile(rf"^{PREFIX}/(?P<job>[a-zA-Z0-9_-]{{5,36}})/(?P<what>status|workers|segments/(?P<seg>\d{{1,9}})"
                    r"(?P<abandon>/abandon)?)$")
_WORKER_OWNER = re.compile(r"^[A-Za-z0-9_.-]{1,253}:\d{1,10}$")


def _json(status: int, body: dict) -> Response:
    return Response(status, json.dumps(body).encode(), "application/json")


def _int(body: dict, name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{name} must be a non-negative integer")
    return value


class WorkerApi:
    def __init__(self, store: JobStore, secret: bytes | None) -> None:
        self.store = store
        self.secret = secret  # None: the worker channel is off

    def handle(self, environ: dict[str, Any], path: str) -> Response:
        m = _ROUTE.match(path)
        if self.secret is None or m is None:
            return _json(404, {"Code": "NotFound", "Message": "no such worker route"})
        job_id = m["job"]
        token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        if not hmac.compare_digest(token.encode(), worker_token(self.secret, job_id).encode()):
            return _json(403, {"Code": "AccessDenied", "Message": "not this job's worker token"})
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if m["what"] == "status" and method == "GET":
                status, rate = self.store.get_control(job_id)
                return _json(200, {"Status": status.value, "WorkerRate": rate})
            body = json.loads(read_body(environ, 1024 * 1024) or b"{}")
            if not isinstance(body, dict):
                raise InvalidRequest("the body must be a JSON object")
            if m["what"] == "workers" and method == "POST":
                return self._register_worker(job_id, body)
            if m["seg"] is None:
                return _json(405, {"Code": "MethodNotAllowed", "Message": f"{method} is not allowed here"})
            seg_no = int(m["seg"])
            if m["abandon"] and method == "POST":
                self.store.abandon_segment(job_id, seg_no, _int(body, "TasksRun"))
                return _json(200, {})
            if not m["abandon"] and method == "GET":
                return _json(200, {"State": self.store.segment_state(job_id, seg_no).value})
            if not m["abandon"] and method == "PUT":
                files = body.get("ResultFiles")
                if files is not None and not (isinstance(files, list) and all(isinstance(f, dict) for f in files)):
                    raise InvalidRequest("ResultFiles must be a list of objects")
                state = SegmentState(body.get("State"))
                self.store.update_segment(job_id, seg_no, state, _int(body, "Succeeded"), _int(body, "Failed"),
                                          files, _int(body, "Retries"), _int({"Skipped": 0, **body}, "Skipped"))
                logs.event("worker_segment_update", job_id=job_id, segment=seg_no, state=state.value)
                return _json(200, {})
            return _json(405, {"Code": "MethodNotAllowed", "Message": f"{method} is not allowed here"})
        except (ValueError, json.JSONDecodeError) as exc:
            return _json(400, {"Code": "InvalidRequest", "Message": str(exc)[:200]})
        except CosbatchError as exc:
            return _json(exc.http_status, {"Code": exc.code, "Message": exc.message})

    def _register_worker(self, job_id: str, body: dict) -> Response:
        owner = body.get("Owner")
        if not isinstance(owner, str) or not _WORKER_OWNER.match(owner) or body.get("Name") != \
                f"{worker_lease_prefix(job_id)}{owner}":
            raise InvalidRequest("a worker registers as worker:<job id>:<host>:<pid>")
        acquired = self.store.acquire_lease(body["Name"], owner, WORKER_LEASE_TTL_S)
        return _json(200, {"Acquired": bool(acquired)})
