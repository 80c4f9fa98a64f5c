"""Answers and conversations: ``POST /api/personas/{name}/respond``, the persona's conversations, one
conversation's turns with the URLs of their media.

``respond`` takes JSON (``{"input": "...", "output_modalities": ["text", "voice"], "conversation": 3}``)
or a multipart form with an ``input`` recording (transcribed first) and the same fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from polyface.errors import InvalidArgument
from polyface.persona.respond import (
    AUDIO_SUFFIXES,
    PersonaResponse,
    TurnInfo,
    conversation_history,
    conversations,
)
from polyface.persona.studio import PersonaHandle
from polyface.persona.tables import Conversation, Persona
from polyface.server.api.deps import (
    MAX_ID,
    RowId,
    media_url,
    persona,
    persona_async,
    public,
    settings_of,
    studio_of,
)
from polyface.server.api.uploads import is_multipart, read_multipart, upload_folder
from polyface.server.errors import ApiError

router = APIRouter(tags=["conversations"])

MAX_INPUT_AUDIO: Final = 50 * 1024 * 1024


Size = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{1,3}x[1-9][0-9]{1,3}$")]
Seed = Annotated[int, Field(ge=0, lt=2**32)]
Side = Annotated[int, Field(ge=16, le=4096)]


class _Options(BaseModel):
    """Options a client may pass on to a provider call: named, typed and bounded (never a file path,
    a model, a voice or raw fields: those come from the avatar)."""

    model_config = ConfigDict(extra="forbid")


class VoiceOptions(_Options):
    speed: float | None = Field(None, ge=0.25, le=4.0)
    sample_rate: int | None = Field(None, ge=8000, le=48000)
    language: str | None = Field(None, max_length=35)
    instructions: str | None = Field(None, max_length=4000)


class ImageOptions(_Options):
    size: Size | None = None
    width: Side | None = None
    height: Side | None = None
    steps: int | None = Field(None, ge=1, le=100)
    seed: Seed | None = None
    negative_prompt: str | None = Field(None, max_length=2000)


class VideoOptions(ImageOptions):
    fps: float | None = Field(None, ge=1, le=60)


class RespondRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="what the persona should answer")
    output_modalities: list[str] = Field(default_factory=lambda: ["text"])
    conversation: int | None = Field(
        None, ge=1, le=MAX_ID, description="continue this conversation (None: a new one)"
    )
    max_tokens: int | None = Field(None, gt=0, le=1_000_000)
    temperature: float | None = Field(None, ge=0, le=2)
    seed: Seed | None = None
    voice_options: VoiceOptions | None = None
    video_options: VideoOptions | None = None
    image_options: ImageOptions | None = None


_RESPOND_DOC: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RespondRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["input"],
                    "properties": {
                        "input": {"type": "string", "format": "binary", "description": "a recording"},
                        "output_modalities": {"type": "string", "description": "comma-separated"},
                        "conversation": {"type": "integer"},
                    },
                }
            },
        },
    }
}


def response_json(request: Request, answer: PersonaResponse) -> dict[str, Any]:
    data: dict[str, Any] = answer.model_dump(mode="json", exclude={"voice", "video", "image"})
    data["outputs"] = {
        kind: {
            "url": media_url(request, out.sha256),
            "mime_type": out.mime_type,
            "sha256": out.sha256,
            "meta": out.meta,
        }
        for kind, out in answer.outputs.items()
    }
    return data


def turn_json(request: Request, turn: TurnInfo) -> dict[str, Any]:
    data = public(turn, media=[])
    data["media"] = [public(m, url=media_url(request, m.sha256)) for m in turn.media]
    return data


def _text_input(text: str) -> str:
    """Refuse text that names an audio file: the server never reads its own files for a client."""
    stripped = text.strip()
    if "\n" not in stripped and Path(stripped).suffix.lower() in AUDIO_SUFFIXES:
        raise InvalidArgument(
            f"input {stripped!r} looks like a file name; ask in words, or upload the recording as the "
            "'input' file of a multipart request."
        )
    return text


def _respond(handle: PersonaHandle, input: Any, body: RespondRequest) -> PersonaResponse:
    options = body.model_dump(exclude={"input", "output_modalities", "conversation"}, exclude_none=True)
    return handle.respond(
        input, output_modalities=body.output_modalities, conversation=body.conversation, **options
    )


@router.post("/personas/{name}/respond", openapi_extra=_RESPOND_DOC)
async def respond(name: str, request: Request) -> dict[str, Any]:
    """Answer in character; each asked output (voice, video, image) is stored and given as a URL."""
    handle = await persona_async(request, name)
    if not is_multipart(request):
        try:
            body = RespondRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise _invalid(exc) from None
        answer = await run_in_threadpool(_respond, handle, _text_input(body.input), body)
        return response_json(request, answer)
    limit = min(settings_of(request).max_upload_bytes, MAX_INPUT_AUDIO)
    async with upload_folder(studio_of(request).data_dir / "uploads") as folder:
        form = await read_multipart(request, folder, limit=limit)
        fields: dict[str, Any] = {"input": form.value("input") or ""}
        asked = [m.strip() for v in form.values("output_modalities") for m in v.split(",") if m.strip()]
        if asked:
            fields["output_modalities"] = asked
        if form.value("conversation"):
            fields["conversation"] = form.value("conversation")
        recordings = [f for f in form.files if f.field == "input"]
        if len(recordings) != 1:
            raise ApiError(400, "bad_request", "attach the recording as one file part named 'input'.")
        try:
            body = RespondRequest.model_validate(fields)
        except ValidationError as exc:
            raise _invalid(exc) from None
        recording = await run_in_threadpool(recordings[0].path.read_bytes)
        answer = await run_in_threadpool(_respond, handle, recording, body)
    return response_json(request, answer)


def _invalid(exc: ValidationError) -> ApiError:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
    return ApiError(
        422,
        "invalid_request",
        f'the request is not valid ({problems}); send {{"input": "...", "output_modalities": ["text"]}}.',
    )


@router.get("/personas/{name}/conversations")
def list_conversations(name: str, request: Request) -> list[dict[str, Any]]:
    return [public(c) for c in conversations(persona(request, name))]


@router.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: RowId, request: Request) -> dict[str, Any]:
    """Every turn in order, each with the URLs of its media."""
    studio = studio_of(request)
    with studio.db.session() as session:
        found = session.execute(
            select(Persona.name, Conversation.title)
            .join(Persona, Persona.id == Conversation.persona_id)
            .where(Conversation.id == conversation_id)
        ).first()
    if found is None:
        raise ApiError(
            404,
            "conversation_not_found",
            f"no conversation {conversation_id}; GET /api/personas/<name>/conversations lists a persona's.",
        )
    name, title = found
    turns = conversation_history(studio.personas.get(name), conversation_id)
    return {
        "id": conversation_id,
        "persona": name,
        "title": title,
        "turns": [turn_json(request, t) for t in turns],
    }
