"""The retry policy on its own: which failures retry, and how long each wait is."""

from __future__ import annotations

import email.utils
import time

import pytest

from polyface.providers._base.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after


def test_backoff_grows_exponentially_with_at_most_25_percent_jitter() -> None:
    policy = RetryPolicy(max_retries=10)
    for attempt, nominal in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        samples = [policy.backoff(attempt) for _ in range(200)]
        assert all(nominal * 0.75 <= s <= nominal for s in samples), (attempt, min(samples), max(samples))
        assert max(samples) - min(samples) > 0, "jitter must vary the delay"


def test_two_retries_by_default_then_none() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, None) is not None
    assert policy.delay(1, None) is not None
    assert policy.delay(2, None) is None


def test_retry_after_wins_over_backoff_and_absurd_waits_are_not_slept() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, 3.25) == 3.25
    assert policy.delay(0, 0.0) == 0.0
    assert policy.delay(0, 3600.0) is None


@pytest.mark.parametrize("status", sorted(RETRY_STATUSES))
def test_retryable_statuses_for_idempotent_requests(status: int) -> None:
    assert RetryPolicy().should_retry_status(status, idempotent=True)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_never_retry(status: int) -> None:
    assert not RetryPolicy().should_retry_status(status, idempotent=True)


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504])
def test_creating_requests_do_not_retry_when_the_vendor_may_have_acted(status: int) -> None:
    assert not RetryPolicy().should_retry_status(status, idempotent=False)
    assert RetryPolicy().should_retry_status(429, idempotent=False)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "junk", "retry-after": "0.5"}) == 0.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    value = parse_retry_after({"retry-after": future})
    assert value is not None and 27 <= value <= 31
