"""Anthropic's Messages API: the wire format of ``POST /v1/messages``, its stream, count_tokens, batches.

Pure translation, no I/O: polyface arguments (OpenAI-style messages, tools, ``response_format``) in,
Anthropic request bodies out; Anthropic response and stream-event dicts in, polyface types out.

How OpenAI-style inputs map:

- ``system=`` and every ``system``/``developer`` message are lifted into the top-level ``system`` (joined by
  blank lines, in order); Anthropic has no system role inside ``messages``.
- ``assistant`` ``tool_calls`` become ``tool_use`` blocks (``arguments`` parsed from JSON into ``input``);
  ``tool`` messages become ``tool_result`` blocks in a user turn. Consecutive turns of one role are merged
  (Anthropic wants user/assistant alternation and all results of one tool round in one user turn).
- ``image_url`` parts become ``image`` blocks (a ``data:`` URL as a base64 source, else a URL source).
  Blocks already in Anthropic's shape (``image`` with ``source``, ``document``, ``tool_use``, ...) pass as-is.
- tools ``{"type": "function", "function": {name, description, parameters}}`` become
  ``{name, description, input_schema}``; ``tool_choice`` ``auto``/``required``/``none``/a named function
  become ``auto``/``any``/``none``/``tool``; ``parallel_tool_calls=False`` sets ``disable_parallel_tool_use``.
- ``response_format`` ``json_schema`` (or a pydantic model class) becomes Anthropic's structured output,
  ``output_config: {"format": {"type": "json_schema", "schema": ...}}`` (object schemas get
  ``additionalProperties: false``, which structured outputs require); the reply text is then the JSON.
  Anthropic has no schema-less JSON mode, so ``{"type": "json_object"}`` is refused with a hint.
- ``stop`` becomes ``stop_sequences``, ``user`` becomes ``metadata.user_id``.

Usage: polyface's ``input_tokens`` counts every prompt token, cached or not (as OpenAI's ``prompt_tokens``
does); Anthropic's own split is kept in ``usage.details`` (``uncached_input_tokens``,
``cache_read_input_tokens``, ``cache_creation_input_tokens`` and, when sent, ``ephemeral_5m_input_tokens`` /
``ephemeral_1h_input_tokens``). :func:`message_cost` prices each part at Anthropic's published multiples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from pydantic import Field

from polyface.errors import InvalidArgument
from polyface.types._base import PolyfaceModel
from polyface.types.models import ModelInfo, Pricing
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

MessageLike = Message | Mapping[str, Any] | str

DEFAULT_MAX_TOKENS: Final = 4096
"""``max_tokens`` when the caller gives none (lowered to the model's limit where the catalog says less)."""

STOP_REASONS: Final[dict[str, FinishReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
}

# Anthropic's published multiples of the base input price (https://docs.claude.com/en/docs/about-claude/pricing).
CACHE_READ_MULTIPLE: Final = 0.1
CACHE_WRITE_5M_MULTIPLE: Final = 1.25
CACHE_WRITE_1H_MULTIPLE: Final = 2.0
BATCH_DISCOUNT: Final = 0.5
"""Message Batches are billed at half the standard price."""

OPTIONS: Final = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "stop_sequences",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "metadata",
        "user",
        "thinking",
        "service_tier",
        "output_config",
        "cache_control",
        "inference_geo",
        "container",
        "extra_body",
    }
)
"""The keyword options ``generate``/``stream`` accept (``extra_body={...}`` sends any other field as-is)."""

UNSUPPORTED: Final = {
    "n": "Anthropic returns one reply per request; send several requests (or a batch) for more",
    "seed": "Anthropic has no seed parameter",
    "presence_penalty": "Anthropic has no presence penalty",
    "frequency_penalty": "Anthropic has no frequency penalty",
    "logit_bias": "Anthropic has no logit bias",
    "logprobs": "Anthropic does not return log probabilities",
    "max_completion_tokens": "use max_tokens",
}

_ID_BAD_CHARS: Final = re.compile(r"[^a-zA-Z0-9_-]")
_DATA_URL: Final = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)
IMAGE_TYPES: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
CUSTOM_ID: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _obj(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


# ---- messages --------------------------------------------------------------------------------------------


def tool_id(value: Any) -> str:
    """A tool call id Anthropic accepts (``^[a-zA-Z0-9_-]+$``); other characters become ``_``."""
    text = _ID_BAD_CHARS.sub("_", str(value or ""))
    return text or "toolu_0"


def _text_of(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                texts.append(str(part.get("text") or ""))
            else:
                raise InvalidArgument(f"{where} may hold only text (Anthropic's system prompt is text).")
        return "".join(texts)
    raise InvalidArgument(f"{where} must be a string or a list of text parts.")


def _image_block(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str) or not url:
        raise InvalidArgument(f"{where}: an image_url part needs image_url={{'url': ...}}.")
    found = _DATA_URL.match(url)
    if found is not None:
        media_type = found.group("type").lower()
        if media_type == "image/jpg":
            media_type = "image/jpeg"
        if media_type not in IMAGE_TYPES:
            raise InvalidArgument(
                f"{where}: Anthropic reads {', '.join(IMAGE_TYPES)} images, not {media_type!r}; convert it."
            )
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": found.group("data")}
    elif url.startswith(("http://", "https://")):
        source = {"type": "url", "url": url}
    else:
        raise InvalidArgument(f"{where}: an image URL must be https://... or a data:image/...;base64 URL.")
    return {"type": "image", "source": source}


def _content_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """User or assistant content as Anthropic content blocks (empty text dropped: Anthropic refuses it)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidArgument(f"{where}.content must be a string or a list of content parts.")
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        here = f"{where}.content[{i}]"
        if isinstance(part, str):
            if part:
                blocks.append({"type": "text", "text": part})
            continue
        if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
            raise InvalidArgument(f"{here} must be a content part like {{'type': 'text', 'text': '...'}}.")
        kind = part["type"]
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidArgument(f"{here} is a text part without a 'text' string.")
            if text:
                blocks.append({k: v for k, v in part.items() if k in ("type", "text", "cache_control")})
        elif kind == "image_url":
            blocks.append(_image_block(part, here))
        elif kind in ("input_audio", "file"):
            raise InvalidArgument(
                f"{here}: Anthropic takes no {kind} parts; send text, images or Anthropic 'document' blocks."
            )
        else:  # already an Anthropic block (image with source, document, tool_use, tool_result, thinking...)
            blocks.append(dict(part))
    return blocks


def _tool_use_blocks(calls: Any, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for i, call in enumerate(calls or ()):
        data = call.model_dump() if isinstance(call, ToolCall) else call
        fn = data.get("function") if isinstance(data, Mapping) else None
        if not isinstance(fn, Mapping) or not fn.get("name"):
            raise InvalidArgument(
                f"{where}.tool_calls[{i}] needs function={{'name': ..., 'arguments': ...}}."
            )
        if not data.get("id"):
            raise InvalidArgument(
                f"{where}.tool_calls[{i}] has no id: Anthropic pairs each tool result with its call by id, "
                "so keep the id the model gave (reply.message carries it)."
            )
        arguments = fn.get("arguments") or "{}"
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments)
            except ValueError:
                raise InvalidArgument(
                    f"{where}.tool_calls[{i}].function.arguments is not JSON: {arguments[:100]!r}."
                ) from None
        else:
            parsed = arguments
        if not isinstance(parsed, Mapping):
            raise InvalidArgument(f"{where}.tool_calls[{i}].function.arguments must be a JSON object.")
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id(data.get("id")),
                "name": str(fn["name"]),
                "input": dict(parsed),
            }
        )
    return blocks


def _tool_result_block(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not call_id:
        raise InvalidArgument(f"{where} is a tool message without tool_call_id: say which call it answers.")
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(call_id)}
    if isinstance(content, str):
        block["content"] = content
    elif content is not None:
        parts = _content_blocks(content, where)
        if parts:
            block["content"] = parts
    if message.get("is_error"):
        block["is_error"] = True
    return block


def _as_dict(message: MessageLike, i: int) -> dict[str, Any]:
    if isinstance(message, str):
        return {"role": "user", "content": message}
    if isinstance(message, Message):
        return message.model_dump(exclude_none=True)
    if isinstance(message, Mapping):
        return dict(message)
    raise InvalidArgument(
        f"messages[{i}] is a {type(message).__name__}; pass dicts like "
        "{'role': 'user', 'content': '...'}, polyface.Message objects or strings."
    )


def to_anthropic(
    messages: Sequence[MessageLike] | str, system: str | Sequence[Mapping[str, Any]] | None = None
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """(``system``, ``messages``) for Anthropic from OpenAI-style messages and an optional system prompt."""
    if isinstance(messages, str):
        messages = [messages]
    if not isinstance(messages, Sequence):
        raise InvalidArgument(
            "messages must be a list like [{'role': 'user', 'content': 'Hi'}] (or one string)."
        )
    system_parts: list[str] = []
    system_blocks: list[dict[str, Any]] | None = None
    if isinstance(system, str):
        if system:
            system_parts.append(system)
    elif system is not None:  # already Anthropic text blocks (e.g. with cache_control)
        system_blocks = [dict(b) for b in system]
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            merged = turns[-1]["content"] + blocks
            # Anthropic wants a user turn's tool results before anything else in it
            merged.sort(key=lambda block: block.get("type") != "tool_result")
            turns[-1]["content"] = merged
        else:
            turns.append({"role": role, "content": blocks})

    for i, raw in enumerate(messages):
        message = _as_dict(raw, i)
        where = f"messages[{i}]"
        role = message.get("role")
        if role in ("system", "developer"):
            system_parts.append(_text_of(message.get("content"), where))
        elif role == "user":
            if "content" not in message:
                raise InvalidArgument(f"{where} has no 'content': add the message text as content.")
            add("user", _content_blocks(message.get("content"), where))
        elif role == "assistant":
            blocks = _content_blocks(message.get("content"), where)
            blocks += _tool_use_blocks(message.get("tool_calls"), where)
            if not blocks and "content" not in message:
                raise InvalidArgument(f"{where} has neither content nor tool_calls.")
            add("assistant", blocks)
        elif role == "tool":
            add("user", [_tool_result_block(message, where)])
        else:
            raise InvalidArgument(f"{where} has role {role!r}; use system, user, assistant or tool.")
    out: list[dict[str, Any]] = []
    for turn in turns:
        blocks = turn["content"]
        if not blocks:
            raise InvalidArgument(
                f"a {turn['role']} message is empty; Anthropic needs text (or other content) in every turn."
            )
        content: str | list[dict[str, Any]] = blocks
        if len(blocks) == 1 and set(blocks[0]) == {"type", "text"}:
            content = blocks[0]["text"]
        out.append({"role": turn["role"], "content": content})
    if not out:
        raise InvalidArgument(
            "messages is empty: pass at least one user message, e.g. [{'role': 'user', 'content': 'Hi'}]."
        )
    joined: str | list[dict[str, Any]] | None = "\n\n".join(p for p in system_parts if p) or None
    if system_blocks is not None:
        extra = [{"type": "text", "text": joined}] if isinstance(joined, str) else []
        joined = system_blocks + extra
    return joined, out


# ---- tools and output formats ----------------------------------------------------------------------------


def tools(items: Iterable[Any]) -> list[dict[str, Any]]:
    """OpenAI-style function tools as Anthropic tools (Anthropic-shaped ones pass as they are)."""
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(items):
        if not isinstance(tool, Mapping):
            raise InvalidArgument(
                f"tools[{i}] must be a dict like {{'type': 'function', 'function': {{...}}}}."
            )
        if tool.get("type") == "function" or "function" in tool:
            fn = tool.get("function")
            if not isinstance(fn, Mapping) or not fn.get("name"):
                raise InvalidArgument(f"tools[{i}] needs function={{'name': ..., 'parameters': {{...}}}}.")
            schema = fn.get("parameters") or {"type": "object", "properties": {}}
            if schema.get("type") != "object":
                raise InvalidArgument(
                    f"tools[{i}].function.parameters must be a JSON schema of type 'object'."
                )
            converted: dict[str, Any] = {"name": str(fn["name"]), "input_schema": dict(schema)}
            if fn.get("description"):
                converted["description"] = str(fn["description"])
            if fn.get("strict") is not None:
                converted["strict"] = bool(fn["strict"])
            out.append(converted)
        else:
            out.append(dict(tool))
    return out


def tool_choice(value: Any, *, parallel: bool | None = None) -> dict[str, Any] | None:
    """OpenAI's ``tool_choice`` (and ``parallel_tool_calls``) as Anthropic's ``tool_choice``."""
    choice: dict[str, Any] | None
    if value is None:
        choice = None
    elif value == "auto":
        choice = {"type": "auto"}
    elif value in ("required", "any"):
        choice = {"type": "any"}
    elif value == "none":
        choice = {"type": "none"}
    elif isinstance(value, Mapping) and value.get("type") == "function":
        fn = value.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if not name:
            raise InvalidArgument("tool_choice={'type': 'function', ...} needs function={'name': ...}.")
        choice = {"type": "tool", "name": str(name)}
    elif isinstance(value, Mapping) and value.get("type") in ("auto", "any", "tool", "none"):
        choice = dict(value)
    else:
        raise InvalidArgument(
            f"tool_choice {value!r} is not understood; use 'auto', 'required', 'none' or "
            "{'type': 'function', 'function': {'name': ...}}."
        )
    if parallel is False:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    return choice


def strict_schema(schema: Any) -> Any:
    """A copy of a JSON schema whose object schemas say ``additionalProperties: false`` (structured outputs
    require it) unless they say otherwise."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {
        k: strict_schema(v) if k not in ("enum", "const", "default", "examples") else v
        for k, v in schema.items()
    }
    if out.get("type") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def output_format(value: Any) -> dict[str, Any] | None:
    """``response_format`` (a dict or a pydantic model class) as ``output_config.format`` (None: text)."""
    schema_fn = getattr(value, "model_json_schema", None)
    if isinstance(value, type) and callable(schema_fn):
        return {"type": "json_schema", "schema": strict_schema(schema_fn())}
    if not isinstance(value, Mapping):
        raise InvalidArgument("response_format must be a dict or a pydantic model class.")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_schema":
        spec = value.get("json_schema", value)
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise InvalidArgument("response_format json_schema needs {'json_schema': {'schema': {...}}}.")
        return {"type": "json_schema", "schema": strict_schema(schema)}
    if kind == "json_object":
        raise InvalidArgument(
            "Anthropic has no schema-less JSON mode; pass response_format={'type': 'json_schema', "
            "'json_schema': {'name': ..., 'schema': {...}}} or a pydantic model class."
        )
    raise InvalidArgument(f"response_format type {kind!r} is unknown; use 'json_schema' or 'text'.")


# ---- the request -----------------------------------------------------------------------------------------


def build_request(
    *,
    model: str,
    messages: Sequence[MessageLike] | str,
    system: str | Sequence[Mapping[str, Any]] | None = None,
    options: Mapping[str, Any],
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    max_output_tokens: int | None = None,
    provider: str = "Anthropic",
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/messages``; InvalidArgument for what Anthropic would refuse.

    ``max_output_tokens``: the model's own limit when the catalog knows it (``max_tokens`` above it is
    refused here, and the default is lowered to it).
    """
    if not isinstance(model, str) or not model:
        raise InvalidArgument(
            "model is required, e.g. model='claude-sonnet-4-5' (adapter.models() lists them)."
        )
    body: dict[str, Any] = {"model": model}
    system_out, body["messages"] = to_anthropic(messages, system)
    if system_out:
        body["system"] = system_out
    extra_body: Mapping[str, Any] | None = None
    output_config: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if name in UNSUPPORTED:
            raise InvalidArgument(f"{provider} does not take {name!r}: {UNSUPPORTED[name]}.")
        if name not in OPTIONS:
            raise InvalidArgument(
                f"{provider} messages do not take {name!r}. Known options: {', '.join(sorted(OPTIONS))}; "
                "pass other Anthropic fields with extra_body={...}."
            )
        if name == "extra_body":
            if not isinstance(value, Mapping):
                raise InvalidArgument("extra_body must be a dict of extra JSON fields.")
            extra_body = value
        elif name in ("stop", "stop_sequences"):
            stops = [value] if isinstance(value, str) else list(value)
            if not all(isinstance(s, str) and s for s in stops):
                raise InvalidArgument("stop must be a string or a list of non-empty strings.")
            body["stop_sequences"] = stops
        elif name == "tools":
            converted = tools(value)
            if converted:
                body["tools"] = converted
        elif name in ("tool_choice", "parallel_tool_calls"):
            pass  # below, together: the order they were given in must not matter
        elif name == "response_format":
            fmt = output_format(value)
            if fmt is not None:
                output_config["format"] = fmt
        elif name == "output_config":
            output_config.update(value)
        elif name == "metadata":
            metadata.update(value)
        elif name == "user":
            pass  # below: it wins over metadata's user_id
        elif name in ("temperature", "top_p"):
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise InvalidArgument(f"{name} must be a number from 0 to 1 on Anthropic (got {value!r}).")
            body[name] = value
        elif name == "max_tokens":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidArgument(f"max_tokens must be a positive whole number (got {value!r}).")
            if max_output_tokens is not None and value > max_output_tokens:
                raise InvalidArgument(
                    f"max_tokens={value} is over {model}'s limit of {max_output_tokens} output tokens; "
                    "ask for fewer."
                )
            body["max_tokens"] = value
        else:
            body[name] = value
    if "tools" in body and (
        options.get("tool_choice") is not None or options.get("parallel_tool_calls") is False
    ):
        parallel = options.get("parallel_tool_calls")
        choice = tool_choice(
            options.get("tool_choice") or "auto", parallel=None if parallel is None else bool(parallel)
        )
        if choice is not None:
            body["tool_choice"] = choice
    if "max_tokens" not in body:
        limit = max_output_tokens if max_output_tokens else default_max_tokens
        body["max_tokens"] = min(default_max_tokens, limit)
    if output_config:
        body["output_config"] = output_config
    if options.get("user") is not None:
        metadata["user_id"] = str(options["user"])
    if metadata:
        body["metadata"] = metadata
    if extra_body:
        body.update(extra_body)
    return body


def count_tokens_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST /v1/messages/count_tokens`` for a messages request body (fields it takes only)."""
    keep = (
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "cache_control",
    )
    return {k: body[k] for k in keep if k in body}


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """A cheap upper-ish estimate of the tokens a request uses (for the rate limiter)."""
    text = json.dumps([body.get("system"), body.get("messages")], ensure_ascii=False)
    return len(text) // 4 + 1 + int(body.get("max_tokens") or 0)


# ---- responses -------------------------------------------------------------------------------------------


def finish_reason(value: Any) -> FinishReason | None:
    if value is None:
        return None
    return STOP_REASONS.get(str(value), "other")


def parse_usage(data: Mapping[str, Any] | None) -> Usage:
    """Anthropic's usage as polyface's (see the module docstring for how cache tokens count)."""
    if not data:
        return Usage()
    uncached = int(data.get("input_tokens") or 0)
    read = int(data.get("cache_read_input_tokens") or 0)
    written = int(data.get("cache_creation_input_tokens") or 0)
    output = int(data.get("output_tokens") or 0)
    details: dict[str, float] = {}
    if read or written:
        details = {
            "uncached_input_tokens": uncached,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }
        creation = data.get("cache_creation")
        if isinstance(creation, Mapping):
            for key in ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"):
                if creation.get(key):
                    details[key] = int(creation[key])
    total_in = uncached + read + written
    return Usage(input_tokens=total_in, output_tokens=output, total_tokens=total_in + output, details=details)


def message_cost(pricing: Pricing | None, usage: Usage, *, batch: bool = False) -> float | None:
    """USD for ``usage`` at ``pricing``: uncached input at the input price, cache reads at 0.1x, cache
    writes at 1.25x (5-minute) or 2x (1-hour), output at the output price; halved for batches.
    None without a price."""
    if pricing is None:
        return None
    details = usage.details
    read = details.get("cache_read_input_tokens", 0.0)
    written = details.get("cache_creation_input_tokens", 0.0)
    hour = details.get("ephemeral_1h_input_tokens", 0.0)
    five = details.get("ephemeral_5m_input_tokens", written - hour)
    uncached = usage.input_tokens - read - written
    per_in = pricing.input_per_mtok / 1_000_000
    cost = (
        uncached * per_in
        + read * per_in * CACHE_READ_MULTIPLE
        + five * per_in * CACHE_WRITE_5M_MULTIPLE
        + hour * per_in * CACHE_WRITE_1H_MULTIPLE
        + usage.output_tokens * pricing.output_per_mtok / 1_000_000
    )
    return cost * BATCH_DISCOUNT if batch else cost


def _tool_call(block: Mapping[str, Any]) -> ToolCall:
    return ToolCall(
        id=str(block.get("id") or ""),
        function=FunctionCall(
            name=str(block.get("name") or ""), arguments=json.dumps(block.get("input") or {})
        ),
    )


def parse_message(data: Mapping[str, Any], *, provider: str, model: str) -> TextResponse:
    """A ``Message`` object (the answer of ``POST /v1/messages``) as a :class:`TextResponse`."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in data.get("content") or ():
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            calls.append(_tool_call(block))
    return TextResponse(
        id=data.get("id"),
        provider=provider,
        model=str(data.get("model") or model),
        text="".join(texts),
        finish_reason=finish_reason(data.get("stop_reason")),
        tool_calls=calls,
        usage=parse_usage(data.get("usage")),
        raw=dict(data),
    )


def parse_error_body(body: Any) -> tuple[str, str | None] | None:
    """(message, type) from ``{"type": "error", "error": {"type", "message"}}``; None for another shape."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        error = body["error"]
        message = error.get("message")
        kind = error.get("type")
        return str(message or kind or "no error message"), str(kind) if kind else None
    return None


# ---- streams ---------------------------------------------------------------------------------------------


class StreamError(Exception):
    """Anthropic sent an ``error`` event mid-stream (``kind``: ``overloaded_error``, ``api_error``...)."""

    def __init__(self, kind: str | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class StreamState:
    """Turns Messages stream events into the deltas a caller sees.

    Text and tool-call pieces pass through at once (tool calls numbered 0, 1, ... as OpenAI numbers them);
    the stop reason and usage, which arrive in ``message_start`` and ``message_delta``, are gathered into the
    final delta from :meth:`final`. ``stopped`` is True once ``message_stop`` arrived.
    """

    __slots__ = ("_tools", "finish_reason", "id", "model", "stopped", "usage_data")

    def __init__(self, model: str) -> None:
        self.model = model
        self.id: str | None = None
        self.finish_reason: FinishReason | None = None
        self.usage_data: dict[str, Any] = {}
        self.stopped = False
        self._tools: dict[int, int] = {}

    def feed(self, event: Mapping[str, Any]) -> TextDelta | None:
        kind = event.get("type")
        if kind == "error":
            parsed = parse_error_body(event) or ("the stream reported an error", None)
            raise StreamError(parsed[1], parsed[0])
        if kind == "message_start":
            message = event.get("message") or {}
            self.id = message.get("id") or self.id
            self.model = str(message.get("model") or self.model)
            self._usage(message.get("usage"))
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                ordinal = self._tools[int(event.get("index", 0))] = len(self._tools)
                call = ToolCallDelta(index=ordinal, id=block.get("id"), name=block.get("name"))
                return TextDelta(tool_calls=[call], model=self.model, id=self.id)
            if block.get("type") == "text" and block.get("text"):
                return TextDelta(text=str(block["text"]), model=self.model, id=self.id)
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return TextDelta(text=str(delta["text"]), model=self.model, id=self.id)
            if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                ordinal = self._tools.get(int(event.get("index", 0)), 0)
                call = ToolCallDelta(index=ordinal, arguments=str(delta["partial_json"]))
                return TextDelta(tool_calls=[call], model=self.model, id=self.id)
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            if delta.get("stop_reason") is not None:
                self.finish_reason = finish_reason(delta["stop_reason"])
            self._usage(event.get("usage"))
        elif kind == "message_stop":
            self.stopped = True
        # ping, content_block_stop, thinking and citation deltas, and unknown events carry nothing to pass on
        return None

    def _usage(self, data: Any) -> None:
        if isinstance(data, Mapping):
            self.usage_data.update({k: v for k, v in data.items() if v is not None})

    @property
    def usage(self) -> Usage:
        return parse_usage(self.usage_data)

    def final(self, cost: float | None) -> TextDelta:
        return TextDelta(
            finish_reason=self.finish_reason, usage=self.usage, cost=cost, model=self.model, id=self.id
        )


# ---- models ----------------------------------------------------------------------------------------------


def parse_model(item: Mapping[str, Any], *, provider: str = "anthropic") -> ModelInfo:
    """One ``ModelInfo`` of ``GET /v1/models`` (Anthropic publishes no prices there)."""
    caps = _obj(item.get("capabilities"))

    def supported(name: str) -> bool | None:
        value = caps.get(name)
        return bool(value.get("supported")) if isinstance(value, Mapping) else None

    return ModelInfo(
        id=str(item["id"]),
        provider=provider,
        modality="text",
        display_name=item.get("display_name"),
        owned_by="Anthropic",
        context_length=item.get("max_input_tokens"),
        max_output_tokens=item.get("max_tokens"),
        supports_tools=True,
        supports_json_schema=supported("structured_outputs"),
        supports_vision=supported("image_input"),
        raw=dict(item),
    )


# ---- batches ---------------------------------------------------------------------------------------------

BatchStatus = Literal["in_progress", "canceling", "ended"]


class RequestCounts(PolyfaceModel):
    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0


class MessageBatch(PolyfaceModel):
    """A Message Batch as Anthropic reports it."""

    id: str
    processing_status: str
    """``in_progress``, ``canceling`` or ``ended`` (other values are kept as sent)."""
    request_counts: RequestCounts = Field(default_factory=RequestCounts)
    created_at: str | None = None
    ended_at: str | None = None
    expires_at: str | None = None
    cancel_initiated_at: str | None = None
    archived_at: str | None = None
    results_url: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)


class BatchResult(PolyfaceModel):
    """One request's outcome in a batch: ``succeeded`` (with ``response``), ``errored`` (with ``error``),
    ``canceled`` or ``expired``."""

    custom_id: str
    type: str
    response: TextResponse | None = None
    error: str | None = None
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.type == "succeeded"


def parse_batch(data: Mapping[str, Any]) -> MessageBatch:
    counts = _obj(data.get("request_counts"))
    return MessageBatch(
        id=str(data["id"]),
        processing_status=str(data.get("processing_status") or "in_progress"),
        request_counts=RequestCounts(
            **{k: int(v or 0) for k, v in counts.items() if k in RequestCounts.model_fields}
        ),
        created_at=data.get("created_at"),
        ended_at=data.get("ended_at"),
        expires_at=data.get("expires_at"),
        cancel_initiated_at=data.get("cancel_initiated_at"),
        archived_at=data.get("archived_at"),
        results_url=data.get("results_url"),
        raw=dict(data),
    )


def parse_batch_result(data: Mapping[str, Any], *, provider: str) -> BatchResult:
    """One line of a batch's results (JSONL)."""
    result = _obj(data.get("result"))
    kind = str(result.get("type") or "unknown")
    out = BatchResult(custom_id=str(data.get("custom_id") or ""), type=kind)
    if kind == "succeeded" and isinstance(result.get("message"), Mapping):
        message = result["message"]
        out.response = parse_message(message, provider=provider, model=str(message.get("model") or ""))
    elif kind == "errored":
        parsed = parse_error_body(result.get("error")) or ("the request failed", None)
        out.error, out.error_type = parsed
    return out


def batch_requests(items: Sequence[Mapping[str, Any]], build: Any) -> list[dict[str, Any]]:
    """``requests`` for ``POST /v1/messages/batches``. Each item has a ``custom_id`` and either Anthropic's
    ``params`` (sent as-is) or polyface's arguments (``model``, ``messages``, ``system`` and options), which
    ``build(model=..., messages=..., system=..., options=...)`` turns into params."""
    if isinstance(items, Mapping | str) or not items:
        raise InvalidArgument(
            "requests must be a non-empty list like [{'custom_id': 'q1', 'model': ..., 'messages': [...]}]."
        )
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidArgument(
                f"requests[{i}] must be a dict with custom_id and model/messages (or params)."
            )
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise InvalidArgument(
                f"requests[{i}].custom_id must be 1-64 letters, digits, '_' or '-' (got {custom_id!r})."
            )
        if custom_id in seen:
            raise InvalidArgument(
                f"requests[{i}].custom_id {custom_id!r} is used twice; each must be unique."
            )
        seen.add(custom_id)
        if "params" in item:
            params = item["params"]
            if not isinstance(params, Mapping) or "max_tokens" not in params:
                raise InvalidArgument(
                    f"requests[{i}].params must be a Messages request body with max_tokens."
                )
            out.append({"custom_id": custom_id, "params": dict(params)})
            continue
        rest = {k: v for k, v in item.items() if k not in ("custom_id", "model", "messages", "system")}
        if "stream" in rest:
            raise InvalidArgument(f"requests[{i}]: batch requests cannot stream.")
        params = build(
            model=item.get("model"), messages=item.get("messages"), system=item.get("system"), options=rest
        )
        out.append({"custom_id": custom_id, "params": params})
    return out
