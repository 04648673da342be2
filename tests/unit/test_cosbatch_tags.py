"""The `cosbatch:` job tags: the registry refuses unknown keys and bad values, and sets each option."""

from __future__ import annotations

import pytest

from cosbatch.controller.cosbatch_tags import OPTIONS, failure_threshold
from cosbatch.controller.job_tags import parse_tags
from cosbatch.errors import InvalidRequest, TooManyTags
from cosbatch.settings import FailureThreshold


def tag(key: str, value: str) -> dict:
    return {"Key": key, "Value": value}


def test_known_options_parse_and_unknown_ones_are_refused_by_name():
    assert set(OPTIONS) == {"cosbatch:max-ops-per-second", "cosbatch:failure-threshold", "cosbatch:verify",
                            "cosbatch:notify-url", "cosbatch:trial-tasks", "cosbatch:skip-identical",
                            "cosbatch:undoable", "cosbatch:undo-of"}
    parse_tags([tag("cosbatch:max-ops-per-second", "12.5"), tag("cosbatch:failure-threshold", "100"),
                tag("cosbatch:verify", "True")])
    parse_tags([tag("cosbatchx", "y"), tag("Cosbatch:other", "z")])  # not the prefix: ordinary tags
    with pytest.raises(InvalidRequest, match="unknown job tag 'cosbatch:verfy'.*cosbatch:failure-threshold"):
        parse_tags([tag("cosbatch:verfy", "true")])


@pytest.mark.parametrize(("key", "value", "words"), [
    ("cosbatch:max-ops-per-second", "fast", "must be a positive number"),
    ("cosbatch:max-ops-per-second", "0", "must be a positive number"),
    ("cosbatch:max-ops-per-second", "", "must be a positive number"),
    ("cosbatch:failure-threshold", "0", "at most 100"),
    ("cosbatch:failure-threshold", "100.5", "at most 100"),
    ("cosbatch:failure-threshold", "half", "at most 100"),
    ("cosbatch:failure-threshold", "NaN", "at most 100"),
    ("cosbatch:verify", "yes", "must be true or false"),
    ("cosbatch:undoable", "1", "must be true or false"),
    ("cosbatch:undo-of", "../job", "must be a job ID"),
    ("cosbatch:trial-tasks", "0", "must be a whole number of tasks, at least 1"),
    ("cosbatch:trial-tasks", "1e3", "must be a whole number of tasks, at least 1"),
    ("cosbatch:notify-url", "127.0.0.1:8999/hooks", "must be an http:// or https:// URL"),
    ("cosbatch:notify-url", "http://user@hooks.example.com/", "no user info"),
])
def test_bad_values_are_refused_naming_the_tag(key, value, words):
    with pytest.raises(InvalidRequest, match=f"job tag {key}: .*{words}"):
        parse_tags([tag(key, value)])


def test_failure_threshold_from_the_tag():
    default = FailureThreshold(min_tasks=10, ratio=0.5)
    assert failure_threshold(default, parse_tags([])) is default
    job = failure_threshold(default, parse_tags([tag("cosbatch:failure-threshold", "20")]))
    assert job == FailureThreshold(min_tasks=10, ratio=0.2)
    assert job.exceeded(100, 75, 25) and not default.exceeded(100, 75, 25)


def test_aws_limits():
    parse_tags([tag(f"k{i}", "") for i in range(50)])
    with pytest.raises(TooManyTags, match="at most 50 tags, not 51"):
        parse_tags([tag(f"k{i}", "") for i in range(51)])
    with pytest.raises(InvalidRequest, match="more than once"):
        parse_tags([tag("a", "1"), tag("a", "2")])
    with pytest.raises(InvalidRequest, match="Key"):
        parse_tags([tag("k" * 129, "")])
    parse_tags([tag("ключ é 9_.:/=+-@", "値")])  # letters of any script, spaces, digits, the punctuation
