"""Client-side rate limits: requests per minute and tokens per minute.

One limiter per provider instance, shared by all its capabilities. A caller that
would exceed the budget waits (it never fails). The algorithm is GCRA (a token bucket
kept as one timestamp): each reservation is granted at once together with the time to
wait before using it, so waiting needs no polling and the state is one number per
bucket, easy to keep in Redis and update with one atomic script. At most
``limit + burst`` units pass in any minute.

In memory by default; with ``redis_url`` the buckets live in Redis and every process
using the same ``key`` shares them. (The ``limits`` package was considered: it only
answers hit-or-refuse, so waiting would mean polling, and its async Redis support
needs another client library.)
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from polyface.errors import ConfigurationError
from polyface.providers._base.secrets import redact


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Budgets per minute. ``None`` means unlimited. ``*_burst`` default to a tenth of the limit."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    requests_burst: float | None = None
    tokens_burst: float | None = None

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigurationError(
                    f"RateLimit.{name} must be positive (got {value}); use None for no limit."
                )

    def buckets(self) -> list[tuple[str, float, float]]:
        """(name, units per second, burst units) for each configured budget."""
        out: list[tuple[str, float, float]] = []
        if self.requests_per_minute:
            burst = self.requests_burst or max(1.0, math.floor(self.requests_per_minute / 10))
            out.append(("rpm", self.requests_per_minute / 60.0, burst))
        if self.tokens_per_minute:
            burst = self.tokens_burst or max(1.0, math.floor(self.tokens_per_minute / 10))
            out.append(("tpm", self.tokens_per_minute / 60.0, burst))
        return out


class _Bucket:
    """GCRA state for one budget, in this process."""

    __slots__ = ("burst_s", "emission", "tat")

    def __init__(self, per_second: float, burst: float) -> None:
        self.emission = 1.0 / per_second
        self.burst_s = burst * self.emission
        self.tat = 0.0

    def reserve(self, cost: float, now: float) -> float:
        """Reserve ``cost`` units; return the seconds to wait before using them."""
        tat = max(self.tat, now)
        new_tat = tat + cost * self.emission
        self.tat = new_tat
        return max(0.0, new_tat - self.burst_s - now)


# KEYS: one per bucket; ARGV: (unused), then (emission, burst_s, cost) per bucket.
# Returns the wait in microseconds (the largest over the buckets), as an integer.
_LUA = """
local clock = redis.call('TIME')  -- the server's clock: hosts sharing a limit need not agree on time
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local wait = 0
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[2 + (i - 1) * 3])
  local burst_s = tonumber(ARGV[3 + (i - 1) * 3])
  local cost = tonumber(ARGV[4 + (i - 1) * 3])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + cost * emission
  local ttl = math.ceil(new_tat - now + burst_s) + 1
  redis.call('SET', key, string.format('%.6f', new_tat), 'EX', ttl)
  local w = new_tat - burst_s - now
  if w > wait then wait = w end
end
return math.floor(wait * 1000000)
"""


class RateLimiter:
    """Waits as long as the budgets require. Thread-safe and usable from async code."""

    def __init__(self, limit: RateLimit | None, *, key: str, redis_url: str | None = None) -> None:
        self.limit = limit or RateLimit()
        self.key = key
        self.redis_url = redis_url
        self._specs = self.limit.buckets()
        self.enabled = bool(self._specs)
        self._local = {name: _Bucket(rate, burst) for name, rate, burst in self._specs}
        self._lock = threading.Lock()
        self._redis: Any = None
        self._aredis: Any = None
        self._script_sha: str | None = None

    # ---- reservations -------------------------------------------------------
    def _costs(self, requests: float, tokens: float) -> list[float]:
        return [requests if name == "rpm" else tokens for name, _, _ in self._specs]

    def _reserve_local(self, requests: float, tokens: float) -> float:
        now = time.monotonic()
        with self._lock:
            waits = [
                self._local[name].reserve(cost, now)
                for (name, _, _), cost in zip(self._specs, self._costs(requests, tokens), strict=True)
                if cost
            ]
        return max(waits, default=0.0)

    def _redis_args(self, requests: float, tokens: float) -> tuple[list[str], list[float]]:
        keys: list[str] = []
        argv: list[float] = [time.time()]
        for (name, rate, burst), cost in zip(self._specs, self._costs(requests, tokens), strict=True):
            keys.append(f"polyface:ratelimit:{self.key}:{name}")
            argv += [1.0 / rate, burst / rate, cost]
        return keys, argv

    def _sync_redis(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(str(self.redis_url))
        return self._redis

    def _async_redis(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._aredis is None or self._aredis[0] is not loop:
            import redis.asyncio

            self._aredis = (loop, redis.asyncio.Redis.from_url(str(self.redis_url)))
        return self._aredis[1]

    def reserve(self, requests: float = 1, tokens: float = 0) -> float:
        """Reserve budget now; return the seconds the caller must wait before using it."""
        if not self.enabled:
            return 0.0
        if self.redis_url is None:
            return self._reserve_local(requests, tokens)
        keys, argv = self._redis_args(requests, tokens)
        client = self._sync_redis()
        try:
            micros = client.eval(_LUA, len(keys), *keys, *argv)
        except Exception as exc:
            raise self._redis_failed(exc) from None
        return int(micros) / 1_000_000

    async def areserve(self, requests: float = 1, tokens: float = 0) -> float:
        if not self.enabled:
            return 0.0
        if self.redis_url is None:
            return self._reserve_local(requests, tokens)
        keys, argv = self._redis_args(requests, tokens)
        client = self._async_redis()
        try:
            micros = await client.eval(_LUA, len(keys), *keys, *argv)
        except Exception as exc:
            raise self._redis_failed(exc) from None
        return int(micros) / 1_000_000

    def _redis_failed(self, exc: Exception) -> ConfigurationError:
        from urllib.parse import urlsplit

        parts = urlsplit(str(self.redis_url))
        where = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"
        return ConfigurationError(
            f"the shared rate limit lives in Redis at {where}, which failed: {redact(str(exc))}. "
            "Start that Redis, fix redis_url= (or POLYFACE_REDIS_URL), or drop it to limit in this "
            "process only."
        )

    def acquire(self, requests: float = 1, tokens: float = 0) -> float:
        """Wait until ``requests`` and ``tokens`` fit the budget; return the seconds waited."""
        wait = self.reserve(requests, tokens)
        if wait > 0:
            time.sleep(wait)
        return wait

    async def aacquire(self, requests: float = 1, tokens: float = 0) -> float:
        wait = await self.areserve(requests, tokens)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def charge(self, tokens: float) -> None:
        """Count tokens learned after the fact (a reply's output); later callers wait for them."""
        if self.enabled and tokens > 0 and any(name == "tpm" for name, _, _ in self._specs):
            self.reserve(0, tokens)

    async def acharge(self, tokens: float) -> None:
        if self.enabled and tokens > 0 and any(name == "tpm" for name, _, _ in self._specs):
            await self.areserve(0, tokens)
