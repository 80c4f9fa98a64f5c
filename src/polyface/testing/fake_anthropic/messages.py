"""Fake Anthropic routes: ``POST /v1/messages`` (whole and streamed), ``/v1/messages/count_tokens`` and
``GET /v1/models`` (paginated).

Replies are deterministic, like the other fakes', so that one suite can compare providers: the text is
``"Echo: " + <the last user text>``; with tools and a user asking about the ``weather`` (or a forced tool
choice) the reply is one ``tool_use`` block with input ``{"city": "Paris"}``; with a JSON schema output format
it is ``{"echo": <the last user text>}``. Tokens are whitespace-separated words; ``max_tokens`` cuts the reply
(``stop_reason: max_tokens``) and a ``stop_sequences`` entry found in it cuts it there (``stop_sequence``).
Streams send the full event sequence: ``message_start``, ``ping``, ``content_block_start``/``_delta``/
``_stop``, ``message_delta`` (stop reason and usage) and ``message_stop``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_anthropic.core import FakeAnthropic
from polyface.testing.fake_together.core import (
    _WEATHER,
    _WORD_PIECES,
    RecordedRequest,
    _BadRequest,
    _EventStream,
    _StreamMode,
    _truncate_words,
    _word_count,
    route,
)

INVALID: Final = "invalid_request_error"


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or its text blocks (and tool results' text)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif block.get("type") == "tool_result":
                parts.append(_text_of(block.get("content")))
    return " ".join(p for p in parts if p)


def _user_text(content: Any) -> str:
    """The text a user wrote in a turn (tool results are not the user's words)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    return ""


def check_body(body: Any, *, need_max_tokens: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """(model, messages) of a Messages request, or a 400 like Anthropic's."""
    if not isinstance(body, dict):
        raise _BadRequest("The request body must be a JSON object", code=INVALID)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("model: Field required", code=INVALID)
    if need_max_tokens:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
            raise _BadRequest("max_tokens: Field required (a whole number >= 0)", code=INVALID)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("messages: at least one message is required", code=INVALID)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _BadRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'", code=INVALID)
        if "content" not in message:
            raise _BadRequest(f"messages.{i}.content: Field required", code=INVALID)
    return model, messages


def input_tokens(body: Mapping[str, Any]) -> int:
    """Words in the system prompt, the messages and the tools' names and descriptions (at least 1)."""
    words = _word_count(_text_of(body.get("system")))
    words += sum(_word_count(_text_of(m.get("content"))) for m in body.get("messages") or ())
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            words += _word_count(f"{tool.get('name', '')} {tool.get('description', '')}")
    return max(1, words)


def _usage(inputs: int | None, outputs: int) -> dict[str, Any]:
    return {
        "cache_creation": None,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
        "inference_geo": None,
        "input_tokens": inputs,
        "output_tokens": outputs,
        "server_tool_use": None,
        "service_tier": "standard",
    }


def _tool_use(body: Mapping[str, Any], last_user: str) -> dict[str, Any] | None:
    tools = body.get("tools")
    choice: dict[str, Any] = (
        body["tool_choice"] if isinstance(body.get("tool_choice"), dict) else {"type": "auto"}
    )
    if not isinstance(tools, list) or not tools or choice.get("type") == "none":
        return None
    forced = choice.get("type") in ("any", "tool")
    if not forced and not _WEATHER.search(last_user):
        return None
    name = str(choice.get("name") or "") if choice.get("type") == "tool" else ""
    if not name:
        first = tools[0] if isinstance(tools[0], dict) else {}
        name = str(first.get("name") or "tool")
    return {
        "type": "tool_use",
        "id": "toolu_01" + uuid.uuid4().hex[:20],
        "name": name,
        "input": {"city": "Paris"},
        "caller": {"type": "direct"},
    }


def answer(body: Any) -> dict[str, Any]:
    """The ``Message`` the fake answers to a Messages request body (raises ``_BadRequest`` like the API)."""
    model, messages = check_body(body)
    user_texts = [_user_text(m.get("content")) for m in messages if m.get("role") == "user"]
    user_texts = [t for t in user_texts if t]
    last_user = user_texts[-1] if user_texts else ""
    tool = _tool_use(body, last_user)
    stop_sequence: str | None = None
    content: list[dict[str, Any]]
    if tool is not None:
        content = [tool]
        stop_reason = "tool_use"
        outputs = _word_count(json.dumps(tool["input"]))
    else:
        output_config = body.get("output_config")
        fmt = output_config.get("format") if isinstance(output_config, dict) else None
        fmt = fmt if isinstance(fmt, dict) else {}
        text = json.dumps({"echo": last_user}) if fmt.get("type") == "json_schema" else "Echo: " + last_user
        stop_reason = "end_turn"
        for sequence in body.get("stop_sequences") or ():
            if isinstance(sequence, str) and sequence and sequence in text:
                text, stop_reason, stop_sequence = text.split(sequence, 1)[0], "stop_sequence", sequence
                break
        text, cut = _truncate_words(text, body["max_tokens"])
        if cut:
            stop_reason, stop_sequence = "max_tokens", None
        content = [{"type": "text", "text": text, "citations": None}]
        outputs = _word_count(text)
    return {
        "id": "msg_01" + uuid.uuid4().hex[:22],
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": model,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "stop_details": None,
        "usage": _usage(input_tokens(body), outputs),
        "container": None,
    }


def _event(data: Mapping[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _events(message: dict[str, Any], mode: _StreamMode, error: dict[str, Any] | None) -> Iterator[bytes]:
    events = list(_event_sequence(message, mode))
    if error is not None:
        events = events[: error["after"]]
        events.append(
            _event({"type": "error", "error": {"type": error["type"], "message": error["message"]}})
        )
    yield from events


def _event_sequence(message: dict[str, Any], mode: _StreamMode) -> Iterator[bytes]:
    usage = dict(message["usage"])
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    yield _event({"type": "message_start", "message": start})
    yield _event({"type": "ping"})
    outputs = usage["output_tokens"]
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            yield _event(
                {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}
            )
            arguments = json.dumps(block["input"])
            middle = len(arguments) // 2
            for piece in (arguments[:middle], arguments[middle:]):
                delta = {"type": "input_json_delta", "partial_json": piece}
                yield _event({"type": "content_block_delta", "index": index, "delta": delta})
        else:
            yield _event(
                {"type": "content_block_start", "index": index, "content_block": {**block, "text": ""}}
            )
            if mode.filler_chunks is not None:
                pieces = [f"w{i} " for i in range(mode.filler_chunks)]
                outputs = len(pieces)
            else:
                pieces = _WORD_PIECES.findall(block["text"])
            for piece in pieces:
                delta = {"type": "text_delta", "text": piece}
                yield _event({"type": "content_block_delta", "index": index, "delta": delta})
        yield _event({"type": "content_block_stop", "index": index})
    stop_reason = "end_turn" if mode.filler_chunks is not None else message["stop_reason"]
    ending: dict[str, Any] = {
        "stop_reason": stop_reason,
        "stop_sequence": message["stop_sequence"],
        "stop_details": None,
        "container": None,
    }
    final_usage = {
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
        "input_tokens": usage["input_tokens"],
        "output_tokens": outputs,
        "server_tool_use": None,
    }
    yield _event({"type": "message_delta", "delta": ending, "usage": final_usage})
    yield _event({"type": "message_stop"})


@route("POST", r"/v1/messages", server=FakeAnthropic)
async def create_message(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    message = answer(req.json)
    if req.json.get("stream") is True:
        mode = fake._take_stream_mode()
        events = _events(message, mode, fake.take_stream_error())
        return _EventStream(
            fake, generation, events, mode, {"cache-control": "no-cache", "request-id": req.request_id}
        )
    return JSONResponse(message, headers={"request-id": req.request_id})


@route("POST", r"/v1/messages/count_tokens", server=FakeAnthropic)
async def count_tokens(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    check_body(req.json, need_max_tokens=False)
    return JSONResponse({"input_tokens": input_tokens(req.json)})


def _int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name}: Input should be a valid integer", code=INVALID) from None
    if not low <= value <= high:
        raise _BadRequest(f"{name}: must be between {low} and {high}", code=INVALID)
    return value


def page(items: list[dict[str, Any]], query_string: str, *, cap: int | None = None) -> dict[str, Any]:
    """One page of a list endpoint (``limit``, ``after_id``, ``before_id``), as Anthropic pages."""
    query = parse_qs(query_string)
    limit = _int_param(query, "limit", 20, 1, 1000)
    if cap is not None:
        limit = min(limit, cap)
    ids = [item["id"] for item in items]
    start, end = 0, len(items)
    if "after_id" in query:
        after = query["after_id"][-1]
        if after not in ids:
            raise _BadRequest(f"after_id: unknown id {after!r}", code=INVALID)
        start = ids.index(after) + 1
    if "before_id" in query:
        before = query["before_id"][-1]
        if before not in ids:
            raise _BadRequest(f"before_id: unknown id {before!r}", code=INVALID)
        end = ids.index(before)
        start = max(start, end - limit)
    chosen = items[start : min(end, start + limit)]
    return {
        "data": chosen,
        "has_more": start + len(chosen) < end if "before_id" not in query else start > 0,
        "first_id": chosen[0]["id"] if chosen else None,
        "last_id": chosen[-1]["id"] if chosen else None,
    }


@route("GET", r"/v1/models", server=FakeAnthropic)
async def list_models(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    return JSONResponse(page(list(fake.models), req.query, cap=fake.page_limit))


@route("GET", r"/v1/models/(?P<model_id>[^/]+)", server=FakeAnthropic)
async def get_model(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    for item in list(fake.models):
        if item.get("id") == match["model_id"]:
            return JSONResponse(item)
    raise _BadRequest(f"model: {match['model_id']}", status=404, code="not_found_error")
