"""The channel between a running pipeline and the controller: the JobPlan the controller hands
a pipeline, and JobControl, through which workers learn to stop or slow down and report
progress, over the store or (workers elsewhere) the controller's HTTP worker channel.

It must not import the controller, the pipelines, launch or the API.
"""

from cosbatch.control.job_control import (
    WORKER_LEASE_TTL_S,
    JobControl,
    StopSignal,
    signal_for,
    worker_lease_prefix,
)

__all__ = ["WORKER_LEASE_TTL_S", "JobControl", "StopSignal", "signal_for", "worker_lease_prefix"]
