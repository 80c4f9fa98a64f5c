"""Transport edge cases: redirects, cut-off error bodies, event loops, unreachable Redis, CLI markup."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from polyface import TogetherAdapter, errors
from polyface.testing.fake_together import FakeTogether

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def test_an_unexpected_redirect_is_an_error_not_a_success(fake_together: FakeTogether) -> None:
    fake_together.fail(
        "/v1/models", status=302, headers={"location": "https://elsewhere.example/x?sig=s3cr3t"}
    )
    with (
        TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url) as together,
        pytest.raises(errors.ProviderError, match="unexpected redirect") as info,
    ):
        together.models()
    assert "s3cr3t" not in str(info.value)
    assert info.value.status == 302


def test_each_event_loop_gets_its_own_async_client(fake_together: FakeTogether) -> None:
    together = TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url)

    async def one() -> tuple[int, str]:
        reply = await together.text.agenerate(model=CHAT, messages="loop")
        client_id = id(together.config.http.aclient)
        await together.aclose()
        return client_id, reply.text

    first, second = asyncio.run(one()), asyncio.run(one())
    assert first[1] == second[1] == "Echo: loop"
    assert not together.config.http._aclients, "aclose() closed and dropped the loop's client"


def test_unreachable_redis_for_the_limiter_is_a_clear_error(fake_together: FakeTogether) -> None:
    from polyface import RateLimit

    with (
        TogetherAdapter(
            api_key=fake_together.api_key,
            base_url=fake_together.base_url,
            rate_limit=RateLimit(requests_per_minute=60),
            redis_url="redis://:hunter2@127.0.0.1:1/0",
        ) as together,
        pytest.raises(errors.ConfigurationError, match="Redis") as info,
    ):
        together.text.generate(model=CHAT, messages="hi")
    assert "hunter2" not in str(info.value)
    assert "redis_url" in str(info.value) or "POLYFACE_REDIS_URL" in str(info.value)


def test_cli_prints_error_text_literally(fake_together: FakeTogether) -> None:
    from typer.testing import CliRunner

    from polyface.cli.app import app

    fake_together.fail("/v1/models", status=400, body={"error": {"message": "bad [/] thing", "type": "x"}})
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["models", "together", "--api-key", fake_together.api_key, "--base-url", fake_together.base_url]
    )
    assert result.exit_code == 1
    assert "bad [/] thing" in result.output
    assert "[request id:" in result.output


def test_per_call_timeout_keeps_the_configured_connect_timeout() -> None:
    together = TogetherAdapter(api_key="k" * 20, connect_timeout=1.5)
    timeout = together.config.http._timeout(30.0)
    assert isinstance(timeout, httpx.Timeout)
    assert timeout.connect == 1.5 and timeout.read == 30.0


def test_a_checked_json_body_is_parsed_once_and_then_afresh() -> None:
    from polyface.providers._base.errors import malformed_body

    response = httpx.Response(200, json={"data": [1, 2]}, request=httpx.Request("GET", "http://x/"))
    assert malformed_body(response, provider="Fake") is None
    first = response.json()
    first["data"].append(3)  # a caller changing what it got
    assert first == {"data": [1, 2, 3]} and response.json() == {"data": [1, 2]}


def test_only_json_documents_are_checked_not_json_lines() -> None:
    from polyface.providers._base.errors import malformed_body

    request = httpx.Request("GET", "http://x/")
    lines = b'{"a": 1}\n{"b": 2}\n'
    for media_type in ("application/x-jsonl", "application/jsonl", "application/x-ndjson"):
        response = httpx.Response(200, content=lines, headers={"content-type": media_type}, request=request)
        assert malformed_body(response, provider="Fake") is None
    cut = httpx.Response(
        200, content=b'{"a": ', headers={"content-type": "application/problem+json"}, request=request
    )
    assert isinstance(malformed_body(cut, provider="Fake"), errors.ServerError)
