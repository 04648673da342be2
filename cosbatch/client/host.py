"""What a `Job` needs of the `Client` that made it, as a protocol: `job.py` depends on this,
`client.py` satisfies it, and neither module imports the other's (client.py imports job.py only)."""

from __future__ import annotations

from typing import Protocol

from cosbatch.controller import JobService
from cosbatch.storage import StorageClients


class JobHost(Protocol):
    """The calls a Job makes: the service it steers itself through, the storage clients its
    report is read with, and the background scheduler that runs it."""

    service: JobService
    clients: StorageClients

    def start(self) -> None:
        """Run the scheduler in the background (again, if it stopped for want of work)."""
        ...
