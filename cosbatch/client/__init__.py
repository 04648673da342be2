"""cosbatch from Python and notebooks: `Client` creates and steers jobs, `Job` is one job.

A surface: it calls the controller; nothing below imports it.
"""

from cosbatch.client.client import Client
from cosbatch.client.job import History, Job, JobList

__all__ = ["Client", "History", "Job", "JobList"]
