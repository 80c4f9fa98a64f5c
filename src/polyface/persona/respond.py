"""``persona.respond(input, output_modalities=[...])``: the seed's unified inference.

One call answers ``input`` (text, or a recording that is transcribed first) in character with the
persona's active avatar, then derives the other asked outputs from that answer:

- **text**: the avatar's text model, with the persona's system prompt and the conversation so far;
- **voice**: the answer spoken with the avatar's voice (WAV);
- **video**: the talking head speaking that voice (MP4; needs the voice, which is made even when only
  the video is asked);
- **image**: a portrait of the persona in the mood of the answer (PNG).

Every output is stored in the media store and linked to the assistant's turn (``TurnMedia``); the
input recording is kept with the user's turn. A failure anywhere stores nothing of the exchange.

```python
answer = rex.respond("What matters most?", output_modalities=["text", "voice", "video"])
answer.text, answer.voice.path, answer.video.path
again = rex.respond("Why?", conversation=answer.conversation_id)   # remembers the first exchange
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field
from sqlalchemy import func, select

from polyface.errors import CapabilityNotSupported, InvalidArgument, PolyfaceError
from polyface.persona.avatar import model_for
from polyface.persona.errors import NoAvatar
from polyface.persona.store import put_blob
from polyface.persona.tables import Avatar, Conversation, Persona, Turn, TurnMedia
from polyface.persona.views import AvatarVersion, MediaOutput
from polyface.types._base import PolyfaceModel
from polyface.types.usage import Usage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from polyface.persona.studio import PersonaHandle

OUTPUT_MODALITIES: Final[tuple[str, ...]] = ("text", "voice", "video", "image")
"""What ``respond`` can produce. ``text`` is always produced: the others are made from it."""

MEMORY_TURNS: Final = 12
"""How many earlier turns (user and assistant messages) the text model sees at most."""
MEMORY_CHARS: Final = 6000
"""The most characters of earlier turns the text model sees (the oldest are dropped first)."""

AUDIO_SUFFIXES: Final = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".webm")

OPENAI_SPEECH_MODEL: Final = "gpt-4o-mini-tts"
"""The OpenAI model that speaks custom voices (``voice_...``) and presets."""
LOCAL_SPEECH_MODEL: Final = "espeak-ng"
LOCAL_RECOGNIZER: Final = "pocketsphinx-en-us"


# ---- what respond hands out -----------------------------------------------------------------------


class PersonaResponse(PolyfaceModel):
    """One answer of a persona: the text, and each asked output as a stored file with its bytes."""

    persona: str
    text: str
    """The answer, in character."""
    input_text: str
    """What the persona answered: the input text, or the transcript of the input recording."""
    voice: MediaOutput | None = None
    """The answer spoken with the avatar's voice (WAV), when asked."""
    video: MediaOutput | None = None
    """The talking head speaking the answer (MP4), when asked."""
    image: MediaOutput | None = None
    """A portrait of the persona (PNG), when asked."""
    conversation_id: int
    turn_id: int
    """The assistant's turn (its outputs are linked to it)."""
    user_turn_id: int
    avatar_version: int
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """The model used per modality: ``{"text": {"provider": "local", "model": "..."}, "voice": ...}``
    (``audio`` when the input was transcribed)."""
    usage: Usage = Field(default_factory=Usage)
    """Everything this answer used, summed (tokens, audio and video seconds, images)."""
    cost: float | None = None
    """USD for the whole answer; None when a provider's price for one of the parts is unknown."""
    costs: dict[str, float | None] = Field(default_factory=dict)
    """USD per modality (None where unknown)."""

    @property
    def outputs(self) -> dict[str, MediaOutput]:
        """The media outputs that were asked, by modality."""
        found = {"voice": self.voice, "video": self.video, "image": self.image}
        return {k: v for k, v in found.items() if v is not None}


class TurnMediaInfo(PolyfaceModel):
    """One stored file of a turn (``voice``, ``video``, ``image`` or ``input_audio``)."""

    kind: str
    mime_type: str
    sha256: str
    path: Path | None = None
    """The stored file (None for a remote media store: read it with ``studio.media.read``)."""
    meta: dict[str, Any] = Field(default_factory=dict)


class TurnInfo(PolyfaceModel):
    id: int
    role: str
    text: str
    created_at: datetime | None = None
    avatar_id: int | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    cost: float | None = None
    media: list[TurnMediaInfo] = Field(default_factory=list)


class ConversationInfo(PolyfaceModel):
    id: int
    persona: str
    title: str = ""
    created_at: datetime | None = None
    turns: int = 0
    last_turn_at: datetime | None = None


# ---- input ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Input:
    text: str | None
    audio: bytes | None = None
    audio_mime: str | None = None
    source: str = ""


def read_input(value: Any) -> _Input:
    """Text, or a recording: bytes, a path, or a string naming an existing audio file."""
    from polyface.media import acoustics

    audio_source: Any = None
    if isinstance(value, bytes | bytearray | memoryview | os.PathLike) or hasattr(value, "read"):
        audio_source = value
    elif isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            raise InvalidArgument("input is empty: pass what the persona should answer, or a recording.")
        looks_like_file = "\n" not in stripped and Path(stripped).suffix.lower() in AUDIO_SUFFIXES
        if looks_like_file and Path(stripped).expanduser().is_file():
            audio_source = Path(stripped).expanduser()
        elif looks_like_file and len(stripped.split()) == 1:
            raise InvalidArgument(
                f"{stripped!r} looks like an audio file but does not exist; pass an existing recording "
                "(WAV or MP3) or the question as text."
            )
        else:
            return _Input(text=stripped)
    else:
        raise InvalidArgument(
            f"input must be text, or a recording (a path or bytes), not {type(value).__name__}."
        )
    audio = acoustics.read_audio(audio_source)
    source = os.fspath(audio_source) if isinstance(audio_source, str | os.PathLike) else audio.filename
    return _Input(text=None, audio=audio.data, audio_mime=audio.mime_type, source=source)


def check_modalities(asked: Sequence[str] | str) -> tuple[str, ...]:
    """The asked outputs in a fixed order, ``text`` included; InvalidArgument for unknown ones.
    A string may list several: ``"text,voice"``."""
    items = [m.strip() for m in asked.split(",") if m.strip()] if isinstance(asked, str) else list(asked)
    unknown = [m for m in items if m not in OUTPUT_MODALITIES]
    if unknown:
        raise InvalidArgument(
            f"unknown output modality {', '.join(map(repr, unknown))}; use any of "
            f"{', '.join(OUTPUT_MODALITIES)} (text is always produced)."
        )
    return tuple(m for m in OUTPUT_MODALITIES if m == "text" or m in items)


# ---- text ------------------------------------------------------------------------------------------


def system_prompt(row: Persona) -> str:
    """The persona's own system prompt, else one built from its name, description and style notes."""
    if row.system_prompt and row.system_prompt.strip():
        return row.system_prompt.strip()
    parts = [f"You are {row.name}."]
    if row.description.strip():
        parts.append(row.description.strip())
    if row.style_notes.strip():
        parts.append(f"How you speak: {row.style_notes.strip()}")
    parts.append(
        f"Stay in character: answer as {row.name} would, in your own voice, briefly (one to three sentences)."
    )
    return " ".join(parts)


def memory(session: Session, conversation_id: int, *, turns: int, chars: int) -> list[dict[str, str]]:
    """The conversation's last turns as chat messages: at most ``turns`` of them and ``chars``
    characters, the oldest dropped first; it starts with a user message."""
    rows = session.scalars(
        select(Turn)
        .where(Turn.conversation_id == conversation_id, Turn.text != "")
        .order_by(Turn.id.desc())
        .limit(max(0, turns))
    ).all()
    kept: list[dict[str, str]] = []
    used = 0
    for row in rows:
        if used + len(row.text) > chars:
            break
        kept.append({"role": "assistant" if row.role == "assistant" else "user", "content": row.text})
        used += len(row.text)
    kept.reverse()
    while kept and kept[0]["role"] != "user":
        kept.pop(0)
    return kept


# ---- provider-specific calls -------------------------------------------------------------------------


def speech_arguments(ref: Mapping[str, Any]) -> dict[str, Any]:
    """The ``model=``/``voice=`` (and ``format=``) of ``adapter.audio.speak`` for an avatar's voice.

    - ``local``: ``espeak-ng:<name>`` (a trained voice) is spoken by ``espeak-ng`` with that voice;
      ``espeak-ng`` uses ``ref["voice"]`` or the default preset; any other model id is taken as a preset.
    - ``openai``: a custom voice (``voice_...``) or a preset name is spoken by ``gpt-4o-mini-tts``; a
      speech model (``gpt-4o-mini-tts``, ``tts-1``...) needs ``ref["voice"]``.
    - ``together`` (and others): ``<speech model>:<voice name>`` (``cartesia/sonic:friendly sidekick``)
      or the model with ``ref["voice"]``.
    """
    provider, model = str(ref["provider"]), str(ref["model"])
    voice = ref.get("voice")
    if provider == "local":
        if model.startswith(f"{LOCAL_SPEECH_MODEL}:"):
            return {"model": LOCAL_SPEECH_MODEL, "voice": model, "format": "wav"}
        if model == LOCAL_SPEECH_MODEL:
            return {"model": model, "format": "wav", **({"voice": str(voice)} if voice else {})}
        return {"model": LOCAL_SPEECH_MODEL, "voice": model, "format": "wav"}
    if provider == "openai":
        if model.startswith(("gpt-", "tts-")):
            if not voice:
                raise _voice_missing(provider, model, "a preset such as 'coral' or a custom voice id")
            return {"model": model, "voice": str(voice), "format": "wav"}
        return {"model": OPENAI_SPEECH_MODEL, "voice": voice or model, "format": "wav"}
    if not voice and ":" in model:
        model, voice = model.split(":", 1)
    if not voice:
        raise _voice_missing(provider, model, f"one of adapter.voice.list(model={model!r})")
    return {"model": model, "voice": str(voice), "format": "wav"}


def _voice_missing(provider: str, model: str, example: str) -> NoAvatar:
    return NoAvatar(
        f"the avatar's voice {provider}:{model} names no voice to speak with; set one, e.g. "
        f"persona.set_avatar({{'voice': '{provider}:{model}:<voice>'}}) with <voice> {example}."
    )


def video_arguments(ref: Mapping[str, Any], image_ref: Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments of ``adapter.video.generate`` for a talking head (besides the voice's audio)."""
    provider = str(ref["provider"])
    if provider != "local":
        raise CapabilityNotSupported(
            provider,
            "talking-head video from a voice",
            offered_by=("local",),
            reason=(
                f"{provider} renders video from prompts, not a persona speaking a given voice; set the "
                "avatar's video to the local talking head: "
                "persona.set_avatar({'video': 'local:talking-head'})"
            ),
        )
    arguments: dict[str, Any] = {"model": str(ref["model"])}
    if image_ref is not None and image_ref.get("provider") == "local":
        arguments["image_model"] = str(image_ref["model"])
    return arguments


@dataclass(frozen=True)
class _Who:
    name: str
    description: str
    style_notes: str


def image_prompt(row: _Who, answer: str, said: str) -> str:
    """What the image model is asked to draw: the persona, in the mood of the exchange."""
    who = row.description.strip() or f"the persona {row.name}"
    mood = " ".join(answer.split())[:240]
    return f"Portrait of {row.name}: {who} Answering {' '.join(said.split())[:120]!r} with: {mood}"


def _sniff_image(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


# ---- one answer ------------------------------------------------------------------------------------


@dataclass
class _Output:
    kind: str
    data: bytes
    mime_type: str
    meta: dict[str, Any]


@dataclass
class _Spend:
    usage: Usage
    costs: dict[str, float | None]

    def add(self, modality: str, usage: Usage | None, cost: float | None) -> None:
        if usage is not None:
            self.usage = self.usage + usage
        if modality not in self.costs:
            self.costs[modality] = cost
        else:
            before = self.costs[modality]
            self.costs[modality] = None if before is None or cost is None else before + cost

    @property
    def total(self) -> float | None:
        if any(c is None for c in self.costs.values()):
            return None
        return round(sum(c or 0.0 for c in self.costs.values()), 10)


def _ref(version: AvatarVersion, modality: str) -> dict[str, Any]:
    ref = model_for(version, modality)
    if not ref.get("provider") or not ref.get("model"):
        raise NoAvatar(
            f"avatar version {version.version} of {version.persona!r} has a broken {modality} model "
            f"({ref!r}); set it again: persona.set_avatar({{'{modality}': 'provider:model'}})."
        )
    return ref


def _public(ref: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"provider": ref["provider"], "model": ref["model"], **extra}


def respond(
    persona: PersonaHandle,
    input: Any,  # the seed's name
    *,
    output_modalities: Sequence[str] | str = ("text",),
    conversation: int | None = None,
    memory_turns: int = MEMORY_TURNS,
    memory_chars: int = MEMORY_CHARS,
    voice_options: Mapping[str, Any] | None = None,
    video_options: Mapping[str, Any] | None = None,
    image_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> PersonaResponse:
    """Answer ``input`` in character and produce each of ``output_modalities`` from that answer.

    ``input``: text, or a recording (a path to a WAV/MP3 file, or its bytes), transcribed first with
    the avatar's ``audio`` model (else the local recognizer). ``output_modalities``: any of text, voice,
    video, image. ``conversation``: the id of an earlier answer's conversation to continue (its last
    ``memory_turns`` turns, at most ``memory_chars`` characters, are given to the text model); None starts
    a new one. ``options`` (``max_tokens``, ``temperature``, ``seed``...) go to the text model;
    ``voice_options``, ``video_options`` (``size``, ``fps``...) and ``image_options`` (``size``, ``seed``...)
    to the other calls. Raises NoAvatar when the persona has no active avatar or lacks an asked model.
    """
    studio = persona.studio
    asked = check_modalities(output_modalities)
    given = read_input(input)
    version = persona.avatar.require_active()
    text_ref = _ref(version, "text")
    make_voice = "voice" in asked or "video" in asked
    voice_ref = _ref(version, "voice") if make_voice else None
    video_ref = _ref(version, "video") if "video" in asked else None
    image_ref = _ref(version, "image") if "image" in asked else None
    video_call = video_arguments(video_ref, version.models.get("image")) if video_ref is not None else None
    speech_call = speech_arguments(voice_ref) if voice_ref is not None else None

    with studio.db.session() as session:
        row = session.get(Persona, persona.id)
        if row is None:
            raise InvalidArgument(f"persona {persona.name!r} was deleted.")
        prompt = system_prompt(row)
        history: list[dict[str, str]] = []
        if conversation is not None:
            _own_conversation(session, persona, conversation)
            history = memory(session, conversation, turns=memory_turns, chars=memory_chars)
        who = _Who(row.name, row.description, row.style_notes)

    spend = _Spend(Usage(), {})
    models: dict[str, dict[str, Any]] = {}
    outputs: list[_Output] = []

    # what was said
    said = given.text or ""
    input_meta: dict[str, Any] = {}
    if given.audio is not None:
        heard_ref = version.models.get("audio") or {"provider": "local", "model": LOCAL_RECOGNIZER}
        heard = studio.adapter(str(heard_ref["provider"])).audio.transcribe(
            given.audio, model=str(heard_ref["model"])
        )
        said = heard.text.strip()
        models["audio"] = _public(heard_ref)
        spend.add("audio", heard.usage, heard.cost)
        input_meta = {"source": given.source, **_public(heard_ref), "duration": heard.duration}
        if not said:
            raise InvalidArgument(
                f"no words were recognised in the recording {given.source or ''} "
                f"({heard_ref['provider']}:{heard_ref['model']}); record it louder or closer, or type it."
            )

    # text
    messages = [{"role": "system", "content": prompt}, *history, {"role": "user", "content": said}]
    reply = studio.adapter(str(text_ref["provider"])).text.generate(
        model=str(text_ref["model"]), messages=messages, **options
    )
    answer = reply.text.strip()
    models["text"] = _public(text_ref)
    spend.add("text", reply.usage, reply.cost)
    if not answer:
        raise PolyfaceError(
            f"the text model {text_ref['provider']}:{text_ref['model']} gave an empty answer "
            f"(finish reason: {reply.finish_reason}); ask again, or raise max_tokens."
        )

    # voice (also when only the video is asked: the talking head speaks it)
    speech_wav: bytes | None = None
    if voice_ref is not None and speech_call is not None:
        speech = studio.adapter(str(voice_ref["provider"])).audio.speak(
            text=answer, **speech_call, **dict(voice_options or {})
        )
        speech_wav = speech.audio
        models["voice"] = _public(voice_ref, voice=speech_call.get("voice"))
        spend.add("voice", speech.usage, speech.cost)
        if "voice" in asked:
            mime = "audio/wav" if speech.format == "wav" else "application/octet-stream"
            outputs.append(
                _Output(
                    "voice",
                    speech.audio,
                    mime,
                    {
                        **models["voice"],
                        "duration": speech.duration_seconds,
                        "sample_rate": speech.sample_rate,
                        "cost": speech.cost,
                    },
                )
            )

    # video
    if video_ref is not None and video_call is not None and speech_wav is not None:
        job = studio.adapter(str(video_ref["provider"])).video.generate(
            audio=speech_wav,
            prompt=image_prompt(who, answer, said),
            **video_call,
            **dict(video_options or {}),
        )
        job.wait()
        clip = job.result()
        data = clip.data if clip.data is not None else _fetch(clip.url)
        models["video"] = _public(video_ref, **{k: v for k, v in video_call.items() if k == "image_model"})
        spend.add("video", clip.usage, clip.cost)
        outputs.append(
            _Output(
                "video",
                data,
                clip.mime_type,
                {
                    **models["video"],
                    "duration": clip.duration_seconds,
                    "width": clip.width,
                    "height": clip.height,
                    "cost": clip.cost,
                },
            )
        )

    # image
    if image_ref is not None:
        picture = studio.adapter(str(image_ref["provider"])).image.generate(
            model=str(image_ref["model"]),
            prompt=image_prompt(who, answer, said),
            **dict(image_options or {}),
        )
        first = picture.images[0]
        data = first.bytes()
        models["image"] = _public(image_ref)
        spend.add("image", picture.usage, picture.cost)
        outputs.append(
            _Output(
                "image",
                data,
                first.mime_type or _sniff_image(data),
                {**models["image"], "width": first.width, "height": first.height, "cost": picture.cost},
            )
        )

    return _store(
        persona,
        version,
        conversation=conversation,
        said=said,
        given=given,
        input_meta=input_meta,
        answer=answer,
        outputs=outputs,
        models=models,
        spend=spend,
    )


def _fetch(url: str | None) -> bytes:
    from polyface.types.image import fetch_url_bytes

    if url is None:
        raise PolyfaceError("the video provider returned neither the video nor a URL to fetch it from.")
    return fetch_url_bytes(url)


def _store(
    persona: PersonaHandle,
    version: AvatarVersion,
    *,
    conversation: int | None,
    said: str,
    given: _Input,
    input_meta: dict[str, Any],
    answer: str,
    outputs: list[_Output],
    models: dict[str, dict[str, Any]],
    spend: _Spend,
) -> PersonaResponse:
    """Write the exchange in one transaction: the conversation (when new), both turns, their media."""
    studio = persona.studio
    media: dict[str, MediaOutput] = {}
    with studio.db.session() as session:
        if conversation is None:
            row = Conversation(persona_id=persona.id, title=" ".join(said.split())[:200])
            session.add(row)
            session.flush()
            conversation = row.id
        else:
            _own_conversation(session, persona, conversation)
        user = Turn(conversation_id=conversation, role="user", text=said, usage={}, cost=None)
        session.add(user)
        session.flush()
        if given.audio is not None and given.audio_mime is not None:
            blob = put_blob(session, studio.media, given.audio, given.audio_mime)
            session.add(
                TurnMedia(turn_id=user.id, kind="input_audio", media_sha256=blob.sha256, meta=input_meta)
            )
        avatar_id = session.scalar(
            select(Avatar.id).where(Avatar.persona_id == persona.id, Avatar.version == version.version)
        )
        assistant = Turn(
            conversation_id=conversation,
            role="assistant",
            text=answer,
            avatar_id=avatar_id,
            usage={**spend.usage.model_dump(), "costs": dict(spend.costs), "models": models},
            cost=spend.total,
        )
        session.add(assistant)
        session.flush()
        for out in outputs:
            blob = put_blob(session, studio.media, out.data, out.mime_type)
            session.add(
                TurnMedia(turn_id=assistant.id, kind=out.kind, media_sha256=blob.sha256, meta=out.meta)
            )
            # model_construct: views.MediaOutput's ``bytes()`` method shadows the ``bytes`` annotation of
            # ``data`` for pydantic, which then refuses real bytes; these values are built here, typed.
            media[out.kind] = MediaOutput.model_construct(
                kind=out.kind,
                mime_type=blob.mime_type,
                sha256=blob.sha256,
                path=studio.media.path(blob.sha256, blob.mime_type),
                data=out.data,
                meta=out.meta,
            )
        session.flush()
        user_id, turn_id = user.id, assistant.id
    return PersonaResponse(
        persona=persona.name,
        text=answer,
        input_text=said,
        voice=media.get("voice"),
        video=media.get("video"),
        image=media.get("image"),
        conversation_id=conversation,
        turn_id=turn_id,
        user_turn_id=user_id,
        avatar_version=version.version,
        models=models,
        usage=spend.usage,
        cost=spend.total,
        costs=dict(spend.costs),
    )


# ---- listing ---------------------------------------------------------------------------------------


def _own_conversation(session: Session, persona: PersonaHandle, conversation_id: int) -> Conversation:
    row = session.get(Conversation, conversation_id) if isinstance(conversation_id, int) else None
    if row is None or row.persona_id != persona.id:
        known = list(
            session.scalars(
                select(Conversation.id).where(Conversation.persona_id == persona.id).order_by(Conversation.id)
            )
        )
        listed = ", ".join(map(str, known[-10:])) if known else "none yet"
        raise InvalidArgument(
            f"persona {persona.name!r} has no conversation {conversation_id!r} (its latest: {listed}); "
            "pass conversation=None to start a new one."
        )
    return row


def conversations(persona: PersonaHandle) -> list[ConversationInfo]:
    """The persona's conversations, oldest first, with how many turns each has."""
    with persona.studio.db.session() as session:
        rows = session.execute(
            select(
                Conversation.id,
                Conversation.title,
                Conversation.created_at,
                func.count(Turn.id),
                func.max(Turn.created_at),
            )
            .outerjoin(Turn, Turn.conversation_id == Conversation.id)
            .where(Conversation.persona_id == persona.id)
            .group_by(Conversation.id, Conversation.title, Conversation.created_at)
            .order_by(Conversation.id)
        ).all()
        return [
            ConversationInfo(
                id=cid,
                persona=persona.name,
                title=title,
                created_at=created,
                turns=int(count),
                last_turn_at=last,
            )
            for cid, title, created, count, last in rows
        ]


def conversation_history(persona: PersonaHandle, conversation_id: int) -> list[TurnInfo]:
    """Every turn of a conversation in order, each with its stored media (paths; bytes via
    ``studio.media.read(sha256, mime_type)``)."""
    from polyface.persona.tables import MediaBlob

    studio = persona.studio
    with studio.db.session() as session:
        _own_conversation(session, persona, conversation_id)
        turns = session.scalars(
            select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.id)
        ).all()
        found: list[TurnInfo] = []
        for turn in turns:
            items = session.execute(
                select(TurnMedia, MediaBlob.mime_type)
                .join(MediaBlob, MediaBlob.sha256 == TurnMedia.media_sha256)
                .where(TurnMedia.turn_id == turn.id)
                .order_by(TurnMedia.id)
            ).all()
            found.append(
                TurnInfo(
                    id=turn.id,
                    role=turn.role,
                    text=turn.text,
                    created_at=turn.created_at,
                    avatar_id=turn.avatar_id,
                    usage=dict(turn.usage or {}),
                    cost=turn.cost,
                    media=[
                        TurnMediaInfo(
                            kind=item.kind,
                            mime_type=mime,
                            sha256=item.media_sha256,
                            path=studio.media.path(item.media_sha256, mime),
                            meta=dict(item.meta or {}),
                        )
                        for item, mime in items
                    ],
                )
            )
        return found
