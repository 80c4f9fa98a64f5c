"""Retries, timeouts, error mapping and creation safety, against the Together fake."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import pytest

from polyface import TogetherAdapter, errors
from polyface.testing.fake_together import FakeTogether

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def chat_times(fake: FakeTogether) -> list[float]:
    return [r.time for r in fake.requests if r.path == "/v1/chat/completions"]


@pytest.mark.parametrize("header", [{"retry-after": "0.4"}, {"retry-after-ms": "400"}])
def test_retry_waits_as_long_as_retry_after_says(fake_together: FakeTogether, header: dict[str, str]) -> None:
    with adapter_for(fake_together) as together:
        together.models()
        fake_together.fail("/v1/chat/completions", status=429, times=2, headers=header)
        reply = together.text.generate(model=CHAT, messages="hi")
    assert reply.text == "Echo: hi"
    times = chat_times(fake_together)
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.38 <= g < 1.5 for g in gaps), gaps


def test_server_errors_are_retried_with_backoff(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        together.models()
        fake_together.fail("/v1/chat/completions", status=503, times=2)
        start = time.monotonic()
        assert together.text.generate(model=CHAT, messages="hi").text == "Echo: hi"
    # backoff 0.5 s then 1 s, each minus at most 25 % jitter
    assert time.monotonic() - start >= 0.375 + 0.75
    assert len(chat_times(fake_together)) == 3


def test_retries_run_out_into_a_rate_limited_error_with_details(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together, max_retries=1) as together:
        together.models()
        fake_together.fail("/v1/chat/completions", status=429, times=5, headers={"retry-after": "0.1"})
        with pytest.raises(errors.RateLimited) as info:
            together.text.generate(model=CHAT, messages="hi")
    err = info.value
    assert err.status == 429 and err.retry_after == pytest.approx(0.1)
    assert err.request_id and err.request_id in str(err)
    assert err.provider == "Together AI"
    assert len(chat_times(fake_together)) == 2


EXPECTED = {
    400: errors.InvalidRequest,
    401: errors.AuthenticationError,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    422: errors.InvalidRequest,
    429: errors.RateLimited,
    500: errors.ServerError,
    502: errors.ServerError,
    503: errors.ProviderUnavailable,
    504: errors.ProviderTimeout,
    529: errors.ProviderUnavailable,
}


@pytest.mark.parametrize(("status", "cls"), sorted(EXPECTED.items()))
def test_every_vendor_error_maps_to_a_polyface_error(
    fake_together: FakeTogether, status: int, cls: type[errors.ProviderError]
) -> None:
    with adapter_for(fake_together, max_retries=0) as together:
        together.models()
        fake_together.fail(
            "/v1/chat/completions",
            status=status,
            body={
                "error": {"message": f"vendor says {status}", "type": "some_type", "code": f"code_{status}"}
            },
        )
        with pytest.raises(errors.ProviderError) as info:
            together.text.generate(model=CHAT, messages="hi")
    err = info.value
    assert type(err) is cls
    assert err.status == status and err.code == f"code_{status}"
    assert f"vendor says {status}" in str(err) and err.request_id
    assert isinstance(err, errors.PolyfaceError)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_api_key", errors.AuthenticationError),
        (400, "model_not_found", errors.NotFound),
        (404, "invalid_request_error", errors.NotFound),
        (429, "insufficient_quota", errors.RateLimited),
        (400, "invalid_request_error", errors.InvalidRequest),
    ],
)
def test_a_specific_vendor_code_says_more_than_the_status(
    fake_together: FakeTogether, status: int, code: str, cls: type[errors.ProviderError]
) -> None:
    with adapter_for(fake_together, max_retries=0) as together:
        together.models()
        fake_together.fail(
            "/v1/chat/completions", status=status, body={"error": {"message": "m", "type": "t", "code": code}}
        )
        with pytest.raises(errors.ProviderError) as info:
            together.text.generate(model=CHAT, messages="hi")
    assert type(info.value) is cls


def test_wrong_key_is_an_authentication_error_that_never_shows_the_key(
    fake_together: FakeTogether, caplog: pytest.LogCaptureFixture
) -> None:
    bad = "tgp_v1_WRONGKEY_0123456789abcdef"
    fake_together.fail(
        "*",
        status=401,
        times=5,
        body={"error": {"message": f"Invalid API key provided: {bad}", "type": "auth"}},
    )
    with caplog.at_level(logging.DEBUG), TogetherAdapter(api_key=bad, base_url=fake_together.base_url) as t:
        with pytest.raises(errors.AuthenticationError) as info:
            t.text.generate(model=CHAT, messages="hi")
        with pytest.raises(errors.AuthenticationError) as info2:
            t.models()
    for text in (str(info.value), repr(info.value), str(info2.value), caplog.text, repr(info.value.args)):
        assert bad not in text
    assert "Invalid API key provided: ***" in str(info.value)


def test_unknown_model_and_connection_refused(fake_together: FakeTogether) -> None:
    with TogetherAdapter(api_key="k" * 20, base_url="http://127.0.0.1:9/v1", max_retries=1) as dead:
        start = time.monotonic()
        with pytest.raises(errors.ProviderUnavailable, match="could not reach"):
            dead.text.generate(model=CHAT, messages="hi")
        assert time.monotonic() - start < 5


def test_timeouts_default_and_per_call(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together, max_retries=0, timeout=0.3) as together:
        together.models()
        fake_together.delay("/v1/chat/completions", seconds=1.5)
        start = time.monotonic()
        with pytest.raises(errors.ProviderTimeout, match="timed out waiting for the response"):
            together.text.generate(model=CHAT, messages="slow")
        assert time.monotonic() - start < 1.2
        fake_together.delay("/v1/chat/completions", seconds=0.5)
        assert together.text.generate(model=CHAT, messages="ok", timeout=3).text == "Echo: ok"
    assert together.config.read_timeout == 0.3
    assert TogetherAdapter(api_key="x").config.read_timeout == 600.0
    assert TogetherAdapter(api_key="x").config.connect_timeout == 5.0


FT_BODY = {"training_file": "file-0123", "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"}


def test_a_create_request_is_not_retried_when_the_vendor_may_have_acted(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        fake_together.fail_after_processing("/v1/fine-tunes", status=500)
        with pytest.raises(errors.ServerError, match="did not retry"):
            together.config.http.request("POST", "/fine-tunes", json=FT_BODY, idempotent=False)
    assert len(fake_together.fine_tunes) == 1


def test_a_create_request_rejected_by_rate_limit_is_retried_once_created(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        fake_together.fail("/v1/fine-tunes", status=429, times=1, headers={"retry-after": "0.05"})
        job = together.config.http.request("POST", "/fine-tunes", json=FT_BODY, idempotent=False).json()
    assert [j["id"] for j in fake_together.fine_tunes] == [job["id"]]


def test_a_create_request_that_timed_out_is_not_retried(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together, timeout=0.3) as together:
        fake_together.delay("/v1/fine-tunes", seconds=1.0)
        with pytest.raises(errors.ProviderTimeout, match="did not retry"):
            together.config.http.request("POST", "/fine-tunes", json=FT_BODY, idempotent=False)
        deadline = time.monotonic() + 3
        while not fake_together.fine_tunes and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(fake_together.fine_tunes) == 1
    assert sum(r.path == "/v1/fine-tunes" for r in fake_together.requests) == 1


def test_idempotent_request_timing_out_is_retried(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together, timeout=0.3, max_retries=1) as together:
        together.models()
        fake_together.delay("/v1/chat/completions", seconds=1.0, times=1)
        assert together.text.generate(model=CHAT, messages="again").text == "Echo: again"
    assert len(chat_times(fake_together)) == 2
