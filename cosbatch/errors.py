"""Typed errors. Each carries the error code and HTTP status the API returns for it.

Only the API/CLI layers format errors; everything else raises these.
"""

from __future__ import annotations


class CosbatchError(Exception):
    """Base of every error cosbatch reports to a user."""

    code: str = "InternalError"
    http_status: int = 500
    #: True where the same call can only fail the same way again (a bad configuration or request):
    #: the scheduler fails a job on it at once instead of retrying its pipeline.
    permanent: bool = False

    def __init_subclass__(cls, code: str | None = None, http_status: int | None = None,
                          permanent: bool | None = None) -> None:
        """`class X(CosbatchError, code="...", http_status=..., permanent=...)` sets the kind's code,
        status and whether retrying can help."""
        super().__init_subclass__()
        if code is not None:
            cls.code = code
        if http_status is not None:
            cls.http_status = http_status
        if permanent is not None:
            cls.permanent = permanent

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequest(CosbatchError, code="InvalidRequest", http_status=400, permanent=True):
    """A request whose values are out of range or inconsistent (HTTP 400)."""


class UnsupportedField(InvalidRequest):
    """A field of the API shape that cosbatch does not implement, or a value of it that it does
    not (HTTP 400 InvalidRequest; the CLI exits 2): refused, never accepted and ignored."""


class MalformedRequest(CosbatchError, code="MalformedXML", http_status=400, permanent=True):
    """A request body or argument that cannot be parsed at all (HTTP 400)."""


class JobNotFound(CosbatchError, code="NoSuchJob", http_status=404):
    """No job with this id (in this account)."""


class IllegalTransition(CosbatchError, code="JobStatusException", http_status=409):
    """A status change the lifecycle table does not allow from the current status."""


class IdempotencyConflict(CosbatchError, code="IdempotencyException", http_status=409):
    """The same ClientRequestToken was used before with a different request."""


class StoreUnavailable(CosbatchError, code="ServiceUnavailable", http_status=503):
    """The metadata store cannot be reached or written (disk full, locked, gone)."""


class ManifestError(CosbatchError, code="ManifestParseError", http_status=400):
    """The manifest cannot be read or parsed; ends the job Failed in Preparing."""


class ReportError(CosbatchError, code="ReportWriteError", http_status=500):
    """The completion report could not be written."""


class ConfigError(CosbatchError, code="InvalidConfiguration", http_status=400, permanent=True):
    """Bad local configuration (store URL, endpoint, runner options, a store of a newer schema)."""


class TooManyTags(InvalidRequest, code="TooManyTags"):
    """More job tags than AWS allows (50); S3 Control answers TooManyTagsException."""


class RunnerUnavailable(CosbatchError, code="RunnerUnavailable", http_status=503):
    """The runner a job is to run on cannot be used (no Flink job server jar, a Flink master or
    Dask scheduler that does not answer). Not a fault of any job: the CLI stops (exit 1) and the
    jobs stay as they were, and a job whose runner goes away while it runs waits, never Failed."""
