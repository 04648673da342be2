"""The pipeline's Beam Metrics, named once."""

from apache_beam.metrics import Metrics

NAMESPACE = "cosbatch"
TASKS_SUCCEEDED = Metrics.counter(NAMESPACE, "tasks_succeeded")
TASKS_FAILED = Metrics.counter(NAMESPACE, "tasks_failed")
TASK_RETRIES = Metrics.counter(NAMESPACE, "task_retries")
SEGMENTS_DONE = Metrics.counter(NAMESPACE, "segments_done")
SEGMENTS_ABANDONED = Metrics.counter(NAMESPACE, "segments_abandoned")
