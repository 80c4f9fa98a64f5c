"""``/api/personas/{name}/consents``: record (JSON, or multipart with an evidence file), list, revoke."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from polyface.persona.consent import MAX_EVIDENCE_BYTES
from polyface.persona.studio import PersonaHandle
from polyface.persona.views import LIKENESS_USES, ConsentInfo
from polyface.server.api.deps import RowId, persona, persona_async, public, settings_of, studio_of
from polyface.server.api.uploads import Form, is_multipart, read_multipart, upload_folder
from polyface.server.errors import ApiError

router = APIRouter(tags=["consent"])


class ConsentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str
    uses: list[str] = Field(default_factory=lambda: list(LIKENESS_USES))
    note: str = ""


_RECORD_DOC: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ConsentCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["subject"],
                    "properties": {
                        "subject": {"type": "string"},
                        "uses": {"type": "string", "description": "comma-separated: voice,image,video"},
                        "note": {"type": "string"},
                        "evidence": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}


def consent_json(request: Request, info: ConsentInfo) -> dict[str, Any]:
    sha = info.evidence_sha256
    url = str(request.app.url_path_for("get_media", sha256=sha)) if sha else None
    return public(info, evidence_url=url)


def _from_form(form: Form) -> ConsentCreate:
    uses = [u.strip() for value in form.values("uses") for u in value.split(",") if u.strip()]
    fields: dict[str, Any] = {"subject": form.value("subject") or "", "note": form.value("note") or ""}
    if uses:
        fields["uses"] = uses
    return ConsentCreate(**fields)


def _record(handle: PersonaHandle, body: ConsentCreate, evidence: Path | None) -> ConsentInfo:
    return handle.consent.record(body.subject, body.uses, evidence=evidence, note=body.note)


@router.post("/personas/{name}/consents", status_code=201, openapi_extra=_RECORD_DOC)
async def record_consent(name: str, request: Request) -> dict[str, Any]:
    """Record that a subject consents to uses (voice, image, video) of their likeness; a multipart request
    may attach the evidence (a signed form, or the recorded statement OpenAI custom voices need)."""
    handle = await persona_async(request, name)
    if not is_multipart(request):
        try:
            body = ConsentCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise ApiError(
                422,
                "invalid_request",
                f"the consent is not valid ({problems}); send "
                '{"subject": "<their name>", "uses": ["voice"]} or a multipart form with an evidence file.',
            ) from None
        info = await run_in_threadpool(_record, handle, body, None)
        return consent_json(request, info)
    limit = min(settings_of(request).max_upload_bytes, MAX_EVIDENCE_BYTES)
    async with upload_folder(studio_of(request).data_dir / "uploads") as folder:
        form = await read_multipart(request, folder, limit=limit)
        if len(form.files) > 1:
            raise ApiError(400, "bad_request", "attach at most one evidence file.")
        try:
            body = _from_form(form)
        except ValidationError as exc:
            raise ApiError(
                422, "invalid_request", f"the consent form is not valid: {exc.errors()[0]['msg']}."
            ) from None
        evidence = form.files[0].path if form.files else None
        info = await run_in_threadpool(_record, handle, body, evidence)
    return consent_json(request, info)


@router.get("/personas/{name}/consents")
def list_consents(name: str, request: Request, include_revoked: bool = False) -> list[dict[str, Any]]:
    handle = persona(request, name)
    return [consent_json(request, c) for c in handle.consent.list(include_revoked=include_revoked)]


@router.post("/personas/{name}/consents/{consent_id}/revoke")
def revoke_consent(name: str, consent_id: RowId, request: Request) -> dict[str, Any]:
    handle = persona(request, name)
    known = {c.id for c in handle.consent.list(include_revoked=True)}
    if consent_id not in known:
        raise ApiError(
            404,
            "consent_not_found",
            f"persona {name!r} has no consent {consent_id}; GET /api/personas/{name}/consents lists them.",
        )
    return consent_json(request, handle.consent.revoke(consent_id))
