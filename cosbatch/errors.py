"""Typed errors. Each carries the error code and HTTP status the API returns for it.

Only the API/CLI layers format errors; everything else raises these.
"""

from __future__ import annotations


class CosbatchError(Exception):
    """Base of every error cosbatch reports to a user."""

    code: str = "InternalError"
    http_status: int = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequest(CosbatchError):
    """A request whose values are out of range or inconsistent (HTTP 400)."""

    code = "InvalidRequest"
    http_status = 400


class UnsupportedField(InvalidRequest):
    """A field of the API shape that cosbatch does not implement, or a value of it that it does
    not (HTTP 400 InvalidRequest; the CLI exits 2): refused, never accepted and ignored."""


class MalformedRequest(CosbatchError):
    """A request body or argument that cannot be parsed at all (HTTP 400)."""

    code = "MalformedXML"
    http_status = 400


class JobNotFound(CosbatchError):
    code = "NoSuchJob"
    http_status = 404


class IllegalTransition(CosbatchError):
    """A status change the lifecycle table does not allow from the current status."""

    code = "JobStatusException"
    http_status = 409


class IdempotencyConflict(CosbatchError):
    """The same ClientRequestToken was used before with a different request."""

    code = "IdempotencyException"
    http_status = 409


class StoreUnavailable(CosbatchError):
    """The metadata store cannot be reached or written (disk full, locked, gone)."""

    code = "ServiceUnavailable"
    http_status = 503


class ManifestError(CosbatchError):
    """The manifest cannot be read or parsed; ends the job Failed in Preparing."""

    code = "ManifestParseError"
    http_status = 400


class ReportError(CosbatchError):
    """The completion report could not be written."""

    code = "ReportWriteError"
    http_status = 500


class ConfigError(CosbatchError):
    """Bad local configuration (store URL, endpoint, runner options)."""

    code = "InvalidConfiguration"
    http_status = 400


class TooManyTags(InvalidRequest):
    """More job tags than AWS allows (50); S3 Control answers TooManyTagsException."""

    code = "TooManyTags"
