"""Fake OpenAI routes: files and the Uploads API, registered with ``@route(..., server=FakeOpenAI)``.

- ``POST /v1/files`` (multipart: ``file``, ``purpose``) stores the file and answers its ``OpenAIFile``
  (status ``processed``). As at OpenAI, names are not unique: a name may be uploaded any number of times.
- ``GET /v1/files`` (``purpose``, ``limit``, ``order``, ``after``; newest first by default) pages them;
  ``GET``/``DELETE /v1/files/<id>`` and ``GET /v1/files/<id>/content`` work on what was stored.
- ``POST /v1/uploads`` (``filename``, ``purpose``, ``bytes``, ``mime_type``) opens an Upload;
  ``POST /v1/uploads/<id>/parts`` (multipart ``data``) adds a part; ``POST /v1/uploads/<id>/complete``
  (``part_ids`` in order, optional ``md5``) checks the byte count and checksum and makes the File;
  ``POST /v1/uploads/<id>/cancel`` drops it.

State lives in ``fake.store``: :func:`files_of` (``{id: file dict}``: the ``OpenAIFile`` fields plus
``content`` and ``sha256``) and :func:`uploads_of`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_openai.core import FakeOpenAI
from polyface.testing.fake_together.core import _BadRequest, route

if TYPE_CHECKING:
    from polyface.testing.fake_together.core import FakeServer, RecordedRequest

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision")
PUBLIC_FIELDS = ("id", "object", "bytes", "created_at", "filename", "purpose", "status", "expires_at")


def new_id(prefix: str) -> str:
    """An id shaped like OpenAI's (``file-`` + 22 letters and digits, ``upload_...``, ``part_...``)."""
    return prefix + secrets.token_hex(11)


def files_of(fake: FakeServer) -> dict[str, dict[str, Any]]:
    """The fake's files by id (live dicts, with ``content`` bytes and ``sha256``)."""
    files: dict[str, dict[str, Any]] = fake.store.setdefault("files", {})
    return files


def uploads_of(fake: FakeServer) -> dict[str, dict[str, Any]]:
    """The fake's Uploads by id (live dicts, with their ``parts``: ``{part id: bytes}``)."""
    uploads: dict[str, dict[str, Any]] = fake.store.setdefault("uploads", {})
    return uploads


def public(entry: dict[str, Any]) -> dict[str, Any]:
    """A file as OpenAI's ``OpenAIFile``."""
    return {key: entry[key] for key in PUBLIC_FIELDS if entry.get(key) is not None}


def multipart(req: RecordedRequest) -> dict[str, tuple[str | None, bytes]]:
    """A multipart body's parts: ``{name: (filename or None, bytes)}``."""
    content_type = req.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise _BadRequest("This endpoint takes multipart/form-data", code="invalid_request_error")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + req.body
    )
    parts: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            filename = part.get_param("filename", header="content-disposition")
            parts[name] = (filename if isinstance(filename, str) else None, payload)
    return parts


def store_file(fake: FakeServer, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
    """Add a file to the fake as an upload would (tests may seed files with it)."""
    entry = {
        "id": new_id("file-"),
        "object": "file",
        "bytes": len(content),
        "created_at": int(time.time()),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "content": content,
        "sha256": hashlib.sha256(content).hexdigest(),
        "order": len(files_of(fake)),
    }
    files_of(fake)[str(entry["id"])] = entry
    return entry


def _find(fake: FakeServer, file_id: str) -> dict[str, Any]:
    entry = files_of(fake).get(file_id)
    if entry is None:
        raise _BadRequest(f"No such File object: {file_id}", status=404, code="invalid_request_error")
    return entry


def _int_param(value: str | None, name: str, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise _BadRequest(f"'{name}' must be an integer from 1 to {maximum}", code="invalid_request_error")
    return int(value)


def query_of(req: RecordedRequest) -> dict[str, str]:
    from urllib.parse import parse_qs

    return {key: values[-1] for key, values in parse_qs(req.query).items()}


@route("POST", r"/v1/files", server=FakeOpenAI)
async def create_file(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    parts = multipart(req)
    purpose = parts.get("purpose", (None, b""))[1].decode()
    if purpose not in PURPOSES:
        raise _BadRequest(f"'purpose' must be one of {', '.join(PURPOSES)}", code="invalid_request_error")
    filename, content = parts.get("file", (None, b""))
    if filename is None:
        raise _BadRequest("'file' is required and must be a file upload", code="invalid_request_error")
    return JSONResponse(public(store_file(fake, filename, purpose, content)))


@route("GET", r"/v1/files", server=FakeOpenAI)
async def list_files(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    query = query_of(req)
    limit = _int_param(query.get("limit"), "limit", 10_000, 10_000)
    order = query.get("order", "desc")
    files = [f for f in files_of(fake).values() if query.get("purpose") in (None, f["purpose"])]
    files.sort(key=lambda f: (f["created_at"], f["order"]), reverse=order != "asc")
    after = query.get("after")
    if after is not None:
        ids = [f["id"] for f in files]
        files = files[ids.index(after) + 1 :] if after in ids else []
    page = files[:limit]
    return JSONResponse(
        {
            "object": "list",
            "data": [public(f) for f in page],
            "first_id": page[0]["id"] if page else "",
            "last_id": page[-1]["id"] if page else "",
            "has_more": len(files) > limit,
        }
    )


@route("GET", r"/v1/files/(?P<id>[^/]+)", server=FakeOpenAI)
async def retrieve(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    return JSONResponse(public(_find(fake, match["id"])))


@route("DELETE", r"/v1/files/(?P<id>[^/]+)", server=FakeOpenAI)
async def delete(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    entry = _find(fake, match["id"])
    del files_of(fake)[entry["id"]]
    return JSONResponse({"id": entry["id"], "object": "file", "deleted": True})


@route("GET", r"/v1/files/(?P<id>[^/]+)/content", server=FakeOpenAI)
async def content(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    entry = _find(fake, match["id"])
    return Response(entry["content"], media_type="application/octet-stream")


# ---- the Uploads API --------------------------------------------------------------------------------------


def _upload_public(upload: dict[str, Any]) -> dict[str, Any]:
    body = {key: upload[key] for key in ("id", "object", "bytes", "created_at", "filename", "purpose")}
    body.update(status=upload["status"], expires_at=upload["created_at"] + 3600)
    if upload.get("file_id"):
        body["file"] = public(upload["file"])
    return body


def _open_upload(fake: FakeOpenAI, upload_id: str) -> dict[str, Any]:
    upload = uploads_of(fake).get(upload_id)
    if upload is None:
        raise _BadRequest(f"No such Upload: {upload_id}", status=404, code="invalid_request_error")
    if upload["status"] != "pending":
        raise _BadRequest(f"Upload {upload_id} is already {upload['status']}", code="invalid_request_error")
    return upload


@route("POST", r"/v1/uploads", server=FakeOpenAI)
async def create_upload(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    body = fake._json_object(req)
    if body.get("purpose") not in UPLOAD_PURPOSES:
        raise _BadRequest(
            f"'purpose' must be one of {', '.join(UPLOAD_PURPOSES)}", code="invalid_request_error"
        )
    size = body.get("bytes")
    if not isinstance(size, int) or size < 1 or size > 8_000_000_000:
        raise _BadRequest("'bytes' must be an integer from 1 to 8 GB", code="invalid_request_error")
    if not isinstance(body.get("filename"), str) or not isinstance(body.get("mime_type"), str):
        raise _BadRequest("'filename' and 'mime_type' are required", code="invalid_request_error")
    upload = {
        "id": new_id("upload_"),
        "object": "upload",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": body["filename"],
        "purpose": body["purpose"],
        "status": "pending",
        "parts": {},
    }
    uploads_of(fake)[upload["id"]] = upload
    return JSONResponse(_upload_public(upload))


@route("POST", r"/v1/uploads/(?P<id>[^/]+)/parts", server=FakeOpenAI)
async def add_part(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    upload = _open_upload(fake, match["id"])
    data = multipart(req).get("data")
    if data is None:
        raise _BadRequest("'data' is required", code="invalid_request_error")
    if len(data[1]) > 64_000_000:
        raise _BadRequest("A part may hold at most 64 MB", code="invalid_request_error")
    part_id = new_id("part_")
    upload["parts"][part_id] = data[1]
    return JSONResponse(
        {"id": part_id, "object": "upload.part", "created_at": int(time.time()), "upload_id": upload["id"]}
    )


@route("POST", r"/v1/uploads/(?P<id>[^/]+)/complete", server=FakeOpenAI)
async def complete(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    upload = _open_upload(fake, match["id"])
    body = fake._json_object(req)
    part_ids = body.get("part_ids")
    if not isinstance(part_ids, list) or any(p not in upload["parts"] for p in part_ids):
        raise _BadRequest("'part_ids' must list parts of this upload", code="invalid_request_error")
    data = b"".join(upload["parts"][p] for p in part_ids)
    if len(data) != upload["bytes"]:
        raise _BadRequest(
            f"The upload was created with {upload['bytes']} bytes but the parts hold {len(data)}",
            code="invalid_request_error",
        )
    md5 = body.get("md5")
    if md5 is not None and md5 != hashlib.md5(data, usedforsecurity=False).hexdigest():
        raise _BadRequest("The md5 checksum does not match the parts", code="invalid_request_error")
    entry = store_file(fake, upload["filename"], upload["purpose"], data)
    upload.update(status="completed", file_id=entry["id"], file=entry)
    return JSONResponse(_upload_public(upload))


@route("POST", r"/v1/uploads/(?P<id>[^/]+)/cancel", server=FakeOpenAI)
async def cancel(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    upload = _open_upload(fake, match["id"])
    upload["status"] = "cancelled"
    return JSONResponse(_upload_public(upload))
