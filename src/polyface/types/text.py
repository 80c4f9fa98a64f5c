"""Text generation: messages in, a reply (or a stream of deltas) out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from polyface.types._base import PolyfaceModel
from polyface.types.usage import Usage

Role = Literal["system", "user", "assistant", "tool", "developer"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "other"]


class FunctionCall(PolyfaceModel):
    name: str
    arguments: str = ""
    """The arguments as the model wrote them: a JSON string (parse with ``json.loads``)."""


class ToolCall(PolyfaceModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(PolyfaceModel):
    """One chat message. ``content`` is text or a list of content parts (text, image_url)."""

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class TextResponse(PolyfaceModel):
    """A finished reply."""

    id: str | None = None
    provider: str
    model: str
    text: str
    finish_reason: FinishReason | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    """USD, from the provider's catalog pricing; None when the catalog has no price for the model."""
    choices: list[str] = Field(default_factory=list)
    """Every choice's text when ``n`` > 1 (``text`` is the first)."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def message(self) -> Message:
        """The reply as a message, ready to append to a conversation."""
        return Message(role="assistant", content=self.text, tool_calls=self.tool_calls or None)


class ToolCallDelta(PolyfaceModel):
    index: int = 0
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class TextDelta(PolyfaceModel):
    """One piece of a streamed reply. The last one carries ``finish_reason``, ``usage`` and ``cost``."""

    text: str = ""
    tool_calls: list[ToolCallDelta] = Field(default_factory=list)
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    cost: float | None = None
    model: str | None = None
    id: str | None = None
