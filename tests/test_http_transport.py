"""The transport under the adapters: connections are reused (after streams too), the async pool stays
healthy after a burst, and the async transport (aiohttp) keeps every behaviour of httpx's own: errors
mapped the same way (so "was the request sent?" keeps its answer), timeouts, no redirects, the same
headers on the wire, and a quiet end for a client dropped without ``aclose()``.

Connections are counted where they are accepted: the fake runs with a uvicorn protocol that counts them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import socketserver
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol

from polyface import TogetherAdapter, errors
from polyface.providers._base import aiohttp_transport, http
from polyface.providers._base.retry import RetryPolicy
from polyface.testing.fake_together import FakeTogether

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


class Counter:
    def __init__(self) -> None:
        self.made = 0
        self.lost = 0


def counting_fake() -> tuple[FakeTogether, Counter]:
    counter = Counter()

    class Counting(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            counter.made += 1
            super().connection_made(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            counter.lost += 1
            super().connection_lost(exc)

    return FakeTogether(http=Counting), counter  # type: ignore[arg-type]  # uvicorn takes a protocol class


@pytest.fixture
def counted() -> Iterator[tuple[FakeTogether, Counter]]:
    fake, counter = counting_fake()
    with fake:
        yield fake, counter


def adapter(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


# ---- connection reuse -----------------------------------------------------------------------------------


def test_sync_streams_read_to_their_end_reuse_one_connection(counted: tuple[FakeTogether, Counter]) -> None:
    fake, counter = counted
    with adapter(fake) as together:
        together.text.generate(model=CHAT, messages="warm")  # (and the model catalog, for the cost)
        for i in range(10):
            assert together.text.stream(model=CHAT, messages=f"s{i}").until_done().text == f"Echo: s{i}"
        for _ in range(5):
            assert "".join(d.text for d in together.text.stream(model=CHAT, messages="for")) == "Echo: for"
        assert counter.made == 1, "each stream went back to the pool after [DONE]"
        stream = together.text.stream(model=CHAT, messages="a b c d e f")
        for _ in stream:
            break  # stopped early: that connection is closed, the next call opens a new one
        together.text.generate(model=CHAT, messages="after")
    assert counter.made == 2


@pytest.mark.parametrize("aiohttp", [True, False], ids=["aiohttp", "httpx-transport"])
async def test_async_streams_read_to_their_end_reuse_one_connection(
    counted: tuple[FakeTogether, Counter], aiohttp: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiohttp_transport, "_AIOHTTP", aiohttp)
    fake, counter = counted
    async with adapter(fake) as together:
        await together.text.agenerate(model=CHAT, messages="warm")
        for i in range(10):
            stream = await together.text.astream(model=CHAT, messages=f"s{i}").until_done()
            assert stream.text == f"Echo: s{i}" and stream.usage is not None
        assert counter.made == 1, "each stream went back to the pool after [DONE]"


async def test_async_pool_after_a_64_wide_burst_reuses_it_and_opens_nothing(
    counted: tuple[FakeTogether, Counter],
) -> None:
    fake, counter = counted
    async with adapter(fake) as together:
        await together.text.agenerate(model=CHAT, messages="warm")
        client = together.config.http.aclient
        pool = client._transport
        assert isinstance(pool, aiohttp_transport.AiohttpTransport), "the async client sends through aiohttp"
        replies = await asyncio.gather(
            *(together.text.agenerate(model=CHAT, messages="b") for _ in range(64))
        )
        assert {r.text for r in replies} == {"Echo: b"}
        burst = counter.made
        assert 2 <= burst <= 64

        async def steady(n: int) -> None:
            for _ in range(n):
                assert (await together.text.agenerate(model=CHAT, messages="s")).text == "Echo: s"

        await asyncio.gather(*(steady(25) for _ in range(8)))  # 200 requests, 8 in flight
        assert counter.made == burst, "the steady load after the burst reused the pooled connections"
        assert counter.lost == 0
        connector = pool._session.connector  # type: ignore[union-attr]
        idle = sum(len(conns) for conns in connector._conns.values())  # type: ignore[union-attr]
        assert idle == burst, "every connection is back in the pool, idle: none leaked, none lost"
    await _until(lambda: counter.lost == counter.made)  # aclose() closed them all


async def _until(condition: Any, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting for the fake to notice"
        await asyncio.sleep(0.01)


# ---- the async transport keeps httpx's behaviour --------------------------------------------------------


def test_async_requests_carry_the_same_headers_as_sync_ones(counted: tuple[FakeTogether, Counter]) -> None:
    fake_together = counted[0]  # (not the fixture: that one checks requests against the vendor's schema)
    together = adapter(fake_together, headers={"X-Extra": "1"})
    raw = b'{"model": "%s", "messages": [{"role": "user", "content": "raw"}]}' % CHAT.encode()
    together.text.generate(model=CHAT, messages="same")
    together.config.http.request("POST", "/chat/completions", content=raw)

    async def one() -> None:
        async with together:
            await together.text.agenerate(model=CHAT, messages="same")
            await together.config.http.arequest("POST", "/chat/completions", content=raw)

    asyncio.run(one())
    chats = [r for r in fake_together.requests if r.path == "/v1/chat/completions"]
    assert len(chats) == 4
    sync_json, sync_raw, async_json, async_raw = chats
    assert sync_json.headers == async_json.headers and sync_json.body == async_json.body
    assert sync_raw.headers == async_raw.headers and sync_raw.body == async_raw.body == raw
    assert "content-type" not in async_raw.headers, "no header the caller did not set"


async def test_async_redirects_are_not_followed(fake_together: FakeTogether) -> None:
    fake_together.fail(
        "/v1/models", status=302, headers={"location": "https://elsewhere.example/x?sig=s3cr3t"}
    )
    async with adapter(fake_together) as together:
        with pytest.raises(errors.ProviderError, match="unexpected redirect") as info:
            await together.config.http.arequest("GET", "/models")
    assert info.value.status == 302 and "s3cr3t" not in str(info.value)
    assert len(fake_together.requests) == 1


async def test_async_stream_cut_mid_body_is_a_dropped_connection(fake_together: FakeTogether) -> None:
    fake_together.drop_stream(after_chunks=2)
    async with adapter(fake_together) as together:
        stream = together.text.astream(model=CHAT, messages="one two three four five")
        with pytest.raises(errors.ProviderUnavailable, match="connection was dropped"):
            await stream.until_done()
        assert stream.text, "the part before the cut was delivered"


class RawServer(socketserver.ThreadingTCPServer):
    """Reads one request per connection, then closes (``mode="close"``) or says nothing (``"hang"``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.connections = 0
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), RawHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class RawHandler(socketserver.BaseRequestHandler):
    server: RawServer

    def handle(self) -> None:
        self.server.connections += 1
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        if self.server.mode == "hang":
            self.server.release.wait(10)
        # "close": no answer; the connection ends


@pytest.fixture
def raw_server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    server = RawServer(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def quick_retries(together: TogetherAdapter, max_retries: int) -> TogetherAdapter:
    together.config.retry = RetryPolicy(max_retries=max_retries, initial_delay=0.01, max_delay=0.01)
    return together


@pytest.mark.parametrize("raw_server", ["close"], indirect=True)
async def test_async_connection_dropped_before_the_answer_is_not_never_sent(raw_server: RawServer) -> None:
    together = quick_retries(TogetherAdapter(api_key="k" * 20, base_url=raw_server.url), max_retries=2)
    async with together:
        with pytest.raises(errors.ProviderUnavailable, match="connection was dropped") as info:
            await together.config.http.arequest("POST", "/fine-tunes", json={"x": 1}, idempotent=False)
        assert info.value.hint == http.NOT_RETRIED_HINT
        assert raw_server.connections == 1, "a create request that may have arrived is not sent twice"
        with pytest.raises(errors.ProviderUnavailable, match="connection was dropped"):
            await together.config.http.arequest("POST", "/chat/completions", json={"x": 1})
        assert raw_server.connections == 1 + 3, "an idempotent one is retried (max_retries=2)"


@pytest.mark.parametrize("raw_server", ["hang"], indirect=True)
async def test_async_read_timeout_is_a_provider_timeout(raw_server: RawServer) -> None:
    together = quick_retries(TogetherAdapter(api_key="k" * 20, base_url=raw_server.url), max_retries=0)
    async with together:
        with pytest.raises(errors.ProviderTimeout, match="waiting for the response"):
            await together.config.http.arequest("GET", "/models", timeout=0.3)


async def test_async_refused_connection_is_never_sent_so_even_a_create_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    together = quick_retries(TogetherAdapter(api_key="k" * 20, base_url=f"http://127.0.0.1:{port}/v1"), 2)
    async with together:
        with pytest.raises(errors.ProviderUnavailable, match="could not reach the server") as info:
            await together.config.http.arequest("POST", "/fine-tunes", json={}, idempotent=False)
        assert together.config.http.stats["retries"] == 2
        assert info.value.hint != http.NOT_RETRIED_HINT


def test_an_async_client_dropped_without_aclose_goes_quietly(
    fake_together: FakeTogether, caplog: pytest.LogCaptureFixture
) -> None:
    held = {"together": adapter(fake_together)}

    async def one() -> str:
        return (await held["together"].text.agenerate(model=CHAT, messages="q")).text

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.DEBUG, logger="asyncio"):
        warnings.simplefilter("always")
        assert asyncio.run(one()) == "Echo: q"
        held.clear()  # the adapter (and its client for that loop) is dropped without aclose()
        gc.collect()
    noisy = [str(w.message) for w in caught if "Unclosed" in str(w.message)]
    assert not noisy, noisy
    assert "Unclosed" not in caplog.text


def test_without_aiohttp_the_async_client_is_httpx_own(
    fake_together: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiohttp_transport, "_AIOHTTP", False)
    together = adapter(fake_together)

    async def one() -> tuple[str, bool]:
        async with together:
            reply = await together.text.agenerate(model=CHAT, messages="plain")
            pool = together.config.http.aclient._transport
            return reply.text, isinstance(pool, aiohttp_transport.AiohttpTransport)

    assert asyncio.run(one()) == ("Echo: plain", False)
