"""Together audio: speech synthesis (whole, or streamed as it is made) and transcription / translation.

``/audio/speech`` takes JSON and answers the audio's bytes (``wav``, ``mp3`` or headerless ``raw`` PCM),
or, with ``stream: true``, server-sent events whose ``b64`` field holds raw PCM, ending with ``[DONE]``.
``/audio/transcriptions`` and ``/audio/translations`` take a multipart upload (or an audio URL) and answer
``json`` (text) or ``verbose_json`` (segments, words and, with diarization, speaker turns).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final, Literal, TypeAlias, cast, get_args

from polyface.capabilities import AudioInput
from polyface.errors import InvalidArgument, ProviderUnavailable, ServerError
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.speech import AsyncSpeechStream, SpeechStream
from polyface.providers._base.transcription import TranscriptionRunner
from polyface.types.speech import PcmEncoding, SpeechChunk, SpeechResponse
from polyface.types.transcription import Transcription
from polyface.types.usage import Usage
from polyface.wire.openai_audio import Granularity, Timestamps, parse_transcription, timestamp_granularities
from polyface.wire.sse import DataFeed

SPEECH_PATH: Final = "/audio/speech"
TRANSCRIPTIONS_PATH: Final = "/audio/transcriptions"
TRANSLATIONS_PATH: Final = "/audio/translations"

SpeechFormat: TypeAlias = Literal["wav", "mp3", "raw"]

SPEECH_FORMATS: Final[tuple[str, ...]] = get_args(SpeechFormat)
PCM_ENCODINGS: Final[tuple[str, ...]] = get_args(PcmEncoding)
SPEECH_LANGUAGES: Final = frozenset(
    ["en", "de", "fr", "es", "hi", "it", "ja", "ko", "nl", "pl", "pt", "ru", "sv", "tr", "zh"]
)
"""The input languages ``/audio/speech`` accepts."""
MP3_BIT_RATES: Final = (32000, 64000, 96000, 128000, 192000)
TRANSCRIPTION_FORMATS: Final = ("wav", "mp3", "m4a", "webm", "flac")
"""Upload formats Together transcribes."""

DEFAULT_SAMPLE_RATE: Final = 44100
DEFAULT_ENCODING: Final[PcmEncoding] = "pcm_f32le"
FIXED_OUTPUT: Final[dict[str, tuple[int, PcmEncoding]]] = {
    "kokoro": (24000, "pcm_s16le"),
    "orpheus": (24000, "pcm_s16le"),
}
"""Model families that always answer 24 kHz ``pcm_s16le`` whatever is asked (Together's docs)."""


# ---- speech: requests and responses (pure) ------------------------------------------------------------


def output_pcm(model: str, sample_rate: int | None, encoding: PcmEncoding | None) -> tuple[int, PcmEncoding]:
    """The (sample rate, encoding) of the raw PCM Together will send for ``model``."""
    lowered = model.lower()
    for family, fixed in FIXED_OUTPUT.items():
        if family in lowered:
            return fixed
    return sample_rate or DEFAULT_SAMPLE_RATE, encoding or DEFAULT_ENCODING


def voice_names(model: str, voice: str) -> list[str]:
    """The preset names a ``voice`` argument uses: Kokoro mixes ``a(2)+b`` name several."""
    if "kokoro" in model.lower() and "+" in voice:
        return [part.split("(", 1)[0].strip() for part in voice.split("+")]
    return [voice]


def build_speech_request(
    *,
    model: str,
    text: str,
    voice: str,
    format: str,
    sample_rate: int | None,
    encoding: str | None,
    language: str | None,
    bit_rate: int | None,
    stream: bool,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body of ``POST /audio/speech``; InvalidArgument for anything Together would refuse."""
    if not isinstance(model, str) or not model:
        raise InvalidArgument("model is required, e.g. model='cartesia/sonic' (see adapter.voice.list()).")
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("text is empty; pass the words to speak.")
    if not isinstance(voice, str) or not voice.strip():
        raise InvalidArgument("voice is required; adapter.voice.list(model=...) lists the voices of a model.")
    if stream and format != "raw":
        raise InvalidArgument(
            f"Together streams raw PCM only (asked: {format!r}); stream without format, or use speak(format="
            f"{format!r}) for a whole file."
        )
    if format not in SPEECH_FORMATS:
        raise InvalidArgument(
            f"format {format!r} is not offered by Together; use one of {', '.join(SPEECH_FORMATS)}."
        )
    if encoding is not None and encoding not in PCM_ENCODINGS:
        raise InvalidArgument(f"encoding {encoding!r} is unknown; use one of {', '.join(PCM_ENCODINGS)}.")
    if encoding is not None and format != "raw":
        raise InvalidArgument("encoding applies to format='raw' only (WAV and MP3 carry their own).")
    if sample_rate is not None and (
        not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0
    ):
        raise InvalidArgument(
            f"sample_rate must be a positive number of Hz, e.g. 24000 (got {sample_rate!r})."
        )
    if language is not None and language not in SPEECH_LANGUAGES:
        raise InvalidArgument(
            f"language {language!r} is not one Together speaks; "
            f"use one of {', '.join(sorted(SPEECH_LANGUAGES))}."
        )
    if bit_rate is not None and (format != "mp3" or bit_rate not in MP3_BIT_RATES):
        raise InvalidArgument(
            f"bit_rate applies to format='mp3' and is one of {', '.join(map(str, MP3_BIT_RATES))} "
            f"(got {bit_rate!r})."
        )
    extra = dict(options)
    extra_body = extra.pop("extra_body", None)
    if extra:
        raise InvalidArgument(
            f"Together speech does not take {', '.join(repr(k) for k in sorted(extra))}; "
            "it takes sample_rate, encoding, language, bit_rate "
            "(and extra_body={...} for fields polyface does not know)."
        )
    body: dict[str, Any] = {"model": model, "input": text, "voice": voice, "response_format": format}
    if sample_rate is not None:
        body["sample_rate"] = sample_rate
    if format == "raw":
        body["response_encoding"] = encoding or DEFAULT_ENCODING
    if language is not None:
        body["language"] = language
    if bit_rate is not None:
        body["bit_rate"] = bit_rate
    if stream:
        body["stream"] = True
    if extra_body is not None:
        if not isinstance(extra_body, Mapping):
            raise InvalidArgument("extra_body must be a dict of extra JSON fields.")
        body.update(extra_body)
    return body


def parse_speech(
    audio: bytes, *, provider: str, body: Mapping[str, Any], usage: Usage, cost: float | None
) -> SpeechResponse:
    """The :class:`SpeechResponse` for the bytes ``/audio/speech`` answered to ``body``."""
    fmt = str(body.get("response_format", "wav"))
    model = str(body["model"])
    rate: int | None = None
    encoding: PcmEncoding | None = None
    if fmt == "raw":
        rate, encoding = output_pcm(model, body.get("sample_rate"), body.get("response_encoding"))
    elif fmt == "mp3":
        rate = body.get("sample_rate")
    return SpeechResponse(
        provider=provider,
        model=model,
        audio=audio,
        format=cast(Any, fmt),
        sample_rate=rate,
        encoding=encoding,
        voice=str(body["voice"]),
        usage=usage,
        cost=cost,
    )


def parse_speech_event(
    data: str, *, index: int, sample_rate: int, encoding: PcmEncoding, provider: str = "Together AI"
) -> SpeechChunk:
    """One ``audio.tts.chunk`` event as a :class:`SpeechChunk` (ServerError for an error event)."""
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
    try:
        audio = base64.b64decode(event.get("b64") or "", validate=True)
    except (binascii.Error, ValueError):
        raise ProviderUnavailable(
            "the speech stream sent audio that is not valid base64", provider=provider
        ) from None
    return SpeechChunk(audio=audio, index=index, format="raw", sample_rate=sample_rate, encoding=encoding)


# ---- transcription: requests and responses (pure) ------------------------------------------------------


def build_transcription_form(
    *,
    model: str,
    task: Literal["transcribe", "translate"],
    language: str | None,
    timestamps: Timestamps,
    diarize: bool,
    prompt: str | None,
    temperature: float | None,
    min_speakers: int | None,
    max_speakers: int | None,
    options: Mapping[str, Any],
) -> dict[str, str | list[str]]:
    """The text fields of the multipart form (the file goes beside them)."""
    if not isinstance(model, str) or not model:
        raise InvalidArgument("model is required, e.g. model='openai/whisper-large-v3'.")
    extra = dict(options)
    extra_body = extra.pop("extra_body", None)
    if extra:
        raise InvalidArgument(
            f"Together {task} does not take {', '.join(repr(k) for k in sorted(extra))}; it takes language, "
            "timestamps, prompt, temperature"
            + (", diarize, min_speakers, max_speakers" if task == "transcribe" else "")
            + " (and extra_body={...} for fields polyface does not know)."
        )
    if language is not None and (not isinstance(language, str) or not language):
        raise InvalidArgument("language must be an ISO 639-1 code such as 'en' (or 'auto' to detect it).")
    if temperature is not None and not 0.0 <= float(temperature) <= 1.0:
        raise InvalidArgument(f"temperature must be between 0.0 and 1.0 (got {temperature}).")
    for name, value in (("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if value is None:
            continue
        if not diarize:
            raise InvalidArgument(f"{name} applies to diarization only; pass diarize=True too.")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidArgument(f"{name} must be a whole number of speakers, 1 or more (got {value!r}).")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise InvalidArgument(f"min_speakers ({min_speakers}) is more than max_speakers ({max_speakers}).")
    granularities = timestamp_granularities(timestamps)
    form: dict[str, str | list[str]] = {"model": model}
    if language is not None:
        form["language"] = language
    if granularities or diarize:
        form["response_format"] = "verbose_json"
        if granularities:
            form["timestamp_granularities"] = granularities[0] if len(granularities) == 1 else granularities
    else:
        form["response_format"] = "json"
    if diarize:
        form["diarize"] = "true"
    if min_speakers is not None:
        form["min_speakers"] = str(min_speakers)
    if max_speakers is not None:
        form["max_speakers"] = str(max_speakers)
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
        return {"file": (None, audio)}, None
    read = acoustics.read_audio(audio, formats=TRANSCRIPTION_FORMATS)
    return {"file": (read.filename, read.data, read.mime_type)}, acoustics.audio_duration(read.data)


# ---- streams -----------------------------------------------------------------------------------------


# ---- the capability ------------------------------------------------------------------------------------


class TogetherAudio(TranscriptionRunner):
    """``adapter.audio``: text to speech (``speak``, ``stream``) and speech to text (``transcribe``,
    ``translate``), with async twins (``aspeak``, ``astream``, ``atranscribe``, ``atranslate``)."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name
        self._display = config.info.display_name

    # ---- speech ------------------------------------------------------------------------------
    def _check_voice(self, model: str, voice: str) -> None:
        """When ``adapter.voice.list()`` already fetched the model's voices, refuse an unknown one here."""
        from polyface.providers.together.voice import known_voices

        known = known_voices(self.config, model)
        if known is None:
            return
        unknown = [name for name in voice_names(model, voice) if name not in known]
        if unknown:
            raise InvalidArgument(
                f"{unknown[0]!r} is not a voice of {model}; choose one of: {', '.join(sorted(known))}."
            )

    def _speech_body(
        self,
        model: str,
        text: str,
        voice: str,
        format: str,
        sample_rate: int | None,
        encoding: str | None,
        language: str | None,
        bit_rate: int | None,
        stream: bool,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        body = build_speech_request(
            model=model,
            text=text,
            voice=voice,
            format=format,
            sample_rate=sample_rate,
            encoding=encoding,
            language=language,
            bit_rate=bit_rate,
            stream=stream,
            options=options,
        )
        self._check_voice(model, voice)
        return body

    def speak(
        self,
        *,
        model: str,
        text: str,
        voice: str,
        format: SpeechFormat = "wav",
        sample_rate: int | None = None,
        encoding: PcmEncoding | None = None,
        language: str | None = None,
        bit_rate: int | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> SpeechResponse:
        """Speak ``text`` with ``voice`` (a name from ``adapter.voice.list(model=...)``; Kokoro also takes
        mixes like ``"af_bella(2)+af_heart(1)"``).

        ``format``: ``wav`` (default), ``mp3`` or ``raw`` (headerless PCM in ``encoding``, default
        ``pcm_f32le``; Kokoro and Orpheus always send ``pcm_s16le`` at 24 kHz). ``sample_rate`` is honoured
        by Cartesia and MiniMax models. Usage counts the characters spoken; ``cost`` uses the catalog price.
        """
        body = self._speech_body(
            model, text, voice, format, sample_rate, encoding, language, bit_rate, False, options
        )
        usage = Usage(characters=len(text))
        with self.config.telemetry.call("text_to_speech", model) as call:
            response = self.config.http.request("POST", SPEECH_PATH, json=body, timeout=timeout)
            cost = self.config.catalog.cost(model, usage)
            speech = parse_speech(
                response.content, provider=self._provider, body=body, usage=usage, cost=cost
            )
            call.finish(response_model=model, cost=cost)
        return speech

    async def aspeak(
        self,
        *,
        model: str,
        text: str,
        voice: str,
        format: SpeechFormat = "wav",
        sample_rate: int | None = None,
        encoding: PcmEncoding | None = None,
        language: str | None = None,
        bit_rate: int | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> SpeechResponse:
        body = self._speech_body(
            model, text, voice, format, sample_rate, encoding, language, bit_rate, False, options
        )
        usage = Usage(characters=len(text))
        with self.config.telemetry.call("text_to_speech", model) as call:
            response = await self.config.http.arequest("POST", SPEECH_PATH, json=body, timeout=timeout)
            cost = await self.config.catalog.acost(model, usage)
            speech = parse_speech(
                response.content, provider=self._provider, body=body, usage=usage, cost=cost
            )
            call.finish(response_model=model, cost=cost)
        return speech

    def _finish_stream(
        self, done: bool, index: int, usage: Usage, cost: float | None, body: Mapping[str, Any]
    ) -> SpeechChunk:
        if not done:
            raise ProviderUnavailable(
                "the speech stream ended before the audio was complete",
                provider=self.config.info.display_name,
                hint="The audio received so far was delivered; ask again for all of it.",
            )
        rate, encoding = output_pcm(
            str(body["model"]), body.get("sample_rate"), body.get("response_encoding")
        )
        return SpeechChunk(
            audio=b"",
            index=index,
            format="raw",
            sample_rate=rate,
            encoding=encoding,
            final=True,
            usage=usage,
            cost=cost,
        )

    def _chunks(self, body: dict[str, Any], timeout: float | None) -> Iterator[SpeechChunk]:
        model = str(body["model"])
        rate, encoding = output_pcm(model, body.get("sample_rate"), body.get("response_encoding"))
        usage = Usage(characters=len(body["input"]))
        index = 0
        with (
            self.config.telemetry.call("text_to_speech", model, current=False) as call,
            self.config.http.stream("POST", SPEECH_PATH, json=body, timeout=timeout) as resp,
        ):
            feed = DataFeed(resp.iter_lines())
            for data in feed:
                yield parse_speech_event(
                    data, index=index, sample_rate=rate, encoding=encoding, provider=self._display
                )
                index += 1
            cost = self.config.catalog.cost(model, usage) if feed.done else None
            final = self._finish_stream(feed.done, index, usage, cost, body)
            call.finish(response_model=model, cost=cost)
        yield final

    async def _achunks(self, body: dict[str, Any], timeout: float | None) -> AsyncIterator[SpeechChunk]:
        model = str(body["model"])
        rate, encoding = output_pcm(model, body.get("sample_rate"), body.get("response_encoding"))
        usage = Usage(characters=len(body["input"]))
        index = 0
        with self.config.telemetry.call("text_to_speech", model, current=False) as call:
            async with self.config.http.astream("POST", SPEECH_PATH, json=body, timeout=timeout) as resp:
                feed = DataFeed(resp.aiter_lines())
                async for data in feed:
                    yield parse_speech_event(
                        data, index=index, sample_rate=rate, encoding=encoding, provider=self._display
                    )
                    index += 1
                cost = await self.config.catalog.acost(model, usage) if feed.done else None
                final = self._finish_stream(feed.done, index, usage, cost, body)
                call.finish(response_model=model, cost=cost)
        yield final

    def stream(
        self,
        *,
        model: str,
        text: str,
        voice: str,
        format: Literal["raw"] = "raw",
        sample_rate: int | None = None,
        encoding: PcmEncoding | None = None,
        language: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> SpeechStream:
        """Speak ``text``, yielding raw PCM :class:`SpeechChunk` pieces as Together makes them (each chunk
        says its ``sample_rate`` and ``encoding``). Together streams ``raw`` only; ``stream.response()``
        joins the chunks into one :class:`SpeechResponse`."""
        body = self._speech_body(
            model, text, voice, format, sample_rate, encoding, language, None, True, options
        )
        return SpeechStream(self._chunks(body, timeout), provider=self._provider, model=model, voice=voice)

    def astream(
        self,
        *,
        model: str,
        text: str,
        voice: str,
        format: Literal["raw"] = "raw",
        sample_rate: int | None = None,
        encoding: PcmEncoding | None = None,
        language: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> AsyncSpeechStream:
        body = self._speech_body(
            model, text, voice, format, sample_rate, encoding, language, None, True, options
        )
        return AsyncSpeechStream(
            self._achunks(body, timeout), provider=self._provider, model=model, voice=voice
        )

    # ---- transcription -----------------------------------------------------------------------
    def _form(
        self,
        audio: AudioInput,
        task: Literal["transcribe", "translate"],
        model: str,
        language: str | None,
        timestamps: Timestamps,
        diarize: bool,
        prompt: str | None,
        temperature: float | None,
        min_speakers: int | None,
        max_speakers: int | None,
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
            min_speakers=min_speakers,
            max_speakers=max_speakers,
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
        timestamps: Timestamps = "segment",
        diarize: bool = False,
        prompt: str | None = None,
        temperature: float | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        """What is said in ``audio`` (a path, bytes, an open binary file, or an ``https://`` URL of a
        wav, mp3, m4a, webm or flac file), in its own language.

        ``timestamps``: ``"segment"`` (default: timed segments), ``"word"`` (segments and timed words) or
        None (text only). ``diarize=True`` labels every word with its speaker and fills
        ``speaker_segments`` (``min_speakers``/``max_speakers`` help when the count is known).
        Unreadable, missing or empty audio raises :class:`InvalidArgument` before anything is sent.
        """
        parts = self._form(
            audio,
            "transcribe",
            model,
            language,
            timestamps,
            diarize,
            prompt,
            temperature,
            min_speakers,
            max_speakers,
            options,
        )
        return self._run("transcribe", model, parts, timeout)

    async def atranscribe(
        self,
        audio: AudioInput,
        *,
        model: str,
        language: str | None = None,
        timestamps: Timestamps = "segment",
        diarize: bool = False,
        prompt: str | None = None,
        temperature: float | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        parts = self._form(
            audio,
            "transcribe",
            model,
            language,
            timestamps,
            diarize,
            prompt,
            temperature,
            min_speakers,
            max_speakers,
            options,
        )
        return await self._arun("transcribe", model, parts, timeout)

    def translate(
        self,
        audio: AudioInput,
        *,
        model: str,
        language: str | None = None,
        timestamps: Timestamps = "segment",
        prompt: str | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        """What is said in ``audio``, translated (into English unless ``language`` names another target).
        Same inputs and ``timestamps`` as :meth:`transcribe`; Together does not diarize translations."""
        parts = self._form(
            audio, "translate", model, language, timestamps, False, prompt, temperature, None, None, options
        )
        return self._run("translate", model, parts, timeout)

    async def atranslate(
        self,
        audio: AudioInput,
        *,
        model: str,
        language: str | None = None,
        timestamps: Timestamps = "segment",
        prompt: str | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Transcription:
        parts = self._form(
            audio, "translate", model, language, timestamps, False, prompt, temperature, None, None, options
        )
        return await self._arun("translate", model, parts, timeout)


__all__ = [
    "AsyncSpeechStream",
    "Granularity",
    "SpeechStream",
    "Timestamps",
    "TogetherAudio",
    "build_speech_request",
    "build_transcription_form",
    "output_pcm",
    "parse_speech",
    "parse_speech_event",
    "parse_transcription",
]
