"""The HTTP API (COS and S3 Control dialects) and the web console.

A surface: it calls the controller's JobService; nothing below imports it.
"""

from cosbatch.api.app import ApiApp

__all__ = ["ApiApp"]
