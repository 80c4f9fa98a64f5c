"""Type-checked only (mypy): Anthropic's text capability satisfies polyface's capability Protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyface import capabilities as cap
    from polyface.providers.anthropic import AnthropicAdapter

    def _conforms(a: AnthropicAdapter) -> None:
        text: cap.TextGeneration = a.text
        del text
