"""Two processes share one rate limit through Redis (the server at 127.0.0.1:6379)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from polyface.testing.fake_together import FakeTogether

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.redis

WORKER = textwrap.dedent(
    """
    import sys
    from polyface import TogetherAdapter, RateLimit
    base_url, key, redis_url, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    limit = RateLimit(requests_per_minute=600, requests_burst=1)
    with TogetherAdapter(api_key=key, base_url=base_url, rate_limit=limit, redis_url=redis_url) as t:
        for i in range(n):
            t.text.generate(model="meta-llama/Llama-3.3-70B-Instruct-Turbo", messages=f"worker {i}")
    """
)


@pytest.fixture
def redis_client():  # type: ignore[no-untyped-def]
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not running at 127.0.0.1:6379 (start it: see README, Development)")
    yield client
    client.close()


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_two_processes_stay_under_one_shared_limit(fake_together: FakeTogether, redis_client) -> None:  # type: ignore[no-untyped-def]
    for key in redis_client.scan_iter("polyface:ratelimit:together:*"):
        redis_client.delete(key)
    per_process = 8
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                fake_together.base_url,
                fake_together.api_key,
                REDIS_URL,
                str(per_process),
            ]
        )
        for _ in range(2)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    times = [r.time for r in fake_together.requests]
    # 8 chats + 1 catalog fetch per process, all through the same limiter
    assert len(times) == 2 * (per_process + 1)
    span = max(times) - min(times)
    # 18 requests at 10/s with a burst of 1 take >= 1.7 s together; unshared, each process alone needs ~0.8 s.
    assert span >= 1.5, span
    assert _max_in_window(times, 1.0) <= 10 + 1 + 1, sorted(times)
    assert list(redis_client.scan_iter("polyface:ratelimit:together:*")), "the limit lives in Redis"
