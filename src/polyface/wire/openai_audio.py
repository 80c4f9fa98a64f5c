"""OpenAI-style audio wire formats, shared by the vendors that speak them (Together, OpenAI, ...).

Transcription and translation answers (``json`` / ``verbose_json`` / OpenAI's ``diarized_json``: text,
timed segments and words, speakers) and the ``timestamps=`` argument polyface takes for them. Pure:
dicts in, typed models out; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

from polyface.errors import InvalidArgument, ProviderUnavailable
from polyface.types.transcription import Transcription, TranscriptionSegment, TranscriptionWord
from polyface.types.usage import Usage

Granularity: TypeAlias = Literal["segment", "word"]
Timestamps: TypeAlias = Granularity | Sequence[Granularity] | None
Task: TypeAlias = Literal["transcribe", "translate"]


def timestamp_granularities(timestamps: Timestamps) -> list[str]:
    """``timestamps`` as the ``timestamp_granularities`` to ask for: words always come with their
    segments; None asks for none (text only). InvalidArgument for anything but segment/word."""
    if timestamps is None:
        return []
    items = [timestamps] if isinstance(timestamps, str) else list(timestamps)
    bad = [g for g in items if g not in ("segment", "word")]
    if bad:
        raise InvalidArgument(f"timestamps must be 'segment', 'word' or None (got {bad[0]!r}).")
    if "word" in items:  # words come with their segments
        return ["segment", "word"]
    return ["segment"] if items else []


_WORD_FIELDS = frozenset({"word", "start", "end", "speaker", "speaker_id", "id", "probability"})
_SEGMENT_FIELDS = frozenset(TranscriptionSegment.model_fields) | {"speaker_id"}


def _word(item: Mapping[str, Any]) -> TranscriptionWord:
    return TranscriptionWord.model_validate({k: v for k, v in item.items() if k in _WORD_FIELDS})


def _segment(item: Mapping[str, Any]) -> TranscriptionSegment:
    fields = {k: v for k, v in item.items() if k in _SEGMENT_FIELDS and k != "words"}
    fields["words"] = [_word(w) for w in item.get("words") or () if isinstance(w, Mapping)]
    return TranscriptionSegment.model_validate(fields)


def _usage(data: Mapping[str, Any], seconds: float | None) -> Usage:
    """OpenAI's ``usage`` (``{"type": "tokens", ...}`` or ``{"type": "duration", "seconds"}``) when sent;
    else the audio's duration (what Whisper-style models bill)."""
    usage = data.get("usage")
    if isinstance(usage, Mapping) and usage.get("type") == "tokens":
        details = usage.get("input_token_details")
        extra = {
            f"input_{key}": float(value)
            for key, value in (details.items() if isinstance(details, Mapping) else ())
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        inputs, outputs = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        return Usage(
            input_tokens=inputs,
            output_tokens=outputs,
            total_tokens=int(usage.get("total_tokens") or inputs + outputs),
            audio_seconds=seconds or 0.0,
            details=extra,
        )
    if isinstance(usage, Mapping) and isinstance(usage.get("seconds"), int | float):
        return Usage(audio_seconds=float(usage["seconds"]))
    return Usage(audio_seconds=seconds or 0.0)


def parse_transcription(
    data: Any,
    *,
    provider: str,
    model: str,
    task: Task,
    duration: float | None = None,
    vendor: str | None = None,
) -> Transcription:
    """A ``json``, ``verbose_json`` or ``diarized_json`` answer as a :class:`Transcription` (``duration``
    is used when the answer has none; ``vendor`` names the provider in errors). Fields polyface does not
    model are kept in ``raw`` only."""
    if not isinstance(data, Mapping) or not isinstance(data.get("text"), str):
        raise ProviderUnavailable(
            f"the {task} answer has no text: {str(data)[:200]!r}", provider=vendor or provider
        )
    seconds = data.get("duration")
    seconds = float(seconds) if isinstance(seconds, int | float) else duration
    answered_task = data.get("task")
    return Transcription(
        provider=provider,
        model=model,
        text=data["text"],
        task=answered_task if answered_task in ("transcribe", "translate") else task,
        language=data.get("language") if isinstance(data.get("language"), str) else None,
        duration=seconds,
        segments=[_segment(s) for s in data.get("segments") or () if isinstance(s, Mapping)],
        words=[_word(w) for w in data.get("words") or () if isinstance(w, Mapping)],
        speaker_segments=[_segment(s) for s in data.get("speaker_segments") or () if isinstance(s, Mapping)],
        usage=_usage(data, seconds),
        raw=dict(data),
    )


__all__ = ["Granularity", "Task", "Timestamps", "parse_transcription", "timestamp_granularities"]
