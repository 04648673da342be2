"""Structure arguments as the aws CLI takes them: JSON, `file://path`, or shorthand.

Shorthand is `Key=Value,Key=Value`, nested with `{...}` and lists with `[a,b]`, e.g.
`--report Bucket=arn:aws:s3:::rep,Format=Report_CSV_20180820,Enabled=true,ReportScope=AllTasks`
or `--operation S3PutObjectCopy={TargetResource=arn:aws:s3:::dst}`; `true`/`false` are booleans,
other values strings (the request's models convert numbers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cosbatch.errors import InvalidRequest, MalformedRequest


def _error(name: str, what: str) -> InvalidRequest:
    return InvalidRequest(f"--{name}: {what} (shorthand is Key=Value,Key={{Key=Value}},Key=[a,b]; or give JSON)")


class _Shorthand:
    def __init__(self, text: str, name: str) -> None:
        self.text, self.name, self.pos = text, name, 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def structure(self, end: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            eq = self.text.find("=", self.pos)
            if eq < 0:
                raise _error(self.name, f"expected Key=Value at {self.text[self.pos:][:60]!r}")
            key = self.text[self.pos:eq].strip()
            if not key or any(c in key for c in ",{}[]"):
                raise _error(self.name, f"bad key {key[:60]!r}")
            if key in out:
                raise _error(self.name, f"{key!r} is given twice")
            self.pos = eq + 1
            out[key] = self.value(",}" if end == "}" else ",")
            c = self.peek()
            if c == ",":
                self.pos += 1
                continue
            if c == end:
                return out
            raise _error(self.name, f"unexpected {c!r} at character {self.pos + 1}" if c else "a '}' is missing")

    def value(self, stops: str) -> Any:
        c = self.peek()
        if c == "{":
            self.pos += 1
            inner = self.structure("}")
            self.pos += 1  # the closing brace
            return inner
        if c == "[":
            self.pos += 1
            items: list[Any] = []
            while self.peek() not in ("]", ""):
                items.append(self.value(",]"))
                if self.peek() == ",":
                    self.pos += 1
            if self.peek() != "]":
                raise _error(self.name, "a list is missing its ']'")
            self.pos += 1
            return items
        start = self.pos
        while self.peek() and self.peek() not in stops + "]}":
            self.pos += 1
        scalar = self.text[start:self.pos].strip()
        return {"true": True, "false": False}.get(scalar, scalar)


def parse_shorthand(text: str, name: str) -> dict[str, Any]:
    """`Key=Value,...` (nested with {...}, lists [...]) → a dict."""
    parser = _Shorthand(text.strip(), name)
    result = parser.structure("")
    if parser.pos != len(parser.text):
        raise _error(name, f"unexpected {parser.text[parser.pos:][:60]!r} after the shorthand")
    return result


def json_arg(value: str, name: str) -> Any:
    """A JSON argument: inline JSON or file://path."""
    text = value
    if value.startswith("file://"):
        try:
            text = Path(value[7:]).read_text()
        except OSError as exc:
            raise InvalidRequest(f"--{name}: cannot read {value[7:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedRequest(f"--{name} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                               code="MalformedJSON") from None


def structure_arg(value: str, name: str) -> Any:
    """A structure argument: inline JSON, file://path (JSON), or aws CLI shorthand (text that
    does not start as JSON does and has a `=`)."""
    stripped = value.lstrip()
    if value.startswith("file://") or stripped[:1] in ("{", "[", '"') or "=" not in stripped:
        return json_arg(value, name)
    return parse_shorthand(value, name)
