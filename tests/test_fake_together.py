"""The fake Together server (polyface.testing.fake_together) and the spec validator (together_spec.py)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyface.testing.fake_together import DEFAULT_API_KEY, ERROR_DEFAULTS, FakeTogether, RecordedRequest
from together_spec import (
    SPEC_PATH,
    together_spec,
    validate_together_request,
    validate_together_response,
)

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


# httpx builds an SSL context (~20-40 ms) for every client, even for http:// URLs; build it once.
_SSL_CONTEXT = ssl.create_default_context()


@pytest.fixture
def client(fake_together: FakeTogether) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=fake_together.base_url,
        headers={"Authorization": f"Bearer {fake_together.api_key}"},
        timeout=10,
        verify=_SSL_CONTEXT,
    ) as client:
        yield client


def chat_body(text: Any = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": CHAT_MODEL, "messages": [{"role": "user", "content": text}], **extra}


def sse_data(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line.startswith("data: ")]


def check_response(fake: FakeTogether, response: httpx.Response) -> None:
    """The answer to the last recorded request is one Together's spec documents."""
    validate_together_response(fake.requests[-1], response.status_code, response.headers, response.content)


def recorded(
    *, method: str = "POST", path: str = "/v1/chat/completions", body: Any = None, query: str = ""
) -> RecordedRequest:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"authorization": f"Bearer {DEFAULT_API_KEY}"}
    if body is not None:
        headers["content-type"] = "application/json"
    return RecordedRequest(method, path, query, headers, raw, body, time.monotonic())


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


# ---- lifecycle, auth, recording -------------------------------------------------------------------------


def test_context_manager_serves_on_a_free_port_and_stops() -> None:
    with FakeTogether() as fake:
        assert fake.base_url.startswith("http://127.0.0.1:")
        assert fake.base_url.endswith("/v1")
        response = httpx.get(f"{fake.base_url}/models", headers={"Authorization": f"Bearer {fake.api_key}"})
        assert response.status_code == 200
        base_url = fake.base_url
    assert not fake.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/models", timeout=2)


def test_wrong_key_is_401_with_together_error(fake_together: FakeTogether) -> None:
    response = httpx.get(f"{fake_together.base_url}/models", headers={"Authorization": "Bearer tgp_v1_wrong"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Invalid API key provided", "type": "invalid_api_key", "code": "invalid_api_key"}
    }
    assert response.headers["x-request-id"]
    check_response(fake_together, response)


@pytest.mark.together_spec_exempt(reason="the spec requires the bearer header this test leaves out")
def test_missing_key_is_401(fake_together: FakeTogether) -> None:
    response = httpx.post(f"{fake_together.base_url}/chat/completions", json=chat_body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert len(fake_together.requests) == 1


def test_records_requests(fake_together: FakeTogether, client: httpx.Client) -> None:
    before = time.monotonic()
    client.get("/models", params={"dedicated": "false"}, headers={"X-Custom": "yes"})
    client.post("/chat/completions", json=chat_body("hi"))
    first, second = fake_together.requests
    assert (first.method, first.path, first.query, first.body, first.json) == (
        "GET",
        "/v1/models",
        "dedicated=false",
        b"",
        None,
    )
    assert first.headers["x-custom"] == "yes"
    assert first.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert second.json == chat_body("hi")
    assert json.loads(second.body) == chat_body("hi")
    assert before <= first.time <= second.time <= time.monotonic()
    assert first.request_id != second.request_id


def test_every_response_has_a_unique_request_id(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.fail("/v1/models", status=500)
    ids = [client.get("/models").headers["x-request-id"] for _ in range(3)]
    ids.append(client.post("/chat/completions", json=chat_body(stream=True)).headers["x-request-id"])
    assert len(set(ids)) == 4
    assert [r.request_id for r in fake_together.requests] == ids


@pytest.mark.together_spec_exempt(reason="requests an undocumented path on purpose")
def test_unknown_route_is_404(fake_together: FakeTogether, client: httpx.Client) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.headers["x-request-id"]


def test_reset_clears_requests_faults_counters_and_jobs(
    fake_together: FakeTogether, client: httpx.Client
) -> None:
    fake_together.models.append(dict(fake_together.models[0], id="extra/model"))
    client.post("/fine-tunes", json={"model": CHAT_MODEL, "training_file": "file-1"})
    fake_together.fail("*", status=500, times=5)
    fake_together.reset()
    assert fake_together.requests == []
    assert fake_together.fine_tunes == []
    assert fake_together.streams_cancelled == 0
    assert client.get("/models").status_code == 200
    assert "extra/model" in [m["id"] for m in fake_together.models]


# ---- models ---------------------------------------------------------------------------------------------


def test_models_list(fake_together: FakeTogether, client: httpx.Client) -> None:
    response = client.get("/models")
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()}
    assert {
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
        "Qwen/Qwen2.5-7B-Instruct-Turbo",
        "BAAI/bge-base-en-v1.5",
        "black-forest-labs/FLUX.1-schnell",
        "mistralai/Mixtral-8x7B-v0.1",
    } <= models.keys()
    llama = models[CHAT_MODEL]
    assert llama["type"] == "chat"
    assert llama["pricing"] == {"hourly": 0.0, "input": 0.88, "output": 0.88, "base": 0.0, "finetune": 0.0}
    assert llama["context_length"] == 131_072
    assert llama["display_name"] and llama["organization"] == "Meta"
    assert models["BAAI/bge-base-en-v1.5"]["type"] == "embedding"
    assert models["mistralai/Mixtral-8x7B-v0.1"]["type"] == "language"
    # The live API lists audio, transcribe and video models too; the spec's type enum leaves those out, so
    # they are checked apart: everything else about them must still match the spec.
    unlisted = {"audio", "transcribe", "video"}
    assert {m["type"] for m in models.values()} & unlisted == unlisted
    documented = [m for m in response.json() if m["type"] not in unlisted]
    relabelled = [dict(m, type="chat") for m in response.json() if m["type"] in unlisted]
    for body in (documented, relabelled):
        check_response(fake_together, httpx.Response(200, json=body, request=response.request))


def test_models_catalog_is_mutable(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.models.append(dict(fake_together.models[0], id="acme/new-model"))
    assert "acme/new-model" in [m["id"] for m in client.get("/models").json()]
    assert client.post("/chat/completions", json=dict(chat_body(), model="acme/new-model")).status_code == 200
    fake_together.models = []
    assert client.get("/models").json() == []


def test_unknown_model_is_404_model_not_found_only_when_strict(
    fake_together: FakeTogether, client: httpx.Client
) -> None:
    body = dict(chat_body(), model="nobody/nothing")
    assert client.post("/chat/completions", json=body).json()["model"] == "nobody/nothing"
    fake_together.strict_models = True
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    check_response(fake_together, response)


# ---- chat completions -----------------------------------------------------------------------------------


def test_chat_echo_and_usage(fake_together: FakeTogether, client: httpx.Client) -> None:
    body = {
        "model": CHAT_MODEL,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "hello there world"},
        ],
    }
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == CHAT_MODEL
    assert data["id"] and isinstance(data["created"], int)
    assert data["prompt"] == []
    assert data["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Echo: hello there world"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert data["usage"] == {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    check_response(fake_together, response)


def test_chat_multimodal_content_and_minimum_prompt_tokens(
    fake_together: FakeTogether, client: httpx.Client
) -> None:
    content = [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    data = client.post("/chat/completions", json=chat_body(content)).json()
    assert data["choices"][0]["message"]["content"] == "Echo: describe"
    data = client.post("/chat/completions", json=chat_body("")).json()
    assert data["usage"]["prompt_tokens"] == 1


def test_chat_max_tokens_truncates_with_length(fake_together: FakeTogether, client: httpx.Client) -> None:
    data = client.post("/chat/completions", json=chat_body("one two three four", max_tokens=3)).json()
    assert data["choices"][0]["message"]["content"] == "Echo: one two"
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 3
    data = client.post("/chat/completions", json=chat_body("one", max_tokens=30)).json()
    assert data["choices"][0]["finish_reason"] == "stop"


def test_chat_n_choices(fake_together: FakeTogether, client: httpx.Client) -> None:
    data = client.post("/chat/completions", json=chat_body("hi", n=3)).json()
    assert [c["index"] for c in data["choices"]] == [0, 1, 2]
    assert {c["message"]["content"] for c in data["choices"]} == {"Echo: hi"}


def test_chat_tool_call(fake_together: FakeTogether, client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json=chat_body("What's the weather in Paris?", tools=[WEATHER_TOOL])
    )
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"] == "call_1" and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}
    check_response(fake_together, response)
    # No tool call without the word, or with tool_choice "none".
    data = client.post("/chat/completions", json=chat_body("hello", tools=[WEATHER_TOOL])).json()
    assert data["choices"][0]["message"]["content"] == "Echo: hello"
    body = chat_body("weather?", tools=[WEATHER_TOOL], tool_choice="none")
    assert client.post("/chat/completions", json=body).json()["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "echo", "schema": {"type": "object"}}},
    ],
)
def test_chat_json_mode(
    fake_together: FakeTogether, client: httpx.Client, response_format: dict[str, Any]
) -> None:
    data = client.post("/chat/completions", json=chat_body("hi you", response_format=response_format)).json()
    assert json.loads(data["choices"][0]["message"]["content"]) == {"echo": "hi you"}


def test_chat_stream(fake_together: FakeTogether, client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=chat_body("hello there world", stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == [
        "Echo: ",
        "hello ",
        "there ",
        "world",
        "",
    ]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == CHAT_MODEL for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, None, "stop"]
    assert [c["usage"] for c in chunks[:-1]] == [None] * 4
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in chunks)
    check_response(fake_together, response)


def test_chat_stream_tool_call(fake_together: FakeTogether, client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=chat_body("weather", tools=[WEATHER_TOOL], stream=True))
    chunks = [json.loads(event) for event in sse_data(response.text)[:-1]]
    (call,) = chunks[0]["choices"][0]["delta"]["tool_calls"]
    assert call == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    check_response(fake_together, response)


async def test_async_client_stream(fake_together: FakeTogether) -> None:
    headers = {"Authorization": f"Bearer {fake_together.api_key}"}
    async with (
        httpx.AsyncClient(base_url=fake_together.base_url, headers=headers, verify=_SSL_CONTEXT) as client,
        client.stream("POST", "/chat/completions", json=chat_body("async hi", stream=True)) as response,
    ):
        lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0].removeprefix("data: "))["choices"][0]["delta"]["content"] == "Echo: "


# ---- completions ----------------------------------------------------------------------------------------


def test_completions(fake_together: FakeTogether, client: httpx.Client) -> None:
    body = {"model": "mistralai/Mixtral-8x7B-v0.1", "prompt": "Once upon a time"}
    response = client.post("/completions", json=body)
    data = response.json()
    assert data["object"] == "text.completion"
    assert data["prompt"] == []
    assert data["choices"] == [{"text": " echo: Once upon a time", "index": 0, "finish_reason": "stop"}]
    assert data["usage"] == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
    check_response(fake_together, response)


def test_completions_stream(fake_together: FakeTogether, client: httpx.Client) -> None:
    body = {"model": "mistralai/Mixtral-8x7B-v0.1", "prompt": "Once upon", "stream": True}
    response = client.post("/completions", json=body)
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == " echo: Once upon"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    check_response(fake_together, response)


# ---- fault injection ------------------------------------------------------------------------------------


def test_fail_429_with_retry_after(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.fail("/v1/chat/completions", status=429, times=2, headers={"retry-after": "0.2"})
    assert client.get("/models").status_code == 200  # other paths are not affected
    for _ in range(2):
        response = client.post("/chat/completions", json=chat_body())
        assert response.status_code == 429
        assert response.headers["retry-after"] == "0.2"
        assert response.headers["x-request-id"]
        error = response.json()["error"]
        assert error["type"] == "rate_limit_exceeded" and error["code"] == "rate_limit_exceeded"
        assert error["message"]
        check_response(fake_together, response)
    assert client.post("/chat/completions", json=chat_body()).status_code == 200
    assert len(fake_together.requests) == 4  # faulted requests are recorded too


@pytest.mark.parametrize("status", sorted(ERROR_DEFAULTS))
def test_fail_default_error_bodies(fake_together: FakeTogether, client: httpx.Client, status: int) -> None:
    fake_together.fail("*", status=status)
    response = client.post("/chat/completions", json=chat_body())
    assert response.status_code == status
    message, error_type = ERROR_DEFAULTS[status]
    assert response.json() == {"error": {"message": message, "type": error_type, "code": error_type}}


def test_fail_defaults_by_brief(fake_together: FakeTogether) -> None:
    assert ERROR_DEFAULTS[401] == ("Invalid API key provided", "invalid_api_key")
    assert ERROR_DEFAULTS[503][0] == "The server is overloaded"
    assert {
        status: kind for status, (_, kind) in ERROR_DEFAULTS.items() if status in (400, 404, 429, 500)
    } == {
        400: "invalid_request_error",
        404: "model_not_found",
        429: "rate_limit_exceeded",
        500: "server_error",
    }


def test_fail_custom_body_wildcard_and_path_without_prefix(
    fake_together: FakeTogether, client: httpx.Client
) -> None:
    fake_together.fail("*", status=503, body={"message": "custom"})
    fake_together.fail("/models", status=502, body="<html>bad gateway</html>")
    response = client.get("/models")
    assert (response.status_code, response.json()) == (503, {"message": "custom"})
    response = client.get("/models")
    assert (response.status_code, response.text) == (502, "<html>bad gateway</html>")
    assert client.get("/models").status_code == 200


def test_fail_after_processing_creates_the_job(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.fail_after_processing("/v1/fine-tunes", status=500, times=1)
    body = {
        "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
        "training_file": "file-abc",
        "suffix": "x",
    }
    response = client.post("/fine-tunes", json=body)
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    (job,) = fake_together.fine_tunes
    assert job["id"].startswith("ft-") and job["status"] == "pending"
    assert job["model"] == body["model"] and job["training_file"] == "file-abc"
    # The fault is used up: the next job is created and returned normally.
    response = client.post("/fine-tunes", json=body)
    assert response.status_code == 200
    check_response(fake_together, response)
    assert len(fake_together.fine_tunes) == 2
    listing = client.get("/fine-tunes")
    assert [j["id"] for j in listing.json()["data"]] == [j["id"] for j in fake_together.fine_tunes]
    check_response(fake_together, listing)


def test_fine_tune_get_and_cancel(fake_together: FakeTogether, client: httpx.Client) -> None:
    job = client.post("/fine-tunes", json={"model": CHAT_MODEL, "training_file": "file-1"}).json()
    assert client.get(f"/fine-tunes/{job['id']}").json()["status"] == "pending"
    fake_together.fine_tunes[0]["status"] = "running"  # the job dicts are live
    assert client.get(f"/fine-tunes/{job['id']}").json()["status"] == "running"
    response = client.post(f"/fine-tunes/{job['id']}/cancel")
    assert response.json()["status"] == "cancelled"
    check_response(fake_together, response)
    assert client.get("/fine-tunes/ft-unknown").status_code == 404


def test_delay(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.delay("/v1/chat/completions", seconds=0.3, times=1)
    started = time.monotonic()
    assert client.post("/chat/completions", json=chat_body()).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.post("/chat/completions", json=chat_body())
    assert time.monotonic() - started < 0.3


def test_delay_lets_a_client_time_out(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.delay("*", seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json=chat_body(), timeout=0.1)


def test_drop_stream_cuts_the_body(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.drop_stream(after_chunks=2, times=1)
    lines: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json=chat_body("a b c d e", stream=True)) as response,
    ):
        assert response.status_code == 200
        lines.extend(line for line in response.iter_lines() if line)
    assert len(lines) == 2
    assert fake_together.streams_dropped == 1
    # Only once: the next stream is complete.
    response = client.post("/chat/completions", json=chat_body("a b", stream=True))
    assert sse_data(response.text)[-1] == "[DONE]"


def test_slow_stream_client_stops_early(fake_together: FakeTogether, client: httpx.Client) -> None:
    fake_together.slow_stream(interval=0.05, chunks=2000, times=1)
    with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
        received = 0
        for line in response.iter_lines():
            if line:
                received += 1
            if received == 3:
                break
    assert wait_for(lambda: fake_together.streams_cancelled == 1)
    assert fake_together.streams_dropped == 0


def test_finished_streams_are_not_counted_as_cancelled(
    fake_together: FakeTogether, client: httpx.Client
) -> None:
    fake_together.slow_stream(interval=0.001, chunks=5)
    response = client.post("/chat/completions", json=chat_body(stream=True))
    contents = [json.loads(e)["choices"][0]["delta"]["content"] for e in sse_data(response.text)[:-1]]
    assert contents == ["w0 ", "w1 ", "w2 ", "w3 ", "w4 ", ""]
    assert fake_together.streams_cancelled == 0


# ---- the spec validator ---------------------------------------------------------------------------------


def test_spec_is_loaded_once_and_quickly() -> None:
    assert SPEC_PATH.is_file()
    spec = together_spec()
    assert together_spec() is spec
    assert spec.load_seconds < 5
    assert any("response_format" in repair for repair in spec.repairs)


def test_valid_chat_request_passes() -> None:
    validate_together_request(recorded(body=chat_body(temperature=0.2, max_tokens=5, stream=True)))


def test_recorded_valid_request_passes(fake_together: FakeTogether, client: httpx.Client) -> None:
    client.post("/chat/completions", json=chat_body(tools=[WEATHER_TOOL], tool_choice="auto", stop=["\n"]))
    validate_together_request(fake_together.requests[-1])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"model": CHAT_MODEL}, "'messages' is a required property"),
        (chat_body(temperature="hot"), "'hot' is not of type 'number'"),
        (chat_body(n=0), "minimum"),
        ({"model": CHAT_MODEL, "messages": [{"role": "robot", "content": "hi"}]}, "messages[0]"),
    ],
)
def test_invalid_chat_request_is_rejected(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(AssertionError) as caught:
        validate_together_request(recorded(body=body))
    message = str(caught.value)
    assert "POST /v1/chat/completions" in message
    assert reason in message


def test_request_without_bearer_is_rejected() -> None:
    req = recorded(body=chat_body())
    req.headers.pop("authorization")
    with pytest.raises(AssertionError, match="bearerAuth"):
        validate_together_request(req)


def test_undocumented_path_is_rejected() -> None:
    with pytest.raises(AssertionError, match="not described by the Together OpenAPI spec"):
        validate_together_request(recorded(method="GET", path="/v1/not-a-thing"))
    with pytest.raises(AssertionError, match="not described"):
        validate_together_request(recorded(method="DELETE", path="/v1/chat/completions"))


def test_query_parameters_are_checked() -> None:
    validate_together_request(recorded(method="GET", path="/v1/models", query="dedicated=true"))
    with pytest.raises(AssertionError, match="dedicated"):
        validate_together_request(recorded(method="GET", path="/v1/models", query="dedicated=maybe"))


@pytest.mark.parametrize(
    "body",
    [
        # nullable (an OAS 3.0 keyword) is honoured: an assistant turn that only called a tool.
        {
            "model": CHAT_MODEL,
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
        },
        # The discriminator without mapping no longer breaks response_format.
        chat_body(response_format={"type": "json_object"}),
        chat_body(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
    ],
)
def test_spec_repairs_accept_real_requests(body: dict[str, Any]) -> None:
    validate_together_request(recorded(body=body))


def test_fine_tune_request_with_documented_default_passes() -> None:
    body = {
        "model": CHAT_MODEL,
        "training_file": "file-1",
        "train_on_inputs": "auto",
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
        "random_seed": None,
    }
    validate_together_request(recorded(path="/v1/fine-tunes", body=body))


# ---- the fixture's spec check ---------------------------------------------------------------------------

_FIXTURE_TESTS = """
import httpx
import pytest

def _post(fake, body):
    return httpx.post(fake.base_url + "/chat/completions", json=body,
                      headers={"Authorization": "Bearer " + fake.api_key})

def test_invalid(fake_together):
    _post(fake_together, {"model": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "temperature": "hot"})

@pytest.mark.together_spec_exempt(reason="on purpose")
def test_exempt(fake_together):
    _post(fake_together, {"model": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "temperature": "hot"})

def test_faulted_but_valid(fake_together):
    fake_together.fail("*", status=500)
    response = _post(fake_together, {"model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                                     "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 500
"""


def test_fixture_fails_tests_that_send_invalid_requests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_fixture_check=_FIXTURE_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*requests to the fake Together server in this test do not match Together's OpenAPI spec:*",
            "*request #1: POST /v1/chat/completions: InvalidRequestBody*",
            "*'messages' is a required property*",
        ]
    )
