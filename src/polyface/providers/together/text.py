"""Together text: OpenAI-style chat and completions plus Together's own sampling options."""

from __future__ import annotations

from polyface.providers._base.chat import ChatText


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
