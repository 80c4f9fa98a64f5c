"""Fake OpenAI routes: audio, registered with ``@route(..., server=FakeOpenAI)``.

- ``POST /v1/audio/speech``: real audio from the Together fake's synthesiser: each preset voice
  (:data:`VOICES`) has its own pitch and pace; a custom voice (``{"id": "voice_..."}``) speaks at the pitch
  measured (autocorrelation) from its sample. ``wav`` is 24 kHz 16-bit WAV, ``pcm`` headerless 24 kHz
  s16le; ``mp3``/``opus``/``aac``/``flac`` are placeholders with the right magic bytes. ``stream_format:
  "sse"`` answers ``speech.audio.delta`` events (base64 audio) then ``speech.audio.done`` with token usage
  (refused for tts-1 models); ``"audio"`` (or none) answers the bytes. ``tts-1`` refuses the newer voices
  and ``instructions``.
- ``POST /v1/audio/transcriptions`` / ``translations``: multipart; the words of the Together fake
  at 2.5 words/s over the audio's duration. ``json``, ``verbose_json`` (segments; words with
  ``timestamp_granularities[]=word``; whisper-1 only) and ``diarized_json`` (gpt-4o-transcribe-diarize,
  speakers A/B alternating per segment). Usage: ``duration`` seconds for whisper-1, tokens otherwise.
- ``/v1/audio/voice_consents`` (create multipart, list, get, update, delete) and ``POST /v1/audio/voices``
  (multipart ``name``, ``audio_sample``, ``consent``: an unknown consent is a 400).
"""

from __future__ import annotations

import array
import base64
import io
import re
import sys
import time
import uuid
import wave
from collections.abc import Iterator, Mapping
from typing import Any, Final

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_openai.core import FakeOpenAI
from polyface.testing.fake_together.audio import (
    TRANSCRIPT_WORDS,
    TRANSLATION_WORDS,
    FakeVoice,
    _audio_seconds,
    _mp3_placeholder,
    _pcm,
    _wav,
    parse_multipart,
    synthesize,
)
from polyface.testing.fake_together.core import (
    RecordedRequest,
    _BadRequest,
    _EventStream,
    _sse,
    _stream_headers,
    route,
)

RATE: Final = 24000
VOICES: Final[dict[str, FakeVoice]] = {
    v.name: v
    for v in (
        FakeVoice("alloy", "alloy", 180.0, 4.0, 1.0),
        FakeVoice("ash", "ash", 115.0, 4.1, 1.15),
        FakeVoice("ballad", "ballad", 130.0, 3.4, 1.1),
        FakeVoice("coral", "coral", 220.0, 4.3, 0.95),
        FakeVoice("echo", "echo", 108.0, 3.9, 1.2),
        FakeVoice("fable", "fable", 150.0, 3.7, 1.05),
        FakeVoice("nova", "nova", 240.0, 4.5, 0.9),
        FakeVoice("onyx", "onyx", 92.0, 3.5, 1.3),
        FakeVoice("sage", "sage", 200.0, 3.8, 1.0),
        FakeVoice("shimmer", "shimmer", 260.0, 4.4, 0.9),
        FakeVoice("verse", "verse", 140.0, 4.0, 1.1),
        FakeVoice("marin", "marin", 210.0, 3.9, 1.0),
        FakeVoice("cedar", "cedar", 120.0, 3.8, 1.15),
    )
}
TTS1_VOICES: Final = frozenset({"alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"})
FORMATS: Final = ("mp3", "opus", "aac", "flac", "wav", "pcm")
WORDS_PER_SECOND: Final = 2.5
WORDS_PER_SEGMENT: Final = 6


def estimate_pitch(data: bytes) -> float:
    """The fundamental frequency of a 16-bit WAV's loudest 0.2 s, by autocorrelation (60-400 Hz)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            rate, width, channels = reader.getframerate(), reader.getsampwidth(), reader.getnchannels()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError):
        return 150.0
    if width != 2:
        return 150.0
    samples = array.array("h", frames)
    if sys.byteorder != "little":
        samples.byteswap()
    mono = samples[::channels]
    window = int(0.2 * rate)
    step = max(1, window // 2)
    best_start, best_energy = 0, -1
    for start in range(0, max(1, len(mono) - window), step):
        energy = sum(abs(v) for v in mono[start : start + window : 8])
        if energy > best_energy:
            best_start, best_energy = start, energy
    piece = [float(v) for v in mono[best_start : best_start + window]]
    best_lag, best_score = 0, 0.0
    for lag in range(int(rate / 400), int(rate / 60) + 1):
        score = sum(piece[i] * piece[i + lag] for i in range(0, len(piece) - lag, 2))
        if score > best_score:
            best_lag, best_score = lag, score
    return rate / best_lag if best_lag else 150.0


def _voice(fake: FakeOpenAI, model: str, voice: Any) -> FakeVoice:
    if isinstance(voice, dict):
        custom = fake.store.get("voices", {}).get(voice.get("id"))
        if custom is None:
            raise _BadRequest(f"Voice '{voice.get('id')}' not found", status=404, code="voice_not_found")
        return FakeVoice(custom["id"], custom["name"], custom["pitch_hz"], 4.0, 1.0)
    if voice not in VOICES:
        raise _BadRequest(
            f"Invalid voice '{voice}'. Supported voices: {', '.join(VOICES)}", code="invalid_value"
        )
    if model.startswith("tts-1") and voice not in TTS1_VOICES:
        raise _BadRequest(f"Voice '{voice}' is not supported by {model}", code="invalid_value")
    return VOICES[voice]


def _encode(samples: list[float], fmt: str) -> bytes:
    if fmt == "wav":
        return _wav(samples, RATE)
    if fmt == "pcm":
        return _pcm(samples, "pcm_s16le")
    seconds = len(samples) / RATE
    if fmt == "mp3":
        return _mp3_placeholder(seconds)
    magic = {"opus": b"OggS\x00\x02", "flac": b"fLaC\x00\x00\x00\x22", "aac": b"\xff\xf1\x50\x80"}[fmt]
    return magic + b"\x00" * int(seconds * 2000)


def _speech_events(audio: bytes, chunk: int, usage: dict[str, int], filler: int | None) -> Iterator[bytes]:
    pieces = (
        [b"\x00" * chunk] * filler
        if filler is not None
        else [audio[i : i + chunk] for i in range(0, len(audio), chunk)]
    )
    for piece in pieces:
        yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()})
    yield _sse({"type": "speech.audio.done", "usage": usage})


@route("POST", r"/v1/audio/speech", server=FakeOpenAI)
async def speech(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    body = fake._json_object(req)
    model, text = body.get("model"), body.get("input")
    if not isinstance(model, str) or not model:
        raise _BadRequest("'model' is required", code="invalid_request_error")
    if not isinstance(text, str) or not text.strip():
        raise _BadRequest("'input' is required", code="invalid_request_error")
    voice = _voice(fake, model, body.get("voice"))
    fmt = body.get("response_format", "mp3")
    if fmt not in FORMATS:
        raise _BadRequest(f"Invalid response_format '{fmt}'", code="invalid_value")
    if model.startswith("tts-1") and body.get("instructions") is not None:
        raise _BadRequest("instructions are not supported for tts-1 models", code="invalid_request_error")
    speed = float(body.get("speed", 1.0))
    paced = FakeVoice(voice.id, voice.name, voice.pitch_hz, voice.syllables_per_second * speed, voice.rolloff)
    audio = _encode(synthesize(paced, text, RATE), fmt)
    fake.store.setdefault("speech", []).append({"model": model, "voice": voice.name, "format": fmt})
    if body.get("stream_format") == "sse":
        if model.startswith("tts-1"):
            raise _BadRequest(
                "stream_format 'sse' is not supported for tts-1 models", code="invalid_request_error"
            )
        inputs = max(1, len(text.split()))
        usage = {
            "input_tokens": inputs,
            "output_tokens": len(audio) // 400,
            "total_tokens": inputs + len(audio) // 400,
        }
        mode = fake._take_stream_mode()
        events = _speech_events(audio, int(0.1 * RATE) * 2, usage, mode.filler_chunks)
        return _EventStream(fake, generation, events, mode, _stream_headers())
    media = {"wav": "audio/wav", "pcm": "application/octet-stream", "mp3": "audio/mpeg"}.get(
        fmt, f"audio/{fmt}"
    )
    return Response(audio, media_type=media)


# ---- transcription --------------------------------------------------------------------------------


def _one(fields: Mapping[str, list[Any]], name: str) -> str | None:
    values = [v for v in fields.get(name, []) if isinstance(v, str)]
    return values[-1] if values else None


def _transcribe(fields: Mapping[str, list[Any]], task: str) -> dict[str, Any]:
    upload = next((v for v in fields.get("file", []) if isinstance(v, tuple)), None)
    if upload is None or not upload[1]:
        raise _BadRequest("'file' is required: an audio upload", code="invalid_request_error")
    duration = _audio_seconds(upload[1])
    model = _one(fields, "model") or ""
    if not model:
        raise _BadRequest("'model' is required", code="invalid_request_error")
    whisper = model.startswith("whisper")
    fmt = _one(fields, "response_format") or "json"
    if task == "translate" and not whisper:
        raise _BadRequest(f"Model {model} does not support translations", code="invalid_value")
    if fmt == "verbose_json" and not whisper:
        raise _BadRequest(
            f"response_format 'verbose_json' is not compatible with {model}", code="invalid_value"
        )
    if fmt == "diarized_json" and model != "gpt-4o-transcribe-diarize":
        raise _BadRequest(
            "response_format 'diarized_json' needs gpt-4o-transcribe-diarize", code="invalid_value"
        )
    granularities = [g for g in fields.get("timestamp_granularities[]", []) if isinstance(g, str)] or [
        "segment"
    ]
    if fields.get("timestamp_granularities[]") and fmt != "verbose_json":
        raise _BadRequest(
            "timestamp_granularities needs response_format 'verbose_json'", code="invalid_value"
        )
    vocabulary = TRANSCRIPT_WORDS if task == "transcribe" else TRANSLATION_WORDS
    count = max(1, int(duration * WORDS_PER_SECOND))
    step = duration / count
    words: list[dict[str, Any]] = [
        {
            "word": vocabulary[i % len(vocabulary)],
            "start": round(i * step, 3),
            "end": round((i + 0.8) * step, 3),
        }
        for i in range(count)
    ]
    text = " ".join(w["word"] for w in words)
    if whisper:
        usage: dict[str, Any] = {"type": "duration", "seconds": round(duration, 3)}
    else:
        audio_tokens = int(duration * 10)
        usage = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
            "output_tokens": count,
            "total_tokens": audio_tokens + count,
        }
    groups = [words[i : i + WORDS_PER_SEGMENT] for i in range(0, count, WORDS_PER_SEGMENT)]
    if fmt == "diarized_json":
        segments = [
            {
                "type": "transcript.text.segment",
                "id": f"seg_{n:03d}",
                "start": g[0]["start"],
                "end": g[-1]["end"],
                "text": " ".join(w["word"] for w in g),
                "speaker": "AB"[n % 2],
            }
            for n, g in enumerate(groups)
        ]
        return {
            "task": "transcribe",
            "duration": round(duration, 3),
            "text": text,
            "segments": segments,
            "usage": usage,
        }
    if fmt != "verbose_json":
        return {"text": text, "usage": usage}
    language = (
        "english"
        if task == "translate"
        else {"en": "english", "de": "german"}.get(
            _one(fields, "language") or "en", _one(fields, "language") or "english"
        )
    )
    answer: dict[str, Any] = {
        "task": task,
        "language": language,
        "duration": round(duration, 3),
        "text": text,
    }
    if "segment" in granularities or task == "translate":
        answer["segments"] = [
            {
                "id": n,
                "seek": 0,
                "start": g[0]["start"],
                "end": g[-1]["end"],
                "text": " " + " ".join(w["word"] for w in g),
                "tokens": list(range(50364, 50364 + len(g))),
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.1,
                "no_speech_prob": 0.01,
            }
            for n, g in enumerate(groups)
        ]
    if "word" in granularities and task == "transcribe":
        answer["words"] = words
    answer["usage"] = usage
    return answer


@route("POST", r"/v1/audio/transcriptions", server=FakeOpenAI)
async def transcriptions(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse(_transcribe(parse_multipart(req), "transcribe"))


@route("POST", r"/v1/audio/translations", server=FakeOpenAI)
async def translations(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse(_transcribe(parse_multipart(req), "translate"))


# ---- consents and custom voices ----------------------------------------------------------------------


def _consents(fake: FakeOpenAI) -> dict[str, dict[str, Any]]:
    consents: dict[str, dict[str, Any]] = fake.store.setdefault("voice_consents", {})
    return consents


@route("POST", r"/v1/audio/voice_consents", server=FakeOpenAI)
async def create_consent(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    fields = parse_multipart(req)
    recording = next((v for v in fields.get("recording", []) if isinstance(v, tuple)), None)
    name, language = _one(fields, "name"), _one(fields, "language")
    if recording is None or not name or not language:
        raise _BadRequest("'name', 'recording' and 'language' are required", code="invalid_request_error")
    _audio_seconds(recording[1])  # 400 when it is not audio
    consent: dict[str, Any] = {
        "object": "audio.voice_consent",
        "id": f"cons_{uuid.uuid4().hex[:24]}",
        "name": name,
        "language": language,
        "created_at": int(time.time()),
    }
    _consents(fake)[consent["id"]] = consent
    return JSONResponse(consent)


@route("GET", r"/v1/audio/voice_consents", server=FakeOpenAI)
async def list_consents(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    from urllib.parse import parse_qs

    query = parse_qs(req.query)
    limit = int(query.get("limit", ["20"])[0])
    items = list(_consents(fake).values())
    after = query.get("after", [None])[0]
    if after is not None:
        ids = [c["id"] for c in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


def _consent(fake: FakeOpenAI, consent_id: str) -> dict[str, Any]:
    consent = _consents(fake).get(consent_id)
    if consent is None:
        raise _BadRequest(f"No consent recording found with id '{consent_id}'", status=404, code="not_found")
    return consent


@route("GET", r"/v1/audio/voice_consents/(?P<id>[^/]+)", server=FakeOpenAI)
async def get_consent(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse(_consent(fake, match["id"]))


@route("POST", r"/v1/audio/voice_consents/(?P<id>[^/]+)", server=FakeOpenAI)
async def update_consent(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    consent = _consent(fake, match["id"])
    name = fake._json_object(req).get("name")
    if not isinstance(name, str) or not name:
        raise _BadRequest("'name' is required", code="invalid_request_error")
    consent["name"] = name
    return JSONResponse(consent)


@route("DELETE", r"/v1/audio/voice_consents/(?P<id>[^/]+)", server=FakeOpenAI)
async def delete_consent(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    _consent(fake, match["id"])
    del _consents(fake)[match["id"]]
    return JSONResponse({"id": match["id"], "object": "audio.voice_consent", "deleted": True})


@route("POST", r"/v1/audio/voices", server=FakeOpenAI)
async def create_voice(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    fields = parse_multipart(req)
    sample = next((v for v in fields.get("audio_sample", []) if isinstance(v, tuple)), None)
    name, consent = _one(fields, "name"), _one(fields, "consent")
    if sample is None or not name or not consent:
        raise _BadRequest("'name', 'audio_sample' and 'consent' are required", code="invalid_request_error")
    if consent not in _consents(fake):
        raise _BadRequest(
            f"Consent '{consent}' not found; upload a consent recording first", code="invalid_consent"
        )
    _audio_seconds(sample[1])
    voice = {
        "object": "audio.voice",
        "id": f"voice_{uuid.uuid4().hex[:24]}",
        "name": name,
        "created_at": int(time.time()),
    }
    fake.store.setdefault("voices", {})[voice["id"]] = {
        **voice,
        "pitch_hz": estimate_pitch(sample[1]),
        "consent": consent,
    }
    return JSONResponse(voice)


__all__ = ["VOICES", "estimate_pitch"]
