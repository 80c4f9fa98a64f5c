"""The Protocol each capability implements, and the names of every capability.

A provider's facade exposes one object per capability (``adapter.text``, ``adapter.audio``,
``adapter.fine_tuning.voice``...); each satisfies the Protocol below for its capability.

Conventions every implementation follows:

- Arguments are keywords (the audio of a transcription may also be given first). Vendor-specific
  options are accepted as extra keywords (``**options``) and passed through.
- Every blocking method has an async twin named with an ``a`` prefix (``generate``/``agenerate``);
  streams are iterators and async iterators (``stream``/``astream``).
- A job that runs for minutes (video, fine-tuning) returns a handle at once: ``wait()`` polls
  until it is done, and ``get(job_id)`` re-attaches to it after a restart.

Importing this module is cheap: the types it names are imported only by type checkers.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from pathlib import Path

    from polyface.types.embeddings import EmbeddingsResponse, RerankResponse
    from polyface.types.fine_tuning import FineTuneEvent, FineTuneJobInfo, FineTuneStatus
    from polyface.types.image import ImageResponse
    from polyface.types.speech import SpeechChunk, SpeechResponse
    from polyface.types.text import Message, TextDelta, TextResponse
    from polyface.types.transcription import Transcription as TranscriptionResult
    from polyface.types.video import VideoJobInfo, VideoJobStatus, VideoResult
    from polyface.types.voice import Voice, VoiceMatch, VoiceProfile

AudioInput: TypeAlias = str | os.PathLike[str] | bytes | IO[bytes]
"""Audio to read: a file path, the file's bytes, or an open binary file."""

MessageInput: TypeAlias = "Message | Mapping[str, Any]"
"""A chat message: a :class:`~polyface.types.text.Message` or a dict shaped like one."""

Capability = Literal[
    "text",
    "embeddings",
    "image",
    "audio.speech",
    "audio.transcription",
    "video",
    "voice",
    "fine_tuning.text",
    "fine_tuning.voice",
    "fine_tuning.image",
    "fine_tuning.audio",
    "fine_tuning.video",
]

CAPABILITIES: tuple[Capability, ...] = (
    "text",
    "embeddings",
    "image",
    "audio.speech",
    "audio.transcription",
    "video",
    "voice",
    "fine_tuning.text",
    "fine_tuning.voice",
    "fine_tuning.image",
    "fine_tuning.audio",
    "fine_tuning.video",
)
"""Every capability, in the order the README's capability table lists them."""

FINE_TUNING_MODALITIES: tuple[str, ...] = ("text", "voice", "image", "audio", "video")

CAPABILITY_DESCRIPTIONS: dict[Capability, str] = {
    "text": "Chat and completions, streamed or whole",
    "embeddings": "Text embeddings and reranking",
    "image": "Image generation",
    "audio.speech": "Speech synthesis (text to speech)",
    "audio.transcription": "Transcription and translation (speech to text)",
    "video": "Video generation jobs",
    "voice": "Voice catalog and voice matching",
    "fine_tuning.text": "Fine-tuning a language model",
    "fine_tuning.voice": "Making a custom or trained voice",
    "fine_tuning.image": "Fine-tuning an image model",
    "fine_tuning.audio": "Adapting a speech recognizer",
    "fine_tuning.video": "Fine-tuning a video model",
}

CAPABILITY_ATTRIBUTES: dict[Capability, str] = {
    "text": "text",
    "embeddings": "embeddings",
    "image": "image",
    "audio.speech": "audio",
    "audio.transcription": "audio",
    "video": "video",
    "voice": "voice",
    "fine_tuning.text": "fine_tuning.text",
    "fine_tuning.voice": "fine_tuning.voice",
    "fine_tuning.image": "fine_tuning.image",
    "fine_tuning.audio": "fine_tuning.audio",
    "fine_tuning.video": "fine_tuning.video",
}
"""Where on an adapter each capability lives (speech and transcription share ``adapter.audio``)."""


@runtime_checkable
class TextGeneration(Protocol):
    """Chat (``generate``/``stream``) and raw completion (``complete``)."""

    def generate(self, *, model: str, messages: Sequence[MessageInput], **options: Any) -> TextResponse: ...

    async def agenerate(
        self, *, model: str, messages: Sequence[MessageInput], **options: Any
    ) -> TextResponse: ...

    def stream(
        self, *, model: str, messages: Sequence[MessageInput], **options: Any
    ) -> Iterable[TextDelta]: ...

    def astream(
        self, *, model: str, messages: Sequence[MessageInput], **options: Any
    ) -> AsyncIterable[TextDelta]: ...

    def complete(self, *, model: str, prompt: str, **options: Any) -> TextResponse: ...

    async def acomplete(self, *, model: str, prompt: str, **options: Any) -> TextResponse: ...


@runtime_checkable
class Embeddings(Protocol):
    """Vectors for texts, and documents reranked against a query."""

    def embed(self, *, model: str, inputs: Sequence[str], **options: Any) -> EmbeddingsResponse: ...

    async def aembed(self, *, model: str, inputs: Sequence[str], **options: Any) -> EmbeddingsResponse: ...

    def rerank(
        self, *, model: str, query: str, documents: Sequence[str], top_n: int | None = None, **options: Any
    ) -> RerankResponse: ...

    async def arerank(
        self, *, model: str, query: str, documents: Sequence[str], top_n: int | None = None, **options: Any
    ) -> RerankResponse: ...


@runtime_checkable
class ImageGeneration(Protocol):
    """Images from a prompt."""

    def generate(self, *, model: str, prompt: str, **options: Any) -> ImageResponse: ...

    async def agenerate(self, *, model: str, prompt: str, **options: Any) -> ImageResponse: ...


@runtime_checkable
class Speech(Protocol):
    """Text to speech, whole or streamed as it is synthesised."""

    def speak(self, *, model: str, text: str, voice: str, **options: Any) -> SpeechResponse: ...

    async def aspeak(self, *, model: str, text: str, voice: str, **options: Any) -> SpeechResponse: ...

    def stream(self, *, model: str, text: str, voice: str, **options: Any) -> Iterable[SpeechChunk]: ...

    def astream(self, *, model: str, text: str, voice: str, **options: Any) -> AsyncIterable[SpeechChunk]: ...


@runtime_checkable
class Transcription(Protocol):
    """Speech to text in the spoken language (``transcribe``) or in English (``translate``)."""

    def transcribe(self, audio: AudioInput, *, model: str, **options: Any) -> TranscriptionResult: ...

    async def atranscribe(self, audio: AudioInput, *, model: str, **options: Any) -> TranscriptionResult: ...

    def translate(self, audio: AudioInput, *, model: str, **options: Any) -> TranscriptionResult: ...

    async def atranslate(self, audio: AudioInput, *, model: str, **options: Any) -> TranscriptionResult: ...


@runtime_checkable
class VideoJob(Protocol):
    """A video generation job, from :meth:`VideoGeneration.generate` / ``agenerate`` / ``get``.

    One handle serves sync and async code: ``refresh``/``arefresh``, ``wait``/``async_wait``
    (``await`` being a keyword), ``result``/``aresult``, ``download``/``adownload``.
    """

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> VideoJobStatus:
        """The status at the last refresh (``wait`` and ``refresh`` update it)."""
        ...

    def refresh(self) -> VideoJobInfo:
        """Ask the provider where the job stands now."""
        ...

    async def arefresh(self) -> VideoJobInfo: ...

    def wait(
        self, *, progress: Any = False, timeout: float | None = None, poll_interval: float | None = None
    ) -> Any:
        """Poll until the job is done; raise ``JobFailed`` if it failed, ``JobTimeout`` after ``timeout``.
        Returns the job itself."""
        ...

    async def async_wait(
        self, *, progress: Any = False, timeout: float | None = None, poll_interval: float | None = None
    ) -> Any: ...

    def result(self, *, wait: bool = False) -> VideoResult:
        """The finished video (``wait=True`` waits for it first)."""
        ...

    async def aresult(self, *, wait: bool = False) -> VideoResult: ...

    def download(self, path: str | os.PathLike[str], *, wait: bool = False) -> Path:
        """Save the finished video to ``path``."""
        ...

    async def adownload(self, path: str | os.PathLike[str], *, wait: bool = False) -> Path: ...


@runtime_checkable
class VideoGeneration(Protocol):
    """Video from a prompt (and optional frames), as a job to wait for."""

    def generate(self, *, model: str, prompt: str, **options: Any) -> VideoJob: ...

    async def agenerate(self, *, model: str, prompt: str, **options: Any) -> VideoJob: ...

    def get(self, job_id: str) -> VideoJob:
        """Re-attach to a job started earlier."""
        ...


@runtime_checkable
class Voices(Protocol):
    """The voices a provider offers, and which of them sounds closest to a target."""

    def list(self, *, model: str | None = None) -> builtins.list[Voice]: ...

    async def alist(self, *, model: str | None = None) -> builtins.list[Voice]: ...

    def match(
        self, target: VoiceProfile | AudioInput, *, model: str | None = None, limit: int = 5
    ) -> builtins.list[VoiceMatch]:
        """The ``limit`` closest voices, best first. ``target`` is a profile or recordings to measure."""
        ...


@runtime_checkable
class FineTuneJob(Protocol):
    """A fine-tuning job, from :meth:`FineTuning.train` / ``atrain`` / ``get``; sync and async methods."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> FineTuneStatus:
        """The status at the last refresh (``wait`` and ``refresh`` update it)."""
        ...

    @property
    def result_model(self) -> str | None:
        """The trained model's name, once the job succeeded."""
        ...

    def refresh(self) -> FineTuneJobInfo: ...

    async def arefresh(self) -> FineTuneJobInfo: ...

    def wait(
        self, *, progress: Any = False, timeout: float | None = None, poll_interval: float | None = None
    ) -> Any:
        """Poll until done, reporting progress; raise ``JobFailed`` if it failed. Returns the job."""
        ...

    async def async_wait(
        self, *, progress: Any = False, timeout: float | None = None, poll_interval: float | None = None
    ) -> Any: ...

    def events(self) -> builtins.list[FineTuneEvent]: ...

    async def aevents(self) -> builtins.list[FineTuneEvent]: ...

    def cancel(self) -> FineTuneJobInfo: ...

    async def acancel(self) -> FineTuneJobInfo: ...


@runtime_checkable
class FineTuning(Protocol):
    """Training in one modality (``adapter.fine_tuning.text``, ``.voice``...).

    ``train`` takes what the modality needs (``dataset=`` and ``base_model=`` for text, ``samples=``
    and ``consent=`` for a voice...), validates it locally, prices it, and starts the job.
    """

    def train(self, *args: Any, **kwargs: Any) -> FineTuneJob: ...

    async def atrain(self, *args: Any, **kwargs: Any) -> FineTuneJob: ...

    def get(self, job_id: str) -> FineTuneJob:
        """Re-attach to a job started earlier (after a restart, say)."""
        ...

    def list(self, *, limit: int | None = None) -> builtins.list[FineTuneJobInfo]: ...

    def cancel(self, job_id: str) -> FineTuneJobInfo: ...


CAPABILITY_PROTOCOLS: dict[Capability, type] = {
    "text": TextGeneration,
    "embeddings": Embeddings,
    "image": ImageGeneration,
    "audio.speech": Speech,
    "audio.transcription": Transcription,
    "video": VideoGeneration,
    "voice": Voices,
    "fine_tuning.text": FineTuning,
    "fine_tuning.voice": FineTuning,
    "fine_tuning.image": FineTuning,
    "fine_tuning.audio": FineTuning,
    "fine_tuning.video": FineTuning,
}
"""The Protocol each capability's object satisfies (``isinstance`` checks method names only)."""
