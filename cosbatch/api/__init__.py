"""The HTTP API (COS and S3 Control dialects) and the web console."""

from cosbatch.api.app import ApiApp

__all__ = ["ApiApp"]
