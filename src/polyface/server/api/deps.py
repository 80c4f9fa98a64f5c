"""What every endpoint needs: the app's studio and settings, a persona by name, and JSON of snapshots."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path, Request
from starlette.concurrency import run_in_threadpool

from polyface.persona.studio import PersonaHandle, Studio
from polyface.server.settings import ServerSettings

MAX_ID: Final = 2**31 - 1
"""The largest row id a database integer column holds (PostgreSQL ``integer``)."""
RowId = Annotated[int, Path(ge=0, le=MAX_ID, description="a row id")]
"""A row id in a URL: out of range is 422, never a database overflow."""


def studio_of(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def settings_of(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def persona(request: Request, name: str) -> PersonaHandle:
    """The persona called ``name`` (PersonaNotFound -> 404 naming the known ones). Blocking: call it from a
    sync endpoint or through :func:`persona_async`."""
    return studio_of(request).personas.get(name)


async def persona_async(request: Request, name: str) -> PersonaHandle:
    return await run_in_threadpool(persona, request, name)


def media_url(request: Request, sha256: str) -> str:
    """Where a stored blob is served (a path on this server)."""
    return str(request.app.url_path_for("get_media", sha256=sha256))


def public(model: Any, **extra: Any) -> dict[str, Any]:
    """A snapshot as JSON without server file paths (``path``): clients fetch bytes by URL instead."""
    data: dict[str, Any] = model.model_dump(mode="json", exclude={"path"})
    data.update(extra)
    return data
