"""Fake Together routes: audio. Registered with ``@route(...)`` from ``core``.

- ``POST /v1/audio/speech``: real audio. Each preset voice has a fundamental frequency, a syllable rate,
  a spectral slope and a little intonation (:data:`VOICES`); the fake synthesises a harmonic tone at that
  pitch, amplitude-modulated at that syllable rate, for about as long as the text takes to say. ``wav``
  is 16-bit PCM WAV; ``raw`` is headerless PCM in ``response_encoding`` (Kokoro and Orpheus: always
  ``pcm_s16le`` at 24 kHz, as Together documents; Cartesia honours ``sample_rate`` and the encoding,
  default ``pcm_f32le`` at 44.1 kHz); ``mp3`` is an ID3 tag followed by silent MPEG frame headers, a
  placeholder with the right magic bytes, not decodable speech. ``stream: true`` answers server-sent
  events ``{"object": "audio.tts.chunk", "model", "b64"}`` with raw PCM, then ``[DONE]`` (the spec allows
  only ``raw`` when streaming). Kokoro voices may be mixed (``af_bella(2)+af_heart(1)``). An unknown
  voice or model is a 400 naming the valid ones.
- ``POST /v1/audio/transcriptions`` / ``translations``: multipart; deterministic text. Words come from a
  fixed sentence, spoken at 2.5 words/s over the audio's duration (read from a WAV header; 5 s for a URL;
  estimated at 128 kbit/s for other formats); segments group 6 words; ``diarize`` alternates speakers per
  segment (``max_speakers``, default 2) and adds ``speaker_segments``. Unrecognisable or empty audio is a
  400.
- ``GET /v1/voices``: the voices of :data:`VOICES`, grouped per model.

Standalone like ``core``: only the standard library (no numpy, nothing from polyface).
"""

from __future__ import annotations

import array
import base64
import io
import math
import re
import struct
import sys
import wave
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any, Final

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_together.core import (
    FakeTogether,
    RecordedRequest,
    _BadRequest,
    _EventStream,
    _sse,
    _stream_headers,
    route,
)


@dataclass(frozen=True, slots=True)
class FakeVoice:
    """How a preset voice of the fake sounds."""

    id: str
    name: str
    pitch_hz: float
    syllables_per_second: float
    rolloff: float = 1.0
    """Harmonic k has amplitude k**-rolloff: lower is brighter."""
    intonation: float = 0.04
    """Depth of the slow pitch movement (fraction of the pitch)."""


VOICES: Final[dict[str, tuple[FakeVoice, ...]]] = {
    "cartesia/sonic": (
        FakeVoice("a0e99841-438c-4a64-b679-ae501e7d6091", "laidback woman", 196.0, 3.4, 1.1),
        FakeVoice("e00d0e4c-a5c8-443f-a8a3-473eb9a62355", "friendly sidekick", 240.0, 4.6, 0.9),
        FakeVoice("7360f116-6306-4e9a-b487-1235f35a0f21", "newsman", 112.0, 4.2, 1.2),
        FakeVoice("a167e0f3-df7e-4d52-a9c3-f949145efdab", "storyteller man", 98.0, 3.0, 1.3),
    ),
    "hexgrad/Kokoro-82M": (
        FakeVoice("af_alloy", "af_alloy", 205.0, 4.0, 1.0),
        FakeVoice("af_heart", "af_heart", 228.0, 3.8, 0.95),
        FakeVoice("af_bella", "af_bella", 250.0, 4.4, 0.9),
        FakeVoice("am_adam", "am_adam", 104.0, 3.6, 1.15),
        FakeVoice("am_michael", "am_michael", 125.0, 4.2, 1.1),
        FakeVoice("bf_emma", "bf_emma", 185.0, 3.5, 1.05),
    ),
    "canopylabs/orpheus-3b-0.1-ft": (
        FakeVoice("tara", "tara", 210.0, 4.1, 1.0),
        FakeVoice("leo", "leo", 118.0, 3.9, 1.15),
        FakeVoice("zoe", "zoe", 262.0, 4.5, 0.9),
    ),
}
"""Preset voices per speech model (the ``GET /v1/voices`` catalog)."""

FIXED_RATE_MODELS: Final = frozenset({"hexgrad/Kokoro-82M", "canopylabs/orpheus-3b-0.1-ft"})
"""Models that always answer ``pcm_s16le`` at 24 kHz, whatever the request asks (as Together documents)."""

TRANSCRIPT_WORDS: Final = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "the",
    "band",
    "plays",
    "on",
]
TRANSLATION_WORDS: Final = [
    "hello",
    "this",
    "is",
    "the",
    "english",
    "translation",
    "of",
    "what",
    "was",
    "said",
    "in",
    "the",
    "recording",
]
WORDS_PER_SECOND: Final = 2.5
WORDS_PER_SEGMENT: Final = 6
STREAM_CHUNK_SECONDS: Final = 0.1
HARMONICS_UP_TO_HZ: Final = 5000.0
_VOWEL_GROUPS: Final = re.compile(r"[aeiouy]+", re.IGNORECASE)
_MIX_PART: Final = re.compile(r"^\s*(?P<name>[^()]+?)\s*(?:\((?P<weight>[0-9.]+)\))?\s*$")


def _voice(model: str, spec: str) -> FakeVoice:
    """The voice ``spec`` names for ``model`` (a Kokoro mix is blended by weight), or a 400."""
    voices = {v.name: v for v in VOICES[model]}
    parts = spec.split("+") if model == "hexgrad/Kokoro-82M" else [spec]
    chosen: list[tuple[FakeVoice, float]] = []
    for part in parts:
        match = _MIX_PART.match(part)
        name = match["name"] if match else part
        if name not in voices:
            valid = ", ".join(sorted(voices))
            raise _BadRequest(
                f"Voice '{name}' is not available for model {model}. Valid voices: {valid}",
                code="invalid_request_error",
            )
        weight = float(match["weight"]) if match and match["weight"] else 1.0
        chosen.append((voices[name], weight))
    if len(chosen) == 1:
        return chosen[0][0]
    total = sum(w for _, w in chosen) or 1.0

    def blend(attr: str) -> float:
        return float(sum(getattr(v, attr) * w for v, w in chosen)) / total

    return FakeVoice(
        spec, spec, blend("pitch_hz"), blend("syllables_per_second"), blend("rolloff"), blend("intonation")
    )


def _syllables(text: str) -> int:
    return max(1, len(_VOWEL_GROUPS.findall(text)))


def synthesize(voice: FakeVoice, text: str, sample_rate: int) -> list[float]:
    """Samples in [-1, 1]: a harmonic tone at the voice's pitch (with slow intonation), in syllable pulses.

    Deterministic: the same voice, text and rate give the same samples.
    """
    syllables = _syllables(text)
    seconds = min(30.0, max(0.5, syllables / voice.syllables_per_second))
    count = int(seconds * sample_rate)
    # one period of the harmonic waveform, read with a phase accumulator (fast in pure Python)
    table_size = 2048
    harmonics = max(1, int(HARMONICS_UP_TO_HZ / (voice.pitch_hz * (1 + voice.intonation))))
    table = [
        sum(k**-voice.rolloff * math.sin(2 * math.pi * k * i / table_size) for k in range(1, harmonics + 1))
        for i in range(table_size)
    ]
    peak = max(abs(v) for v in table) or 1.0
    table = [0.6 * v / peak for v in table]
    out = [0.0] * count
    phase = 0.0
    two_pi_intonation = 2 * math.pi * 0.7 / sample_rate
    pulse = math.pi * voice.syllables_per_second / sample_rate
    step_base = voice.pitch_hz * table_size / sample_rate
    for n in range(count):
        step = step_base * (1.0 + voice.intonation * math.sin(two_pi_intonation * n))
        phase = (phase + step) % table_size
        envelope = math.sin(pulse * n)
        out[n] = table[int(phase)] * envelope * envelope
    return out


def _pcm(samples: list[float], encoding: str) -> bytes:
    if encoding == "pcm_f32le":
        floats = array.array("f", samples)
        if sys.byteorder != "little":
            floats.byteswap()
        return floats.tobytes()
    ints = array.array("h", (max(-32768, min(32767, round(s * 32767))) for s in samples))
    if encoding == "pcm_s16le":
        if sys.byteorder != "little":
            ints.byteswap()
        return ints.tobytes()
    if encoding == "pcm_mulaw":
        return bytes(_mulaw(v) for v in ints)
    return bytes(_alaw(v) for v in ints)


def _mulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        exponent, mantissa = 0, magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        mantissa = (magnitude >> exponent) & 0x0F
    return (sign | (exponent << 4) | mantissa) ^ 0x55


def _wav(samples: list[float], sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(_pcm(samples, "pcm_s16le"))
    return buffer.getvalue()


def _mp3_placeholder(seconds: float) -> bytes:
    """An ID3v2 tag and silent MPEG-1 Layer III frame headers (128 kbit/s, 44.1 kHz) for ``seconds``."""
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413  # 417 bytes = 144 * 128000 / 44100
    frames = max(1, int(seconds * 44100 / 1152))
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * frames


# ---- speech -------------------------------------------------------------------------------------


def _speech_params(body: Mapping[str, Any]) -> tuple[str, str, FakeVoice, str, str, int, bool]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("'model' is required and must be a string", code="invalid_request_error")
    if model not in VOICES:
        raise _BadRequest(
            f"Model {model} is not a text-to-speech model. Use one of: {', '.join(sorted(VOICES))}",
            status=404,
            code="model_not_found",
        )
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        raise _BadRequest("'input' is required and must be a non-empty string", code="invalid_request_error")
    spec = body.get("voice")
    if not isinstance(spec, str) or not spec:
        raise _BadRequest("'voice' is required and must be a string", code="invalid_request_error")
    voice = _voice(model, spec)
    stream = body.get("stream") is True
    fmt = body.get("response_format", "raw" if stream else "wav")
    if fmt not in ("mp3", "wav", "raw"):
        raise _BadRequest("'response_format' must be one of mp3, wav, raw", code="invalid_request_error")
    if stream and fmt != "raw":
        raise _BadRequest(
            "When streaming, the only supported response_format is raw", code="invalid_request_error"
        )
    encoding = body.get("response_encoding", "pcm_f32le")
    if encoding not in ("pcm_f32le", "pcm_s16le", "pcm_mulaw", "pcm_alaw"):
        raise _BadRequest(
            "'response_encoding' must be one of pcm_f32le, pcm_s16le, pcm_mulaw, pcm_alaw",
            code="invalid_request_error",
        )
    rate = body.get("sample_rate", 44100)
    if not isinstance(rate, int) or isinstance(rate, bool) or not 8000 <= rate <= 48000:
        raise _BadRequest("'sample_rate' must be an integer from 8000 to 48000", code="invalid_request_error")
    if model in FIXED_RATE_MODELS:
        rate, encoding = 24000, "pcm_s16le"
    return model, text, voice, fmt, encoding, rate, stream


def _speech_events(model: str, pcm: bytes, bytes_per_chunk: int, filler: int | None) -> Iterator[bytes]:
    if filler is not None:
        pieces = [b"\x00" * bytes_per_chunk] * filler
    else:
        pieces = [pcm[i : i + bytes_per_chunk] for i in range(0, len(pcm), bytes_per_chunk)]
    for piece in pieces:
        yield _sse({"object": "audio.tts.chunk", "model": model, "b64": base64.b64encode(piece).decode()})
    yield _sse("[DONE]")


@route("POST", r"/v1/audio/speech")
async def speech(fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    body = fake._json_object(req)
    model, text, voice, fmt, encoding, rate, stream = _speech_params(body)
    samples = synthesize(voice, text, rate)
    if stream:
        pcm = _pcm(samples, encoding)
        width = 4 if encoding == "pcm_f32le" else 2 if encoding == "pcm_s16le" else 1
        mode = fake._take_stream_mode()
        events = _speech_events(model, pcm, int(STREAM_CHUNK_SECONDS * rate) * width, mode.filler_chunks)
        return _EventStream(fake, generation, events, mode, _stream_headers())
    if fmt == "wav":
        return Response(_wav(samples, rate), media_type="audio/wav")
    if fmt == "mp3":
        return Response(_mp3_placeholder(len(samples) / rate), media_type="audio/mpeg")
    return Response(_pcm(samples, encoding), media_type="application/octet-stream")


# ---- voices -------------------------------------------------------------------------------------


@route("GET", r"/v1/voices")
async def voices(fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    data = [
        {"model": model, "voices": [{"id": v.id, "name": v.name} for v in presets]}
        for model, presets in VOICES.items()
    ]
    return JSONResponse({"data": data})


# ---- transcription and translation ----------------------------------------------------------------


def parse_multipart(req: RecordedRequest) -> dict[str, list[str | tuple[str, bytes]]]:
    """Form fields of a multipart body: text values as str, files as (filename, bytes)."""
    content_type = req.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise _BadRequest("The request body must be multipart/form-data", code="invalid_request_error")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + req.body
    )
    fields: dict[str, list[str | tuple[str, bytes]]] = {}
    if not message.is_multipart():
        raise _BadRequest("The multipart body could not be parsed", code="invalid_request_error")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        value: str | tuple[str, bytes] = (filename, data) if filename is not None else data.decode()
        fields.setdefault(name, []).append(value)
    return fields


def _audio_seconds(data: bytes) -> float:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(data), "rb") as reader:
                frames = reader.getnframes()
                if frames == 0:
                    raise _BadRequest("The audio file contains no audio", code="invalid_request_error")
                return frames / reader.getframerate()
        except (wave.Error, EOFError, struct.error):
            raise _BadRequest("Could not decode the audio file", code="invalid_request_error") from None
    known = (
        data[:3] == b"ID3"
        or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
        or data[:4] in (b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3")
        or data[4:8] == b"ftyp"
    )
    if not known:
        raise _BadRequest(
            "Could not decode the audio file. Supported formats: .wav, .mp3, .m4a, .webm, .flac",
            code="invalid_request_error",
        )
    return max(0.5, len(data) * 8 / 128_000)


def _single(fields: Mapping[str, list[Any]], name: str) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    value = values[-1]
    if not isinstance(value, str):
        raise _BadRequest(f"'{name}' must be a text field", code="invalid_request_error")
    return value


def _bool_field(fields: Mapping[str, list[Any]], name: str) -> bool:
    value = _single(fields, name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise _BadRequest(f"'{name}' must be true or false", code="invalid_request_error")
    return value.lower() == "true"


def _transcribe(fields: Mapping[str, list[Any]], task: str) -> dict[str, Any]:
    files = fields.get("file")
    if not files:
        raise _BadRequest("'file' is required", code="invalid_request_error")
    upload = files[-1]
    if isinstance(upload, tuple):
        if not upload[1]:
            raise _BadRequest("The audio file is empty", code="invalid_request_error")
        duration = _audio_seconds(upload[1])
    elif upload.startswith(("http://", "https://")):
        duration = 5.0
    else:
        raise _BadRequest("'file' must be an audio file or an http(s) URL", code="invalid_request_error")
    model = _single(fields, "model") or "openai/whisper-large-v3"
    if model != "openai/whisper-large-v3":
        raise _BadRequest(f"Model {model} does not support {task}", status=404, code="model_not_found")
    response_format = _single(fields, "response_format") or "json"
    if response_format not in ("json", "verbose_json"):
        raise _BadRequest("'response_format' must be json or verbose_json", code="invalid_request_error")
    granularities = [g for g in fields.get("timestamp_granularities", []) if isinstance(g, str)] or [
        "segment"
    ]
    if any(g not in ("segment", "word") for g in granularities):
        raise _BadRequest(
            "'timestamp_granularities' must be segment and/or word", code="invalid_request_error"
        )
    diarize = task == "transcribe" and _bool_field(fields, "diarize")
    max_speakers = _single(fields, "max_speakers")
    speakers = max(1, int(max_speakers)) if max_speakers and max_speakers.isdigit() else 2

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
    segments: list[dict[str, Any]] = []
    speaker_segments: list[dict[str, Any]] = []
    for number, first in enumerate(range(0, count, WORDS_PER_SEGMENT)):
        group = words[first : first + WORDS_PER_SEGMENT]
        text = " ".join(w["word"] for w in group)
        segments.append({"id": number, "start": group[0]["start"], "end": group[-1]["end"], "text": text})
        if diarize:
            speaker = f"SPEAKER_{number % speakers:02d}"
            for word in group:
                word["speaker_id"] = speaker
            speaker_segments.append(
                {
                    "id": number,
                    "speaker_id": speaker,
                    "start": group[0]["start"],
                    "end": group[-1]["end"],
                    "text": text,
                    "words": [dict(w) for w in group],
                }
            )
    text = " ".join(w["word"] for w in words)
    if response_format == "json":
        return {"text": text}
    language = "english" if task == "translate" else (_single(fields, "language") or "en")
    answer: dict[str, Any] = {
        "task": task,
        "language": "english" if language in ("en", "auto") else language,
        "duration": round(duration, 3),
        "text": text,
        "segments": segments,
    }
    if "word" in granularities or diarize:
        answer["words"] = words
    if diarize:
        answer["speaker_segments"] = speaker_segments
    return answer


@route("POST", r"/v1/audio/transcriptions")
async def transcriptions(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    answer = _transcribe(parse_multipart(req), "transcribe")
    fake.store.setdefault("audio", {}).setdefault("transcriptions", []).append(answer)
    return JSONResponse(answer)


@route("POST", r"/v1/audio/translations")
async def translations(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    answer = _transcribe(parse_multipart(req), "translate")
    fake.store.setdefault("audio", {}).setdefault("translations", []).append(answer)
    return JSONResponse(answer)


__all__ = ["FIXED_RATE_MODELS", "VOICES", "FakeVoice", "parse_multipart", "synthesize"]
