"""The job lifecycle: statuses and allowed transitions, in exactly one place.

Source: the seed's status table (shared/seed/README.md). Every status write in
cosbatch goes through `check_transition`; nothing else hard-codes an arrow.
"""

from __future__ import annotations

from enum import StrEnum

from cosbatch.errors import IllegalTransition, InvalidRequest


class JobStatus(StrEnum):
    NEW = "New"
    PREPARING = "Preparing"
    SUSPENDED = "Suspended"
    READY = "Ready"
    ACTIVE = "Active"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    COMPLETING = "Completing"
    COMPLETE = "Complete"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    FAILING = "Failing"
    FAILED = "Failed"


S = JobStatus

#: Every arrow of the seed's table. Cancel is accepted from every non-terminal
#: status and always passes through Cancelling, where running work is stopped.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.NEW: frozenset({S.PREPARING, S.CANCELLING}),
    # Preparing → Preparing: still waiting for its storage, with a new StatusUpdateReason.
    S.PREPARING: frozenset({S.PREPARING, S.READY, S.SUSPENDED, S.FAILED, S.CANCELLING}),
    S.SUSPENDED: frozenset({S.READY, S.CANCELLING}),
    S.READY: frozenset({S.ACTIVE, S.CANCELLING}),
    # Active → Suspended: a trial run (cosbatch:trial-tasks) ran its tasks; the rest waits for confirmation.
    S.ACTIVE: frozenset({S.COMPLETING, S.FAILING, S.PAUSING, S.CANCELLING, S.SUSPENDED}),
    S.PAUSING: frozenset({S.PAUSED, S.CANCELLING, S.FAILING}),
    S.PAUSED: frozenset({S.ACTIVE, S.CANCELLING}),
    S.COMPLETING: frozenset({S.COMPLETE, S.FAILED, S.CANCELLING}),
    S.CANCELLING: frozenset({S.CANCELLED}),
    S.FAILING: frozenset({S.FAILED, S.CANCELLING}),
    S.COMPLETE: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}

TERMINAL: frozenset[JobStatus] = frozenset({S.COMPLETE, S.CANCELLED, S.FAILED})

#: Statuses in which object operations may be running (the active-time clock runs).
RUNNING: frozenset[JobStatus] = frozenset({S.ACTIVE, S.PAUSING, S.CANCELLING, S.FAILING})

#: Statuses that drain running work and then settle in a fixed next status.
DRAINING: dict[JobStatus, JobStatus] = {
    S.PAUSING: S.PAUSED,
    S.CANCELLING: S.CANCELLED,
    S.FAILING: S.FAILED,
}

#: Statuses a user may ask for with UpdateJobStatus.
USER_REQUESTABLE: frozenset[JobStatus] = frozenset({S.READY, S.CANCELLED})


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: JobStatus, target: JobStatus) -> None:
    """Raise IllegalTransition unless current → target is an arrow of the table."""
    if not can_transition(current, target):
        raise IllegalTransition(
            f"job status cannot change from {current.value} to {target.value}"
        )


def parse_status(value: str) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise InvalidRequest(f"unknown job status {value!r}; expected one of {allowed}") from None


def user_request_target(current: JobStatus, requested: JobStatus) -> JobStatus | None:
    """The status a user's UpdateJobStatus request moves the job to.

    Returns None when the job is already where the request leads (a repeated
    cancel of a Cancelling job). Raises IllegalTransition when the request is not
    allowed from the current status, InvalidRequest for a status users may not ask for.
    """
    if requested not in USER_REQUESTABLE:
        raise InvalidRequest(
            f"requested job status must be Ready or Cancelled, not {requested.value}"
        )
    if requested is S.READY:
        if current is not S.SUSPENDED:
            hint = ""
            if current in (S.NEW, S.PREPARING):  # not prepared yet: nothing runs a job before its controller does
                hint = (" (not prepared yet: a running controller, `cosbatch run` or `cosbatch serve`, prepares "
                        "it, and a job created with confirmation required then waits in Suspended)")
            raise IllegalTransition(
                f"only a Suspended job can be confirmed (set to Ready); this job is {current.value}{hint}"
            )
        return S.READY
    if current is S.CANCELLING:
        return None
    if current in TERMINAL:
        raise IllegalTransition(f"job is {current.value}, a final status; it cannot be cancelled")
    return S.CANCELLING
