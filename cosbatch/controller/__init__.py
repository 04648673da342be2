"""The controller: JobService (requests) and Scheduler (moves jobs through their lifecycle).

It must not import the surfaces (cli, api, client).
"""

from cosbatch.controller.scheduler import Scheduler
from cosbatch.controller.service import JobService

__all__ = ["JobService", "Scheduler"]
