"""What a local text engine does, whichever library runs it: chat messages in, pieces of text out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

FINISH_REASONS = {"stop": "stop", "length": "length", "eos": "stop"}


@dataclass
class Sampling:
    """How to pick tokens. ``temperature=0`` is greedy (the same answer every time)."""

    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    repetition_penalty: float = 1.1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@dataclass
class Piece:
    """A piece of the reply; the last one has ``finish_reason`` and the token counts."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class TextEngine(Protocol):
    name: str

    def chat(self, messages: Sequence[dict[str, Any]], sampling: Sampling) -> Iterator[Piece]:
        """Stream the reply to ``messages`` (role/content dicts) with the model's chat template."""
        ...

    def complete(self, prompt: str, sampling: Sampling) -> Iterator[Piece]:
        """Stream the continuation of a raw ``prompt`` (no chat template)."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop sequence, and whether one was found."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def held_back(text: str, stop: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could be the start of a stop sequence (not sent yet)."""
    keep = 0
    for s in stop:
        for n in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:n]):
                keep = max(keep, n)
                break
    return keep
