"""``GET /api/media/{sha256}``: a stored blob with its MIME type, when some row refers to it."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from polyface.persona.studio import Studio
from polyface.persona.tables import MEDIA_REFERENCES, MediaBlob
from polyface.server.api.deps import studio_of
from polyface.server.errors import ApiError

router = APIRouter(tags=["media"])

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
IMMUTABLE = "public, max-age=31536000, immutable"
"""Blobs are named by their content: a URL's bytes never change."""


def referenced_mime(studio: Studio, sha256: str) -> str | None:
    """The blob's MIME type when it is stored and a sample, consent or turn refers to it."""
    with studio.db.session() as session:
        mime = session.scalar(select(MediaBlob.mime_type).where(MediaBlob.sha256 == sha256))
        if mime is None:
            return None
        for table, column in MEDIA_REFERENCES:
            used = session.scalar(
                select(getattr(table, column)).where(getattr(table, column) == sha256).limit(1)
            )
            if used is not None:
                return str(mime)
    return None


def blob_response(studio: Studio, sha256: str, mime: str, *, filename: str | None = None) -> Response:
    """The blob's bytes (a file response with range requests on a local store)."""
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{sha256}"', "X-Content-Type-Options": "nosniff"}
    inline = mime.startswith(("audio/", "video/")) or mime in ("image/png", "image/jpeg", "image/webp")
    if not inline:  # e.g. consent evidence uploaded as HTML or SVG: never rendered on this origin
        headers["Content-Security-Policy"] = "sandbox"
    path = studio.media.path(sha256, mime)
    if path is not None:
        if not path.is_file():
            raise ApiError(404, "media_not_found", f"the file of media {sha256} is missing from the store.")
        return FileResponse(
            path,
            media_type=mime,
            headers=headers,
            filename=filename or f"{sha256}",
            content_disposition_type="inline" if inline else "attachment",
        )
    if not inline:
        headers["Content-Disposition"] = f'attachment; filename="{sha256}"'
    return Response(studio.media.read(sha256, mime), media_type=mime, headers=headers)


@router.get("/media/{sha256}", name="get_media")
def get_media(sha256: str, request: Request) -> Response:
    studio = studio_of(request)
    sha = sha256.lower()
    mime = referenced_mime(studio, sha) if _SHA256.match(sha) else None
    if mime is None:
        raise ApiError(
            404,
            "media_not_found",
            f"no stored media {sha256!r}; media URLs come from samples, consents and conversation turns.",
        )
    return blob_response(studio, sha, mime)
