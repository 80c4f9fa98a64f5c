"""AnthropicAdapter.batches (Message Batches) against the local Anthropic fake."""

from __future__ import annotations

from typing import Any

import pytest

from polyface import AnthropicAdapter
from polyface.errors import InvalidArgument, InvalidRequest, JobFailed, NotFound
from polyface.testing.fake_anthropic import FakeAnthropic

HAIKU = "claude-haiku-4-5"  # $1 in / $5 out per 1M tokens in the shipped table; batches at half


def adapter_for(fake: FakeAnthropic) -> AnthropicAdapter:
    return AnthropicAdapter(api_key=fake.api_key, base_url=fake.base_url)


def requests_for(*words: str) -> list[dict[str, Any]]:
    return [
        {"custom_id": f"q{i}", "model": HAIKU, "messages": w, "max_tokens": 50} for i, w in enumerate(words)
    ]


def test_create_wait_and_results_priced_at_half(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    job = claude.batches.create(requests_for("one two", "three"))
    assert job.id.startswith("msgbatch_")
    assert job.status == "in_progress"
    sent = fake_anthropic.requests[-1].json["requests"]
    assert sent[0] == {
        "custom_id": "q0",
        "params": {"model": HAIKU, "messages": [{"role": "user", "content": "one two"}], "max_tokens": 50},
    }
    seen: list[str] = []
    assert job.wait(poll_interval=0.001, progress=lambda info: seen.append(info.processing_status)) is job
    assert seen == ["in_progress", "ended"]
    assert job.info is not None and job.info.request_counts.succeeded == 2
    results = job.results()
    assert [r.custom_id for r in results] == ["q0", "q1"]
    first = results[0].response
    assert first is not None and first.text == "Echo: one two"
    assert first.cost == pytest.approx((2 * 1.0 + 3 * 5.0) / 1_000_000 / 2)


def test_errored_requests_and_params_passed_as_is(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    good = {
        "custom_id": "ok",
        "params": {"model": HAIKU, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    }
    bad = {"custom_id": "bad", "params": {"model": HAIKU, "max_tokens": 5, "messages": []}}
    job = claude.batches.create([good, bad]).wait(poll_interval=0.001)
    by_id = {r.custom_id: r for r in job.results()}
    assert by_id["ok"].ok and not by_id["bad"].ok
    assert by_id["bad"].error_type == "invalid_request_error"
    assert job.info.request_counts.errored == 1


def test_a_canceled_batch_fails_to_wait_for(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    job = claude.batches.create(requests_for("a"))
    assert job.cancel().processing_status == "canceling"
    with pytest.raises(JobFailed, match="1 canceled"):
        job.wait(poll_interval=0.001)
    assert [r.type for r in job.results()] == ["canceled"]


def test_get_list_and_delete(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    ids = [claude.batches.create(requests_for(str(i))).id for i in range(3)]
    assert [b.id for b in claude.batches.list()] == ids[::-1]
    assert [b.id for b in claude.batches.list(limit=2)] == ids[::-1][:2]
    again = claude.batches.get(ids[0])
    assert again.id == ids[0] and again.status == "in_progress"
    with pytest.raises(InvalidRequest, match="still processing"):
        again.results()
    with pytest.raises(InvalidRequest):
        claude.batches.delete(ids[0])
    again.wait(poll_interval=0.001)
    claude.batches.delete(ids[0])
    with pytest.raises(NotFound):
        claude.batches.get(ids[0])


def test_list_follows_pages(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    ids = [claude.batches.create(requests_for(str(i))).id for i in range(fake_anthropic.page_limit + 1)]
    assert [b.id for b in claude.batches.list()] == ids[::-1]
    pages = [r for r in fake_anthropic.requests if r.method == "GET" and r.path == "/v1/messages/batches"]
    assert len(pages) == 2 and f"after_id={ids[1]}" in pages[1].query


def test_bad_requests_are_refused_before_sending(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    with pytest.raises(InvalidArgument, match="custom_id"):
        claude.batches.create([{"custom_id": "no spaces please", "model": HAIKU, "messages": "x"}])
    with pytest.raises(InvalidArgument, match="non-empty"):
        claude.batches.create([])
    with pytest.raises(InvalidArgument, match="cannot stream"):
        claude.batches.create([{"custom_id": "s", "model": HAIKU, "messages": "x", "stream": True}])
    assert fake_anthropic.requests == []


async def test_async_batches(fake_anthropic: FakeAnthropic) -> None:
    async with adapter_for(fake_anthropic) as claude:
        job = await claude.batches.acreate(requests_for("async one"))
        await job.async_wait(poll_interval=0.001)
        (result,) = await job.aresults()
        assert result.response is not None and result.response.text == "Echo: async one"
        assert [b.id for b in await claude.batches.alist()] == [job.id]
        await claude.batches.adelete(job.id)
        assert await claude.batches.alist() == []
