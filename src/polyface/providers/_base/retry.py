"""When to retry a failed request, and how long to wait first.

The official SDKs' policy: 2 retries, 0.5 s x 2^n up to 8 s, minus up to 25 % jitter;
a vendor's ``retry-after-ms`` / ``retry-after`` wins when it is sane. Requests that
create something (``idempotent=False``) are retried only when the failure proves the
vendor did not act on them: a 429, or a connection that was never made.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
# Statuses that prove the vendor refused the request before acting on it.
NOT_PROCESSED_STATUSES = frozenset({429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    """A vendor asking for a longer wait than this gets an error instead of a silent sleep."""

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt + 1`` when the vendor named none."""
        delay: float = min(self.initial_delay * (2.0**attempt), self.max_delay)
        return delay * (1 - self.jitter * random.random())

    def should_retry_status(self, status: int, *, idempotent: bool) -> bool:
        if idempotent:
            return status in RETRY_STATUSES
        return status in NOT_PROCESSED_STATUSES

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next try, or None when no retry should happen."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return max(retry_after, 0.0)
        return self.backoff(attempt)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
