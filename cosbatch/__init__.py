"""cosbatch: self-hostable Batch Operations for COS and S3-compatible object storage."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Client", "Job"]


def __getattr__(name: str) -> Any:
    # `cosbatch.Client` without importing Beam and the controller for every `import cosbatch`
    # (pipeline workers import the package too).
    if name in __all__:
        from cosbatch import client

        return getattr(client, name)
    raise AttributeError(f"module 'cosbatch' has no attribute {name!r}")
