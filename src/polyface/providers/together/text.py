"""Together text: OpenAI-style chat and completions plus Together's own sampling options.

Together differs from OpenAI in two option values, adjusted here: ``logprobs`` is a number of top tokens
(0-20; ``True``/``False`` become 1/0), and ``reasoning_effort`` is ``low``, ``medium`` or ``high``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyface.errors import InvalidArgument
from polyface.providers._base.chat import ChatText
from polyface.wire import openai_chat as wire

REASONING_EFFORTS = ("low", "medium", "high")


def together_fields(body: dict[str, Any]) -> dict[str, Any]:
    """A body built by the shared engine, with Together's own option values."""
    if isinstance(body.get("logprobs"), bool):
        body["logprobs"] = int(body["logprobs"])
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise InvalidArgument(f"Together takes reasoning_effort 'low', 'medium' or 'high' (got {effort!r}).")
    return body


class TogetherText(ChatText):
    tool_call_index = True
    extra_options = frozenset(
        {
            "top_k",
            "repetition_penalty",
            "min_p",
            "echo",
            "safety_model",
            "context_length_exceeded_behavior",
            "reasoning",
            "reasoning_effort",
            "function_call",
        }
    )

    def _chat_body(
        self,
        model: str,
        messages: Sequence[wire.MessageLike] | str,
        system: str | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        return together_fields(super()._chat_body(model, messages, system, options))

    def _completion_body(self, model: str, prompt: str, options: Mapping[str, Any]) -> dict[str, Any]:
        return together_fields(super()._completion_body(model, prompt, options))
