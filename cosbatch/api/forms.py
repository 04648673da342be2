"""HTML form bodies: application/x-www-form-urlencoded and multipart/form-data (file uploads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from cosbatch.api.http import read_body
from cosbatch.errors import InvalidRequest

MAX_FIELDS = 100


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)  # the first value of each text field
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (file name, content)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


def read_form(environ: dict[str, Any], limit: int) -> Form:
    """The submitted form; InvalidRequest for a body that is neither form encoding."""
    body = read_body(environ, limit)
    kind = environ.get("CONTENT_TYPE", "") or "application/x-www-form-urlencoded"
    if kind.startswith("multipart/form-data"):
        return _multipart(kind, body)
    if not kind.startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest(f"a form is sent as application/x-www-form-urlencoded or multipart/form-data, "
                             f"not {kind[:80]}")
    try:
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise InvalidRequest(f"a form has at most {MAX_FIELDS} fields") from None
    return Form({k: v[0] for k, v in parsed.items()})


def _multipart(kind: str, body: bytes) -> Form:
    message = BytesParser(policy=HTTP).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: " + kind.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise InvalidRequest("the multipart form has no boundary or no parts")
    form = Form()
    for n, part in enumerate(message.iter_parts()):
        if n >= MAX_FIELDS:
            raise InvalidRequest(f"a form has at most {MAX_FIELDS} fields")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            if data or filename:
                form.files.setdefault(name, (filename, data))
        else:
            form.fields.setdefault(name, data.decode("utf-8", "replace"))
    return form
