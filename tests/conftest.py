"""Fixtures, one per real component: the S3 server (SeaweedFS), the store, a controller."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "cosbatch-test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "cosbatch-test-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# One terminal width however the tests are started: pytest-xdist's workers say COLUMNS=80, a
# plain run falls back to 100, and progress lines are cut to the width (the CLIs run here too).
os.environ["COLUMNS"] = "160"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator:
    """A real SeaweedFS S3 server on loopback, free ports, a temp dir; stopped after the session."""
    from cosbatch.storage.embedded import start_embedded_s3

    server = start_embedded_s3(tmp_path_factory.mktemp("seaweedfs"))
    # The process-wide storage (what JobService binds jobs to without a storage config) is this one.
    os.environ["COSBATCH_ENDPOINT_URL"] = server.endpoint_url
    yield server
    server.stop(timeout=3)  # its data is not read again: no need to wait for a slow clean exit


@pytest.fixture(scope="session")
def s3(s3_server):
    return s3_server.client()


@pytest.fixture()
def bucket(s3) -> str:
    """A fresh, empty bucket for one test."""
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture()
def make_bucket(s3):
    def make(prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=name)
        return name

    return make


def put_objects(s3, bucket: str, keys: list[str], body=lambda k: f"content of {k}".encode()) -> None:
    """Seed objects quickly (threads), each with a body derived from its key.

    Through cosbatch's lean client on 32 threads (about 4x boto3 on 16) when `s3` signs with the
    process's default keys, which the lean client then uses too; else through `s3` itself."""
    from cosbatch.storage import StorageCatalog
    from cosbatch.storage.lean import LeanS3Client

    keys = list(keys)
    creds = s3._request_signer._credentials
    default = boto3.session.Session().get_credentials()
    if len(keys) < 50 or creds is None or default is None or creds.access_key != default.access_key:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body(k)), keys))
        return
    storage = StorageCatalog.at(s3.meta.endpoint_url, s3.meta.region_name, max_pool_connections=32).default
    lean = LeanS3Client(storage)

    def put(key: str) -> None:  # the lean client does not retry; boto3 would, so retry here
        for attempt in range(5):
            try:
                lean.put_object(Bucket=bucket, Key=key, Body=body(key))
                return
            except Exception:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    try:
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(put, keys))
    finally:
        lean.close()


@pytest.fixture()
def store(tmp_path):
    from cosbatch.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'cosbatch.db'}")
    yield s
    s.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator:
    """A real PostgreSQL server (Debian's binaries) on a free loopback port; removed after the session."""
    from tests.support.postgres import start_postgres

    server = start_postgres()
    yield server
    server.remove()


@pytest.fixture()
def pg_url(pg_server) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    return pg_server.create_database()


@pytest.fixture()
def pg_store(pg_url):
    from cosbatch.store import open_store

    s = open_store(pg_url)
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """The store under test, once per kind: a module runs its store tests over both by defining
    `store` as this fixture."""
    from cosbatch.store import open_store

    url = f"sqlite:///{tmp_path / 'cosbatch.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(url)
    yield s
    s.close()


@pytest.fixture()
def settings(store, s3_server):
    from cosbatch.settings import Settings
    from cosbatch.storage import StorageCatalog

    return Settings(store_url=store.url, storages=StorageCatalog.at(s3_server.endpoint_url), segment_size=250,
                    poll_s=0.1)


@contextlib.contextmanager
def running_scheduler(scheduler, join_s: float = 60) -> Iterator[threading.Thread]:
    """`scheduler.serve_forever` in a background thread, as `cosbatch serve` runs it; stopped,
    joined and closed on the way out."""
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.serve_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(join_s)
        scheduler.close()


@pytest.fixture()
def controller(store, settings):
    """A Scheduler serving in a background thread for the test; stopped after."""
    from cosbatch.controller import Scheduler
    from cosbatch.store import open_store

    scheduler = Scheduler(open_store(store.url), settings)
    with running_scheduler(scheduler):
        yield scheduler


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator:
    """A real `distributed` LocalCluster: 2 worker processes, one thread each; closed after the session."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    yield cluster
    cluster.close()


def wait_for(predicate, timeout_s: float = 60, interval_s: float = 0.1, what: str = "condition", state=None):
    """Poll until predicate() is truthy; returns its value. Fails the test on timeout, showing
    what `state()` returns then (e.g. the job's status and history)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    seen = f"; state then: {state()}" if state is not None else ""
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}{seen}")


@pytest.fixture(scope="session")
def big_source(s3_server):
    """20,000 small objects and their manifest, shared by every test that needs a big job."""
    from tests.integration.helpers import write_manifest

    s3 = s3_server.client()
    src = f"big-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=src)
    keys = [f"obj/{i:05d}" for i in range(20_000)]
    put_objects(s3, src, keys, body=lambda k: k.encode())  # the lean client: ~10 s here, boto3 took 41
    write_manifest(s3, src, "all.csv", [(src, k) for k in keys])
    return src, keys


@pytest.fixture(scope="session")
def flink_cluster(tmp_path_factory, s3_server) -> Iterator:
    """A real Flink session cluster (JobManager + 2 TaskManagers, 2 slots each) for the session.
    Started after the S3 server, so its SDK workers inherit this process's AWS keys."""
    from tests.support.flink import flink_session

    with flink_session(tmp_path_factory.mktemp("flink")) as cluster:
        yield cluster


# The test command runs in two passes: `pytest -n 2 -m "not serial"`, then `pytest -m serial`
# alone on the machine. Serial are the tests that use a session cluster (Flink, Dask: each
# starts once, and their workers were seen to stall when the machine is loaded) and the tests
# that assert a time bound (marked in their modules).
CLUSTER_FIXTURES = frozenset({"flink_cluster", "dask_cluster"})


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.serial)
