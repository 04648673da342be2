"""`/metrics` in the Prometheus text format (prometheus-client).

Each ApiApp owns its own CollectorRegistry (several servers in one Python process never
clash): the request latency histogram by route lives there. The job figures are read from
the store at scrape time by a custom collector, scoped like the console: a signed-in key
sees its account's jobs, a development server (no keys) every account's.

    cosbatch_jobs{state}                       gauge: jobs in each of the 13 states
    cosbatch_tasks_succeeded_total{operation}  counter: tasks that succeeded, over all jobs
    cosbatch_tasks_failed_total{operation}     counter: tasks that failed, over all jobs
    cosbatch_http_request_duration_seconds{route,method}  histogram: time to answer
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cosbatch.lifecycle import JobStatus
from cosbatch.store.base import JobStore

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StoreCollector(Collector):
    """Jobs by state and tasks by operation, read from the store when scraped."""

    def __init__(self, store: JobStore, account_id: str | None) -> None:
        self.store = store
        self.account_id = account_id

    def collect(self) -> Iterator[Metric]:
        jobs = [j for j in self.store.jobs_in(list(JobStatus))
                if self.account_id is None or j.account_id == self.account_id]
        states = Counter(j.status for j in jobs)
        by_state = GaugeMetricFamily("cosbatch_jobs", "Jobs in each state.", labels=["state"])
        for status in JobStatus:
            by_state.add_metric([status.value], states[status])
        yield by_state
        succeeded: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        for job in jobs:
            succeeded[job.operation.name] += job.progress_summary.number_of_tasks_succeeded
            failed[job.operation.name] += job.progress_summary.number_of_tasks_failed
        for name, counts, text in (("cosbatch_tasks_succeeded", succeeded, "Tasks that succeeded, by operation."),
                                   ("cosbatch_tasks_failed", failed, "Tasks that failed, by operation.")):
            family = CounterMetricFamily(name, text, labels=["operation"])
            for operation in sorted(counts):
                family.add_metric([operation], counts[operation])
            yield family


class Metrics:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.registry = CollectorRegistry()
        self.latency = Histogram("cosbatch_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ["route", "method"], buckets=BUCKETS, registry=self.registry)

    def observe(self, route: str, method: str, seconds: float) -> None:
        self.latency.labels(route, method if method in ("GET", "POST", "PUT", "DELETE", "HEAD") else "other") \
            .observe(seconds)

    def scrape(self, account_id: str | None) -> tuple[bytes, str]:
        """(body, content type) of one scrape for `account_id` (None: every account)."""
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(StoreCollector(self.store, account_id))
        scrape.register(self.registry)
        return generate_latest(scrape), CONTENT_TYPE_LATEST
