"""The runner gate asks the runner at most every few seconds, backs off while it is down, and never
asks a runner that cannot tell (DirectRunner)."""

from __future__ import annotations

import pytest

from cosbatch.controller import runner_gate
from cosbatch.controller.runner_gate import RunnerGate
from cosbatch.errors import RunnerUnavailable
from launch import RunnerConfig


@pytest.fixture()
def answers(monkeypatch):
    """The runner's answers in turn (None: available; a string: why not), and how often it was asked."""
    state = {"answers": [], "asked": 0}

    def check(config, wait=True):
        assert wait is False, "the controller's gate must never wait for a slow fetch"
        state["asked"] += 1
        answer = state["answers"].pop(0)
        if answer is not None:
            raise RunnerUnavailable(answer)

    monkeypatch.setattr(runner_gate, "check_runner_available", check)
    return state


def test_direct_runner_is_never_asked(answers):
    gate = RunnerGate(RunnerConfig("direct"))
    assert gate.unavailable() is None and gate.recheck() is None
    assert answers["asked"] == 0


def test_an_answer_is_kept_for_a_while_and_recheck_asks_at_once(answers, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(runner_gate.time, "monotonic", lambda: clock[0])
    gate = RunnerGate(RunnerConfig("flink", {"flink_master": "h:8081"}), recheck_s=2.0, max_s=8.0)
    answers["answers"] = [None, "down", "down", "down", None]
    assert gate.unavailable() is None
    assert gate.unavailable() is None and answers["asked"] == 1  # kept for 2 s
    assert gate.recheck() == "down" and answers["asked"] == 2    # asked at once
    clock[0] += 1.9
    assert gate.unavailable() == "down" and answers["asked"] == 2
    clock[0] += 0.2
    assert gate.unavailable() == "down" and answers["asked"] == 3  # then 4 s: backing off
    clock[0] += 3.9
    assert gate.unavailable() == "down" and answers["asked"] == 3
    clock[0] += 0.2
    assert gate.unavailable() == "down" and answers["asked"] == 4
    clock[0] += 8.1
    assert gate.unavailable() is None and gate.reason is None and answers["asked"] == 5
