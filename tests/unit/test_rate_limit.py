"""The token bucket behind rate limits, on a fake clock."""

from __future__ import annotations

import threading

from pipelines.transforms.rate_limit import TokenBucket, bucket_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_the_bucket_holds_its_rate():
    clock = Clock()
    bucket = TokenBucket(50.0, clock=clock)
    for _ in range(500):
        bucket.acquire(1, sleep=clock.sleep)
    assert 9.8 <= clock.now <= 10.2  # 500 operations at 50/s


def test_batches_take_as_many_tokens_as_objects():
    clock = Clock()
    bucket = TokenBucket(100.0, clock=clock)
    for _ in range(10):
        bucket.acquire(100, sleep=clock.sleep)  # ten 100-key deletes
    assert 8.8 <= clock.now <= 10.2


def test_a_new_rate_applies_at_once_and_none_means_unlimited():
    clock = Clock()
    bucket = TokenBucket(10.0, clock=clock)
    for _ in range(20):
        bucket.acquire(1, sleep=clock.sleep)
    slow = clock.now
    bucket.set_rate(1000.0)
    for _ in range(1000):
        bucket.acquire(1, sleep=clock.sleep)
    assert 1.7 <= slow <= 2.1 and clock.now - slow <= 1.2
    bucket.set_rate(None)
    before = clock.now
    for _ in range(10_000):
        bucket.acquire(1, sleep=clock.sleep)
    assert clock.now == before


def test_a_stop_ends_the_wait():
    stop = threading.Event()
    stop.set()
    bucket = TokenBucket(0.001)
    bucket.acquire(1)
    assert bucket.acquire(1, stop) is False


def test_one_bucket_per_job_per_process():
    assert bucket_for("job-a") is bucket_for("job-a") and bucket_for("job-a") is not bucket_for("job-b")
