"""Fake OpenAI routes: chat completions, legacy completions, embeddings and the model list.

Registered on :class:`FakeOpenAI` with ``@route(..., server=FakeOpenAI)`` (so they take precedence over the
OpenAI-style routes every :class:`FakeServer` has); they answer in OpenAI's own shapes:

* ``POST /v1/chat/completions``: the deterministic reply of every polyface fake (``"Echo: " + <last user
  message>``, ``{"echo": ...}`` for JSON response formats, a ``get_weather``-style tool call when tools are
  offered and the user mentions the weather or ``tool_choice`` forces one); usage counts whitespace-separated
  words. The limit is ``max_completion_tokens`` (``max_tokens`` is still taken, as OpenAI does, except by
  reasoning models: ``o*`` and ``gpt-5*`` refuse it). Streams send a usage chunk with empty ``choices``
  only when ``stream_options.include_usage`` is true, and ``stream_options`` without ``stream`` is refused.
* ``POST /v1/completions``: ``" echo: " + prompt`` for the legacy models; chat models are refused (404)
  as OpenAI does.
* ``POST /v1/embeddings``: the bag-of-words unit vectors of the Together fake, 1536 long (3072 for
  ``text-embedding-3-large``); ``dimensions`` shortens and re-normalises them (and is refused for
  ``text-embedding-ada-002``), ``encoding_format="base64"`` packs them as little-endian float32.
* ``GET /v1/models`` and ``GET /v1/models/{id}``: OpenAI's list object over :attr:`FakeServer.models`
  (entries are shown as ``{"id", "object", "created", "owned_by"}``); :func:`default_models` is an OpenAI
  catalog to put there.
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Final

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_openai.core import FakeOpenAI
from polyface.testing.fake_together.core import (
    _WORD_PIECES,
    RecordedRequest,
    _BadRequest,
    _content_text,
    _EventStream,
    _optional_int,
    _sse,
    _stream_headers,
    _StreamMode,
    _truncate_words,
    _word_count,
    route,
)
from polyface.testing.fake_together.embeddings import embed_text

__all__ = ["EMBEDDING_DIMENSIONS", "default_models", "openai_model"]

CREATED: Final = 1_700_000_000
FINGERPRINT: Final = "fp_fake0001"
MAX_EMBEDDING_INPUTS: Final = 2048

EMBEDDING_DIMENSIONS: Final[Mapping[str, int]] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""Vector length per embedding model (others get 1536)."""

_REASONING: Final = re.compile(r"^(o\d|gpt-5)")
_LEGACY: Final = re.compile(r"^(gpt-3\.5-turbo-instruct|davinci-002|babbage-002)")
_CHAT: Final = re.compile(r"^(gpt-|o\d|chatgpt-)")


def default_models() -> list[dict[str, Any]]:
    """A fresh OpenAI catalog, as ``GET /v1/models`` lists it (id, created, owned_by: no prices, no types)."""
    ids = [
        ("gpt-5", "system"),
        ("gpt-5-mini", "system"),
        ("gpt-4.1", "system"),
        ("gpt-4.1-mini", "system"),
        ("gpt-4o", "system"),
        ("gpt-4o-mini", "system"),
        ("gpt-4o-2024-08-06", "system"),
        ("o3", "system"),
        ("o4-mini", "system"),
        ("gpt-3.5-turbo-instruct", "system"),
        ("davinci-002", "system"),
        ("text-embedding-3-small", "system"),
        ("text-embedding-3-large", "system"),
        ("text-embedding-ada-002", "openai-internal"),
        ("dall-e-3", "system"),
        ("gpt-image-1", "system"),
        ("tts-1", "openai-internal"),
        ("gpt-4o-mini-tts", "system"),
        ("whisper-1", "openai-internal"),
        ("gpt-4o-transcribe", "system"),
        ("gpt-realtime", "system"),
        ("omni-moderation-latest", "system"),
    ]
    return [{"id": i, "object": "model", "created": CREATED, "owned_by": owner} for i, owner in ids]


def openai_model(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog entry in OpenAI's ``Model`` shape (entries written for another vendor's fake are mapped)."""
    owner = entry.get("owned_by") or entry.get("organization") or "system"
    created = entry.get("created")
    return {
        "id": str(entry["id"]),
        "object": "model",
        "created": created if isinstance(created, int) and not isinstance(created, bool) else CREATED,
        "owned_by": str(owner),
    }


# ---- models ---------------------------------------------------------------------------------------------
@route("GET", r"/v1/models", server=FakeOpenAI)
async def list_models(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: Any) -> Response:
    data = [openai_model(entry) for entry in list(fake.models) if isinstance(entry, dict) and "id" in entry]
    return JSONResponse({"object": "list", "data": data})


@route("GET", r"/v1/models/(?P<model>[^/]+(?:/[^/]+)?)", server=FakeOpenAI)
async def retrieve_model(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: Any) -> Response:
    wanted = match.group("model")
    for entry in list(fake.models):
        if isinstance(entry, dict) and entry.get("id") == wanted:
            return JSONResponse(openai_model(entry))
    raise _BadRequest(f"The model '{wanted}' does not exist", status=404, code="model_not_found")


# ---- shared pieces --------------------------------------------------------------------------------------
def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if body.get("stream") is not True:
        raise _BadRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            code="invalid_request_error",
        )
    return isinstance(options, dict) and options.get("include_usage") is True


def _limit(body: Mapping[str, Any], model: str) -> int | None:
    if body.get("max_tokens") is not None:
        if body.get("max_completion_tokens") is not None:
            raise _BadRequest(
                "max_tokens and max_completion_tokens cannot both be set; use max_completion_tokens.",
                code="invalid_request_error",
            )
        if _REASONING.match(model):
            raise _BadRequest(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                code="unsupported_parameter",
            )
        return _optional_int(body, "max_tokens", 0)
    return _optional_int(body, "max_completion_tokens", 0)


# ---- chat completions -----------------------------------------------------------------------------------
@route("POST", r"/v1/chat/completions", server=FakeOpenAI)
async def chat_completions(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: Any) -> Response:
    body = fake._json_object(req)
    model = fake._known_model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise _BadRequest(
            "'messages' must be a non-empty list of message objects", code="invalid_request_error"
        )
    if _LEGACY.match(model):
        raise _BadRequest(
            "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
            "Did you mean to use v1/completions?",
            status=404,
            code="model_not_found",
        )
    n = _optional_int(body, "n", 1, 128) or 1
    limit = _limit(body, model)
    include_usage = _include_usage(body)

    texts = [_content_text(m.get("content")) for m in messages]
    prompt_tokens = max(1, sum(_word_count(text) for text in texts))
    user_texts = [text for m, text in zip(messages, texts, strict=True) if m.get("role") == "user"]
    last_user = user_texts[-1] if user_texts else ""

    tool_call = fake._tool_call(body, last_user)
    content: str | None
    if tool_call is not None:
        tool_call = {key: value for key, value in tool_call.items() if key != "index"}
        content = None
        finish_reason = "tool_calls"
        completion_tokens = _word_count(tool_call["function"]["arguments"])
    else:
        response_format = body.get("response_format")
        format_type = response_format.get("type") if isinstance(response_format, dict) else None
        if format_type in ("json_object", "json_schema"):
            content = json.dumps({"echo": last_user})
        else:
            content = "Echo: " + last_user
        content, truncated = _truncate_words(content, limit)
        finish_reason = "length" if truncated else "stop"
        completion_tokens = _word_count(content)
    usage = _usage(prompt_tokens, completion_tokens)
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "created": int(time.time()),
        "model": model,
        "service_tier": body.get("service_tier") or "default",
        "system_fingerprint": FINGERPRINT,
    }

    if body.get("stream") is True:
        mode = fake._take_stream_mode()
        events = _chat_events(
            head, n, content, tool_call, finish_reason, usage if include_usage else None, mode
        )
        return _EventStream(fake, generation, events, mode, _stream_headers())

    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if tool_call is not None:
        message["tool_calls"] = [tool_call]
    choices = [
        {"index": index, "message": dict(message), "logprobs": None, "finish_reason": finish_reason}
        for index in range(n)
    ]
    return JSONResponse({**head, "object": "chat.completion", "choices": choices, "usage": usage})


def _chat_events(
    head: Mapping[str, Any],
    n: int,
    content: str | None,
    tool_call: Mapping[str, Any] | None,
    finish_reason: str,
    usage: dict[str, Any] | None,
    mode: _StreamMode,
) -> Iterator[bytes]:
    """OpenAI's chunks: a role chunk, content (or tool-call) pieces, a finish chunk per choice, then the
    usage chunk (empty ``choices``) when usage was asked for. Every other chunk then has ``"usage": null``."""

    def chunk(choices: list[dict[str, Any]], chunk_usage: Any = None, last: bool = False) -> bytes:
        data: dict[str, Any] = {**head, "object": "chat.completion.chunk", "choices": choices}
        if usage is not None:
            data["usage"] = chunk_usage if last else None
        return _sse(data)

    def choice(index: int, delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]

    if mode.filler_chunks is not None:
        pieces = [f"w{i} " for i in range(mode.filler_chunks)]
        if usage is not None:
            usage = _usage(usage["prompt_tokens"], len(pieces))
        tool_call, finish_reason = None, "stop"
    else:
        pieces = _WORD_PIECES.findall(content or "")
    for index in range(n):
        yield chunk(choice(index, {"role": "assistant", "content": "" if tool_call is None else None}))
        if tool_call is not None:
            function = tool_call["function"]
            start = {"index": 0, "id": tool_call["id"], "type": "function"}
            yield chunk(
                choice(
                    index,
                    {"tool_calls": [{**start, "function": {"name": function["name"], "arguments": ""}}]},
                )
            )
            arguments = function["arguments"]
            for at in range(0, len(arguments), 8):
                piece = arguments[at : at + 8]
                yield chunk(choice(index, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            for piece in pieces:
                yield chunk(choice(index, {"content": piece}))
        yield chunk(choice(index, {}, finish_reason))
    if usage is not None:
        yield chunk([], usage, last=True)
    yield _sse("[DONE]")


# ---- legacy completions ---------------------------------------------------------------------------------
@route("POST", r"/v1/completions", server=FakeOpenAI)
async def completions(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: Any) -> Response:
    body = fake._json_object(req)
    model = fake._known_model(body)
    if _CHAT.match(model) and not _LEGACY.match(model):
        raise _BadRequest(
            "This is a chat model and not supported in the v1/completions endpoint. "
            "Did you mean to use v1/chat/completions?",
            status=404,
            code="model_not_found",
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise _BadRequest("the fake takes 'prompt' as a string only", code="invalid_request_error")
    n = _optional_int(body, "n", 1, 128) or 1
    limit = _optional_int(body, "max_tokens", 0)
    include_usage = _include_usage(body)
    text, truncated = _truncate_words(" echo: " + prompt, 16 if limit is None else limit)
    finish_reason = "length" if truncated else "stop"
    prompt_tokens = max(1, _word_count(prompt))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": _word_count(text),
        "total_tokens": prompt_tokens + _word_count(text),
    }
    head = {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }
    if body.get("stream") is True:
        mode = fake._take_stream_mode()
        events = _completion_events(head, text, finish_reason, usage if include_usage else None, mode)
        return _EventStream(fake, generation, events, mode, _stream_headers())
    choices = [{"text": text, "index": i, "logprobs": None, "finish_reason": finish_reason} for i in range(n)]
    return JSONResponse({**head, "choices": choices, "usage": usage})


def _completion_events(
    head: Mapping[str, Any], text: str, finish_reason: str, usage: dict[str, Any] | None, mode: _StreamMode
) -> Iterator[bytes]:
    def chunk(piece: str, finish: str | None) -> bytes:
        choices = [{"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}]
        return _sse({**head, "choices": choices})

    if mode.filler_chunks is not None:
        pieces = [f" w{i}" for i in range(mode.filler_chunks)]
        if usage is not None:
            usage = dict(
                usage, completion_tokens=len(pieces), total_tokens=usage["prompt_tokens"] + len(pieces)
            )
        finish_reason = "stop"
    else:
        pieces = _WORD_PIECES.findall(text)
    for piece in pieces:
        yield chunk(piece, None)
    yield chunk("", finish_reason)
    if usage is not None:
        yield _sse({**head, "choices": [], "usage": usage})
    yield _sse("[DONE]")


# ---- embeddings -----------------------------------------------------------------------------------------
def _shorten(vector: list[float], dimensions: int) -> list[float]:
    """The first ``dimensions`` values, re-normalised to unit length (what OpenAI does)."""
    head = vector[:dimensions]
    norm = math.sqrt(sum(v * v for v in head)) or 1.0
    return [v / norm for v in head]


@route("POST", r"/v1/embeddings", server=FakeOpenAI)
async def create_embeddings(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: Any) -> Response:
    body = fake._json_object(req)
    model = fake._known_model(body)
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        texts = raw
    else:
        raise _BadRequest(
            "'input' must be a string or a non-empty list of strings", code="invalid_request_error"
        )
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise _BadRequest(
            f"'input' holds {len(texts)} items; at most {MAX_EMBEDDING_INPUTS} are allowed",
            code="invalid_request_error",
        )
    if any(not t.strip() for t in texts):
        raise _BadRequest(
            "'$.input' is invalid: inputs cannot be empty strings", code="invalid_request_error"
        )
    native = EMBEDDING_DIMENSIONS.get(model, 1536)
    dimensions = _optional_int(body, "dimensions", 1)
    if dimensions is not None and model.startswith("text-embedding-ada-"):
        raise _BadRequest("This model does not support specifying dimensions.", code="invalid_request_error")
    if dimensions is not None and dimensions > native:
        raise _BadRequest(
            f"This model returns at most {native} dimensions; got {dimensions}.", code="invalid_request_error"
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _BadRequest("'encoding_format' must be 'float' or 'base64'", code="invalid_request_error")
    data = []
    for index, text in enumerate(texts):
        vector = embed_text(text, native)
        if dimensions is not None:
            vector = _shorten(vector, dimensions)
        embedding: Any = vector
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(max(1, _word_count(t)) for t in texts)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
