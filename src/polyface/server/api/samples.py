"""``/api/personas/{name}/samples``: upload (multipart, streamed, size-limited), list, read, delete.

``POST .../samples/{modality}`` takes one or many files (any part name) and answers with the import
report: what was added, what was already stored, and each rejected file with its reason. An audio or
video upload may carry ``<name>.txt`` transcripts beside ``<name>.wav``. Text also takes a JSON list of
dialogue rows (``[{"user": ..., "assistant": ...}, ...]`` or ``{"rows": [...], "system": ...}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from polyface.errors import InvalidArgument
from polyface.persona.samples import MAX_BYTES
from polyface.persona.studio import PersonaHandle
from polyface.persona.tables import MediaBlob, Sample
from polyface.persona.views import ImportReport, SampleInfo
from polyface.server.api.deps import RowId, persona, persona_async, public, settings_of, studio_of
from polyface.server.api.media import blob_response
from polyface.server.api.uploads import Form, UploadedFile, is_multipart, read_multipart, upload_folder
from polyface.server.errors import ApiError

router = APIRouter(tags=["samples"])

MODALITY_NAMES: Final = {
    "text": "text",
    "audio": "audio",
    "voice": "audio",
    "image": "image",
    "images": "image",
    "video": "video",
}
MAX_TEXT_UPLOAD: Final = 16 * 1024 * 1024
"""The largest dialogue file (.jsonl, .json, .csv, .txt) one upload may hold."""
_UPLOAD_DOC: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "system": {"type": "string", "description": "text: a system prompt for each row"},
                        "speaker": {"type": "string", "description": "text scripts: the persona's name"},
                    },
                }
            },
            "application/json": {
                "schema": {"type": "array", "items": {"type": "object"}},
                "example": [{"user": "Who do you trust?", "assistant": "Family. Nobody else."}],
            },
        },
    }
}


def modality_of(value: str) -> str:
    found = MODALITY_NAMES.get(value.strip().lower())
    if found is None:
        raise InvalidArgument(f"modality must be text, audio, image or video (got {value!r}).")
    return found


def sample_json(request: Request, name: str, info: SampleInfo) -> dict[str, Any]:
    url = request.app.url_path_for("get_sample_content", name=name, sample_id=str(info.id))
    return public(info, content_url=str(url))


def report_json(request: Request, name: str, report: ImportReport) -> dict[str, Any]:
    """The import report; when every file (or row) was rejected, a 422 ``samples_rejected`` error holding
    the same report: each rejected file with its reason (good files beside bad ones are kept: 200)."""
    body = {
        "modality": report.modality,
        "ok": report.ok,
        "added": [sample_json(request, name, info) for info in report.added],
        "duplicates": list(report.duplicates),
        "rejected": [p.model_dump(mode="json") for p in report.rejected],
        "summary": str(report).splitlines()[0],
    }
    if report.rejected and not report.added and not report.duplicates:
        reasons = "; ".join(f"{p.source}: {p.reason}" for p in report.rejected[:5])
        more = f" (and {len(report.rejected) - 5} more)" if len(report.rejected) > 5 else ""
        raise ApiError(
            422,
            "samples_rejected",
            f"nothing was imported: {reasons}{more}. Fix or replace these and upload them again.",
            **body,
        )
    return body


def upload_limit(request: Request, modality: str) -> int:
    """The largest file accepted for ``modality``: the server's limit, the modality's own, and for text
    (dialogue files, read whole to check each row) :data:`MAX_TEXT_UPLOAD`."""
    own = MAX_TEXT_UPLOAD if modality == "text" else MAX_BYTES[modality]
    return min(settings_of(request).max_upload_bytes, own)


# ---- importing uploaded files ---------------------------------------------------------------------------


def _sources(modality: str, files: list[UploadedFile]) -> list[Path]:
    """The files to import; ``x.txt`` beside ``x.wav`` in an audio or video upload is its transcript."""
    if modality not in ("audio", "video"):
        return [f.path for f in files]
    stems = {f.path.stem for f in files if f.path.suffix.lower() != ".txt"}
    return [f.path for f in files if not (f.path.suffix.lower() == ".txt" and f.path.stem in stems)]


def _shown(source: str, prefix: str) -> str:
    return source[len(prefix) :] if source.startswith(prefix) else source


def _import_files(handle: PersonaHandle, modality: str, folder: Path, form: Form) -> ImportReport:
    sources = _sources(modality, form.files)
    samples = handle.samples
    if modality == "text":
        report = samples.add_text(
            sources, system=form.value("system") or None, speaker=form.value("speaker") or None
        )
    else:
        adders = {"audio": samples.add_audio, "image": samples.add_images, "video": samples.add_video}
        report = adders[modality](sources)
    return _renamed(handle, report, f"{folder}/")


def _renamed(handle: PersonaHandle, report: ImportReport, prefix: str) -> ImportReport:
    """The report (and the stored samples' ``source``) with upload names instead of temporary paths."""
    added = [info.model_copy(update={"source": _shown(info.source, prefix)}) for info in report.added]
    if added:
        with handle.studio.db.session() as session:
            for info in added:
                session.execute(update(Sample).where(Sample.id == info.id).values(source=info.source))
    return report.model_copy(
        update={
            "added": added,
            "duplicates": [_shown(d, prefix) for d in report.duplicates],
            "rejected": [
                p.model_copy(
                    update={"source": _shown(p.source, prefix), "reason": p.reason.replace(prefix, "")}
                )
                for p in report.rejected
            ],
        }
    )


def _import_rows(handle: PersonaHandle, body: Any) -> ImportReport:
    system: str | None = None
    rows = body
    if isinstance(body, dict) and "rows" in body:
        rows, system = body["rows"], body.get("system")
    if not isinstance(rows, list) or not rows:
        raise InvalidArgument(
            "send dialogue rows as a JSON list, e.g. "
            '[{"user": "Who do you trust?", "assistant": "Family."}], or {"rows": [...], "system": "..."}.'
        )
    if system is not None and not isinstance(system, str):
        raise InvalidArgument("system must be a string (the system prompt for each row).")
    return handle.samples.add_text(rows, system=system)


@router.post("/personas/{name}/samples/{modality}", openapi_extra=_UPLOAD_DOC)
async def add_samples(name: str, modality: str, request: Request) -> dict[str, Any]:
    """Import samples: files (multipart, one part per file), or for text a JSON list of dialogue rows."""
    kind = modality_of(modality)
    handle = await persona_async(request, name)
    if not is_multipart(request):
        if kind != "text" or "json" not in request.headers.get("content-type", ""):
            raise ApiError(
                415,
                "unsupported_media_type",
                f"upload {kind} samples as multipart/form-data (one part per file)"
                + ("; text also takes a JSON list of dialogue rows." if kind == "text" else "."),
            )
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(
                400, "invalid_json", "the body is not valid JSON; send a list of dialogue rows."
            ) from None
        report = await run_in_threadpool(_import_rows, handle, body)
        return report_json(request, name, report)
    studio = studio_of(request)
    limit = upload_limit(request, kind)
    async with upload_folder(studio.data_dir / "uploads") as folder:
        form = await read_multipart(request, folder, limit=limit)
        if not form.files:
            raise ApiError(
                400, "no_files", "the upload holds no files: attach one part per file (e.g. 'files')."
            )
        report = await run_in_threadpool(_import_files, handle, kind, folder, form)
    return report_json(request, name, report)


# ---- listing, reading, deleting ------------------------------------------------------------------------


def _sample(handle: PersonaHandle, sample_id: int) -> SampleInfo:
    try:
        return handle.samples.get(sample_id)
    except InvalidArgument as exc:
        raise ApiError(404, "sample_not_found", str(exc)) from None


@router.get("/personas/{name}/samples")
def list_samples(name: str, request: Request, modality: str | None = None) -> list[dict[str, Any]]:
    handle = persona(request, name)
    kind = modality_of(modality) if modality else None
    return [sample_json(request, name, info) for info in handle.samples.list(kind)]


@router.get("/personas/{name}/samples/{sample_id}")
def get_sample(name: str, sample_id: RowId, request: Request) -> dict[str, Any]:
    return sample_json(request, name, _sample(persona(request, name), sample_id))


@router.delete("/personas/{name}/samples/{sample_id}")
def delete_sample(name: str, sample_id: RowId, request: Request) -> dict[str, Any]:
    handle = persona(request, name)
    _sample(handle, sample_id)
    return public(handle.samples.remove(sample_id))


@router.get("/personas/{name}/samples/{sample_id}/content", name="get_sample_content")
def get_sample_content(name: str, sample_id: RowId, request: Request) -> Response:
    """The sample's bytes: the stored file with its media type, or a text sample's row as JSON."""
    handle = persona(request, name)
    info = _sample(handle, sample_id)
    if info.media_sha256 is None:
        return Response((info.text or "").encode(), media_type="application/json")
    studio = handle.studio
    with studio.db.session() as session:
        mime = session.scalar(select(MediaBlob.mime_type).where(MediaBlob.sha256 == info.media_sha256))
    if mime is None:
        raise ApiError(404, "media_not_found", f"the file of sample {sample_id} is missing from the store.")
    return blob_response(studio, info.media_sha256, str(mime), filename=Path(info.source).name or None)
