"""OpenAI-compatible servers: one row of data each, used through polyface.provider(...)."""

from __future__ import annotations

import pytest

import polyface
from polyface.errors import (
    AuthenticationError,
    CapabilityNotSupported,
    ConfigurationError,
    MissingCredentials,
)
from polyface.providers.openai_compatible import SERVERS, CompatibleServer, register
from polyface.testing.fake_together import FakeServer

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def test_a_known_row_talks_to_its_server(fake_compatible: FakeServer) -> None:
    with polyface.provider(
        "vllm", base_url=fake_compatible.base_url, api_key=fake_compatible.api_key
    ) as vllm:
        reply = vllm.text.generate(model=CHAT, messages="hello vllm")
        stream = vllm.text.stream(model=CHAT, messages="hello vllm")
        streamed = stream.until_done().text
        models = vllm.models()
    assert reply.text == "Echo: hello vllm" == streamed
    assert reply.provider == "vllm" and reply.usage.total_tokens > 0
    assert stream.usage is not None and stream.usage.total_tokens == reply.usage.total_tokens
    assert CHAT in {m.id for m in models}
    body = next(r.json for r in fake_compatible.requests if r.json and r.json.get("stream"))
    assert body["stream_options"] == {"include_usage": True}


def test_base_url_comes_from_the_rows_environment_variable(
    fake_compatible: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_compatible.base_url)
    ollama = polyface.provider("ollama", api_key=fake_compatible.api_key)
    assert ollama.config.base_url == fake_compatible.base_url
    assert ollama.text.generate(model=CHAT, messages="hi").text == "Echo: hi"


@pytest.mark.together_spec_exempt(reason="a keyless request (fine for Ollama) is outside OpenAI's spec")
def test_a_local_server_needs_no_key_but_a_gateway_does(fake_compatible: FakeServer) -> None:
    keyless = polyface.provider("ollama", base_url=fake_compatible.base_url)
    with pytest.raises(AuthenticationError):  # the fake wants a key; Ollama itself would not
        keyless.text.generate(model=CHAT, messages="hi")
    assert "authorization" not in fake_compatible.requests[-1].headers
    with pytest.raises(MissingCredentials, match="OPENROUTER_API_KEY"):
        polyface.provider("openrouter", base_url=fake_compatible.base_url).text.generate(
            model=CHAT, messages="x"
        )


def test_a_user_supplied_row_works_the_same_way(fake_compatible: FakeServer) -> None:
    row = register(CompatibleServer("acme-gw", "Acme gateway", fake_compatible.base_url, "ACME_GW_KEY"))
    try:
        for adapter in (
            polyface.provider("acme-gw", api_key=fake_compatible.api_key),
            polyface.provider(row, api_key=fake_compatible.api_key),
        ):
            assert adapter.text.generate(model=CHAT, messages="acme").text == "Echo: acme"
    finally:
        SERVERS.pop("acme-gw")


def test_what_a_row_does_not_offer_says_who_does() -> None:
    openrouter = polyface.provider("openrouter", api_key="k" * 20)
    with pytest.raises(CapabilityNotSupported, match="OpenRouter speaks OpenAI's chat"):
        openrouter.embeddings  # noqa: B018
    with pytest.raises(CapabilityNotSupported, match="together, openai"):
        openrouter.image  # noqa: B018
    assert type(openrouter).capabilities()["text"] is True
    assert type(openrouter).capabilities()["embeddings"] is False


def test_bad_rows_and_unknown_names_are_refused_clearly() -> None:
    with pytest.raises(ConfigurationError, match="not image"):
        CompatibleServer("x", "X", "http://127.0.0.1:1/v1", offers=frozenset({"image"}))
    with pytest.raises(ConfigurationError, match="http"):
        CompatibleServer("x", "X", "ftp://nowhere")
    with pytest.raises(ConfigurationError, match=r"unknown provider .nosuch.*ollama"):
        polyface.provider("nosuch")


def test_embeddings_and_the_generic_row(fake_compatible: FakeServer) -> None:

    vllm = polyface.provider("vllm", base_url=fake_compatible.base_url, api_key=fake_compatible.api_key)
    with pytest.raises(CapabilityNotSupported, match="vLLM has no rerank API"):
        vllm.embeddings.rerank(model="m", query="q", documents=["d"])
    generic = polyface.provider("openai_compatible", base_url=fake_compatible.base_url, api_key="k" * 20)
    assert type(generic).capabilities()["text"] is True
    with pytest.raises(ConfigurationError, match="needs base_url"):
        polyface.provider("openai_compatible")
