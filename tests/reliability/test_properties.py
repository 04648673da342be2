"""Property-based tests (hypothesis).

* A state machine drives JobService (create, cancel, confirm, priority) and scheduler-like
  status writes (any target from any status) against a real SQLite store: no sequence of
  requests produces a history that is not a chain of the lifecycle table's arrows, an
  illegal request changes nothing, and a final status is final.
* Manifest lines round-trip arbitrary keys and version IDs; report rows round-trip
  arbitrary results, and no report cell can start a spreadsheet formula.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from cosbatch.controller import JobService
from cosbatch.errors import IllegalTransition, InvalidRequest
from cosbatch.lifecycle import TERMINAL, TRANSITIONS, JobStatus
from cosbatch.manifests import CsvLayout
from cosbatch.manifests.csv_manifest import iter_lines, parse_csv_line, scan_csv
from cosbatch.operations import TaskResult
from cosbatch.reports.layout import format_csv_row, one_line, parse_csv_row
from cosbatch.store.sqlite import SqliteJobStore
from cosbatch.wire.dialects import parse_create_job
from tests.integration.helpers import copy_request
from tests.reliability.checks import assert_legal_history

pytestmark = pytest.mark.reliability

S = JobStatus
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class LifecycleMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="cosbatch-prop-"))
        self.store = SqliteJobStore(self.dir / "cosbatch.db")
        self.service = JobService(self.store)
        self.model: dict[str, JobStatus] = {}
        self.finals: dict[str, int] = {}  # job → history length when it reached a final status

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(target=jobs, confirm=st.booleans(), priority=st.integers(0, 2**31 - 1))
    def create(self, confirm: bool, priority: int) -> str:
        body = copy_request("src-bucket", "m.csv", "dst-bucket", None, token=uuid.uuid4().hex,
                            priority=priority, ConfirmationRequired=confirm)
        job = self.service.create_job(parse_create_job(body))
        self.model[job.job_id] = S.NEW
        return job.job_id

    @rule(job=jobs, reason=st.none() | st.text(max_size=300))
    def user_cancel(self, job: str, reason: str | None) -> None:
        before = self.model[job]
        try:
            done = self.service.update_job_status(job, "Cancelled", reason)
        except InvalidRequest:
            assert reason is not None and len(reason) > 256
            return
        except IllegalTransition:
            assert before in TERMINAL
            return
        assert before not in TERMINAL
        assert done.status is S.CANCELLING
        self.model[job] = S.CANCELLING

    @rule(job=jobs)
    def user_confirm(self, job: str) -> None:
        before = self.model[job]
        try:
            done = self.service.update_job_status(job, "Ready")
        except IllegalTransition:
            assert before is not S.SUSPENDED
            return
        assert before is S.SUSPENDED and done.status is S.READY
        self.model[job] = S.READY

    @rule(job=jobs, requested=st.sampled_from([s.value for s in S if s not in (S.READY, S.CANCELLED)]))
    def user_requests_other_status(self, job: str, requested: str) -> None:
        with pytest.raises(InvalidRequest):
            self.service.update_job_status(job, requested)

    @rule(job=jobs, priority=st.integers(-5, 2**31 + 5))
    def user_priority(self, job: str, priority: int) -> None:
        try:
            done = self.service.update_job_priority(job, priority)
        except InvalidRequest:
            assert not 0 <= priority <= 2**31 - 1
            return
        assert done.priority == priority and done.status is self.model[job]

    @rule(job=jobs, to=st.sampled_from(list(S)))
    def system_moves(self, job: str, to: JobStatus) -> None:
        """What the scheduler does: compare-and-set from the status it saw to any status."""
        current = self.model[job]
        try:
            moved = self.store.transition(job, current, to, total_tasks=1)
        except IllegalTransition:
            assert to not in TRANSITIONS[current]
            return
        assert moved and to in TRANSITIONS[current]
        self.model[job] = to

    @rule(job=jobs, seen=st.sampled_from(list(S)), to=st.sampled_from(list(S)))
    def stale_system_move(self, job: str, seen: JobStatus, to: JobStatus) -> None:
        """A second controller with an out-of-date view: writes nothing unless its view is current."""
        assume(seen is not self.model[job])
        try:
            moved = self.store.transition(job, seen, to)
        except IllegalTransition:
            return
        assert moved is False

    @precondition(lambda self: self.model)
    @invariant()
    def histories_are_legal(self) -> None:
        for job, status in self.model.items():
            history = self.store.history(job)
            assert_legal_history(history)
            assert history[-1].to_status is status is self.store.get_status(job)
            if status in TERMINAL:
                length = self.finals.setdefault(job, len(history))
                assert len(history) == length  # nothing after a final status


TestLifecycleMachine = LifecycleMachine.TestCase
TestLifecycleMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])

# -- manifests -----------------------------------------------------------------------------

keys = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=300).filter(
    lambda k: len(quote_plus(k, safe="/").encode()) < 60_000)
version_ids = st.none() | st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters=",\"'"),
    min_size=1, max_size=80).filter(lambda v: v == v.strip())
buckets = st.from_regex(r"\A[a-z0-9][a-z0-9.-]{2,40}\Z")


@settings(max_examples=400, deadline=None)
@given(bucket=buckets, key=keys, version=version_ids)
def test_manifest_line_round_trips(bucket: str, key: str, version: str | None) -> None:
    line = f"{bucket},{quote_plus(key, safe='/')}" + (f",{version}" if version is not None else "")
    task = parse_csv_line(line.encode(), CsvLayout(), 1)
    assert task is not None
    assert (task.bucket, task.key, task.version_id) == (bucket, key, version)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(buckets, keys), min_size=1, max_size=40), segment_size=st.integers(1, 7),
       chunk=st.integers(1, 97), blank_every=st.integers(0, 5))
def test_manifest_segments_cover_every_line_once(rows, segment_size, chunk, blank_every) -> None:
    lines = []
    for i, (b, k) in enumerate(rows):
        if blank_every and i % blank_every == 0:
            lines.append("\r\n")
        lines.append(f"{b},{quote_plus(k, safe='/')}\n")
    data = "".join(lines).encode()
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    total, segments = scan_csv(chunks, CsvLayout(), segment_size)
    assert total == len(rows)
    back = []
    for seg in segments:
        for _, _, raw in iter_lines([data[seg.start:seg.end]]):
            task = parse_csv_line(raw, CsvLayout(), seg.first_line)
            if task is not None:
                back.append((task.bucket, task.key))
    assert back == list(rows)  # every task exactly once, in order, across segments


# -- reports --------------------------------------------------------------------------------

free_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
results = st.builds(
    TaskResult,
    bucket=buckets,
    key=keys,
    version_id=st.none() | st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60),
    succeeded=st.booleans(),
    http_status=st.none() | st.integers(100, 599),
    error_code=free_text,
    message=free_text,
    failure_kind=st.sampled_from(["", "PermanentFailure", "TemporaryFailure"]),
)


@settings(max_examples=200, deadline=None)
@given(result=results)
def test_report_row_round_trips_and_is_formula_safe(result: TaskResult) -> None:
    line = format_csv_row(result)
    assert line.endswith("\n") and len(line.splitlines()) == 1  # one physical line, whatever the text
    cells = next(csv.reader([line]))
    assert len(cells) == 7
    for name, cell in zip(("Bucket", "Key", "VersionId", "TaskStatus", "ErrorCode", "HTTPStatusCode",
                           "ResultMessage"), cells, strict=True):
        if name == "Key":  # URL-encoded: nothing a formula needs ( ( | ! = " ) survives
            assert set(cell) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~/%+-")
            assert not cell.startswith(("=", "@"))
        else:
            assert not cell.startswith(FORMULA_START), (name, cell)
    row = parse_csv_row(line.rstrip("\n"))
    message = result.message if result.succeeded or not result.failure_kind else \
        f"{result.failure_kind}: {result.message}"
    assert row["Bucket"] == result.bucket
    assert row["Key"] == result.key
    assert row["VersionId"] == one_line(result.version_id or "")
    assert row["TaskStatus"] == result.status
    assert row["ErrorCode"] == one_line(result.error_code)
    assert row["HTTPStatusCode"] == ("" if result.http_status is None else str(result.http_status))
    assert row["ResultMessage"] == one_line(message)
