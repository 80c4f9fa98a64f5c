"""``POST /v1/audio/speech``: ``persona/<name>`` (as ``model`` or ``voice``) speaks with the persona's
avatar voice; ``<provider>/<model>`` with ``voice`` speaks with that provider's voice. The answer is the
audio file's bytes with its content type (WAV unless another ``response_format`` is asked; formats the
voice cannot make are converted by ffmpeg)."""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from polyface.errors import ConfigurationError
from polyface.server.gateway.errors import OpenAIError
from polyface.server.gateway.schemas import SpeechRequest
from polyface.server.gateway.shapes import cost_headers
from polyface.server.gateway.targets import Target, speech_target
from polyface.server.ops import metrics_of

CONTENT_TYPES: Final = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
}
_FFMPEG_OUTPUT: Final = {
    "mp3": ["-f", "mp3"],
    "opus": ["-c:a", "libopus", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-f", "adts"],
    "flac": ["-f", "flac"],
}
_LOCAL_FORMATS: Final = ("wav", "pcm")


def transcode(wav: bytes, fmt: str) -> bytes:
    """WAV bytes as ``fmt`` (mp3, opus, aac, flac), by ffmpeg."""
    from polyface.media import ffmpeg

    if not ffmpeg.has_ffmpeg():
        raise OpenAIError(
            400,
            f"this server cannot make {fmt} audio (ffmpeg is not installed); ask for response_format 'wav'.",
            code="unsupported_response_format",
            param="response_format",
        )
    done = ffmpeg.run(["-i", "pipe:0", *_FFMPEG_OUTPUT[fmt], "pipe:1"], what=f"encoding {fmt}", input=wav)
    return done.stdout


def _speak(studio: Any, target: Target, body: SpeechRequest) -> tuple[bytes, str, Any]:
    """The audio in the asked format, its format, and the provider's response (usage, cost)."""
    wanted = body.response_format or "wav"
    made = wanted if target.provider != "local" or wanted in _LOCAL_FORMATS else "wav"
    options: dict[str, Any] = {"model": target.model, "text": body.input, "format": made}
    if target.voice:
        options["voice"] = target.voice
    if body.speed is not None:
        options["speed"] = body.speed
    if body.instructions:
        options["instructions"] = body.instructions
    speech = studio.adapter(target.provider).audio.speak(**options)
    if speech.format == wanted or (wanted == "pcm" and speech.format == "raw"):
        return speech.audio, wanted, speech
    if speech.format != "wav" or wanted not in _FFMPEG_OUTPUT:
        raise ConfigurationError(
            f"{target.provider}:{target.model} answered {speech.format} audio, not the {wanted} asked; "
            "ask for response_format 'wav'."
        )
    return transcode(speech.audio, wanted), wanted, speech


async def speech(body: SpeechRequest, request: Request) -> Response:
    studio = request.app.state.studio
    target = await run_in_threadpool(speech_target, studio, body.model, body.voice)
    if target.persona is None and not body.voice:
        raise OpenAIError(
            400, "voice is required: one of the provider's voices.", code="missing_voice", param="voice"
        )
    audio, fmt, made = await run_in_threadpool(partial(_speak, studio, target, body))
    metrics_of(request.app).record_usage(body.model, made.usage, made.cost)
    return Response(
        audio, media_type=CONTENT_TYPES.get(fmt, "application/octet-stream"), headers=cost_headers(made.cost)
    )
