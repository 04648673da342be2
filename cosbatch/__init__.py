"""cosbatch: self-hostable Batch Operations for COS and S3-compatible object storage."""

from __future__ import annotations

import warnings
from typing import Any

# With Beam's GCP modules installed (the Dataflow runner), importing Beam makes Google's client
# libraries warn about this Python's and grpcio's future support: not actionable by a cosbatch
# user, and it would break every one-line message the CLI promises.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")

__version__ = "0.1.0"
__all__ = ["Client", "Job"]


def __getattr__(name: str) -> Any:
    # `cosbatch.Client` without importing Beam and the controller for every `import cosbatch`
    # (pipeline workers import the package too).
    if name in __all__:
        from cosbatch import client

        return getattr(client, name)
    raise AttributeError(f"module 'cosbatch' has no attribute {name!r}")
