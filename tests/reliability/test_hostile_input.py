"""Hostile input: every case is a clear, typed error or a safe result, and nothing is written
outside the report prefix; the secret key never reaches logs, the store or reports.

The manifests run as real jobs, through a controller process logging at -vv (Beam's
logs included), against SeaweedFS.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from urllib.parse import quote_plus

import pytest

from cosbatch.controller import JobService
from cosbatch.errors import CosbatchError, InvalidRequest, JobNotFound, MalformedRequest
from cosbatch.lifecycle import JobStatus as S
from cosbatch.manifests.csv_manifest import FORMULA_START, unescape_cell
from cosbatch.wire.dialects import parse_create_job
from tests.conftest import put_objects
from tests.integration.helpers import copy_request, read_report

pytestmark = pytest.mark.reliability

INJECTIONS = ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|'/C calc'!A0",
              "\t=1+1", "'=quoted"]


def _manifests(src: str) -> dict[str, bytes]:
    ok = [f"{src},{quote_plus('fine/1')}"]
    return {
        "huge-line.csv": f"{src},fine/1\n{src},{'a' * 200_000}\n".encode(),
        "binary.csv": bytes(range(256)) * 64,
        "utf16.csv": f"{src},fine/1\n".encode("utf-16"),
        "latin1-key.csv": f"{src},caf".encode() + b"\xe9\n",
        "bad-escape.csv": f"{src},100%zz\n".encode(),
        "nul.csv": f"{src},a\x00b\n".encode(),
        "too-many-columns.csv": f"{src},a,b,c,d\n".encode(),
        "injection.csv": "\n".join(  # Fields Bucket, Key, VersionId
            [f"{line}," for line in ok]
            + [f"{src},fine/1,{v}" for v in INJECTIONS]
            + [f"{src},{quote_plus(v, safe='/')}," for v in INJECTIONS]
            + [f"{src},{v}," for v in INJECTIONS if "%" not in v]  # raw, not URL-encoded
        ).encode() + b"\n",
        "traversal.csv": "\n".join(
            f"{src},{quote_plus(k, safe='/')}" for k in ("../../escape", "a/../../../b", "./x/../y", "fine/1")
        ).encode() + b"\n",
    }


PARSE_FAILS = {"huge-line.csv": "line 2", "binary.csv": "line 1", "utf16.csv": "line 1",
               "latin1-key.csv": "UTF-8", "bad-escape.csv": "URL-encoding", "too-many-columns.csv": "columns"}


def test_hostile_manifests_and_secrets(s3, s3_server, make_bucket, store, tmp_path):
    secret = s3_server.secret_key
    assert secret and len(secret) >= 8
    src, dst, rep = make_bucket("src"), make_bucket("dst"), make_bucket("rep")
    put_objects(s3, src, ["fine/1"])
    service = JobService(store)
    jobs = {}
    for name, body in _manifests(src).items():
        s3.put_object(Bucket=src, Key=name, Body=body)
        body = copy_request(src, name, dst, rep, token=name)
        if name == "injection.csv":
            body["Manifest"]["Spec"]["Fields"] = ["Bucket", "Key", "VersionId"]
        jobs[name] = service.create_job(parse_create_job(body))
    log_path = tmp_path / "controller.log"
    with open(log_path, "wb") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "cosbatch.cli.main", "--store", store.url, "--endpoint-url",
             s3_server.endpoint_url, "-vv", "run", "--no-progress", "--timeout", "120"],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), timeout=180,
        )
    assert proc.returncode == 4, log_path.read_text()[-3000:]  # jobs Failed: `run` says so by its exit code

    for name, where in PARSE_FAILS.items():
        job = service.describe_job(jobs[name].job_id)
        assert job.status is S.FAILED, name
        assert [f.failure_code for f in job.failure_reasons] == ["InvalidManifest"], name
        assert where in job.failure_reasons[0].failure_reason, (name, job.failure_reasons[0].failure_reason)
        assert len(job.failure_reasons[0].failure_reason) < 1100  # the 200 KB line is not echoed back
    nul = service.describe_job(jobs["nul.csv"].job_id)  # a NUL in a key is the storage's to refuse
    assert nul.status is S.COMPLETE and nul.progress_summary.number_of_tasks_failed == 1

    injected = service.describe_job(jobs["injection.csv"].job_id)
    assert injected.status is S.COMPLETE, injected.failure_reasons
    _, rows, _ = read_report(s3, rep, injected)
    # As the manifest gave them (cells are trimmed; a leading ' is the report's own escape).
    assert sorted(r["VersionId"] for r in rows if r["VersionId"]) == sorted(unescape_cell(v.strip()) for v in INJECTIONS)
    assert len(rows) == 1 + 3 * len(INJECTIONS)
    assert {r["Key"] for r in rows} >= set(INJECTIONS)
    manifest_doc, _, _ = read_report(s3, rep, injected)
    for f in manifest_doc["Results"]:
        text = s3.get_object(Bucket=f["Bucket"], Key=f["Key"])["Body"].read().decode()
        for cells in csv.reader(text.splitlines()):
            assert len(cells) == 7
            for i, cell in enumerate(cells):
                if i == 1:  # Key: URL-encoded, nothing a formula needs survives
                    assert not cell.startswith(("=", "@")) and not set(cell) & set("|!()=\"'@")
                else:
                    assert not cell.startswith(FORMULA_START), cells

    traversal = service.describe_job(jobs["traversal.csv"].job_id)
    assert traversal.status is S.COMPLETE
    _, rows, _ = read_report(s3, rep, traversal)
    assert len(rows) == 4
    written = [o["Key"] for pg in s3.get_paginator("list_objects_v2").paginate(Bucket=dst) for o in pg.get("Contents", [])]
    assert set(written) <= {"fine/1", "y", "x/../y"}, written  # nothing climbed out of the target
    assert all(".." not in k.split("/") for k in written) or written == ["x/../y"]

    # Nothing outside <prefix>/job-<id>/ in the report bucket.
    report_keys = [o["Key"] for pg in s3.get_paginator("list_objects_v2").paginate(Bucket=rep)
                   for o in pg.get("Contents", [])]
    job_dirs = {f"reports/job-{j.job_id}/" for j in jobs.values()}
    assert report_keys and all(any(k.startswith(d) for d in job_dirs) for k in report_keys), report_keys

    # The secret key is nowhere: logs, the store's files, any report object.
    assert secret not in log_path.read_text(errors="replace")
    for path in store.path.parent.glob(store.path.name + "*"):
        assert secret.encode() not in path.read_bytes(), path
    for key in report_keys:
        assert secret.encode() not in s3.get_object(Bucket=rep, Key=key)["Body"].read(), key


@pytest.mark.parametrize("prefix", ["../escape", "a/../../b", "/abs", "..", "x/.."])
def test_report_prefix_cannot_escape(prefix):
    body = copy_request("src-bucket", "m.csv", "dst-bucket", "rep-bucket")
    body["Report"]["Prefix"] = prefix
    with pytest.raises((InvalidRequest, MalformedRequest)) as raised:
        parse_create_job(body)
    assert raised.value.http_status == 400


@pytest.mark.parametrize("job_id", [
    "../../etc/passwd", "'; DROP TABLE jobs; --", "", "x" * 10_000, "\x00abc", "%", "job\ud800", "a b",
    None, 123, ["list"], "id\n2",
])
def test_job_ids_that_are_not_ids(store, job_id):
    service = JobService(store)
    for call in (lambda: service.describe_job(job_id), lambda: service.update_job_priority(job_id, 5),
                 lambda: service.update_job_status(job_id, "Cancelled"), lambda: service.history(job_id),
                 lambda: service.create_job_from_report(job_id, None)):
        with pytest.raises(InvalidRequest) as raised:
            call()
        assert raised.value.code == "InvalidRequest" and len(raised.value.message) < 200


def test_well_formed_unknown_job_id_is_no_such_job(store):
    service = JobService(store)
    for call in (lambda: service.describe_job("0" * 36), lambda: service.history("abc-def_1")):
        with pytest.raises(JobNotFound) as raised:
            call()
        assert isinstance(raised.value, CosbatchError) and raised.value.code == "NoSuchJob"
