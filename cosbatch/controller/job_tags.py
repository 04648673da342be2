"""Job tags (CreateJob `Tags`, Put/Get/DeleteJobTagging): AWS's limits, checked in one place,
and the `cosbatch:` options among them (cosbatch.controller.cosbatch_tags).

At most 50 tags with distinct keys; a key is 1 to 128 characters, a value 0 to 256, both
of letters, separators, digits and `_ . : / = + - @` (botocore's TagKeyString pattern).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cosbatch.controller import cosbatch_tags
from cosbatch.errors import InvalidRequest, TooManyTags
from cosbatch.models import Tag
from cosbatch.wire.dialects import validation_message

MAX_TAGS = 50
_ALLOWED_PUNCTUATION = set("_.:/=+-@")
_TAG_LIST = TypeAdapter(list[Tag])


def _allowed(text: str) -> bool:
    return all(c in _ALLOWED_PUNCTUATION or unicodedata.category(c)[0] in "LZN" for c in text)


def parse_tags(value: Any) -> list[Tag]:
    """A tag set as the wire gives it ([{"Key": .., "Value": ..}, ...]) → checked Tags."""
    if value is None:
        return []
    try:
        tags = _TAG_LIST.validate_python(value)
    except ValidationError as exc:
        raise InvalidRequest("Tags: " + validation_message(exc)) from None
    return check_tags(tags)


def check_tags(tags: Iterable[Tag]) -> list[Tag]:
    """The tags, if they keep AWS's limits; TooManyTags / InvalidRequest naming the problem if not."""
    tags = list(tags)
    if len(tags) > MAX_TAGS:
        raise TooManyTags(f"a job has at most {MAX_TAGS} tags, not {len(tags)}")
    seen: set[str] = set()
    for tag in tags:
        if tag.key in seen:
            raise InvalidRequest(f"tag key {tag.key[:128]!r} is given more than once")
        seen.add(tag.key)
        for what, text in (("key", tag.key), ("value", tag.value)):
            if not _allowed(text):
                raise InvalidRequest(f"tag {what} {text[:256]!r} may hold only letters, digits, spaces "
                                     "and _ . : / = + - @")
    cosbatch_tags.check(tags)
    return tags


def tag_value(tags: Iterable[Tag], key: str) -> str | None:
    return next((t.value for t in tags if t.key == key), None)


def wire(tags: Iterable[Tag]) -> list[dict[str, str]]:
    return [t.wire() for t in tags]
