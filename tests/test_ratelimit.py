"""The client-side limiter: waits (never fails) and keeps to the configured rate."""

from __future__ import annotations

import asyncio
import time

import pytest

from polyface.errors import ConfigurationError
from polyface.providers._base.ratelimit import RateLimit, RateLimiter


def test_unlimited_by_default_costs_nothing() -> None:
    limiter = RateLimiter(None, key="t")
    assert not limiter.enabled
    assert limiter.acquire(1, 10_000) == 0.0


def test_requests_per_minute_paces_after_the_burst() -> None:
    limiter = RateLimiter(RateLimit(requests_per_minute=600, requests_burst=3), key="t")  # 10/s
    waits = [limiter.reserve() for _ in range(8)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    # every reservation after the burst waits one more emission interval (0.1 s)
    for i in range(3, 8):
        assert waits[i] == pytest.approx((i - 2) * 0.1, abs=0.01)


def test_tokens_per_minute_waits_for_big_requests() -> None:
    limiter = RateLimiter(RateLimit(tokens_per_minute=6000, tokens_burst=1000), key="t")  # 100 tokens/s
    assert limiter.reserve(1, 1000) == 0.0
    assert limiter.reserve(1, 500) == pytest.approx(5.0, abs=0.05)


def test_charge_after_the_fact_delays_later_callers() -> None:
    limiter = RateLimiter(RateLimit(tokens_per_minute=6000, tokens_burst=100), key="t")
    limiter.charge(1000)
    assert limiter.reserve(1, 10) > 9.0


def test_acquire_really_waits() -> None:
    limiter = RateLimiter(RateLimit(requests_per_minute=1200, requests_burst=1), key="t")  # 20/s
    start = time.monotonic()
    for _ in range(6):
        limiter.acquire()
    assert time.monotonic() - start >= 0.24


async def test_async_acquire_really_waits() -> None:
    limiter = RateLimiter(RateLimit(requests_per_minute=1200, requests_burst=1), key="t")
    start = time.monotonic()
    await asyncio.gather(*(limiter.aacquire() for _ in range(6)))
    assert time.monotonic() - start >= 0.24


def test_bad_limits_are_refused_with_advice() -> None:
    with pytest.raises(ConfigurationError, match="use None for no limit"):
        RateLimit(requests_per_minute=0)
