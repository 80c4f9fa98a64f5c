"""OpenAI audio: speech (``/audio/speech``), transcription and translation (multipart uploads).

Speech takes a preset voice name (:data:`PRESET_VOICES`) or a custom voice, sent as ``{"id": "voice_..."}``
(made with ``adapter.fine_tuning.voice.train``). ``stream`` uses ``stream_format="sse"`` (events
``speech.audio.delta`` with base64 audio, then ``speech.audio.done`` with token usage) for the GPT speech
models, and the raw audio bytes as they arrive (``stream_format="audio"``) for ``tts-1``/``tts-1-hd``.
Transcripts use ``verbose_json`` with ``timestamp_granularities[]`` (whisper-1), ``json`` (the GPT
transcribe models) or ``diarized_json`` (``gpt-4o-transcribe-diarize``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final, Literal, TypeAlias

from polyface.capabilities import AudioInput
from polyface.errors import InvalidArgument, ProviderUnavailable, ServerError
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.speech import AsyncSpeechStream, SpeechStream
from polyface.providers._base.transcription import TranscriptionRunner
from polyface.types.models import Pricing
from polyface.types.speech import SpeechChunk, SpeechResponse
from polyface.types.transcription import Transcription
from polyface.types.usage import Usage
from polyface.types.voice import Voice
from polyface.wire.openai_audio import Task, Timestamps, timestamp_granularities
from polyface.wire.sse import aiter_events, iter_events

SPEECH_PATH: Final = "/audio/speech"
TRANSCRIPTIONS_PATH: Final = "/audio/transcriptions"
TRANSLATIONS_PATH: Final = "/audio/translations"

SpeechFormat: TypeAlias = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
SPEECH_FORMATS: Final = ("mp3", "opus", "aac", "flac", "wav", "pcm")
PCM_RATE: Final = 24000
"""OpenAI's ``pcm`` is 24 kHz 16-bit little-endian mono."""
MAX_INPUT_CHARS: Final = 4096
PRESET_VOICES: Final = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
"""OpenAI's built-in voices (``marin`` and ``cedar`` sound best with ``gpt-4o-mini-tts``)."""
TTS1_VOICES: Final = ("alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer")
"""The preset voices ``tts-1`` and ``tts-1-hd`` speak."""
TRANSCRIPTION_FORMATS: Final = ("wav", "mp3", "m4a", "webm", "flac", "ogg")
MAX_UPLOAD_BYTES: Final = 25 * 1024 * 1024
DIARIZE_MODEL: Final = "gpt-4o-transcribe-diarize"

VoiceInput: TypeAlias = str | Voice | Mapping[str, Any]
"""A preset name (``"coral"``), a custom voice id (``"voice_..."``), a :class:`Voice` or ``{"id": ...}``."""


def _is_tts1(model: str) -> bool:
    return model.lower().startswith("tts-1")


def voice_field(model: str, voice: VoiceInput) -> str | dict[str, str]:
    """The ``voice`` to send: a preset's name, or ``{"id": ...}`` for a custom voice."""
    if isinstance(voice, Voice):
        voice = voice.id
    if isinstance(voice, Mapping):
        voice_id = voice.get("id")
        if not isinstance(voice_id, str) or not voice_id:
            raise InvalidArgument("a custom voice is {'id': 'voice_...'}; the id is missing.")
        return {"id": voice_id}
    if not isinstance(voice, str) or not voice.strip():
        raise InvalidArgument(f"voice is required: one of {', '.join(PRESET_VOICES)}, or a custom voice id.")
    if voice.startswith("voice_"):
        return {"id": voice}
    name = voice.strip().lower()
    if name not in PRESET_VOICES:
        raise InvalidArgument(
            f"{voice!r} is not an OpenAI voice; use one of {', '.join(PRESET_VOICES)}, or a custom voice id "
            "('voice_...', from adapter.fine_tuning.voice.train)."
        )
    if _is_tts1(model) and name not in TTS1_VOICES:
        raise InvalidArgument(
            f"{model} does not speak {name!r}; use one of {', '.join(TTS1_VOICES)} "
            "or model='gpt-4o-mini-tts'."
        )
    return name


def build_speech_request(
    *,
    model: str,
    text: str,
    voice: VoiceInput,
    format: str,
    instructions: str | None,
    speed: float | None,
    stream_format: str | None,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body of ``POST /audio/speech``; InvalidArgument for anything OpenAI would refuse."""
    if not isinstance(model, str) or not model:
        raise InvalidArgument("model is required, e.g. model='gpt-4o-mini-tts' (or 'tts-1', 'tts-1-hd').")
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("text is empty; pass the words to speak.")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidArgument(
            f"OpenAI speaks at most {MAX_INPUT_CHARS} characters per request (got {len(text)}); "
            "split the text."
        )
    if format not in SPEECH_FORMATS:
        raise InvalidArgument(
            f"format {format!r} is not offered by OpenAI; use one of {', '.join(SPEECH_FORMATS)}."
        )
    body: dict[str, Any] = {
        "model": model,
        "input": text,
        "voice": voice_field(model, voice),
        "response_format": format,
    }
    if instructions is not None:
        if _is_tts1(model):
            raise InvalidArgument(f"{model} does not take instructions; use model='gpt-4o-mini-tts'.")
        if not isinstance(instructions, str) or len(instructions) > MAX_INPUT_CHARS:
            raise InvalidArgument(f"instructions must be a string of at most {MAX_INPUT_CHARS} characters.")
        body["instructions"] = instructions
    if speed is not None:
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise InvalidArgument(f"speed must be from 0.25 to 4.0 (got {speed!r}); 1.0 is normal.")
        body["speed"] = float(speed)
    if stream_format is not None:
        if stream_format not in ("sse", "audio"):
            raise InvalidArgument("stream_format must be 'sse' or 'audio'.")
        if stream_format == "sse" and _is_tts1(model):
            raise InvalidArgument(f"{model} cannot stream events; use stream_format='audio'.")
        body["stream_format"] = stream_format
    extra = dict(options)
    extra_body = extra.pop("extra_body", None)
    if extra:
        raise InvalidArgument(
            f"OpenAI speech does not take {', '.join(repr(k) for k in sorted(extra))}; it takes format, "
            "instructions, speed (and extra_body={...} for fields polyface does not know)."
        )
    if extra_body is not None:
        if not isinstance(extra_body, Mapping):
            raise InvalidArgument("extra_body must be a dict of extra JSON fields.")
        body.update(extra_body)
    return body


def _voice_label(body: Mapping[str, Any]) -> str:
    voice = body["voice"]
    return str(voice["id"]) if isinstance(voice, Mapping) else str(voice)


def speech_cost(price: Pricing | None, usage: Usage) -> float | None:
    """USD for speech: token prices when the answer reported tokens, else per million characters, else per
    second of audio made (when its duration is known: wav and pcm)."""
    if price is None:
        return None
    if (usage.input_tokens or usage.output_tokens) and (price.input_per_mtok or price.output_per_mtok):
        return (usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok) / 1e6
    if price.per_million_characters > 0:
        return usage.characters * price.per_million_characters / 1e6
    if price.per_audio_second > 0 and usage.audio_seconds > 0:
        return usage.audio_seconds * price.per_audio_second
    return None


def transcription_cost(price: Pricing | None, usage: Usage) -> float | None:
    """USD for transcription: token prices when tokens were reported, else per second of audio."""
    if price is None:
        return None
    if (usage.input_tokens or usage.output_tokens) and (price.input_per_mtok or price.output_per_mtok):
        return (usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok) / 1e6
    if price.per_audio_second > 0 and usage.audio_seconds > 0:
        return usage.audio_seconds * price.per_audio_second
    return None  # no tokens and no known duration (a compressed file, no timestamps): unknown, not free


def parse_speech(audio: bytes, *, provider: str, body: Mapping[str, Any], usage: Usage) -> SpeechResponse:
    """The :class:`SpeechResponse` for the bytes ``/audio/speech`` answered to ``body``."""
    fmt = str(body.get("response_format", "mp3"))
    return SpeechResponse(
        provider=provider,
        model=str(body["model"]),
        audio=audio,
        format=fmt,
        sample_rate=PCM_RATE if fmt == "pcm" else None,
        encoding="pcm_s16le" if fmt == "pcm" else None,
        voice=_voice_label(body),
        usage=usage,
    )


def _with_duration(speech: SpeechResponse) -> SpeechResponse:
    """``usage.audio_seconds`` set from the audio's measured duration (wav and pcm), for per-second prices."""
    if speech.duration_seconds:
        speech.usage = speech.usage.model_copy(update={"audio_seconds": speech.duration_seconds})
    return speech


def _pcm_seconds(usage: Usage, body: Mapping[str, Any], received: int) -> Usage:
    """``usage`` with the seconds of streamed ``pcm`` audio (2 bytes a sample at 24 kHz)."""
    if body.get("response_format") != "pcm" or not received:
        return usage
    return usage.model_copy(update={"audio_seconds": received / (2 * PCM_RATE)})


def parse_speech_event(data: str, *, provider: str) -> tuple[bytes | None, Usage | None]:
    """(audio, None) for ``speech.audio.delta``, (None, usage) for ``speech.audio.done``."""
    try:
        event = json.loads(data)
    except ValueError:
        raise ProviderUnavailable(
            f"the speech stream sent an event that is not JSON: {data[:200]!r}", provider=provider
        ) from None
    if not isinstance(event, dict):
        raise ProviderUnavailable(
            f"the speech stream sent an unexpected event: {data[:200]!r}", provider=provider
        )
    if "error" in event:
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise ServerError(f"the speech stream reported an error: {message}", provider=provider)
    kind = event.get("type")
    if kind == "speech.audio.delta":
        try:
            return base64.b64decode(event.get("audio") or "", validate=True), None
        except (binascii.Error, ValueError):
            raise ProviderUnavailable(
                "the speech stream sent audio that is not valid base64", provider=provider
            ) from None
    if kind == "speech.audio.done":
        raw_usage = event.get("usage")
        usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
        inputs, outputs = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        return None, Usage(
            input_tokens=inputs,
            output_tokens=outputs,
            total_tokens=int(usage.get("total_tokens") or inputs + outputs),
        )
    return None, None  # an event type polyface does not know: skipped


def build_transcription_form(
    *,
    model: str,
    task: Task,
    language: str | None,
    timestamps: Timestamps | Literal["auto"],
    diarize: bool,
    prompt: str | None,
    temperature: float | None,
    options: Mapping[str, Any],
) -> dict[str, str | list[str]]:
    """The text fields of the multipart form (the file goes beside them). Arrays use OpenAI's ``name[]``."""
    if not isinstance(model, str) or not model:
        raise InvalidArgument("model is required, e.g. model='whisper-1' or 'gpt-4o-transcribe'.")
    extra = dict(options)
    extra_body = extra.pop("extra_body", None)
    if extra:
        raise InvalidArgument(
            f"OpenAI {task} does not take {', '.join(repr(k) for k in sorted(extra))}; it takes "
            + ("language, timestamps, diarize, " if task == "transcribe" else "timestamps, ")
            + "prompt, temperature (and extra_body={...} for fields polyface does not know)."
        )
    whisper = model.lower().startswith("whisper")
    if task == "translate" and language not in (None, "en", "english"):
        raise InvalidArgument("OpenAI translates into English only; leave language out.")
    if language is not None and task == "transcribe" and (not isinstance(language, str) or not language):
        raise InvalidArgument("language must be an ISO 639-1 code such as 'en'.")
    if temperature is not None and not 0.0 <= float(temperature) <= 1.0:
        raise InvalidArgument(f"temperature must be between 0.0 and 1.0 (got {temperature}).")
    form: dict[str, str | list[str]] = {"model": model}
    if diarize:
        if model != DIARIZE_MODEL:
            raise InvalidArgument(
                f"OpenAI labels speakers with model='{DIARIZE_MODEL}' only (got {model!r})."
            )
        if prompt is not None:
            raise InvalidArgument(f"{DIARIZE_MODEL} does not take a prompt.")
        if timestamps not in ("auto", None, "segment"):
            raise InvalidArgument(f"{DIARIZE_MODEL} times segments only (timestamps='segment').")
        form["response_format"] = "diarized_json"
        form["chunking_strategy"] = "auto"  # required for inputs over 30 s
    else:
        granularities = ["segment"] if timestamps == "auto" and whisper else []
        if timestamps != "auto":
            granularities = timestamp_granularities(timestamps)
        if granularities and not whisper:
            raise InvalidArgument(
                f"{model} answers text only; for timestamps use model='whisper-1' (or diarize=True with "
                f"{DIARIZE_MODEL} for timed speaker segments)."
            )
        if task == "translate" and "word" in granularities:
            raise InvalidArgument("OpenAI translations are timed per segment only (timestamps='segment').")
        form["response_format"] = "verbose_json" if granularities else "json"
        if granularities and task == "transcribe":
            form["timestamp_granularities[]"] = granularities
    if language is not None and task == "transcribe":
        form["language"] = language
    if prompt is not None:
        form["prompt"] = prompt
    if temperature is not None:
        form["temperature"] = repr(float(temperature))
    if extra_body is not None:
        if not isinstance(extra_body, Mapping):
            raise InvalidArgument("extra_body must be a dict of extra form fields.")
        for key, value in extra_body.items():
            form[str(key)] = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
    return form


def _upload(audio: AudioInput) -> tuple[Any, float | None]:
    """The ``files`` argument for httpx, and the audio's duration when it can be read locally."""
    from polyface.media import acoustics

    if isinstance(audio, str) and audio.startswith(("http://", "https://")):
        raise InvalidArgument("OpenAI transcribes uploaded audio only; download the URL and pass the file.")
    read = acoustics.read_audio(audio, formats=TRANSCRIPTION_FORMATS)
    if len(read.data) > MAX_UPLOAD_BYTES:
        raise InvalidArgument(
            f"{read.filename} is {len(read.data) / 1e6:.1f} MB; OpenAI takes at most 25 MB. "
            "Split or compress it."
        )
    return {"file": (read.filename, read.data, read.mime_type)}, acoustics.audio_duration(read.data)


class OpenAIAudio(TranscriptionRunner):
    """``adapter.audio``: text to speech (``speak``, ``stream``) and speech to text (``transcribe``,
    ``translate``), with async twins (``aspeak``, ``astream``, ``atranscribe``, ``atranslate``)."""

    def _transcription_cost(self, price: Pricing | None, usage: Usage) -> float | None:
        return transcription_cost(price, usage)

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name
        self._display = config.info.display_name

    # ---- speech ------------------------------------------------------------------------------
    def speak(
        self,
        *,
        model: str,
        text: str,
        voice: VoiceInput,
        format: SpeechFormat = "wav",
        instructions: str | None = None,
        speed: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> SpeechResponse:
        """Speak ``text`` with ``voice``: a preset (``"coral"``...; ``adapter.voice.list()``) or a custom
        voice (``job.voice`` / ``"voice_..."`` from ``adapter.fine_tuning.voice.train``).

        ``format``: ``wav`` (default here), ``mp3``, ``opus``, ``aac``, ``flac`` or ``pcm`` (24 kHz 16-bit).
        ``instructions`` ("speak warmly, slowly") works with ``gpt-4o-mini-tts``; ``speed`` 0.25 to 4.0.
        Usage counts the characters; ``cost`` uses the price table (per million characters).
        """
        body = build_speech_request(
            model=model,
            text=text,
            voice=voice,
            format=format,
            instructions=instructions,
            speed=speed,
            stream_format=None,
            options=options,
        )
        usage = Usage(characters=len(text))
        with self.config.telemetry.call("text_to_speech", model) as call:
            response = self.config.http.request("POST", SPEECH_PATH, json=body, timeout=timeout)
            speech = _with_duration(
                parse_speech(response.content, provider=self._provider, body=body, usage=usage)
            )
            speech.cost = speech_cost(self.config.catalog.pricing(model), speech.usage)
            call.finish(response_model=model, cost=speech.cost)
        return speech

    async def aspeak(
        self,
        *,
        model: str,
        text: str,
        voice: VoiceInput,
        format: SpeechFormat = "wav",
        instructions: str | None = None,
        speed: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> SpeechResponse:
        """The async twin of :meth:`speak`."""
        body = build_speech_request(
            model=model,
            text=text,
            voice=voice,
            format=format,
            instructions=instructions,
            speed=speed,
            stream_format=None,
            options=options,
        )
        usage = Usage(characters=len(text))
        with self.config.telemetry.call("text_to_speech", model) as call:
            response = await self.config.http.arequest("POST", SPEECH_PATH, json=body, timeout=timeout)
            speech = _with_duration(
                parse_speech(response.content, provider=self._provider, body=body, usage=usage)
            )
            speech.cost = speech_cost(await self.config.catalog.apricing(model), speech.usage)
            call.finish(response_model=model, cost=speech.cost)
        return speech

    def _chunk(self, audio: bytes, index: int, body: Mapping[str, Any]) -> SpeechChunk:
        fmt = str(body["response_format"])
        return SpeechChunk(
            audio=audio,
            index=index,
            format=fmt,
            sample_rate=PCM_RATE if fmt == "pcm" else None,
            encoding="pcm_s16le" if fmt == "pcm" else None,
        )

    def _final(self, index: int, body: Mapping[str, Any], usage: Usage, cost: float | None) -> SpeechChunk:
        chunk = self._chunk(b"", index, body)
        return chunk.model_copy(update={"final": True, "usage": usage, "cost": cost})

    def _incomplete(self) -> ProviderUnavailable:
        return ProviderUnavailable(
            "the speech stream ended before the audio was complete",
            provider=self._display,
            hint="The audio received so far was delivered; ask again for all of it.",
        )

    def _chunks(self, body: dict[str, Any], timeout: float | None) -> Iterator[SpeechChunk]:
        model = str(body["model"])
        usage = Usage(characters=len(body["input"]))
        index = received = 0
        with (
            self.config.telemetry.call("text_to_speech", model, current=False) as call,
            self.config.http.stream("POST", SPEECH_PATH, json=body, timeout=timeout) as resp,
        ):
            if body.get("stream_format") == "sse":
                done = False
                for event in iter_events(resp.iter_lines()):
                    audio, reported = parse_speech_event(event.data, provider=self._display)
                    if audio:
                        yield self._chunk(audio, index, body)
                        index, received = index + 1, received + len(audio)
                    if reported is not None:
                        usage, done = usage + reported, True
                if not done:
                    raise self._incomplete()
            else:
                for piece in resp.iter_bytes():
                    if piece:
                        yield self._chunk(piece, index, body)
                        index, received = index + 1, received + len(piece)
            usage = _pcm_seconds(usage, body, received)
            cost = speech_cost(self.config.catalog.pricing(model), usage)
            call.finish(response_model=model, cost=cost)
        yield self._final(index, body, usage, cost)

    async def _achunks(self, body: dict[str, Any], timeout: float | None) -> AsyncIterator[SpeechChunk]:
        model = str(body["model"])
        usage = Usage(characters=len(body["input"]))
        index = received = 0
        with self.config.telemetry.call("text_to_speech", model, current=False) as call:
            async with self.config.http.astream("POST", SPEECH_PATH, json=body, timeout=timeout) as resp:
                if body.get("stream_format") == "sse":
                    done = False
                    async for event in aiter_events(resp.aiter_lines()):
                        audio, reported = parse_speech_event(event.data, provider=self._display)
                        if audio:
                            yield self._chunk(audio, index, body)
                            index, received = index + 1, received + len(audio)
                        if reported is not None:
                            usage, done = usage + reported, True
                    if not done:
                        raise self._incomplete()
                else:
                    async for piece in resp.aiter_bytes():
                        if piece:
                            yield self._chunk(piece, index, body)
                            index, received = index + 1, received + len(piece)
                usage = _pcm_seconds(usage, body, received)
                cost = speech_cost(await self.config.catalog.apricing(model), usage)
                call.finish(response_model=model, cost=cost)
        yield self._final(index, body, usage, cost)

    def _stream_body(
        self,
        model: str,
        text: str,
        voice: VoiceInput,
        format: str,
        instructions: str | None,
        speed: float | None,
        stream_format: str | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        chosen = stream_format or ("audio" if _is_tts1(model) else "sse")
        return build_speech_request(
            model=model,
            text=text,
            voice=voice,
            format=format,
            instructions=instructions,
            speed=speed,
            stream_format=chosen,
            options=options,
        )

    def stream(
        self,
        *,
        model: str,
        text: str,
        voice: VoiceInput,
        format: SpeechFormat = "pcm",
        instructions: str | None = None,
        speed: float | None = None,
        stream_format: Literal["sse", "audio"] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> SpeechStream:
        """Speak ``text``, yielding :class:`SpeechChunk` pieces as OpenAI makes them (``pcm`` by default:
        24 kHz 16-bit, playable as it arrives). GPT speech models stream events (``stream_format="sse"``,
        the last one carrying token usage); ``tts-1``/``tts-1-hd`` stream the audio bytes
        (``stream_format="audio"``). The final chunk carries usage and cost; ``stream.response()`` joins
        everything into one :class:`SpeechResponse`."""
        body = self._stream_body(model, text, voice, format, instructions, speed, stream_format, options)
        return SpeechStream(
            self._chunks(body, timeout), provider=self._provider, model=model, voice=_voice_label(body)
        )

    def astream(
        self,
        *,
        model: str,
        text: str,
        voice: VoiceInput,
        format: SpeechFormat = "pcm",
        instructions: str | None = None,
        speed: float | None = None,
        stream_format: Literal["sse", "audio"] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> AsyncSpeechStream:
        """The async twin of :meth:`stream`."""
        body = self._stream_body(model, text, voice, format, instructions, speed, stream_format, options)
        return AsyncSpeechStream(
            self._achunks(body, timeout), provider=self._provider, model=model, voice=_voice_label(body)
        )

    # ---- transcription -----------------------------------------------------------------------
    def _parts(
        self,
        audio: AudioInput,
        task: Task,
        model: str,
        language: str | None,
        timestamps: Timestamps | Literal["auto"],
        diarize: bool,
        prompt: str | None,
        temperature: float | None,
        options: Mapping[str, Any],
    ) -> tuple[dict[str, str | list[str]], Any, float | None]:
        form = build_transcription_form(
            model=model,
            task=task,
            language=language,
            timestamps=timestamps,
            diarize=diarize,
            prompt=prompt,
            temperature=temperature,
            options=options,
        )
        files, duration = _upload(audio)
        return form, files, duration

    def transcribe(
        self,
        audio: AudioInput,
        *,
        model: str,
        language: str | None = None,
        timestamps: Timestamps | Literal["auto"] = "auto",
        diarize: bool = False,
        prompt: str | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        """What is said in ``audio`` (a path, bytes or open file: wav, mp3, m4a, webm, flac or ogg, 25 MB).

        ``timestamps``: ``"auto"`` (timed segments where the model gives them: whisper-1), ``"segment"``,
        ``"word"`` (whisper-1 only) or None (text only). ``diarize=True`` (model
        ``gpt-4o-transcribe-diarize``) labels each segment with its speaker. Usage is the audio's seconds
        (and tokens, for the GPT transcribe models); cost from the price table.
        """
        parts = self._parts(
            audio, "transcribe", model, language, timestamps, diarize, prompt, temperature, options
        )
        return self._run("transcribe", model, parts, timeout)

    async def atranscribe(
        self,
        audio: AudioInput,
        *,
        model: str,
        language: str | None = None,
        timestamps: Timestamps | Literal["auto"] = "auto",
        diarize: bool = False,
        prompt: str | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        """The async twin of :meth:`transcribe`."""
        parts = self._parts(
            audio, "transcribe", model, language, timestamps, diarize, prompt, temperature, options
        )
        return await self._arun("transcribe", model, parts, timeout)

    def translate(
        self,
        audio: AudioInput,
        *,
        model: str = "whisper-1",
        timestamps: Timestamps | Literal["auto"] = "auto",
        prompt: str | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        """What is said in ``audio``, in English (OpenAI translates into English only; whisper-1).
        ``timestamps="segment"``/``"auto"`` gives timed segments; words are not timed in translations."""
        language = options.pop("language", None)
        parts = self._parts(
            audio, "translate", model, language, timestamps, False, prompt, temperature, options
        )
        return self._run("translate", model, parts, timeout)

    async def atranslate(
        self,
        audio: AudioInput,
        *,
        model: str = "whisper-1",
        timestamps: Timestamps | Literal["auto"] = "auto",
        prompt: str | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        """The async twin of :meth:`translate`."""
        language = options.pop("language", None)
        parts = self._parts(
            audio, "translate", model, language, timestamps, False, prompt, temperature, options
        )
        return await self._arun("translate", model, parts, timeout)


__all__ = [
    "PRESET_VOICES",
    "TTS1_VOICES",
    "OpenAIAudio",
    "build_speech_request",
    "build_transcription_form",
    "parse_speech",
    "parse_speech_event",
    "speech_cost",
    "transcription_cost",
    "voice_field",
]
