"""The OpenAI-compatible gateway, driven by the official ``openai`` package against a real uvicorn server
(a background thread on a free port of 127.0.0.1): chats with a persona (whole and streamed), speech in
its voice, models, embeddings, keys (missing, wrong, revoked: 401; stored hashed), per-key limits (429),
metrics and health. The persona's avatar runs on the ``local`` provider (SmolLM2, eSpeak NG)."""

from __future__ import annotations

import hashlib
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from polyface.errors import ServerError
from polyface.persona.studio import Studio
from polyface.persona.tables import ApiKey
from polyface.server.auth import create_key, list_keys, revoke_key, verify_key
from polyface.types.models import ModelInfo
from polyface.types.text import TextDelta, TextResponse
from polyface.types.usage import Usage

TEXT_MODEL = "smollm2-135m-instruct"
SYSTEM_PROMPT = "You are Rex, a gruff truck driver. Answer in one short sentence."
QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What matters most?"}]


class FlakyText:
    """A provider's text that answers, or streams one piece and then fails as a provider would."""

    def generate(self, *, model: str, messages: Any, **options: Any) -> TextResponse:
        usage = Usage(input_tokens=7, output_tokens=3, total_tokens=10)
        return TextResponse(provider="flaky", model=model, text="fine", usage=usage, cost=0.25)

    def stream(self, *, model: str, messages: Any, **options: Any) -> Iterator[TextDelta]:
        yield TextDelta(text="Fam")
        raise ServerError("upstream broke", provider="flaky", status=500)


class FlakyAdapter:
    """A provider given to the Studio by name (like a vendor fake in a load test)."""

    def __init__(self) -> None:
        self.text = FlakyText()
        self.config = SimpleNamespace(api_key=lambda: None)

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(id="flaky-1", provider="flaky", modality="text")]

    def close(self) -> None:
        pass


@dataclass
class Gateway:
    url: str
    studio: Studio
    app: Any

    def client(self, key: str, **options: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **options)

    def key(self, name: str, rpm: float | None = None) -> str:
        return create_key(self.studio, name, rate_limit_rpm=rpm)[1]

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of /metrics (0 when it is not there yet)."""
        text = httpx.get(f"{self.url}/metrics").text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0


def _serve(app: Any) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="polyface-gateway-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:  # waits for the socket, not a fixed time
        assert thread.is_alive(), "the gateway server failed to start"
        assert time.monotonic() < deadline, "the gateway server did not start within 20 s"
        time.sleep(0.005)
    return server, thread, int(server.servers[0].sockets[0].getsockname()[1])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, local_cache_dir: Path) -> Iterator[Gateway]:
    from polyface import LocalAdapter
    from polyface.server.app import create_app
    from polyface.server.settings import ServerSettings

    folder = tmp_path_factory.mktemp("gateway")
    local = LocalAdapter(data_dir=folder / "data", cache_dir=local_cache_dir)
    studio = Studio(
        f"sqlite:///{folder / 'gateway.db'}",
        data_dir=folder / "data",
        providers={"local": local, "flaky": FlakyAdapter()},
    )
    rex = studio.personas.create("rex", description="A gruff driver.", system_prompt=SYSTEM_PROMPT)
    rex.set_avatar({"text": f"local:{TEXT_MODEL}", "voice": "local:espeak-ng"})
    studio.personas.create("ghost")  # no avatar
    app = create_app(studio, ServerSettings(redis_url=None, rate_limit_rpm=None))
    server, thread, port = _serve(app)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", studio, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        studio.close()


_names = iter(range(1_000_000))


@pytest.fixture
def client(gateway: Gateway) -> openai.OpenAI:
    return gateway.client(gateway.key(f"test-{next(_names)}"))


# ---- chat --------------------------------------------------------------------------------------------


def test_a_persona_chats_in_character_with_usage_and_cost(gateway: Gateway, client: openai.OpenAI) -> None:
    before = gateway.metric(
        "polyface_http_requests_total", route="/v1/chat/completions", method="POST", status="200"
    )
    tokens_before = gateway.metric("polyface_gateway_tokens_total", model="persona/rex", kind="output")
    raw = client.chat.completions.with_raw_response.create(
        model="persona/rex",
        messages=QUESTION,
        max_tokens=8,
        temperature=0,
    )
    reply = raw.parse()
    text = reply.choices[0].message.content
    assert text and reply.model == "persona/rex" and reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert raw.headers["x-polyface-cost-usd"] == "0"  # local is free, and says so
    # the persona's own model answered, with its system prompt before the client's messages
    direct = gateway.studio.adapter("local").text.generate(
        model=TEXT_MODEL,
        messages=[{"role": "system", "content": SYSTEM_PROMPT}, *QUESTION],
        max_tokens=8,
        temperature=0,
    )
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == direct.usage.input_tokens
    assert 0 < reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert text == direct.text
    assert (reply.model_extra or {})["polyface"]["provider_model"] == TEXT_MODEL
    # nothing stored: the client's messages are the memory
    assert gateway.studio.personas.get("rex").info().samples == {}
    after = gateway.metric(
        "polyface_http_requests_total", route="/v1/chat/completions", method="POST", status="200"
    )
    assert after == before + 1
    assert gateway.metric(
        "polyface_gateway_tokens_total", model="persona/rex", kind="output"
    ) == tokens_before + float(reply.usage.completion_tokens)


def test_a_persona_streams_its_answer(gateway: Gateway, client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(
        model="persona/rex",
        messages=QUESTION,
        max_tokens=8,
        temperature=0,
    )
    chunks = list(
        client.chat.completions.create(
            model="persona/rex",
            messages=QUESTION,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.model == "persona/rex" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert usage is not None and not chunks[-1].choices
    assert usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]
    # on the wire: SSE events ending with [DONE]
    key = gateway.key(f"raw-{next(_names)}")
    body = {"model": "persona/rex", "messages": QUESTION, "max_tokens": 4, "stream": True}
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"


def test_chat_forwards_to_a_provider_model(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=f"local/{TEXT_MODEL}",
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=4,
    )
    assert reply.choices[0].message.content and reply.model == f"local/{TEXT_MODEL}"
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_a_given_provider_reports_cost_and_fails_mid_stream_in_openai_shape(
    gateway: Gateway, client: openai.OpenAI
) -> None:
    cost_before = gateway.metric("polyface_gateway_cost_usd_total", model="flaky/flaky-1")
    raw = client.chat.completions.with_raw_response.create(model="flaky/flaky-1", messages=QUESTION)
    assert raw.headers["x-polyface-cost-usd"] == "0.25"
    assert raw.parse().usage.prompt_tokens == 7  # type: ignore[union-attr]
    assert gateway.metric("polyface_gateway_cost_usd_total", model="flaky/flaky-1") == cost_before + 0.25
    assert "flaky/flaky-1" in [m.id for m in client.models.list()]
    pieces: list[str] = []
    with pytest.raises(openai.APIError, match="upstream broke"):
        for chunk in client.chat.completions.create(model="flaky/flaky-1", messages=QUESTION, stream=True):
            pieces += [chunk.choices[0].delta.content or ""] if chunk.choices else []
    assert "".join(pieces) == "Fam"


def test_unknown_models_and_personas_without_avatar_are_clear_errors(client: openai.OpenAI) -> None:
    for model in ("persona/nobody", "nosuch/model", "gpt-4o"):
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(model=model, messages=QUESTION)
        assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as no_avatar:
        client.chat.completions.create(model="persona/ghost", messages=QUESTION)
    assert no_avatar.value.code == "persona_has_no_avatar" and "no avatar yet" in no_avatar.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="persona/rex", messages=[])
    assert bad.value.code == "invalid_request_body"


# ---- speech, models, embeddings -------------------------------------------------------------------------


def wav_seconds(data: bytes) -> float:
    with wave.open(BytesIO(data)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return float(wav.getnframes()) / float(wav.getframerate())


def test_a_persona_speaks_with_its_avatar_voice(client: openai.OpenAI) -> None:
    raw = client.audio.speech.with_raw_response.create(
        model="persona/rex", voice="persona/rex", input="Family first.", response_format="wav"
    )
    assert raw.headers["content-type"] == "audio/wav"
    assert raw.headers["x-polyface-cost-usd"] == "0"
    seconds = wav_seconds(raw.content)
    assert 0.3 < seconds < 5
    # the persona named as the voice only, with a model that is not the persona: still its voice
    again = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="persona/rex", input="Family first."
    )
    assert again.headers["content-type"] == "audio/wav"  # no format asked: the voice's own (WAV)
    assert wav_seconds(again.content) == pytest.approx(seconds, abs=0.05)
    longer = client.audio.speech.create(
        model="persona/rex", voice="alloy", input="Family first. Always family, kid, and the open road."
    )
    assert wav_seconds(longer.content) > seconds + 0.5
    # formats the voice does not make are converted (ffmpeg)
    mp3 = client.audio.speech.with_raw_response.create(
        model="persona/rex", voice="persona/rex", input="Family first.", response_format="mp3"
    )
    assert mp3.headers["content-type"] == "audio/mpeg"
    assert mp3.content[:3] == b"ID3" or mp3.content[0] == 0xFF


def test_models_list_personas_and_configured_providers(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert {"persona/rex", "persona/ghost", f"local/{TEXT_MODEL}", "local/espeak-ng"} <= set(ids)
    # together, openai and anthropic have no key in the tests: left out, not an error
    assert not [i for i in ids if i.split("/")[0] in ("together", "openai", "anthropic")]
    assert client.models.retrieve("persona/rex").owned_by == "polyface"


def test_embeddings_are_forwarded(client: openai.OpenAI) -> None:
    made = client.embeddings.create(model="local/all-minilm-l6-v2", input=["family first", "the open road"])
    assert [d.index for d in made.data] == [0, 1]
    assert len(made.data[0].embedding) == 384 and made.data[0].embedding != made.data[1].embedding
    floats = client.embeddings.create(
        model="local/all-minilm-l6-v2", input="family first", encoding_format="float"
    )
    assert floats.data[0].embedding == pytest.approx(made.data[0].embedding, abs=1e-6)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="persona/rex", input="x")


# ---- keys and limits --------------------------------------------------------------------------------------


def test_requests_without_a_valid_key_get_401(gateway: Gateway) -> None:
    missing = httpx.get(f"{gateway.url}/v1/models")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert missing.json()["error"]["code"] == "invalid_api_key"
    for key in ("pf-" + "x" * 43, "sk-not-a-polyface-key"):
        with pytest.raises(openai.AuthenticationError) as caught:
            gateway.client(key).models.list()
        assert caught.value.code == "invalid_api_key"
    name = f"revoked-{next(_names)}"
    secret = gateway.key(name)
    user = gateway.client(secret)
    assert user.models.list().data
    revoke_key(gateway.studio, name)
    with pytest.raises(openai.AuthenticationError):
        user.models.list()
    with pytest.raises(openai.AuthenticationError):
        user.chat.completions.create(model="persona/rex", messages=QUESTION)


def test_a_key_over_its_rate_limit_gets_429(gateway: Gateway) -> None:
    limited = gateway.client(gateway.key(f"limited-{next(_names)}", rpm=3))
    for _ in range(3):
        assert limited.models.list().data
    with pytest.raises(openai.RateLimitError) as caught:
        limited.models.list()
    assert caught.value.code == "rate_limit_exceeded"
    assert int(caught.value.response.headers["retry-after"]) >= 1
    # the limit is per key: another key is not slowed
    assert gateway.client(gateway.key(f"other-{next(_names)}", rpm=3)).models.list().data
    assert gateway.metric("polyface_http_errors_total", route="/v1/models", status="429") >= 1


def test_keys_are_stored_hashed(gateway: Gateway) -> None:
    info, secret = create_key(gateway.studio, f"hashed-{next(_names)}", rate_limit_rpm=10)
    assert secret.startswith("pf-") and len(secret) >= 35 and info.prefix == secret[: len(info.prefix)]
    with gateway.studio.db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.id == info.id))
        assert row is not None
        stored = [str(getattr(row, c.name)) for c in ApiKey.__table__.columns]
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in value or secret[len(info.prefix) :] in value for value in stored)
    assert secret not in repr(list_keys(gateway.studio))


def test_health_and_metrics(gateway: Gateway) -> None:
    health = httpx.get(f"{gateway.url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    before = gateway.metric("polyface_http_requests_total", route="/healthz", method="GET", status="200")
    httpx.get(f"{gateway.url}/healthz")
    assert (
        gateway.metric("polyface_http_requests_total", route="/healthz", method="GET", status="200")
        == before + 1
    )
    assert gateway.metric("polyface_http_request_seconds_count", route="/healthz", method="GET") >= 2


@pytest.mark.redis
def test_a_key_limit_is_shared_through_redis(gateway: Gateway) -> None:
    """Two apps (two server processes) with the same Redis share each key's budget."""
    from fastapi.testclient import TestClient

    from polyface.server.app import create_app
    from polyface.server.settings import ServerSettings

    settings = ServerSettings(redis_url="redis://127.0.0.1:6379/0")
    secret = gateway.key(f"shared-{next(_names)}", rpm=2)
    headers = {"Authorization": f"Bearer {secret}"}
    with (
        TestClient(create_app(gateway.studio, settings)) as first,
        TestClient(create_app(gateway.studio, settings)) as second,
    ):
        assert first.get("/v1/models", headers=headers).status_code == 200
        assert second.get("/v1/models", headers=headers).status_code == 200
        refused = first.get("/v1/models", headers=headers)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert second.get("/v1/models", headers=headers).status_code == 429


# ---- on both databases ------------------------------------------------------------------------------------


def test_keys_verify_and_revoke_on_each_database(studio: Studio) -> None:
    info, secret = create_key(studio, "ci", rate_limit_rpm=5)
    found = verify_key(studio, secret)
    assert found is not None and found.name == "ci" and found.last_used_at is not None
    assert verify_key(studio, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert verify_key(studio, "") is None
    assert revoke_key(studio, info.prefix).revoked
    assert verify_key(studio, secret) is None
    from polyface.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="already exists"):
        create_key(studio, "ci")
    with pytest.raises(InvalidArgument, match="no key named"):
        revoke_key(studio, "nope")
