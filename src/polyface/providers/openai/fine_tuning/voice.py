"""OpenAI custom voices: ``adapter.fine_tuning.voice.train(samples, consent=...)``.

Two calls, both multipart: ``POST /audio/voice_consents`` uploads the speaker's recorded consent
(``name``, ``recording``, ``language``), then ``POST /audio/voices`` makes the voice from one audio sample
(``name``, ``audio_sample``, ``consent`` = the consent's id). Without a consent recording nothing is sent:
:class:`~polyface.errors.ConsentRequired` says what to record. The voice is ready at once; the returned
:class:`OpenAICustomVoiceJob` has the fine-tuning job interface (already ``succeeded``) and its
``result_model`` / ``voice`` go straight into ``adapter.audio.speak(voice=...)``.

OpenAI's API has no endpoint to read, list or delete a custom voice; consents can be listed, read and
deleted (:meth:`OpenAIVoiceFineTuning.consents`, ``get_consent``, ``delete_consent``).
"""

from __future__ import annotations

import hashlib
import io
import os
import wave
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from polyface.errors import ConsentRequired, InvalidArgument, ProviderUnavailable
from polyface.providers._base.config import ProviderConfig
from polyface.types.fine_tuning import FineTuneEvent, FineTuneJobInfo
from polyface.types.voice import Voice, VoiceConsent

if TYPE_CHECKING:
    from polyface.capabilities import AudioInput

CONSENTS_PATH: Final = "/audio/voice_consents"
VOICES_PATH: Final = "/audio/voices"
VOICE_MODEL: Final = "gpt-4o-mini-tts"
"""The speech model custom voices are made for: the model their ``fine_tune`` spans name."""
MAX_AUDIO_BYTES: Final = 10 * 1024 * 1024
"""OpenAI's limit for both the consent recording and the voice sample (10 MiB)."""
ACCEPTED_FORMATS: Final = ("wav", "mp3", "ogg", "flac", "webm", "m4a")
"""Containers the spec accepts (audio/mpeg, wav, ogg, aac, flac, webm, mp4) that polyface can recognise."""

CONSENT_HINT: Final = (
    "OpenAI makes a custom voice only with the speaker's recorded consent: record the person whose voice it "
    "is reading OpenAI's consent statement aloud (see the custom voices guide, "
    "https://platform.openai.com/docs/guides/text-to-speech#custom-voices), in the language you pass as "
    "consent_language (default en-US), then pass consent='consent.wav' (or the id 'cons_...' of a consent "
    "uploaded before)."
)


def _iso(seconds: Any) -> datetime | None:
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return datetime.fromtimestamp(seconds, UTC)
    return None


def read_sample(source: AudioInput, what: str) -> tuple[str, bytes, str]:
    """(filename, bytes, mime) of one recording, checked: readable, an accepted format, under 10 MiB."""
    from polyface.media import acoustics

    read = acoustics.read_audio(source, formats=ACCEPTED_FORMATS)
    if len(read.data) > MAX_AUDIO_BYTES:
        raise InvalidArgument(
            f"the {what} {read.filename!r} is {len(read.data) / 1048576:.1f} MiB; "
            "OpenAI takes at most 10 MiB. Trim or compress it."
        )
    return read.filename, read.data, read.mime_type


def join_wavs(samples: Sequence[tuple[str, bytes, str]]) -> tuple[str, bytes, str]:
    """Several WAV samples as one WAV (OpenAI takes one sample per voice); they must share rate, width
    and channels. InvalidArgument otherwise."""
    if len(samples) == 1:
        return samples[0]
    params: tuple[int, int, int] | None = None
    frames: list[bytes] = []
    for filename, data, mime in samples:
        if mime != "audio/wav":
            raise InvalidArgument(
                f"OpenAI makes a voice from one sample; polyface can join several WAVs, but {filename!r} is "
                f"{mime}. Pass one file, or WAVs only."
            )
        with wave.open(io.BytesIO(data), "rb") as reader:
            these = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate())
            if params is not None and these != params:
                raise InvalidArgument(
                    f"{filename!r} has {these[2]} Hz/{these[0]} channel(s) unlike the first sample; "
                    "convert the samples to one format (e.g. `ffmpeg -i in.wav -ac 1 -ar 24000 out.wav`) "
                    "or pass one file."
                )
            params = these
            frames.append(reader.readframes(reader.getnframes()))
    assert params is not None
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(params[0])
        writer.setsampwidth(params[1])
        writer.setframerate(params[2])
        writer.writeframes(b"".join(frames))
    data = buffer.getvalue()
    if len(data) > MAX_AUDIO_BYTES:
        raise InvalidArgument(
            f"the joined samples are {len(data) / 1048576:.1f} MiB; OpenAI takes at most 10 MiB. Pass fewer."
        )
    return "samples.wav", data, "audio/wav"


def parse_consent(data: Any, *, provider: str) -> VoiceConsent:
    if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
        raise ProviderUnavailable(f"the consent answer has no id: {str(data)[:200]!r}", provider=provider)
    return VoiceConsent(
        id=data["id"],
        provider="openai",
        name=str(data.get("name") or ""),
        language=data.get("language") if isinstance(data.get("language"), str) else None,
        created_at=_iso(data.get("created_at")),
    )


def parse_voice(data: Any, *, provider: str) -> Voice:
    if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
        raise ProviderUnavailable(f"the voice answer has no id: {str(data)[:200]!r}", provider=provider)
    return Voice(
        id=data["id"],
        name=str(data.get("name") or data["id"]),
        provider="openai",
        custom=True,
        created_at=_iso(data.get("created_at")),
    )


def voice_job_info(
    voice: Voice, consent: str | None, raw: Mapping[str, Any] | None = None
) -> FineTuneJobInfo:
    """A custom voice as a (finished) fine-tuning job snapshot: ``result_model`` is the voice id."""
    note = f"custom voice {voice.id} created" + (f" with consent {consent}" if consent else "")
    return FineTuneJobInfo(
        id=voice.id,
        provider="openai",
        modality="voice",
        status="succeeded",
        raw_status="created",
        result_model=voice.id,
        created_at=voice.created_at,
        finished_at=voice.created_at,
        progress=1.0,
        events=[FineTuneEvent(time=voice.created_at, message=note, type="voice.created")],
        raw=dict(raw or {}),
    )


class OpenAICustomVoiceJob:
    """The result of :meth:`OpenAIVoiceFineTuning.train`: a custom voice, shaped like a fine-tuning job.

    OpenAI creates the voice at once, so the job is ``succeeded`` from the start; ``wait`` returns at
    once. Pass ``job.voice`` or ``job.result_model`` as ``voice=`` to ``adapter.audio.speak``."""

    def __init__(
        self, voice: Voice, *, consent: VoiceConsent | str | None, raw: Mapping[str, Any] | None = None
    ):
        self.voice = voice
        self.consent = consent
        consent_id = consent.id if isinstance(consent, VoiceConsent) else consent
        self.info = voice_job_info(voice, consent_id, raw)

    @property
    def id(self) -> str:
        return self.voice.id

    @property
    def status(self) -> Any:
        return self.info.status

    @property
    def result_model(self) -> str | None:
        return self.info.result_model

    @property
    def voice_id(self) -> str:
        return self.voice.id

    def refresh(self) -> FineTuneJobInfo:
        """The snapshot (OpenAI has no endpoint to read a custom voice back, so nothing is fetched)."""
        return self.info

    async def arefresh(self) -> FineTuneJobInfo:
        return self.info

    def wait(
        self, *, progress: Any = False, timeout: float | None = None, poll_interval: float | None = None
    ) -> Any:
        if callable(progress):
            progress(self.info)
        return self

    async def async_wait(
        self, *, progress: Any = False, timeout: float | None = None, poll_interval: float | None = None
    ) -> Any:
        return self.wait(progress=progress)

    def events(self) -> list[FineTuneEvent]:
        return list(self.info.events)

    async def aevents(self) -> list[FineTuneEvent]:
        return self.events()

    def cancel(self) -> FineTuneJobInfo:
        """Nothing to cancel: the voice was made at once (OpenAI's API cannot delete custom voices)."""
        return self.info

    async def acancel(self) -> FineTuneJobInfo:
        return self.info

    def __repr__(self) -> str:
        return f"OpenAICustomVoiceJob(id={self.id!r}, name={self.voice.name!r}, status='succeeded')"


class OpenAIVoiceFineTuning:
    """``adapter.fine_tuning.voice``: OpenAI custom voices, made from a sample and a recorded consent."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._display = config.info.display_name
        self._jobs: dict[str, OpenAICustomVoiceJob] = {}
        self._consent_ids: dict[str, str] = {}
        """Consents this process uploaded, by the recording's sha256 (never uploaded twice)."""

    # ---- consents ----------------------------------------------------------------------------------
    @staticmethod
    def _consent_form(recording: AudioInput, name: str, language: str) -> tuple[dict[str, str], Any]:
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgument("the consent needs a name: who consented, e.g. name='Rex Harbor'.")
        if not isinstance(language, str) or not language.strip():
            raise InvalidArgument(
                "consent_language must be the BCP 47 tag of the consent phrase, e.g. 'en-US'."
            )
        filename, data, mime = read_sample(recording, "consent recording")
        return {"name": name, "language": language}, {"recording": (filename, data, mime)}

    def upload_consent(self, recording: AudioInput, *, name: str, language: str = "en-US") -> VoiceConsent:
        """Upload a consent recording (the speaker reading OpenAI's consent statement)."""
        form, files = self._consent_form(recording, name, language)
        response = self.config.http.request("POST", CONSENTS_PATH, data=form, files=files, idempotent=False)
        return parse_consent(response.json(), provider=self._display)

    async def aupload_consent(
        self, recording: AudioInput, *, name: str, language: str = "en-US"
    ) -> VoiceConsent:
        form, files = self._consent_form(recording, name, language)
        response = await self.config.http.arequest(
            "POST", CONSENTS_PATH, data=form, files=files, idempotent=False
        )
        return parse_consent(response.json(), provider=self._display)

    def consents(self, *, limit: int | None = None) -> list[VoiceConsent]:
        """The account's consent recordings (every page, or the first ``limit``)."""
        found: list[VoiceConsent] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": min(100, limit or 100)}
            if after:
                params["after"] = after
            data = self.config.http.request("GET", CONSENTS_PATH, params=params).json()
            found += [parse_consent(item, provider=self._display) for item in data.get("data") or ()]
            if (limit is not None and len(found) >= limit) or not data.get("has_more") or not found:
                return found[:limit] if limit is not None else found
            after = found[-1].id

    async def aconsents(self, *, limit: int | None = None) -> list[VoiceConsent]:
        found: list[VoiceConsent] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": min(100, limit or 100)}
            if after:
                params["after"] = after
            data = (await self.config.http.arequest("GET", CONSENTS_PATH, params=params)).json()
            found += [parse_consent(item, provider=self._display) for item in data.get("data") or ()]
            if (limit is not None and len(found) >= limit) or not data.get("has_more") or not found:
                return found[:limit] if limit is not None else found
            after = found[-1].id

    def get_consent(self, consent_id: str) -> VoiceConsent:
        response = self.config.http.request("GET", f"{CONSENTS_PATH}/{consent_id}")
        return parse_consent(response.json(), provider=self._display)

    async def aget_consent(self, consent_id: str) -> VoiceConsent:
        response = await self.config.http.arequest("GET", f"{CONSENTS_PATH}/{consent_id}")
        return parse_consent(response.json(), provider=self._display)

    def delete_consent(self, consent_id: str) -> bool:
        """Delete a consent recording; True when OpenAI says it is gone."""
        response = self.config.http.request("DELETE", f"{CONSENTS_PATH}/{consent_id}")
        return bool(response.json().get("deleted"))

    async def adelete_consent(self, consent_id: str) -> bool:
        response = await self.config.http.arequest("DELETE", f"{CONSENTS_PATH}/{consent_id}")
        return bool(response.json().get("deleted"))

    # ---- voices --------------------------------------------------------------------------------
    @staticmethod
    def _existing_consent(consent: Any) -> str | None:
        if isinstance(consent, VoiceConsent):
            return consent.id
        if isinstance(consent, str) and consent.startswith("cons_") and not os.path.exists(consent):
            return consent
        return None

    def _prepare(
        self, samples: Any, consent: Any, name: str | None
    ) -> tuple[str, tuple[str, bytes, str], str | None, str | None]:
        """(voice name, the sample to send, an uploaded consent's id, the consent recording's sha256)."""
        if consent is None or (isinstance(consent, str | bytes) and not consent):
            raise ConsentRequired(f"no consent recording was given, so no voice was made. {CONSENT_HINT}")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidArgument("name must be a non-empty string (the custom voice's name).")
        items = (
            [samples]
            if isinstance(samples, str | bytes | bytearray | os.PathLike) or hasattr(samples, "read")
            else list(samples or ())
        )
        if not items:
            raise InvalidArgument("samples is empty; pass at least one recording of the voice.")
        read = [read_sample(item, f"voice sample #{i}") for i, item in enumerate(items)]
        sample = join_wavs(read)
        existing = self._existing_consent(consent)
        digest = None
        if existing is None:
            _, consent_bytes, _ = read_sample(consent, "consent recording")
            digest = hashlib.sha256(consent_bytes).hexdigest()
            if digest in {hashlib.sha256(data).hexdigest() for _, data, _ in read}:
                raise ConsentRequired(
                    f"the consent recording is one of the voice samples, so it is no consent. {CONSENT_HINT}"
                )
            # a consent uploaded earlier by this process (a voice create that failed after it) is reused
            existing = self._consent_ids.get(digest)
        voice_name = name or (
            os.path.splitext(os.path.basename(str(items[0])))[0]
            if isinstance(items[0], str | os.PathLike)
            else "custom-voice"
        )
        return voice_name, sample, existing, digest

    def _finish(self, data: Any, consent: VoiceConsent | str) -> OpenAICustomVoiceJob:
        from polyface.providers.openai.voice import remember_custom_voice

        voice = parse_voice(data, provider=self._display)
        job = OpenAICustomVoiceJob(voice, consent=consent, raw=data if isinstance(data, Mapping) else None)
        self._jobs[voice.id] = job
        remember_custom_voice(self.config, voice)
        return job

    def train(
        self,
        samples: AudioInput | Sequence[AudioInput],
        *,
        consent: AudioInput | VoiceConsent | str | None = None,
        name: str | None = None,
        consent_name: str | None = None,
        consent_language: str = "en-US",
        **options: Any,
    ) -> OpenAICustomVoiceJob:
        """Make a custom voice from ``samples`` (one recording, or several WAVs joined; each checked here:
        readable audio of an accepted type, at most 10 MiB) and the speaker's ``consent``: a recording to
        upload (``consent_name`` labels it, default ``name``), or the id / :class:`VoiceConsent` of one
        uploaded before. Raises :class:`ConsentRequired` without one, before anything is sent."""
        if options:
            raise InvalidArgument(
                f"OpenAI custom voices do not take {', '.join(sorted(options))}; they take samples, consent, "
                "name, consent_name, consent_language."
            )
        voice_name, sample, consent_id, digest = self._prepare(samples, consent, name)
        consent_used: VoiceConsent | str
        with self.config.telemetry.call("fine_tune", VOICE_MODEL) as call:
            if consent_id is None:
                consent_used = self.upload_consent(
                    cast("AudioInput", consent), name=consent_name or voice_name, language=consent_language
                )
                consent_id = consent_used.id
                if digest is not None:
                    self._consent_ids[digest] = consent_id
            else:
                consent_used = consent if isinstance(consent, VoiceConsent) else consent_id
            form = {"name": voice_name, "consent": consent_id}
            response = self.config.http.request(
                "POST", VOICES_PATH, data=form, files={"audio_sample": sample}, idempotent=False
            )
            job = self._finish(response.json(), consent_used)
            call.finish(response_model=VOICE_MODEL, response_id=job.id)
        return job

    async def atrain(
        self,
        samples: AudioInput | Sequence[AudioInput],
        *,
        consent: AudioInput | VoiceConsent | str | None = None,
        name: str | None = None,
        consent_name: str | None = None,
        consent_language: str = "en-US",
        **options: Any,
    ) -> OpenAICustomVoiceJob:
        """The async twin of :meth:`train`."""
        if options:
            raise InvalidArgument(
                f"OpenAI custom voices do not take {', '.join(sorted(options))}; they take samples, consent, "
                "name, consent_name, consent_language."
            )
        voice_name, sample, consent_id, digest = self._prepare(samples, consent, name)
        consent_used: VoiceConsent | str
        with self.config.telemetry.call("fine_tune", VOICE_MODEL) as call:
            if consent_id is None:
                consent_used = await self.aupload_consent(
                    cast("AudioInput", consent), name=consent_name or voice_name, language=consent_language
                )
                consent_id = consent_used.id
                if digest is not None:
                    self._consent_ids[digest] = consent_id
            else:
                consent_used = consent if isinstance(consent, VoiceConsent) else consent_id
            form = {"name": voice_name, "consent": consent_id}
            response = await self.config.http.arequest(
                "POST", VOICES_PATH, data=form, files={"audio_sample": sample}, idempotent=False
            )
            job = self._finish(response.json(), consent_used)
            call.finish(response_model=VOICE_MODEL, response_id=job.id)
        return job

    def get(self, job_id: str) -> OpenAICustomVoiceJob:
        """Re-attach to a custom voice by its id (``voice_...``). OpenAI cannot read a voice back, so a
        voice not made in this process is trusted by its id (speech with it fails if it is wrong)."""
        if job_id in self._jobs:
            return self._jobs[job_id]
        if not isinstance(job_id, str) or not job_id.startswith("voice_"):
            raise InvalidArgument(f"{job_id!r} is not an OpenAI custom voice id (they start with 'voice_').")
        return OpenAICustomVoiceJob(
            Voice(id=job_id, name=job_id, provider="openai", custom=True), consent=None
        )

    def list(self, *, limit: int | None = None) -> list[FineTuneJobInfo]:
        """The custom voices made with this object in this process (OpenAI has no endpoint that lists
        custom voices; :meth:`consents` lists the account's consents)."""
        infos = [job.info for job in self._jobs.values()]
        return infos[:limit] if limit is not None else infos

    def cancel(self, job_id: str) -> FineTuneJobInfo:
        """Nothing to cancel: custom voices are made at once."""
        return self.get(job_id).info


__all__ = ["CONSENT_HINT", "OpenAICustomVoiceJob", "OpenAIVoiceFineTuning", "join_wavs", "read_sample"]
