"""polyface's replies in OpenAI's response shapes (chat completions, chunks, usage, tool calls)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from polyface.types.text import TextDelta, TextResponse, ToolCallDelta
from polyface.types.usage import Usage

COST_HEADER = "x-polyface-cost-usd"
_FINISH = {"stop", "length", "tool_calls", "content_filter"}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def finish_reason(value: str | None) -> str | None:
    """OpenAI's finish reasons: polyface's ``error`` and ``other`` read as ``stop``."""
    if value is None:
        return None
    return value if value in _FINISH else "stop"


def usage_body(usage: Usage | None) -> dict[str, int]:
    usage = usage or Usage()
    total = usage.total_tokens or usage.input_tokens + usage.output_tokens
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": total,
    }


def cost_headers(cost: float | None) -> dict[str, str]:
    """``x-polyface-cost-usd`` when the cost is known."""
    return {} if cost is None else {COST_HEADER: format(cost, ".10g")}


def completion_body(model: str, reply: TextResponse, extra: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` object for ``reply``, named ``model`` (what the client asked for)."""
    texts = reply.choices if len(reply.choices) > 1 else [reply.text]
    choices = []
    for index, text in enumerate(texts):
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if index == 0 and reply.tool_calls:
            message["tool_calls"] = [call.model_dump() for call in reply.tool_calls]
        choices.append(
            {
                "index": index,
                "message": message,
                "finish_reason": finish_reason(reply.finish_reason),
                "logprobs": None,
            }
        )
    return {
        "id": reply.id or completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage_body(reply.usage),
        "system_fingerprint": None,
        "polyface": {**extra, "cost_usd": reply.cost},
    }


def _tool_call(delta: ToolCallDelta) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": delta.arguments}
    if delta.name:
        function["name"] = delta.name
    call: dict[str, Any] = {"index": delta.index, "function": function}
    if delta.id:
        call["id"] = delta.id
        call["type"] = "function"
    return call


class ChunkMaker:
    """``chat.completion.chunk`` objects of one streamed reply (one id and creation time)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = completion_id()
        self.created = int(time.time())

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }

    def first(self) -> dict[str, Any]:
        return self.chunk({"role": "assistant", "content": ""})

    def of(self, delta: TextDelta) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if delta.text:
            body["content"] = delta.text
        if delta.tool_calls:
            body["tool_calls"] = [_tool_call(call) for call in delta.tool_calls]
        return self.chunk(body, finish_reason(delta.finish_reason))

    def usage(self, usage: Usage | None, cost: float | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_body(usage),
            "polyface": {"cost_usd": cost},
        }
