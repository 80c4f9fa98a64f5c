"""The client-side rate limiter never lets more through than configured, proven from the fake's recorded
arrival times: in every sliding window of ``w`` seconds at most ``rate * w + burst`` requests (or tokens)
arrived. That is the limiter's documented bound (GCRA: "at most limit + burst units pass in any minute",
here for windows of a fraction of a second too). ``SLACK_S`` allows for the time between the limiter's
grant and the request's arrival, which varies from one request to the next (up to ~50 ms seen on a loaded
2-core machine, the fake sharing the test's process): it widens each window by 0.1 s of the rate.

Bursts come from many threads, from many tasks of one event loop, and from two processes sharing one
limit in Redis, each process firing from threads (one) and tasks (the other). The Redis test extends
``tests/test_ratelimit_redis.py`` (two sequential processes, one window size) and supersedes it.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from polyface import RateLimit, TogetherAdapter
from polyface.testing.fake_together import FakeTogether, RecordedRequest
from polyface.wire.openai_chat import estimate_tokens

pytestmark = pytest.mark.reliability

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
REDIS_URL = "redis://127.0.0.1:6379/0"
SLACK_S = 0.1
WINDOWS = (0.25, 0.5, 1.0)


def max_in_window(arrivals: Sequence[tuple[float, float]], window: float) -> float:
    """The most units (sum of weights) that arrived within any ``window`` seconds; ``arrivals`` are
    (time, units)."""
    ordered = sorted(arrivals)
    best = total = 0.0
    j = 0
    for t, units in ordered:
        total += units
        while ordered[j][0] < t - window:
            total -= ordered[j][1]
            j += 1
        best = max(best, total)
    return best


def assert_within_bound(arrivals: Sequence[tuple[float, float]], per_second: float, burst: float) -> str:
    """Every window of WINDOWS obeys ``per_second * w + burst``; the whole run took as long as the rate
    requires (the limiter paced, it did not merely happen to be slow). Returns a summary line."""
    parts = []
    for window in WINDOWS:
        seen = max_in_window(arrivals, window)
        bound = math.floor(per_second * (window + SLACK_S) + burst)
        assert seen <= bound, f"{seen} units arrived within {window} s; the limit allows {bound}"
        parts.append(f"{window}s:{seen:g}/{bound}")
    times = [t for t, _ in arrivals]
    units = sum(u for _, u in arrivals)
    span = max(times) - min(times)
    # the first `burst` units pass at once, the rest at `per_second`
    needed = (units - burst - max(u for _, u in arrivals)) / per_second
    assert span >= needed - SLACK_S, (
        f"{units} units in {span:.2f} s: faster than the limit allows ({needed:.2f} s)"
    )
    assert span <= needed + 1.5, f"{units} units took {span:.2f} s: the limiter held back far too long"
    return f"units={units:g} span={span:.2f}s (>= {needed:.2f}s) max per window " + " ".join(parts)


def chat_arrivals(fake: FakeTogether, weigh: Any = None) -> list[tuple[float, float]]:
    return [
        (r.time, float(weigh(r)) if weigh else 1.0) for r in fake.requests if r.path == "/v1/chat/completions"
    ]


def fire(adapter: TogetherAdapter, mode: str, n: int, **options: Any) -> None:
    """``n`` chats at once from ``n`` threads or ``n`` tasks; all must succeed."""
    if mode == "threads":
        with ThreadPoolExecutor(n) as pool:
            replies = list(
                pool.map(lambda i: adapter.text.generate(model=CHAT, messages=f"m{i}", **options), range(n))
            )
    else:

        async def main() -> list[Any]:
            try:
                return await asyncio.gather(
                    *(adapter.text.agenerate(model=CHAT, messages=f"m{i}", **options) for i in range(n))
                )
            finally:
                await adapter.aclose()

        replies = asyncio.run(main())
    assert [r.text for r in replies] == [f"Echo: m{i}" for i in range(n)]


@pytest.mark.parametrize("mode", ["threads", "tasks"])
def test_a_burst_never_exceeds_requests_per_minute(fake_together: FakeTogether, mode: str) -> None:
    rpm, burst, n = 1200, 5, 40  # 20/s: 35 paced requests take >= 1.75 s
    limit = RateLimit(requests_per_minute=rpm, requests_burst=burst)
    with TogetherAdapter(
        api_key=fake_together.api_key, base_url=fake_together.base_url, rate_limit=limit
    ) as t:
        t.models()  # passes the limiter too
        fake_together.reset()
        fire(t, mode, n)
    arrivals = chat_arrivals(fake_together)
    assert len(arrivals) == n
    print(f"[limiter] rpm={rpm} burst={burst} {mode}: " + assert_within_bound(arrivals, rpm / 60, burst))


@pytest.mark.parametrize("mode", ["threads", "tasks"])
def test_a_burst_never_exceeds_tokens_per_minute(fake_together: FakeTogether, mode: str) -> None:
    # each request reserves its estimate (prompt / 4 + max_tokens, ~45 tokens) before it is sent
    tpm, burst, n = 54_000, 200, 30  # 900 tokens/s: ~20 requests/s after a burst of ~4
    limit = RateLimit(tokens_per_minute=tpm, tokens_burst=burst)
    with TogetherAdapter(
        api_key=fake_together.api_key, base_url=fake_together.base_url, rate_limit=limit
    ) as t:
        t.models()
        fake_together.reset()
        fire(t, mode, n, max_tokens=40)

    def tokens(r: RecordedRequest) -> int:
        return estimate_tokens(r.json)

    arrivals = chat_arrivals(fake_together, tokens)
    assert len(arrivals) == n and all(40 < u < 60 for _, u in arrivals)
    print(f"[limiter] tpm={tpm} burst={burst} {mode}: " + assert_within_bound(arrivals, tpm / 60, burst))


# ---- two processes, one limit in Redis ------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from concurrent.futures import ThreadPoolExecutor
    from polyface import RateLimit, TogetherAdapter

    base_url, key, redis_url, mode, n, rpm, burst = sys.argv[1:8]
    n, rpm, burst = int(n), float(rpm), float(burst)
    chat = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    limit = RateLimit(requests_per_minute=rpm, requests_burst=burst)
    t = TogetherAdapter(api_key=key, base_url=base_url, rate_limit=limit, redis_url=redis_url)
    t.models()
    print("ready", flush=True)
    sys.stdin.readline()  # go
    tag = "x" if mode == "threads" else "y"
    if mode == "threads":
        with ThreadPoolExecutor(n) as pool:
            texts = list(pool.map(lambda i: t.text.generate(model=chat, messages=f"{tag}{i}").text, range(n)))
    else:
        async def main():
            try:
                replies = await asyncio.gather(
                    *(t.text.agenerate(model=chat, messages=f"{tag}{i}") for i in range(n))
                )
            finally:
                await t.aclose()
            return [r.text for r in replies]
        texts = asyncio.run(main())
    t.close()
    assert texts == [f"Echo: {tag}{i}" for i in range(n)], texts
    print(json.dumps(t.config.http.stats), flush=True)
    """
)


@pytest.fixture
def redis_client() -> Iterator[Any]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not running at 127.0.0.1:6379 (start it: see README, Development)")
    yield client
    client.close()


@pytest.mark.redis
def test_two_processes_sharing_a_redis_limit_never_exceed_it(
    fake_together: FakeTogether, redis_client: Any
) -> None:
    prefix = f"polyface:ratelimit:together:127.0.0.1:{fake_together.port}:"
    for key in redis_client.scan_iter(prefix + "*"):
        redis_client.delete(key)
    rpm, burst, n = 1200, 4, 24
    args = [fake_together.base_url, fake_together.api_key, REDIS_URL]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args, mode, str(n), str(rpm), str(burst)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for mode in ("threads", "tasks")
    ]
    try:
        for p in procs:  # both have imported polyface and fetched the catalog: start them together
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=60)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs
    stats = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    arrivals = chat_arrivals(fake_together)
    assert len(arrivals) == 2 * n == sum(s["requests"] for s in stats) - 2  # minus the two catalog fetches
    # one budget for both: the 48 chats took the time 48 take at the rate (each process alone, ~1 s,
    # would have run beside the other in ~1 s), and no window saw more than the rate allows
    assert {r.json["messages"][-1]["content"][0] for r in fake_together.requests if r.json} == {"x", "y"}
    line = assert_within_bound(arrivals, rpm / 60, burst)
    print(f"[limiter] redis, 2 processes (threads + tasks) rpm={rpm} burst={burst}: {line}")
    assert list(redis_client.scan_iter(prefix + "*")), "the limit lives in Redis"
    for key in redis_client.scan_iter(prefix + "*"):
        redis_client.delete(key)
