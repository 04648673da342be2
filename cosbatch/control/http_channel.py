"""The worker channel over HTTP: JobControl for workers that cannot open the store.

Flink and Dataflow workers run on other machines; they reach the controller
(`cosbatch serve --worker-control http`) instead of the SQLite file. The pipeline
carries a URL `http://job:<token>@controller:port` whose token is an HMAC of the
job id under the server's worker secret: it lets a worker read that one job's
status and write that one job's segments, nothing else.

The server side is `cosbatch.api.worker_api`; this module is the client side
(the part of the JobStore protocol that JobControl uses) and the token rules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import urllib3

from cosbatch.errors import StoreUnavailable
from cosbatch.lifecycle import JobStatus
from cosbatch.store.base import SegmentState

PREFIX = "/internal/v1/jobs"


def worker_token(secret: bytes, job_id: str) -> str:
    return hmac.new(secret, f"worker:{job_id}".encode(), hashlib.sha256).hexdigest()


def load_worker_secret(path: Path) -> bytes:
    """The server's worker secret, kept in a 0600 file so that tokens survive a restart."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    secret = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret.hex())
    return secret


def channel_url(base_url: str, secret: bytes, job_id: str) -> str:
    parts = urlsplit(base_url.rstrip("/"))
    netloc = f"job:{worker_token(secret, job_id)}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_channel_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


class HttpWorkerChannel:
    """get_status / update_segment / abandon_segment against the controller, with retries."""

    def __init__(self, url: str, attempts: int = 8) -> None:
        parts = urlsplit(url)
        if not parts.password:
            raise StoreUnavailable("the worker channel URL carries no job token")
        self.base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 80}", parts.path.rstrip("/"),
                                "", ""))
        self.headers = {"Authorization": f"Bearer {parts.password}", "Content-Type": "application/json"}
        self.http = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=5, read=30))
        self.attempts = attempts

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(self.attempts):
            try:
                resp = self.http.request(method, self.base + PREFIX + path, body=data, headers=self.headers)
            except urllib3.exceptions.HTTPError as exc:
                last = str(exc)
            else:
                if resp.status < 300:
                    return json.loads(resp.data or b"{}")
                last = f"{resp.status} {resp.data[:200]!r}"
                if resp.status < 500:
                    break  # refused (bad token, unknown job): retrying will not help
            time.sleep(min(5.0, 0.2 * 2**attempt))
        raise StoreUnavailable(f"the controller's worker channel failed: {last}")

    def get_status(self, job_id: str) -> JobStatus:
        return self.get_control(job_id)[0]

    def get_control(self, job_id: str) -> tuple[JobStatus, float | None]:
        answer = self._call("GET", f"/{job_id}/status")
        return JobStatus(answer["Status"]), answer.get("WorkerRate")

    def segment_state(self, job_id: str, seg_no: int) -> SegmentState:
        return SegmentState(self._call("GET", f"/{job_id}/segments/{seg_no}")["State"])

    def update_segment(self, job_id: str, seg_no: int, state: SegmentState, succeeded: int, failed: int,
                       result_files: list[dict] | None = None, retries: int = 0, skipped: int = 0) -> None:
        self._call("PUT", f"/{job_id}/segments/{seg_no}", {
            "State": state.value, "Succeeded": succeeded, "Failed": failed,
            "ResultFiles": result_files, "Retries": retries, "Skipped": skipped})

    def abandon_segment(self, job_id: str, seg_no: int, tasks_run: int) -> None:
        self._call("POST", f"/{job_id}/segments/{seg_no}/abandon", {"TasksRun": tasks_run})

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Register a pipeline worker (JobControl.register_worker); the server keeps it to this job."""
        job_id = name.split(":", 2)[1] if name.count(":") >= 2 else ""
        return bool(self._call("POST", f"/{job_id}/workers", {"Name": name, "Owner": owner,
                                                              "TtlSeconds": ttl_s}).get("Acquired"))

    def close(self) -> None:
        self.http.clear()
