"""HTTP plumbing shared by the API and the console: responses, bodies, headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cosbatch.errors import CosbatchError, InvalidRequest

MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(CosbatchError, code="EntityTooLarge", http_status=413):
    """A request body over MAX_BODY_BYTES."""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/xml"
    headers: tuple[tuple[str, str], ...] = ()


REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
            500: "Internal Server Error", 503: "Service Unavailable"}


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, refusing anything over `limit` bytes (declared or actual)."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise BodyTooLarge(f"the request body is over the {limit:,}-byte limit")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    body = stream.read(int(declared)) if declared else stream.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge(f"the request body is over the {limit:,}-byte limit")
    return body


def request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for k in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(k):
            headers[k.replace("_", "-").lower()] = environ[k]
    return headers
