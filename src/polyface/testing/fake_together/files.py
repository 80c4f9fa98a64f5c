"""Fake Together routes: files, with the upload flow the spec does not show.

``POST /v1/files`` (form fields ``file_name``, ``purpose``, ``file_type``; urlencoded or multipart) answers
``302`` with ``Location`` = a presigned URL on this fake (``/presigned/files/<id>``, served without the
bearer key, as a third-party host would) and ``X-Together-File-Id``; the bytes are ``PUT`` there, then
``POST /v1/files/<id>/preprocess`` marks the file processed and answers its ``FileResponse``. A file name
already taken by an uploaded file answers ``409`` (the message names the existing id). ``GET /v1/files``,
``GET``/``DELETE /v1/files/<id>`` and ``GET /v1/files/<id>/content`` work on what was uploaded.

State lives in ``fake.store["files"]``: ``{id: file dict}`` (the ``FileResponse`` fields plus ``content``,
``sha256`` and ``uploaded``); :func:`files_of` reads it.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_together.core import _BadRequest, _error_body, route

if TYPE_CHECKING:
    from polyface.testing.fake_together.core import FakeTogether, RecordedRequest

PURPOSES = ("fine-tune", "eval", "eval-sample", "eval-output", "eval-summary", "batch-generated", "batch-api")
FILE_TYPES = ("jsonl", "csv", "parquet")


def files_of(fake: FakeTogether) -> dict[str, dict[str, Any]]:
    """The fake's files by id (live dicts: ``content`` bytes, ``sha256``, ``uploaded``, ``Processed``...)."""
    files: dict[str, dict[str, Any]] = fake.store.setdefault("files", {})
    return files


def public(entry: dict[str, Any]) -> dict[str, Any]:
    """A file as Together's ``FileResponse``."""
    return {
        "id": entry["id"],
        "object": "file",
        "created_at": entry["created_at"],
        "filename": entry["filename"],
        "bytes": entry["bytes"],
        "purpose": entry["purpose"],
        "FileType": entry["FileType"],
        "Processed": entry["Processed"],
        "LineCount": entry.get("LineCount", 0),
    }


def _form(req: RecordedRequest) -> dict[str, str]:
    content_type = req.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + req.body
        )
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode("utf-8", "replace")
        return fields
    parsed = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def _find(fake: FakeTogether, file_id: str) -> dict[str, Any]:
    entry = files_of(fake).get(file_id)
    if entry is None or not entry["uploaded"]:
        raise _BadRequest(f"File {file_id} not found", status=404, code="not_found")
    return entry


@route("POST", r"/v1/files")
async def create_upload(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    form = _form(req)
    name = form.get("file_name", "")
    purpose = form.get("purpose", "")
    file_type = form.get("file_type") or "jsonl"
    if not name:
        raise _BadRequest("'file_name' is required", code="invalid_request_error")
    if purpose not in PURPOSES:
        raise _BadRequest(f"'purpose' must be one of {', '.join(PURPOSES)}", code="invalid_request_error")
    if file_type not in FILE_TYPES:
        raise _BadRequest(f"'file_type' must be one of {', '.join(FILE_TYPES)}", code="invalid_request_error")
    files = files_of(fake)
    existing = next((f for f in files.values() if f["filename"] == name and f["uploaded"]), None)
    if existing is not None:
        return JSONResponse(
            _error_body(409, f"File {name} already exists with id {existing['id']}", code="conflict"),
            status_code=409,
        )
    file_id = f"file-{uuid.uuid4()}"
    files[file_id] = {
        "id": file_id,
        "created_at": int(time.time()),
        "filename": name,
        "bytes": 0,
        "purpose": purpose,
        "FileType": file_type,
        "Processed": False,
        "content": b"",
        "sha256": None,
        "uploaded": False,
    }
    host = req.headers.get("host", "127.0.0.1")
    location = f"http://{host}/presigned/files/{file_id}?X-Amz-Signature={uuid.uuid4().hex}"
    return Response(status_code=302, headers={"location": location, "x-together-file-id": file_id})


@route("PUT", r"/presigned/files/(?P<id>[^/]+)", auth=False)
async def presigned_put(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    entry = files_of(fake).get(match["id"])
    if entry is None:
        return Response(
            "<Error><Code>NoSuchUpload</Code></Error>", status_code=404, media_type="application/xml"
        )
    if "authorization" in req.headers:
        # S3 refuses a presigned URL that also carries an Authorization header.
        return Response(
            "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
            status_code=400,
            media_type="application/xml",
        )
    entry["content"] = req.body
    entry["bytes"] = len(req.body)
    entry["sha256"] = hashlib.sha256(req.body).hexdigest()
    entry["uploaded"] = True
    return Response(status_code=200, headers={"etag": f'"{hashlib.md5(req.body).hexdigest()}"'})


@route("POST", r"/v1/files/(?P<id>[^/]+)/preprocess")
async def preprocess(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    entry = files_of(fake).get(match["id"])
    if entry is None:
        raise _BadRequest(f"File {match['id']} not found", status=404, code="not_found")
    if not entry["uploaded"]:
        raise _BadRequest(f"File {match['id']} has no content: PUT it to its upload URL first")
    entry["Processed"] = True
    entry["LineCount"] = entry["content"].count(b"\n")
    return JSONResponse(public(entry))


@route("GET", r"/v1/files")
async def list_files(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse({"data": [public(f) for f in files_of(fake).values() if f["uploaded"]]})


@route("GET", r"/v1/files/(?P<id>[^/]+)")
async def retrieve(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse(public(_find(fake, match["id"])))


@route("DELETE", r"/v1/files/(?P<id>[^/]+)")
async def delete(fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    entry = _find(fake, match["id"])
    del files_of(fake)[entry["id"]]
    return JSONResponse({"id": entry["id"], "deleted": True})


@route("GET", r"/v1/files/(?P<id>[^/]+)/content")
async def content(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    entry = _find(fake, match["id"])
    return Response(entry["content"], media_type="text/plain")
