"""The lifecycle table: every arrow of the seed is allowed, every other one refused."""

import itertools

import pytest

from cosbatch.errors import IllegalTransition, InvalidRequest
from cosbatch.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    can_transition,
    check_transition,
    parse_status,
    user_request_target,
)

S = JobStatus

# The seed's table, written out independently of lifecycle.py so a change there is caught.
SEED_ARROWS = {
    (S.NEW, S.PREPARING),
    (S.PREPARING, S.READY),
    (S.PREPARING, S.SUSPENDED),
    (S.PREPARING, S.FAILED),  # the manifest cannot be parsed
    (S.SUSPENDED, S.READY),
    (S.READY, S.ACTIVE),
    (S.ACTIVE, S.COMPLETING),
    (S.ACTIVE, S.FAILING),
    (S.ACTIVE, S.PAUSING),
    (S.ACTIVE, S.CANCELLING),
    (S.PAUSING, S.PAUSED),
    (S.PAUSED, S.ACTIVE),
    (S.COMPLETING, S.COMPLETE),
    (S.COMPLETING, S.FAILED),  # the report could not be written
    (S.CANCELLING, S.CANCELLED),
    (S.FAILING, S.FAILED),
}
# Cancel is accepted from every non-terminal status, through Cancelling.
CANCEL_ARROWS = {(s, S.CANCELLING) for s in S if s not in TERMINAL and s is not S.CANCELLING}
# A job being paused may still fail (threshold) while its last tasks finish.
# A job waiting in Preparing for its storage updates its StatusUpdateReason.
# A trial run (cosbatch:trial-tasks) stops in Suspended once its tasks have run.
EXTRA_ARROWS = {(S.PAUSING, S.FAILING), (S.PREPARING, S.PREPARING), (S.ACTIVE, S.SUSPENDED)}
ALLOWED = SEED_ARROWS | CANCEL_ARROWS | EXTRA_ARROWS


def test_thirteen_statuses():
    assert len(JobStatus) == 13
    assert {s.value for s in JobStatus} == {
        "New", "Preparing", "Suspended", "Ready", "Active", "Pausing", "Paused", "Completing",
        "Complete", "Cancelling", "Cancelled", "Failing", "Failed",
    }


@pytest.mark.parametrize(("a", "b"), sorted(ALLOWED))
def test_every_allowed_arrow(a, b):
    assert can_transition(a, b)
    check_transition(a, b)


@pytest.mark.parametrize(
    ("a", "b"), [p for p in itertools.product(JobStatus, repeat=2) if p not in ALLOWED]
)
def test_every_other_arrow_is_refused(a, b):
    assert not can_transition(a, b)
    with pytest.raises(IllegalTransition) as err:
        check_transition(a, b)
    assert err.value.code == "JobStatusException"
    assert a.value in err.value.message and b.value in err.value.message


def test_table_has_exactly_the_allowed_arrows():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


def test_terminal_is_final():
    for s in TERMINAL:
        assert not TRANSITIONS[s]


def test_user_requests():
    assert user_request_target(S.SUSPENDED, S.READY) is S.READY
    for s in JobStatus:
        if s in TERMINAL:
            with pytest.raises(IllegalTransition):
                user_request_target(s, S.CANCELLED)
        elif s is S.CANCELLING:
            assert user_request_target(s, S.CANCELLED) is None
        else:
            assert user_request_target(s, S.CANCELLED) is S.CANCELLING
        if s is not S.SUSPENDED:
            with pytest.raises(IllegalTransition):
                user_request_target(s, S.READY)
    with pytest.raises(InvalidRequest):
        user_request_target(S.ACTIVE, S.PAUSED)


def test_confirming_a_job_not_yet_prepared_says_what_prepares_it():
    with pytest.raises(IllegalTransition, match=r"this job is New \(not prepared yet: .*`cosbatch run`"):
        user_request_target(S.NEW, S.READY)
    with pytest.raises(IllegalTransition) as active:
        user_request_target(S.ACTIVE, S.READY)
    assert "not prepared" not in str(active.value)


def test_parse_status_rejects_unknown():
    assert parse_status("Active") is S.ACTIVE
    with pytest.raises(InvalidRequest, match="unknown job status 'Running'"):
        parse_status("Running")
