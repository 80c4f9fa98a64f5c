"""Local speech: eSpeak NG speaks (``speak``/``stream``), PocketSphinx listens (``transcribe``).

**Voices.** ``voice=`` is a preset id (:data:`PRESETS`: friendly names over eSpeak NG's voice variants,
e.g. ``"alex"`` is ``en-us+m3``), an eSpeak NG voice name (``"en-us+f2"``), or a voice trained with
``LocalAdapter().fine_tuning.voice.train(samples)`` (``"espeak-ng:<name>"``: its variant, pitch, range
and rate come from the model's ``params``). Audio is 16-bit mono WAV (or headerless ``pcm``) at 22050 Hz
(eSpeak's own rate) or resampled to 16000 / 24000 Hz (band-limited FFT resampling, see
:func:`polyface.providers.local.espeak.resample`).

**Recognition.** ``pocketsphinx-en-us`` is PocketSphinx's US English model from its wheel; a model
trained with ``LocalAdapter().fine_tuning.audio.train(texts)`` (``"pocketsphinx-en-us:<name>"``) swaps
in a domain language model and dictionary. Input is WAV (other containers are converted with the
ffmpeg of ``imageio-ffmpeg`` when it is installed), mixed to mono and resampled to 16 kHz. English only:
``translate`` raises :class:`~polyface.errors.CapabilityNotSupported`.
"""

from __future__ import annotations

import io
import re
import subprocess
import threading
import wave
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from polyface.capabilities import AudioInput
from polyface.errors import CapabilityNotSupported, InvalidArgument, NotFound
from polyface.providers._base.speech import AsyncSpeechStream, SpeechStream
from polyface.providers.local import espeak
from polyface.providers.local.runtime import shared, to_thread
from polyface.types.speech import SpeechChunk, SpeechResponse
from polyface.types.transcription import Transcription, TranscriptionSegment, TranscriptionWord
from polyface.types.usage import Usage

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from polyface.providers.local.config import LocalConfig
    from polyface.providers.local.store import LocalModel

PROVIDER: Final = "local"
SPEECH_MODEL: Final = "espeak-ng"
RECOGNIZER_MODEL: Final = "pocketsphinx-en-us"
SAMPLE_RATES: Final = (16000, 22050, 24000)
FORMATS: Final = ("wav", "pcm")
RECOGNIZER_RATE: Final = 16000
FRAMES_PER_SECOND: Final = 100
"""PocketSphinx's frame rate (10 ms frames): segment times are frame counts over this."""
SPEED_RANGE: Final = (0.5, 2.5)
PAUSE_SPLIT_SECONDS: Final = 0.3
"""A silence at least this long between words starts a new transcription segment."""


@dataclass(frozen=True)
class Preset:
    """A named eSpeak NG voice: what ``voice=`` accepts and ``voice.list()`` shows."""

    id: str
    variant: str | None
    gender: str
    description: str

    @property
    def settings(self) -> espeak.VoiceSettings:
        return espeak.VoiceSettings(variant=self.variant)


PRESETS: Final[dict[str, Preset]] = {
    p.id: p
    for p in (
        Preset(
            "ivy", "f5", "female", "bright female voice (en-us+f5); the clearest for the local recognizer"
        ),
        Preset("maya", "f2", "female", "warm female voice (en-us+f2)"),
        Preset("zoe", "f3", "female", "light female voice (en-us+f3)"),
        Preset("nora", "f4", "female", "soft female voice (en-us+f4)"),
        Preset("alex", "m3", "male", "mid male voice (en-us+m3)"),
        Preset("sam", None, "male", "eSpeak NG's plain US English voice (en-us)"),
        Preset("leo", "m1", "male", "low male voice (en-us+m1)"),
        Preset("max", "m7", "male", "deep male voice (en-us+m7)"),
    )
}
"""The preset voices, by id."""

DEFAULT_VOICE: Final = "ivy"

_VOICE_NAME = re.compile(r"^en-us(?:\+([A-Za-z0-9_ -]+))?$")


# ---- voices --------------------------------------------------------------------------------------


def _voice_error(voice: object) -> InvalidArgument:
    return InvalidArgument(
        f"{voice!r} is not a local voice; use a preset ({', '.join(PRESETS)}), an eSpeak NG name such as "
        "'en-us+m3', or a voice trained with LocalAdapter().fine_tuning.voice.train(...) "
        "('espeak-ng:<name>'; LocalAdapter().voice.list() shows them all)."
    )


def trained_settings(model: LocalModel) -> espeak.VoiceSettings:
    """The eSpeak NG settings a trained voice model stores in its ``params``."""
    p = model.params
    return espeak.VoiceSettings(
        variant=p.get("variant") or None,
        pitch=int(p.get("pitch", 50)),
        range=int(p.get("range", 50)),
        rate=int(p.get("rate", 175)),
    )


def resolve_voice(config: LocalConfig, voice: str) -> espeak.VoiceSettings:
    """The eSpeak NG settings for ``voice`` (a preset id, an ``en-us+<variant>`` name or a trained voice)."""
    if not isinstance(voice, str) or not voice.strip():
        raise _voice_error(voice)
    key = voice.strip()
    preset = PRESETS.get(key.lower())
    if preset is not None:
        return preset.settings
    match = _VOICE_NAME.match(key)
    if match:
        variant = match.group(1)
        if variant is not None and variant not in espeak.variants():
            raise InvalidArgument(
                f"eSpeak NG has no voice variant {variant!r}; some it has: m1-m7, f1-f5, klatt "
                "(or use a preset: " + ", ".join(PRESETS) + ")."
            )
        return espeak.VoiceSettings(variant=variant)
    if key.startswith(f"{SPEECH_MODEL}:"):
        try:
            model = config.store.get(key, modality="speech")
        except NotFound:
            raise _voice_error(voice) from None
        return trained_settings(model)
    raise _voice_error(voice)


# ---- audio helpers ------------------------------------------------------------------------------


def wav_bytes(samples: NDArray[np.int16], rate: int) -> bytes:
    """A 16-bit mono WAV file holding ``samples``."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;:])\s+|\n+", text.strip())
    return [p.strip() for p in parts if p.strip()]


def _check_speech_args(model: str, text: str, fmt: str, sample_rate: int, speed: float) -> None:
    if model != SPEECH_MODEL and not (isinstance(model, str) and model.startswith(f"{SPEECH_MODEL}:")):
        raise InvalidArgument(
            f"the local speech model is {SPEECH_MODEL!r} (got {model!r}); pick the voice with voice=."
        )
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("text is empty; pass the words to speak.")
    if fmt not in FORMATS:
        raise InvalidArgument(
            f"the local speech makes {' or '.join(FORMATS)} audio (got format {fmt!r}); convert it "
            "afterwards with ffmpeg if you need another."
        )
    if isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        raise InvalidArgument(
            f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))} Hz (got {sample_rate!r})."
        )
    low, high = SPEED_RANGE
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not low <= speed <= high:
        raise InvalidArgument(f"speed must be from {low} to {high} (got {speed!r}); 1.0 is normal.")


def _format_arg(format: str | None, response_format: str | None) -> str:
    if format is not None and response_format is not None and format != response_format:
        raise InvalidArgument("give format= or response_format= (they are the same option), not both.")
    return format or response_format or "wav"


def _no_options(options: dict[str, Any], what: str, accepted: str) -> None:
    if options:
        raise InvalidArgument(
            f"local {what} does not take {', '.join(repr(k) for k in sorted(options))}; it takes {accepted}."
        )


# ---- recognizer ---------------------------------------------------------------------------------


class Recognizer:
    """One PocketSphinx decoder (not thread-safe: :meth:`decode` holds its lock)."""

    def __init__(self, lm: Path, dictionary: Path) -> None:
        from pocketsphinx import Decoder  # type: ignore[import-untyped, unused-ignore]

        from polyface.providers.local import assets

        self.decoder = Decoder(
            hmm=str(assets.pocketsphinx_model_dir() / "en-us"),
            lm=str(lm),
            dict=str(dictionary),
            samprate=RECOGNIZER_RATE,
            loglevel="FATAL",
        )
        self.lock = threading.Lock()

    def decode(self, pcm16k: NDArray[np.int16]) -> list[tuple[str, float, float, float]]:
        """(word, start s, end s, probability) for each recognised word and pause (``<sil>``), in order."""
        with self.lock:
            self.decoder.start_utt()
            self.decoder.process_raw(pcm16k.astype("<i2").tobytes(), full_utt=True)
            self.decoder.end_utt()
            out: list[tuple[str, float, float, float]] = []
            for seg in self.decoder.seg():
                out.append(
                    (
                        str(seg.word),
                        seg.start_frame / FRAMES_PER_SECOND,
                        (seg.end_frame + 1) / FRAMES_PER_SECOND,
                        float(seg.prob),
                    )
                )
            return out


def general_paths() -> tuple[Path, Path]:
    """(language model, dictionary) of the shipped recognizer."""
    from polyface.providers.local import assets

    folder = assets.pocketsphinx_model_dir()
    return folder / "en-us.lm.bin", folder / "cmudict-en-us.dict"


def recognizer(config: LocalConfig, model: str) -> Recognizer:
    """The (process-wide, loaded once) recognizer for ``model``."""
    if model == RECOGNIZER_MODEL:
        lm, dictionary = general_paths()
    else:
        if not isinstance(model, str) or not model.startswith(f"{RECOGNIZER_MODEL}:"):
            raise InvalidArgument(
                f"the local recognizer is {RECOGNIZER_MODEL!r}, or one adapted with "
                f"LocalAdapter().fine_tuning.audio.train(texts) ('{RECOGNIZER_MODEL}:<name>'); got {model!r}."
            )
        record = config.store.get(model, modality="transcription")
        lm, dictionary = record.folder / record.params["lm"], record.folder / record.params["dict"]
    return shared((model, "pocketsphinx", str(lm)), lambda: Recognizer(lm, dictionary))


def _decode_other(data: bytes, what: str) -> bytes:
    """WAV bytes converted from another container by the ffmpeg of imageio-ffmpeg."""
    from polyface.providers.local import assets

    try:
        ffmpeg = assets.ffmpeg()
    except Exception:
        raise InvalidArgument(
            f"{what} is not WAV; convert it first: `ffmpeg -i input -ac 1 -ar 16000 output.wav` "
            "(or install imageio-ffmpeg and polyface converts it)."
        ) from None
    done = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-i",
            "pipe:0",
            "-ac",
            "1",
            "-ar",
            str(RECOGNIZER_RATE),
            "-f",
            "wav",
            "pipe:1",
        ],
        input=data,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise InvalidArgument(f"{what} could not be decoded ({tail[0]}); pass a WAV recording.")
    return done.stdout


def load_16k(audio: AudioInput) -> tuple[NDArray[np.int16], float]:
    """``audio`` as 16 kHz mono int16 samples, and its duration in seconds (InvalidArgument if unreadable)."""
    from polyface.media import acoustics

    data, name = acoustics.read_bytes(audio)
    what = f"audio file {name!r}" if name else "the audio"
    if not data:
        raise InvalidArgument(f"{what} is empty; pass a recording with speech in it.")
    fmt = acoustics.sniff_format(data)
    if fmt is None:
        raise InvalidArgument(f"{what} is not audio polyface recognises; pass a WAV recording.")
    if fmt != "wav":
        data = _decode_other(data, what)
    waveform = acoustics.read_wav(data)
    samples = espeak.resample(waveform.samples * 32768.0, waveform.sample_rate, RECOGNIZER_RATE)
    return espeak.to_int16(samples), waveform.duration


_FILLERS = {"<s>", "</s>", "<sil>", "[noise]", "[NOISE]", "<unk>"}


def to_transcription(
    pieces: Sequence[tuple[str, float, float, float]], *, model: str, duration: float
) -> Transcription:
    """PocketSphinx's word segments as a :class:`Transcription` (segments split at pauses)."""
    words: list[TranscriptionWord] = []
    segments: list[TranscriptionSegment] = []
    current: list[TranscriptionWord] = []

    def close() -> None:
        if current:
            segments.append(
                TranscriptionSegment(
                    id=len(segments),
                    start=current[0].start,
                    end=current[-1].end,
                    text=" ".join(w.word for w in current),
                    words=list(current),
                )
            )
            current.clear()

    for word, start, end, prob in pieces:
        if word in _FILLERS or word.startswith("++") or word.startswith("["):
            if word == "<sil>" and end - start >= PAUSE_SPLIT_SECONDS:
                close()
            continue
        clean = re.sub(r"\(\d+\)$", "", word)
        item = TranscriptionWord(word=clean, start=start, end=end, probability=min(1.0, max(0.0, prob)))
        words.append(item)
        current.append(item)
    close()
    return Transcription(
        provider=PROVIDER,
        model=model,
        text=" ".join(w.word for w in words),
        task="transcribe",
        language="en",
        duration=duration,
        segments=segments,
        words=words,
        usage=Usage(audio_seconds=duration),
        cost=0.0,
    )


# ---- the capability -----------------------------------------------------------------------------


class LocalAudio:
    """``LocalAdapter().audio``: speak (eSpeak NG) and transcribe (PocketSphinx), on this machine, free."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config

    # ---- speech ------------------------------------------------------------------------------
    def _prepare(
        self,
        model: str,
        text: str,
        voice: str,
        format: str | None,
        response_format: str | None,
        sample_rate: int,
        speed: float,
        options: dict[str, Any],
    ) -> tuple[espeak.VoiceSettings, str]:
        _no_options(options, "speech", "format (wav or pcm), sample_rate, speed")
        fmt = _format_arg(format, response_format)
        _check_speech_args(model, text, fmt, sample_rate, speed)
        if model != SPEECH_MODEL and voice == DEFAULT_VOICE:
            voice = model  # model="espeak-ng:<name>" speaks with that trained voice
        settings = resolve_voice(self.config, voice)
        low, high = espeak.RATE_RANGE
        rate = min(high, max(low, round(settings.rate * float(speed))))
        return espeak.VoiceSettings(settings.variant, settings.pitch, settings.range, rate), fmt

    @staticmethod
    def _render(text: str, settings: espeak.VoiceSettings, sample_rate: int) -> NDArray[np.int16]:
        samples, native = espeak.synthesize(text, settings)
        if sample_rate == native:
            return samples
        return espeak.to_int16(espeak.resample(samples, native, sample_rate))

    def _response(
        self, model: str, voice: str, fmt: str, samples: NDArray[np.int16], sample_rate: int, text: str
    ) -> SpeechResponse:
        duration = len(samples) / sample_rate
        return SpeechResponse(
            provider=PROVIDER,
            model=model,
            audio=wav_bytes(samples, sample_rate) if fmt == "wav" else samples.astype("<i2").tobytes(),
            format="wav" if fmt == "wav" else "pcm",
            sample_rate=sample_rate,
            encoding=None if fmt == "wav" else "pcm_s16le",
            voice=voice,
            duration_seconds=duration,
            usage=Usage(characters=len(text), audio_seconds=duration),
            cost=0.0,
        )

    def speak(
        self,
        *,
        model: str = SPEECH_MODEL,
        text: str,
        voice: str = DEFAULT_VOICE,
        format: str | None = None,
        response_format: str | None = None,
        sample_rate: int = espeak.NATIVE_RATE,
        speed: float = 1.0,
        **options: Any,
    ) -> SpeechResponse:
        """``text`` spoken by eSpeak NG: a :class:`SpeechResponse` with 16-bit mono audio.

        ``voice``: a preset id (``LocalAdapter().voice.list()``), ``"en-us+<variant>"`` or a trained
        ``"espeak-ng:<name>"``. ``format`` (or ``response_format``): ``"wav"`` (default) or ``"pcm"``
        (headerless ``pcm_s16le``). ``sample_rate``: 16000, 22050 (default, eSpeak's own) or 24000.
        ``speed``: 0.5 to 2.5 times the voice's speaking rate. ``duration_seconds`` is filled; cost is 0.
        """
        settings, fmt = self._prepare(
            model, text, voice, format, response_format, sample_rate, speed, options
        )
        with self.config.telemetry.call("text_to_speech", model) as call:
            samples = self._render(text, settings, sample_rate)
            response = self._response(model, voice, fmt, samples, sample_rate, text)
            call.finish(response_model=model, cost=0.0)
        return response

    async def aspeak(
        self,
        *,
        model: str = SPEECH_MODEL,
        text: str,
        voice: str = DEFAULT_VOICE,
        format: str | None = None,
        response_format: str | None = None,
        sample_rate: int = espeak.NATIVE_RATE,
        speed: float = 1.0,
        **options: Any,
    ) -> SpeechResponse:
        """The async twin of :meth:`speak`."""
        return await to_thread(
            self.speak,
            model=model,
            text=text,
            voice=voice,
            format=format,
            response_format=response_format,
            sample_rate=sample_rate,
            speed=speed,
            **options,
        )

    def _chunks(
        self, model: str, text: str, settings: espeak.VoiceSettings, fmt: str, sample_rate: int
    ) -> Iterator[SpeechChunk]:
        total = 0
        with self.config.telemetry.call("text_to_speech", model, current=False) as call:
            for index, sentence in enumerate(_sentences(text)):
                samples = self._render(sentence, settings, sample_rate)
                total += len(samples)
                if fmt == "wav" and index == 0:
                    audio = _streaming_wav_header(sample_rate) + samples.astype("<i2").tobytes()
                else:
                    audio = samples.astype("<i2").tobytes()
                yield SpeechChunk(
                    audio=audio,
                    index=index,
                    **_chunk_format(fmt, sample_rate),
                )
            call.finish(response_model=model, cost=0.0)
        yield SpeechChunk(
            audio=b"",
            index=len(_sentences(text)),
            **_chunk_format(fmt, sample_rate),
            final=True,
            usage=Usage(characters=len(text), audio_seconds=total / sample_rate),
            cost=0.0,
        )

    def stream(
        self,
        *,
        model: str = SPEECH_MODEL,
        text: str,
        voice: str = DEFAULT_VOICE,
        format: str | None = None,
        response_format: str | None = None,
        sample_rate: int = espeak.NATIVE_RATE,
        speed: float = 1.0,
        **options: Any,
    ) -> SpeechStream:
        """Speak ``text`` sentence by sentence: one :class:`SpeechChunk` per sentence as it is synthesised,
        then a final empty chunk with usage. ``format="wav"`` puts a WAV header (with an open-ended size)
        on the first chunk so the joined bytes are a playable file; ``"pcm"`` sends bare samples.
        ``stream.response()`` joins them into one :class:`SpeechResponse`."""
        settings, fmt = self._prepare(
            model, text, voice, format, response_format, sample_rate, speed, options
        )
        return SpeechStream(
            self._chunks(model, text, settings, fmt, sample_rate), provider=PROVIDER, model=model, voice=voice
        )

    def astream(
        self,
        *,
        model: str = SPEECH_MODEL,
        text: str,
        voice: str = DEFAULT_VOICE,
        format: str | None = None,
        response_format: str | None = None,
        sample_rate: int = espeak.NATIVE_RATE,
        speed: float = 1.0,
        **options: Any,
    ) -> AsyncSpeechStream:
        """The async twin of :meth:`stream` (each sentence is synthesised off the event loop)."""
        settings, fmt = self._prepare(
            model, text, voice, format, response_format, sample_rate, speed, options
        )
        chunks = self._chunks(model, text, settings, fmt, sample_rate)

        async def pump() -> AsyncIterator[SpeechChunk]:
            while True:
                piece = await to_thread(next, chunks, None)
                if piece is None:
                    return
                yield piece

        return AsyncSpeechStream(pump(), provider=PROVIDER, model=model, voice=voice)

    # ---- transcription -----------------------------------------------------------------------
    def transcribe(
        self, audio: AudioInput, *, model: str = RECOGNIZER_MODEL, language: str | None = None, **options: Any
    ) -> Transcription:
        """What is said in ``audio`` (WAV; other containers via ffmpeg), in English: the text, and each
        word's start and end (seconds) with PocketSphinx's posterior probability; segments split at
        pauses of 0.3 s or more. ``model``: ``"pocketsphinx-en-us"`` or an adapted
        ``"pocketsphinx-en-us:<name>"``. ``language`` may only be ``"en"``."""
        _no_options(options, "transcription", "model and language ('en')")
        if language not in (None, "en", "en-us", "en-US", "english"):
            raise InvalidArgument(
                f"the local recognizer knows US English only (got language={language!r}); leave language out."
            )
        engine = recognizer(self.config, model)
        samples, duration = load_16k(audio)
        with self.config.telemetry.call("transcription", model) as call:
            pieces = engine.decode(samples)
            result = to_transcription(pieces, model=model, duration=duration)
            call.finish(response_model=model, cost=0.0)
        return result

    async def atranscribe(
        self, audio: AudioInput, *, model: str = RECOGNIZER_MODEL, language: str | None = None, **options: Any
    ) -> Transcription:
        """The async twin of :meth:`transcribe`."""
        return await to_thread(self.transcribe, audio, model=model, language=language, **options)

    def translate(self, audio: AudioInput, *, model: str = RECOGNIZER_MODEL, **options: Any) -> Transcription:
        """Not offered: PocketSphinx's shipped model recognises English only, so there is no foreign speech it
        could translate into English. Raises :class:`CapabilityNotSupported`; use :meth:`transcribe` for
        English speech."""
        raise CapabilityNotSupported(
            PROVIDER,
            "audio.translation",
            offered_by=("openai", "together"),
            reason="the local recognizer (PocketSphinx, US English model) recognises English speech only, "
            "so it cannot translate other languages into English; use transcribe() for English speech",
        )

    async def atranslate(
        self, audio: AudioInput, *, model: str = RECOGNIZER_MODEL, **options: Any
    ) -> Transcription:
        """The async twin of :meth:`translate` (raises the same error)."""
        return self.translate(audio, model=model, **options)


def _streaming_wav_header(rate: int) -> bytes:
    """A 16-bit mono WAV header whose sizes say "unknown" (0xFFFFFFFF), for streamed audio."""
    import struct

    unknown = 0xFFFFFFFF
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", unknown),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16),
            b"data",
            struct.pack("<I", unknown),
        )
    )


def word_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) between two texts, compared as lower-case words without punctuation."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        row = [i]
        for j, h in enumerate(hyp, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = row
    return previous[-1], len(ref)


def normalize_words(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters, digits and inner apostrophes), as the recognizer spells them."""
    return [w.strip("'") for w in re.findall(r"[a-z0-9']+", text.lower()) if w.strip("'")]


__all__ = [
    "DEFAULT_VOICE",
    "PRESETS",
    "LocalAudio",
    "Preset",
    "normalize_words",
    "resolve_voice",
    "word_error_rate",
]


def _chunk_format(fmt: str, sample_rate: int) -> dict[str, Any]:
    """The format fields every streamed chunk of one call carries."""
    return {
        "format": "wav" if fmt == "wav" else "pcm",
        "sample_rate": sample_rate,
        "encoding": None if fmt == "wav" else "pcm_s16le",
    }
