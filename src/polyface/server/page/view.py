"""``GET /`` and ``GET /studio``: the studio page, rendered with what the selects need (the personas, and per
modality the providers that train it with their default base model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from polyface._version import __version__
from polyface.persona.plan import DEFAULT_BASE_MODELS
from polyface.persona.views import LIKENESS_USES, MODALITIES
from polyface.server.api.deps import studio_of

HERE: Final = Path(__file__).parent
STATIC_DIR: Final = HERE / "static"
TEMPLATES: Final = Jinja2Templates(directory=HERE / "templates")

SAMPLE_KINDS: Final[tuple[tuple[str, str], ...]] = (
    ("audio", "Audio (voice recordings, WAV/FLAC/MP3; a .txt beside a .wav is its transcript)"),
    ("text", "Text (dialogue JSONL/JSON/CSV or scripts)"),
    ("image", "Images (face pictures)"),
    ("video", "Video (clips)"),
)
MODEL_EXAMPLES: Final[dict[str, str]] = {
    "text": "local:smollm2-135m-instruct",
    "voice": "local:espeak-ng",
    "image": "local:portrait",
    "video": "local:talking-head",
    "audio": "local:pocketsphinx-en-us",
}
"""Placeholders of the avatar form's model fields (``provider:model``)."""

router = APIRouter(include_in_schema=False)


def page_context(request: Request) -> dict[str, Any]:
    """What the template needs (blocking: reads the personas from the database)."""
    return {
        "version": __version__,
        "personas": [p.name for p in studio_of(request).personas.list()],
        "modalities": list(MODALITIES),
        "providers": {m: sorted(DEFAULT_BASE_MODELS.get(m, {}).items()) for m in MODALITIES},
        "sample_kinds": SAMPLE_KINDS,
        "likeness_uses": list(LIKENESS_USES),
        "model_examples": MODEL_EXAMPLES,
    }


@router.get("/", response_class=HTMLResponse, name="studio_page")
@router.get("/studio", response_class=HTMLResponse)
def studio_page(request: Request) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "studio.html", page_context(request))
