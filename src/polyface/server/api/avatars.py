"""``/api/personas/{name}/avatars``: versions (list, create from runs or a mapping, activate, roll back)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from polyface.errors import InvalidArgument
from polyface.server.api.deps import RowId, persona, public

router = APIRouter(tags=["avatars"])


class AvatarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: list[str] | None = Field(None, description="ids of finished training runs")
    models: dict[str, str | dict[str, Any]] | None = Field(
        None, description='{modality: "provider:model"}, e.g. {"text": "local:smollm2-135m-instruct"}'
    )
    note: str = ""
    activate: bool = True


@router.get("/personas/{name}/avatars")
def list_avatars(name: str, request: Request) -> dict[str, Any]:
    versions = persona(request, name).avatar.versions()
    active = next((v.version for v in versions if v.active), None)
    return {"active_version": active, "versions": [public(v) for v in versions]}


@router.post("/personas/{name}/avatars", status_code=201)
def create_avatar(name: str, body: AvatarCreate, request: Request) -> dict[str, Any]:
    """A new version from run ids or a mapping (modalities it lacks are carried over from the active
    version); active unless ``activate`` is false."""
    if (body.runs is None) == (body.models is None):
        raise InvalidArgument(
            'give either "runs" (ids of finished training runs) or "models" '
            '({"voice": "local:espeak-ng"}), not both or neither.'
        )
    source: Any = body.runs if body.runs is not None else body.models
    version = persona(request, name).avatar.create_version(source, note=body.note, activate=body.activate)
    return public(version)


@router.post("/personas/{name}/avatars/rollback")
def rollback_avatar(name: str, request: Request) -> dict[str, Any]:
    return public(persona(request, name).avatar.rollback())


@router.post("/personas/{name}/avatars/{version}/activate")
def activate_avatar(name: str, version: RowId, request: Request) -> dict[str, Any]:
    return public(persona(request, name).avatar.activate(version))
