"""A job waiting in Preparing for its unreachable storage: the wait's deadline is the store's, so
a restarted controller continues the wait and gives up when the first one would have."""

from __future__ import annotations

import time

from cosbatch.controller import JobService, Scheduler
from cosbatch.lifecycle import JobStatus as S
from cosbatch.settings import Settings
from cosbatch.storage import StorageCatalog
from cosbatch.wire.dialects import parse_create_job
from tests.integration.helpers import copy_request
from tests.support.api_server import free_port

PATIENCE_S = 6.0


def test_a_restarted_controller_keeps_the_wait_deadline(store):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    cfg = Settings(store_url=store.url, storage_patience_s=PATIENCE_S, pipeline_retry_s=0.2, prepare_retry_max_s=0.5,
                   storages=StorageCatalog.at(endpoint, connect_timeout_s=1.0, max_attempts=1))
    service = JobService(store, cfg.storages)
    job = service.create_job(parse_create_job(copy_request("src", "m.csv", "dst", "rep")))
    first = Scheduler(store, cfg, lease_ttl_s=1.0)
    assert first.step()
    first.close()  # the controller dies (its lease runs out): the job stays in Preparing, waiting
    waiting = service.describe_job(job.job_id)
    assert waiting.status is S.PREPARING and waiting.storage_wait is not None
    assert waiting.storage_wait.reason == f"{endpoint.removeprefix('http://')} unreachable"
    until = waiting.storage_wait.until.timestamp()
    assert abs(until - waiting.storage_wait.since.timestamp() - PATIENCE_S) < 0.01

    time.sleep(PATIENCE_S / 2)
    restarted_at = time.time()
    second = Scheduler(store, cfg)
    try:
        assert second.step()
        assert service.describe_job(job.job_id).storage_wait.until.timestamp() == until  # not afresh
        second.run_until_idle(timeout_s=60)
    finally:
        second.close()
    failed = service.describe_job(job.job_id)
    assert failed.status is S.FAILED and failed.failure_reasons[0].failure_code == "StorageUnreachable"
    ended = failed.termination_date.timestamp()
    assert until <= ended < restarted_at + PATIENCE_S - 1.0, (until, ended, restarted_at)
    assert failed.storage_wait is None  # waits no more
    waits = [h for h in service.history(job.job_id) if h.from_status is S.PREPARING and h.to_status is S.PREPARING]
    assert len(waits) == 1  # the restart did not record the same wait again
