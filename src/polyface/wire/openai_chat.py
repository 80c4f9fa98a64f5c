"""OpenAI-style chat and completions: the wire format Together, OpenAI, vLLM, Ollama and others share.

Pure translation: build a request body from polyface arguments, turn response and
stream-chunk dicts into polyface types. No I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from polyface.errors import InvalidArgument
from polyface.types.text import (
    FinishReason,
    FunctionCall,
    Message,
    TextDelta,
    TextResponse,
    ToolCall,
    ToolCallDelta,
)
from polyface.types.usage import Usage

ROLES = frozenset({"system", "user", "assistant", "tool", "developer", "function"})

# Options every OpenAI-style server accepts, under their wire names.
COMMON_OPTIONS = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "n",
        "tools",
        "tool_choice",
        "response_format",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "user",
    }
)

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}

MessageLike = Message | Mapping[str, Any] | str


def finish_reason(value: str | None) -> FinishReason | None:
    if value is None:
        return None
    return FINISH_REASONS.get(value, "other")


def message_dicts(messages: Sequence[MessageLike] | str, system: str | None = None) -> list[dict[str, Any]]:
    """Messages as wire dicts. A bare string is one user message; ``system`` goes first."""
    if isinstance(messages, str):
        messages = [messages]
    if not messages and system is None:
        raise InvalidArgument(
            "messages is empty: pass at least one message, e.g. [{'role': 'user', 'content': 'Hi'}]."
        )
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system is not None else []
    for i, message in enumerate(messages):
        if isinstance(message, str):
            out.append({"role": "user", "content": message})
        elif isinstance(message, Message):
            out.append(message.model_dump(exclude_none=True))
        elif isinstance(message, Mapping):
            role = message.get("role")
            if role not in ROLES:
                raise InvalidArgument(
                    f"messages[{i}] has role {role!r}; use one of {sorted(ROLES - {'function'})}."
                )
            if "content" not in message and "tool_calls" not in message:
                raise InvalidArgument(f"messages[{i}] has no 'content': add the message text as content.")
            content = message.get("content")
            if content is None and not message.get("tool_calls"):
                raise InvalidArgument(f"messages[{i}] has no 'content': add the message text as content.")
            parts = isinstance(content, list) and bool(content) and all(map(_part_ok, content))
            if not (content is None or isinstance(content, str) or parts):
                raise InvalidArgument(
                    f"messages[{i}].content is not text nor a list of content parts; pass the text as a "
                    "string (or parts like [{'type': 'text', 'text': '...'}, {'type': 'image_url', "
                    "'image_url': {'url': '...'}}])."
                )
            out.append(dict(message))
        else:
            raise InvalidArgument(
                f"messages[{i}] is a {type(message).__name__}; pass dicts like "
                "{'role': 'user', 'content': '...'}, polyface.Message objects or strings."
            )
    return out


def _part_ok(part: Any) -> bool:
    """A content part has a ``type`` and the field it names (``text``, ``image_url.url``...)."""
    if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
        return False
    if part["type"] == "text":
        return isinstance(part.get("text"), str)
    if part["type"] == "image_url":
        image = part.get("image_url")
        return isinstance(image, Mapping) and isinstance(image.get("url"), str)
    return True


def with_tool_call_indexes(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages whose replayed tool calls carry ``index`` (Together's spec requires it)."""
    out = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls and any("index" not in c for c in calls):
            message = {**message, "tool_calls": [{"index": i, **c} for i, c in enumerate(calls)]}
        out.append(message)
    return out


def _response_format(value: Any) -> Any:
    """Pass dicts through; turn a pydantic model class into a ``json_schema`` format."""
    schema_fn = getattr(value, "model_json_schema", None)
    if isinstance(value, type) and callable(schema_fn):
        return {
            "type": "json_schema",
            "json_schema": {"name": value.__name__, "schema": schema_fn(), "strict": True},
        }
    return value


# ---- option values: checked before sending (a wrong type costs a round trip and a vendor's 400) ----------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _int_in(low: int, high: int | None = None) -> Callable[[Any], bool]:
    return lambda v: _is_int(v) and v >= low and (high is None or v <= high)


def _number_in(low: float | None = None, high: float | None = None) -> Callable[[Any], bool]:
    return lambda v: _is_number(v) and (low is None or v >= low) and (high is None or v <= high)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _tools(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(tool, Mapping)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), Mapping)
        and isinstance(tool["function"].get("name"), str)
        for tool in value
    )


def _tool_choice(value: Any) -> bool:
    if isinstance(value, str):
        return True
    function = value.get("function") if isinstance(value, Mapping) else None
    return isinstance(function, Mapping) and isinstance(function.get("name"), str)


def _logit_bias(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(key, str) and _is_number(bias) for key, bias in value.items()
    )


def _response_format_ok(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") in ("text", "json_object", "json_schema")


OPTION_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_tokens": (_int_in(1), "a whole number of at least 1"),
    "temperature": (_number_in(0, 2), "a number from 0 to 2"),
    "top_p": (_number_in(0, 1), "a number from 0 to 1"),
    "stop": (lambda v: _strings(v) and bool(v), "a string or a non-empty list of strings"),
    "seed": (_is_int, "a whole number"),
    "n": (_int_in(1, 128), "a whole number from 1 to 128"),
    "tools": (_tools, "a list of {'type': 'function', 'function': {'name': ..., 'parameters': {...}}}"),
    "tool_choice": (_tool_choice, "'auto', 'none', 'required' or {'type': 'function', 'function': {'name'}}"),
    "response_format": (
        _response_format_ok,
        "{'type': 'json_object'}, {'type': 'json_schema', 'json_schema': {...}} or a pydantic model class",
    ),
    "presence_penalty": (_number_in(-2, 2), "a number from -2 to 2"),
    "frequency_penalty": (_number_in(-2, 2), "a number from -2 to 2"),
    "logit_bias": (_logit_bias, "a dict of token id (as a string) to a number"),
    "logprobs": (lambda v: isinstance(v, bool) or _int_in(0, 20)(v), "True/False or a whole number 0-20"),
    "user": (lambda v: isinstance(v, str), "a string"),
    "top_k": (_int_in(1), "a whole number of at least 1"),
    "min_p": (_number_in(0, 1), "a number from 0 to 1"),
    "repetition_penalty": (_number_in(), "a number"),
    "echo": (lambda v: isinstance(v, bool), "True or False"),
    "safety_model": (lambda v: isinstance(v, str), "a model name"),
    "context_length_exceeded_behavior": (lambda v: v in ("truncate", "error"), "'truncate' or 'error'"),
    "reasoning_effort": (lambda v: isinstance(v, str), "a word such as 'low', 'medium' or 'high'"),
    "reasoning": (lambda v: isinstance(v, Mapping), "a dict, e.g. {'enabled': True}"),
    "max_completion_tokens": (_int_in(1), "a whole number of at least 1"),
    "top_logprobs": (_int_in(0, 20), "a whole number from 0 to 20"),
    "store": (lambda v: isinstance(v, bool), "True or False"),
    "parallel_tool_calls": (lambda v: isinstance(v, bool), "True or False"),
    "verbosity": (lambda v: v in ("low", "medium", "high"), "'low', 'medium' or 'high'"),
    "service_tier": (lambda v: isinstance(v, str), "a tier name such as 'auto', 'default' or 'flex'"),
    "modalities": (_strings, "a list such as ['text'] or ['text', 'audio']"),
    "safety_identifier": (lambda v: isinstance(v, str), "a string"),
    "prompt_cache_key": (lambda v: isinstance(v, str), "a string"),
    "stream_options": (lambda v: isinstance(v, Mapping), "a dict such as {'include_usage': True}"),
}
"""The options whose values polyface checks (the JSON type each vendor documents); others pass as given."""


def check_option(name: str, value: Any, *, provider: str) -> None:
    """InvalidArgument when ``value`` is not what ``name`` takes (see :data:`OPTION_CHECKS`)."""
    check = OPTION_CHECKS.get(name)
    if check is not None and not check[0](value):
        raise InvalidArgument(f"{provider} chat option {name}={value!r:.80} is not {check[1]}.")


def build_options(
    options: Mapping[str, Any], *, provider: str, extra_allowed: Iterable[str] = ()
) -> dict[str, Any]:
    """Check and translate keyword options to wire fields.

    Unknown names fail here with a clear error (a typo should not cost a round trip);
    ``extra_body={...}`` sends anything as it is.
    """
    allowed = COMMON_OPTIONS.union(extra_allowed)
    body: dict[str, Any] = {}
    for name, value in options.items():
        if value is None and (name in allowed or name == "extra_body"):
            continue
        if name == "extra_body":
            if not isinstance(value, Mapping):
                raise InvalidArgument("extra_body must be a dict of fields to send as they are.")
            body.update(value)
            continue
        if name not in allowed:
            raise InvalidArgument(
                f"{provider} chat does not take {name!r}. Known options: {', '.join(sorted(allowed))}; "
                "pass vendor-specific fields with extra_body={...}."
            )
        if name == "stop" and isinstance(value, str):
            value = [value]
        elif name == "response_format":
            value = _response_format(value)
        check_option(name, value, provider=provider)
        body[name] = value
    return body


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """A cheap upper-ish estimate of the tokens a request will use (for the rate limiter)."""
    prompt = body.get("messages", body.get("prompt", ""))
    text = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)
    return len(text) // 4 + 1 + int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)


def parse_usage(data: Mapping[str, Any] | None) -> Usage | None:
    if not data:
        return None
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    details: dict[str, float] = {}
    prompt_details = data.get("prompt_tokens_details")
    if isinstance(prompt_details, Mapping) and prompt_details.get("cached_tokens"):
        details["cached_input_tokens"] = float(prompt_details["cached_tokens"])
    completion_details = data.get("completion_tokens_details")
    if isinstance(completion_details, Mapping) and completion_details.get("reasoning_tokens"):
        details["reasoning_tokens"] = float(completion_details["reasoning_tokens"])
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=int(data.get("total_tokens") or prompt + completion),
        details=details,
    )


def _tool_calls(items: Iterable[Mapping[str, Any]] | None) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for item in items or ():
        fn = item.get("function") or {}
        calls.append(
            ToolCall(
                id=str(item.get("id") or f"call_{len(calls)}"),
                function=FunctionCall(name=str(fn.get("name", "")), arguments=str(fn.get("arguments") or "")),
            )
        )
    return calls


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return str(content)


def parse_chat_response(data: Mapping[str, Any], *, provider: str, model: str) -> TextResponse:
    choices = data.get("choices") or []
    texts: list[str] = []
    for choice in choices:
        message = choice.get("message") or {}
        texts.append(_content_text(message.get("content")) if message else str(choice.get("text") or ""))
    first = choices[0] if choices else {}
    message = first.get("message") or {}
    return TextResponse(
        id=data.get("id"),
        provider=provider,
        model=str(data.get("model") or model),
        text=texts[0] if texts else "",
        finish_reason=finish_reason(first.get("finish_reason")),
        tool_calls=_tool_calls(message.get("tool_calls")),
        usage=parse_usage(data.get("usage")) or Usage(),
        choices=texts if len(texts) > 1 else [],
        raw=dict(data),
    )


def parse_completion_response(data: Mapping[str, Any], *, provider: str, model: str) -> TextResponse:
    return parse_chat_response(data, provider=provider, model=model)


def parse_chunk(data: Mapping[str, Any]) -> TextDelta:
    """One stream chunk (chat or completions) as a delta."""
    choices = data.get("choices") or []
    text = ""
    reason: FinishReason | None = None
    calls: list[ToolCallDelta] = []
    if choices:
        choice = choices[0]
        delta = choice.get("delta")
        if delta is not None:
            text = _content_text(delta.get("content"))
            for item in delta.get("tool_calls") or ():
                fn = item.get("function") or {}
                calls.append(
                    ToolCallDelta(
                        index=int(item.get("index", 0)),
                        id=item.get("id"),
                        name=fn.get("name"),
                        arguments=str(fn.get("arguments") or ""),
                    )
                )
        else:
            text = str(choice.get("text") or "")
        reason = finish_reason(choice.get("finish_reason"))
    return TextDelta(
        text=text,
        tool_calls=calls,
        finish_reason=reason,
        usage=parse_usage(data.get("usage")),
        model=data.get("model"),
        id=data.get("id"),
    )


class StreamAssembler:
    """Turns stream chunks into the deltas a caller sees.

    Text and tool-call pieces pass through at once; the finish reason and usage, which
    vendors send on different chunks, are gathered into one final delta given by
    :meth:`final` once the stream ends.
    """

    __slots__ = ("finish_reason", "id", "model", "parts", "usage")

    def __init__(self, model: str) -> None:
        self.model = model
        self.id: str | None = None
        self.finish_reason: FinishReason | None = None
        self.usage: Usage | None = None
        self.parts: list[str] = []

    def feed(self, data: Mapping[str, Any]) -> TextDelta | None:
        error = data.get("error")
        if error:
            message = error.get("message") if isinstance(error, Mapping) else str(error)
            raise StreamError(str(message or error))
        delta = parse_chunk(data)
        self.id = self.id or delta.id
        if delta.model:
            self.model = delta.model
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
        if delta.usage is not None:
            self.usage = delta.usage
        if delta.text or delta.tool_calls:
            self.parts.append(delta.text)
            if delta.finish_reason is None and delta.usage is None and delta.cost is None:
                return delta  # the usual chunk: as parsed (no second model built per chunk)
            return delta.model_copy(update={"finish_reason": None, "usage": None, "cost": None})
        return None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def final(self, cost: float | None) -> TextDelta:
        return TextDelta(
            finish_reason=self.finish_reason,
            usage=self.usage or Usage(),
            cost=cost,
            model=self.model,
            id=self.id,
        )


class StreamError(Exception):
    """The vendor reported an error inside a stream."""
