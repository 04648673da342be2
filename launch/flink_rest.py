"""Flink's REST API, as cosbatch uses it: a job's Flink jobs, and cancelling those a lost
submission left running.

A controller that dies (or loses Beam's job server) mid-job leaves the job's Flink job running:
Flink does not know its submitter went away. The next submission of that cosbatch job would run
beside it, the two sharing the pending segments. So before a job is submitted, the Flink jobs it
left are cancelled, and waited for.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from cosbatch import logs

#: Flink job states that are over (everything else may still run tasks).
ENDED = frozenset({"FINISHED", "CANCELED", "FAILED"})


def rest_url(flink_master: str) -> str | None:
    """http://host:port of a flink_master option (None for [local] / [auto])."""
    master = flink_master.strip()
    if master in ("[local]", "[auto]"):
        return None
    return (master if master.startswith(("http://", "https://")) else f"http://{master}").rstrip("/")


def call(url: str, method: str = "GET", timeout: float = 5.0) -> Any:
    """The JSON Flink answers `url` with (None for an empty body); URLError, HTTPException,
    OSError or ValueError when it does not answer, or not in JSON."""
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        body = reply.read()
    return json.loads(body) if body else None


def flink_job_name(job_id: str) -> str:
    """The name cosbatch submits a job's pipeline under (Beam may add a suffix)."""
    return f"cosbatch-{job_id}".lower()


def running_jobs_of(url: str, job_id: str) -> list[dict]:
    """The Flink jobs of cosbatch job `job_id` that have not ended."""
    jobs = (call(f"{url}/jobs/overview") or {}).get("jobs", [])
    return [j for j in jobs if str(j.get("name", "")).startswith(flink_job_name(job_id)) and j.get("state") not in ENDED]


def cancel_leftovers(flink_master: str, job_id: str, wait_s: float = 60.0) -> list[str]:
    """Cancel the Flink jobs a lost submission of `job_id` left running, and wait (up to
    `wait_s`) until they have ended; the Flink job ids cancelled. A Flink that does not answer
    here is left to the submission to report."""
    url = rest_url(flink_master)
    if url is None:
        return []
    try:
        leftovers = running_jobs_of(url, job_id)
        for flink_job in leftovers:
            call(f"{url}/jobs/{flink_job['jid']}?mode=cancel", method="PATCH")
        deadline = time.monotonic() + wait_s
        while leftovers and running_jobs_of(url, job_id) and time.monotonic() < deadline:
            time.sleep(0.5)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logs.event("flink_leftover_check_failed", job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return []
    cancelled = [str(j["jid"]) for j in leftovers]
    if cancelled:
        logs.event("flink_leftover_cancelled", job_id=job_id, flink_jobs=",".join(cancelled))
    return cancelled
