"""``/api/personas``: create, list, show, update and delete personas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from polyface.server.api.deps import persona, public, studio_of

router = APIRouter(tags=["personas"])


class PersonaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="1-40 lowercase letters, digits, '-' or '_'")
    description: str = ""
    style_notes: str = ""
    system_prompt: str | None = None


class PersonaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    style_notes: str | None = None
    system_prompt: str | None = None


@router.post("/personas", status_code=201)
def create_persona(body: PersonaCreate, request: Request) -> dict[str, Any]:
    handle = studio_of(request).personas.create(
        body.name,
        description=body.description,
        style_notes=body.style_notes,
        system_prompt=body.system_prompt,
    )
    return public(handle.info())


@router.get("/personas")
def list_personas(request: Request) -> list[dict[str, Any]]:
    return [public(info) for info in studio_of(request).personas.list()]


@router.get("/personas/{name}")
def get_persona(name: str, request: Request) -> dict[str, Any]:
    handle = persona(request, name)
    info = handle.info()
    active = handle.avatar.active()
    return public(
        info,
        consents=[public(c) for c in handle.consent.list()],
        avatar=public(active) if active is not None else None,
    )


@router.patch("/personas/{name}")
def update_persona(name: str, body: PersonaUpdate, request: Request) -> dict[str, Any]:
    handle = persona(request, name)
    return public(
        handle.update(
            description=body.description, style_notes=body.style_notes, system_prompt=body.system_prompt
        )
    )


@router.delete("/personas/{name}", status_code=204)
def delete_persona(name: str, request: Request) -> Response:
    studio_of(request).personas.delete(name)
    return Response(status_code=204)
