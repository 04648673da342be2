"""`cosbatch:` job tags: the documented extension point for settings the S3 API has no field for.

Every `cosbatch:` key a job may carry is registered here, with the parser that checks its
value; a job tag with the prefix and any other key is refused (InvalidRequest naming it),
so a mistyped option never goes unnoticed. Values are checked wherever tags are set
(CreateJob, PutJobTagging, the CLI and the client all go through `cosbatch.controller.job_tags`).

| key | value | effect |
|-----|-------|--------|
| `cosbatch:max-ops-per-second` | a positive number | the job's rate limit (as `create-job --max-ops-per-second`); changed or removed with the tags, a running job follows within seconds |
| `cosbatch:failure-threshold` | a percentage, 0 < PCT ≤ 100 | the job fails once more than PCT% of its tasks run have failed (default 50%; the controller's minimum task count still applies) |
| `cosbatch:verify` | `true` or `false` | copy jobs only: compare each copy with its source (size and ETag, the storage's checksum, else a content hash); a mismatch fails the task with ChecksumMismatch (as `create-job --verify`); read when the job starts or resumes |
| `cosbatch:trial-tasks` | a whole number N ≥ 1, below the job's task count | any job: after Preparing, run N tasks spread evenly over the manifest's segments, then stop in Suspended with the trial's outcome; confirming runs only the remaining tasks (as `create-job --trial-tasks N`); fixed once the job is prepared |
| `cosbatch:skip-identical` | `true` or `false` | copy jobs only: skip a task whose target already holds an identical object (size, then MD5 ETags, else the same full-object checksum); a skip succeeds with `Skipped: identical at target (by ...)` (as `create-job --skip-identical`); read when the job starts or resumes |
| `cosbatch:undoable` | `true` or `false` | record the state each task overwrites next to the report (`job-ID/undo/`), so that an undo job can restore it (as `create-job --undoable`); tagging jobs; refused where the operation cannot be undone |
| `cosbatch:undo-of` | a job ID | CreateJob only: the new job restores what that finished undoable job recorded (as `create-job --undo JOB_ID`); its Operation, Report and RoleArn must be that job's, with no Manifest |
| `cosbatch:notify-url` | an http(s) URL the server's allowlist allows | a signed JSON POST on each of Complete, Failed, Cancelled and Suspended (cosbatch.controller.notify_policy) |

To add an option: write its parser (value → checked value, InvalidRequest if bad), register
it in OPTIONS, read it with `option_value`, and add its row to the table above and to docs/tags.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cosbatch.controller.notify_policy import check_url
from cosbatch.errors import InvalidRequest
from cosbatch.models import Tag
from cosbatch.models.job import UNDO_OF_TAG
from cosbatch.store.base import NOTIFY_URL_TAG, SKIP_IDENTICAL_TAG, TRIAL_TASKS_TAG

if TYPE_CHECKING:
    from cosbatch.settings import FailureThreshold

PREFIX = "cosbatch:"
MAX_OPS_PER_SECOND = "cosbatch:max-ops-per-second"
FAILURE_THRESHOLD = "cosbatch:failure-threshold"
VERIFY = "cosbatch:verify"
TRIAL_TASKS = TRIAL_TASKS_TAG
SKIP_IDENTICAL = SKIP_IDENTICAL_TAG
NOTIFY_URL = NOTIFY_URL_TAG
UNDOABLE = "cosbatch:undoable"
UNDO_OF = UNDO_OF_TAG


@dataclass(frozen=True)
class TagOption:
    key: str
    parse: Callable[[str], Any]  # the value → its checked form; InvalidRequest if it is not valid
    summary: str


def _rate(value: str) -> float:
    rate = check_rate(value)
    assert rate is not None
    return rate


def _percent(value: str) -> float:
    try:
        pct = float(value)
    except ValueError:
        pct = float("nan")
    if not 0 < pct <= 100:  # NaN fails too
        raise InvalidRequest(f"must be a percentage above 0 and at most 100, not {value[:40]!r}")
    return pct


def _bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise InvalidRequest(f"must be true or false, not {value[:40]!r}")
    return value.lower() == "true"


def _count(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 12 or int(value) < 1:
        raise InvalidRequest(f"must be a whole number of tasks, at least 1, not {value[:40]!r}")
    return int(value)


def _job_id(value: str) -> str:
    if not (value.isascii() and 1 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)):
        raise InvalidRequest(f"must be a job ID, not {value[:40]!r}")
    return value


OPTIONS: dict[str, TagOption] = {o.key: o for o in (
    TagOption(MAX_OPS_PER_SECOND, _rate, "the job's rate limit, object operations per second"),
    TagOption(FAILURE_THRESHOLD, _percent, "the job's failure threshold, a percentage of the tasks run"),
    TagOption(VERIFY, _bool, "copy jobs: compare each copy with its source, ChecksumMismatch if it differs"),
    TagOption(TRIAL_TASKS, _count, "run this many tasks first, then wait in Suspended for confirmation"),
    TagOption(SKIP_IDENTICAL, _bool, "copy jobs: skip objects already identical at the target"),
    TagOption(UNDOABLE, _bool, "record what each task overwrites, so that the job can be undone"),
    TagOption(UNDO_OF, _job_id, "restore what this finished undoable job overwrote"),
    TagOption(NOTIFY_URL, check_url, "the URL notified (signed JSON POST) when the job ends or is suspended"),
)}


def check(tags: Iterable[Tag]) -> None:
    """Refuse an unknown `cosbatch:` key, or a known one whose value does not parse."""
    for tag in tags:
        if not tag.key.startswith(PREFIX):
            continue
        option = OPTIONS.get(tag.key)
        if option is None:
            raise InvalidRequest(f"unknown job tag {tag.key[:128]!r}: the cosbatch: tags are "
                                 + ", ".join(sorted(OPTIONS)))
        try:
            option.parse(tag.value)
        except InvalidRequest as exc:
            message = exc.message.removeprefix("max-ops-per-second ")
            raise InvalidRequest(f"job tag {tag.key}: {message}") from None


def option_value(tags: Iterable[Tag], key: str) -> Any:
    """The checked value of the `cosbatch:` option `key` in these tags, or None."""
    for tag in tags:
        if tag.key == key:
            return OPTIONS[key].parse(tag.value)
    return None


def failure_threshold(default: FailureThreshold, tags: Iterable[Tag]) -> FailureThreshold:
    """The job's failure threshold: `default`, with the ratio its cosbatch:failure-threshold tag sets."""
    pct = option_value(tags, FAILURE_THRESHOLD)
    return default if pct is None else replace(default, ratio=pct / 100)

def check_rate(value: object) -> float | None:
    """A rate limit in object operations per second: a positive number, or None for none."""
    if value is None:
        return None
    try:
        rate = float(str(value)) if not isinstance(value, bool) else None
    except ValueError:
        rate = None
    if rate is None or not 0 < rate < 1e9 or rate != rate:
        raise InvalidRequest(f"max-ops-per-second must be a positive number, not {value!r}")
    return rate
