"""Property-based tests of request arguments: random chat and embeddings arguments either fail before
anything is sent, with :class:`InvalidArgument` and a message, or produce a request the vendor's
published OpenAPI spec accepts (checked with ``tests/spec_check.py``, as the conftest does); and the
server's JSON request bodies: random JSON to every ``/api`` body endpoint (and random row ids in URLs)
gets a 2xx or a 4xx JSON error with a stable code and a message, never a 5xx.

Covered: chat (``text.generate``, Together and OpenAI), embeddings (``embeddings.embed``, Together and
OpenAI), the REST API's bodies (personas, consents, plan, train, avatars, respond, resume, text rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _fuzz_media import error_body
from _fuzz_strategies import FEW, FUZZ, SOME, json_values, words
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from openai_spec import OPENAI
from polyface import OpenAIAdapter, TogetherAdapter
from polyface.errors import InvalidArgument, ProviderError
from polyface.persona.studio import Studio
from polyface.server.app import create_app
from polyface.server.settings import ServerSettings
from polyface.testing.fake_together import FakeTogether
from spec_check import VendorSpec
from together_spec import TOGETHER

pytestmark = pytest.mark.reliability


def _sent_is_valid(fake: Any, spec: VendorSpec, already: int, call: Any) -> bool:
    """Run ``call``; True when it sent requests (each must match ``spec``), False when it refused the
    arguments with InvalidArgument before sending anything. Any other exception fails the test."""
    try:
        call()
    except InvalidArgument as exc:
        assert str(exc).strip(), "an InvalidArgument without a message"
        assert len(fake.requests) == already, "a refused argument must fail before anything is sent"
        return False
    except ProviderError:
        pass  # the fake may refuse what it does not serve; the request itself is still checked below
    new = fake.requests[already:]
    assert new, "nothing was sent"
    problems = spec.requests_problems(new)
    assert not problems, "\n".join(problems)
    return True


# ---- chat ------------------------------------------------------------------------------------------

CHAT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "max_tokens": st.integers(1, 64),
    "temperature": st.floats(0, 2),
    "top_p": st.floats(0, 1),
    "stop": words | st.lists(words, max_size=3),
    "seed": st.integers(-(2**31), 2**31),
    "n": st.integers(1, 3),
    "presence_penalty": st.floats(-2, 2),
    "frequency_penalty": st.floats(-2, 2),
    "logit_bias": st.dictionaries(st.integers(0, 5000).map(str), st.floats(-100, 100), max_size=3),
    "tools": st.lists(
        st.builds(
            lambda name: {
                "type": "function",
                "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
            },
            st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
        ),
        min_size=1,
        max_size=2,
    ),
    "tool_choice": st.sampled_from(["auto", "none"]),
    "response_format": st.sampled_from([{"type": "json_object"}, {"type": "text"}]),
}
TOGETHER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "logprobs": st.integers(0, 20) | st.booleans(),
    "top_k": st.integers(1, 100),
    "min_p": st.floats(0, 1),
    "repetition_penalty": st.floats(0.5, 2),
    "echo": st.booleans(),
    "context_length_exceeded_behavior": st.sampled_from(["truncate", "error"]),
    "reasoning_effort": st.sampled_from(["low", "medium", "high", "extreme"]),
}
OPENAI_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "user": words,
    "logprobs": st.booleans(),
    "top_logprobs": st.integers(0, 20),
    "metadata": st.dictionaries(words, words, max_size=3),
    "store": st.booleans(),
    "parallel_tool_calls": st.booleans(),
    "verbosity": st.sampled_from(["low", "medium", "high"]),
    "service_tier": st.sampled_from(["auto", "default", "flex"]),
}


@st.composite
def chat_options(draw: st.DrawFn, own: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """Options by name: mostly well-typed values, some random JSON, now and then an unknown name."""
    values = {**CHAT_VALUES, **own}
    names = draw(st.lists(st.sampled_from(sorted(values)), max_size=4, unique=True))
    options = {
        name: draw(values[name] | json_values if draw(st.booleans()) else values[name]) for name in names
    }
    if draw(st.integers(0, 9)) == 0:
        options[draw(st.sampled_from(["temprature", "max_length", "stream", "api_key"]))] = draw(json_values)
    return options


message = st.one_of(
    st.builds(lambda role, text: {"role": role, "content": text}, st.sampled_from(["user", "system"]), words),
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "robot", 7]), "content": json_values}
    ),
    words,
)
messages = st.lists(message, min_size=1, max_size=4) | words


@pytest.mark.together_spec_exempt(reason="each example's requests are checked against the spec in the test")
@SOME
@given(options=chat_options(TOGETHER_VALUES), sent=messages, system=st.none() | words)
def test_together_chat_arguments_validate_or_match_the_spec(
    fake_together: FakeTogether, options: dict[str, Any], sent: Any, system: str | None
) -> None:
    adapter = TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url, max_retries=0)
    with adapter:
        _sent_is_valid(
            fake_together,
            TOGETHER,
            len(fake_together.requests),
            lambda: adapter.text.generate(
                model="meta-llama/Llama-3.3-70B-Instruct-Turbo", messages=sent, system=system, **options
            ),
        )


@pytest.mark.together_spec_exempt(reason="each example's requests are checked against the spec in the test")
@SOME
@given(options=chat_options(OPENAI_VALUES), sent=messages)
def test_openai_chat_arguments_validate_or_match_the_spec(
    fake_openai: Any, options: dict[str, Any], sent: Any
) -> None:
    adapter = OpenAIAdapter(api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=0)
    with adapter:
        _sent_is_valid(
            fake_openai,
            OPENAI,
            len(fake_openai.requests),
            lambda: adapter.text.generate(model="gpt-4o-mini", messages=sent, **options),
        )


# ---- embeddings ----------------------------------------------------------------------------------------

embedding_inputs = st.one_of(
    words,
    st.lists(words, min_size=1, max_size=5),
    st.lists(json_values, max_size=3),
    json_values,
    st.just(""),
    st.just(["fine", "  "]),
)


@pytest.mark.together_spec_exempt(reason="each example's requests are checked against the spec in the test")
@SOME
@given(
    inputs=embedding_inputs,
    batch=st.none() | st.integers(-1, 3) | json_values,
    extra=st.dictionaries(st.sampled_from(["dimensions", "encoding_format", "user", "typo"]), json_values),
)
def test_embeddings_arguments_validate_or_match_the_spec(
    fake_together: FakeTogether, fake_openai: Any, inputs: Any, batch: Any, extra: dict[str, Any]
) -> None:
    together = TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url, max_retries=0)
    with together:
        _sent_is_valid(
            fake_together,
            TOGETHER,
            len(fake_together.requests),
            lambda: together.embeddings.embed(model="BAAI/bge-base-en-v1.5", inputs=inputs, batch_size=batch),
        )
    openai = OpenAIAdapter(api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=0)
    with openai:
        _sent_is_valid(
            fake_openai,
            OPENAI,
            len(fake_openai.requests),
            lambda: openai.embeddings.embed(model="text-embedding-3-small", inputs=inputs, **extra),
        )


# ---- the server's request bodies: 2xx or a 4xx JSON error, never 5xx ---------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    studio = Studio(f"sqlite:///{tmp_path / 'bodies.db'}", data_dir=tmp_path / "studio")
    with TestClient(create_app(studio, ServerSettings()), raise_server_exceptions=False) as client:
        assert client.post("/api/personas", json={"name": "rex"}).status_code == 201
        yield client
    studio.close()


BODY_ENDPOINTS: dict[str, tuple[str, dict[str, st.SearchStrategy[Any]]]] = {
    # (method, path): the body's known fields and plausible values (random JSON is mixed in)
    "create persona": ("POST /api/personas", {"name": words, "description": words, "system_prompt": words}),
    "update persona": ("PATCH /api/personas/rex", {"description": words, "style_notes": words}),
    "consent": (
        "POST /api/personas/rex/consents",
        {
            "subject": words,
            "uses": st.lists(st.sampled_from(["voice", "image", "video", "smell"])),
            "note": words,
        },
    ),
    "plan": (
        "POST /api/personas/rex/plan",
        {
            "text": st.sampled_from(["local", "together", "nowhere:x", ""]),
            "voice": st.sampled_from(["local", "openai"]),
            "parameters": st.dictionaries(
                st.sampled_from(["text", "voice"]), st.dictionaries(words, json_values)
            ),
        },
    ),
    "train": (
        "POST /api/personas/rex/train",
        {"plan": json_values, "budget_usd": st.floats(allow_nan=False, allow_infinity=False)},
    ),
    "avatar": (
        "POST /api/personas/rex/avatars",
        {
            "runs": st.lists(words, max_size=2),
            "models": st.dictionaries(st.sampled_from(["text", "voice", "x"]), words, max_size=2),
            "note": words,
            "activate": st.booleans(),
        },
    ),
    "respond": (
        "POST /api/personas/rex/respond",
        {
            "input": words,
            "output_modalities": st.lists(st.sampled_from(["text", "voice", "smell"])),
            "conversation": st.integers(),
            "max_tokens": st.integers(),
            "temperature": st.floats(allow_nan=False, allow_infinity=False),
            "seed": st.integers(),
            "voice_options": st.dictionaries(
                st.sampled_from(["speed", "voice", "text", "model", "extra_body"]), json_values
            ),
            "image_options": st.dictionaries(
                st.sampled_from(["size", "reference_images", "image_url", "seed"]),
                st.sampled_from(["/etc/passwd", "64x64", 7]) | json_values,
            ),
        },
    ),
    "resume": ("POST /api/runs/resume", {"persona": words | st.just("rex")}),
    "text rows": ("POST /api/personas/rex/samples/text", {"rows": json_values, "system": json_values}),
}


@st.composite
def bodies(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> Any:
    if draw(st.integers(0, 3)) == 0:
        return draw(json_values)  # anything at all
    names = draw(st.lists(st.sampled_from(sorted(fields)), max_size=len(fields), unique=True))
    body = {name: draw(fields[name] | json_values if draw(st.booleans()) else fields[name]) for name in names}
    if draw(st.integers(0, 5)) == 0:
        body[draw(st.text(max_size=8))] = draw(json_values)
    return body


@pytest.mark.parametrize("endpoint", sorted(BODY_ENDPOINTS))
def test_random_json_bodies_get_2xx_or_a_4xx_json_error(api: TestClient, endpoint: str) -> None:
    method_path, fields = BODY_ENDPOINTS[endpoint]
    method, path = method_path.split(" ")
    seen: dict[int, int] = {}

    @FEW
    @given(body=bodies(fields))
    def check(body: Any) -> None:
        response = api.request(method, path, json=body)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if response.status_code < 300:
            return
        error = error_body(response, *range(400, 500))
        assert error["code"] not in ("internal_error", "polyface_error"), error

    check()
    assert any(status >= 400 for status in seen), seen  # the fuzz did reach the error paths


@FUZZ
@given(
    number=st.integers() | st.sampled_from([2**31, 2**63, -1, 10**30]),
    route=st.sampled_from(
        [
            "GET /api/personas/rex/samples/{n}",
            "GET /api/personas/rex/samples/{n}/content",
            "DELETE /api/personas/rex/samples/{n}",
            "GET /api/conversations/{n}",
            "POST /api/personas/rex/consents/{n}/revoke",
            "POST /api/personas/rex/avatars/{n}/activate",
        ]
    ),
)
def test_any_row_id_in_a_url_is_404_or_422_never_500(api: TestClient, number: int, route: str) -> None:
    method, path = route.split(" ")
    response = api.request(method, path.format(n=number))
    error = error_body(response, 400, 404, 409, 422)
    assert error["code"] in (
        "sample_not_found",
        "conversation_not_found",
        "consent_not_found",
        "invalid_request",
        "invalid_argument",
        "no_avatar",
    ), error


def test_respond_options_cannot_reach_files_or_override_the_avatar(api: TestClient) -> None:
    """``*_options`` are typed: a file path, a model or a raw field is refused (422) before anything runs."""
    for options in (
        {"image_options": {"reference_images": "/etc/passwd"}},
        {"image_options": {"image_url": "file:///etc/passwd"}},
        {"voice_options": {"voice": "someone-else"}},
        {"voice_options": {"text": "say this instead"}},
        {"video_options": {"audio": "/etc/shadow"}},
        {"voice_options": {"speed": 99}},
        {"image_options": {"size": "../../x"}},
    ):
        response = api.post("/api/personas/rex/respond", json={"input": "hi", **options})
        error = error_body(response, 422)
        assert error["code"] == "invalid_request", (options, error)
    fine = api.post(
        "/api/personas/rex/respond", json={"input": "hi", "voice_options": {"speed": 1.2}}
    )  # well-formed: refused only because rex has no avatar yet
    assert error_body(fine, 409)["code"] == "no_avatar"


def test_text_the_database_cannot_store_is_422_not_500(studio: Studio) -> None:
    """NUL characters (PostgreSQL text refuses them) in any stored field: a 422, on both databases."""
    with TestClient(create_app(studio, ServerSettings()), raise_server_exceptions=False) as client:
        created = client.post("/api/personas", json={"name": "rex", "description": "gruff\x00"})
        if created.status_code != 201:  # PostgreSQL: refused; SQLite stores it
            assert error_body(created, 422)["code"] == "invalid_value"
            assert client.post("/api/personas", json={"name": "rex"}).status_code == 201
        consent = client.post("/api/personas/rex/consents", json={"subject": "Rex\x00", "uses": ["voice"]})
        assert consent.status_code == 201 or error_body(consent, 422)["code"] == "invalid_value"
        patched = client.patch("/api/personas/rex", json={"style_notes": "\x00"})
        assert patched.status_code == 200 or error_body(patched, 422)["code"] == "invalid_value"
