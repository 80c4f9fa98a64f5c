"""OpenAI files: upload (one multipart request, or the Uploads API in parts), list, retrieve, delete, content.

- Up to :data:`SINGLE_REQUEST_LIMIT` (512 MB, OpenAI's limit for ``POST /files``) a file is sent in one
  ``multipart/form-data`` request (``file``, ``purpose``).
- Larger files (up to 8 GB) go through OpenAI's Uploads API: ``POST /uploads`` (``filename``, ``purpose``,
  ``bytes``, ``mime_type``), one ``POST /uploads/{id}/parts`` per part of at most 64 MB, then
  ``POST /uploads/{id}/complete`` with the part ids in order and the file's MD5, which answers the File.
  A part that fails after its retries cancels the upload (``POST /uploads/{id}/cancel``). Retrying a part
  is safe: only the part ids named at completion count.

**Not uploading the same bytes twice.** OpenAI has no name conflicts (no 409: any number of files may share
a name), so polyface cannot learn from the upload that the bytes are already there. Instead, uploads are
named after their content by default (``<stem>-<sha256[:16]><suffix>``), and before uploading polyface lists
the account's files of that purpose (``GET /files?purpose=...``): a file with that very name and size whose
status is not ``error`` holds the same bytes, and is returned (``reused=True``) without uploading. Only
content-addressed names are matched: a ``filename=`` without the digest is always uploaded. ``reuse=False``
skips the lookup. Creating requests are sent with ``idempotent=False`` (never blindly retried once they
may have reached OpenAI).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import mimetypes
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, Literal

from polyface.errors import InvalidArgument, ProviderError
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.uploads import (
    Payload,
    UploadBar,
    UploadProgress,
    UploadSource,
    is_content_addressed,
    read_payload,
    upload_name,
)
from polyface.types.files import StoredFile

FilePurpose = Literal["fine-tune", "vision", "user_data", "batch", "assistants", "evals"]
PURPOSES: frozenset[str] = frozenset({"fine-tune", "vision", "user_data", "batch", "assistants", "evals"})
UPLOADS_API_PURPOSES: frozenset[str] = frozenset({"assistants", "batch", "fine-tune", "vision"})
"""The purposes OpenAI's Uploads API (files over 512 MB) accepts."""

SINGLE_REQUEST_LIMIT = 512 * 1000 * 1000
"""The largest file ``POST /files`` takes (512 MB); larger ones go through the Uploads API."""
PART_SIZE = 64 * 1000 * 1000
"""The largest part the Uploads API takes (64 MB)."""
UPLOAD_LIMIT = 8 * 1000 * 1000 * 1000
"""The largest file the Uploads API takes (8 GB)."""
LIST_PAGE = 10_000
MIME_TYPES: Mapping[str, str] = {".jsonl": "text/jsonl", ".json": "application/json", ".csv": "text/csv"}


class OpenAIFile(StoredFile):
    """A file stored at OpenAI (``OpenAIFile``)."""

    status: str | None = None
    """``uploaded``, ``processed`` or ``error`` (deprecated by OpenAI, still sent)."""
    status_details: str | None = None
    expires_at: int | None = None


# ---- responses (pure) -------------------------------------------------------------------------------------


def parse_file(data: Any) -> OpenAIFile:
    """An ``OpenAIFile`` dict as an :class:`OpenAIFile`."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ProviderError("OpenAI answered a file request without a file id", provider="OpenAI")
    return OpenAIFile(
        id=data["id"],
        filename=str(data.get("filename") or ""),
        bytes=int(data.get("bytes") or 0),
        purpose=data.get("purpose"),
        status=data.get("status"),
        status_details=data.get("status_details"),
        created_at=data.get("created_at"),
        expires_at=data.get("expires_at"),
        raw=data,
    )


def parse_file_page(data: Any) -> tuple[builtins.list[OpenAIFile], str | None]:
    """One page of ``GET /files``: its files and the cursor of the next page (None on the last)."""
    if not isinstance(data, dict):
        return [], None
    files = [parse_file(item) for item in data.get("data") or () if isinstance(item, dict)]
    after = data.get("last_id") or (files[-1].id if files else None)
    return files, (after if data.get("has_more") and files else None)


def parse_upload_file(data: Any) -> OpenAIFile:
    """The File inside a completed Upload."""
    if (
        not isinstance(data, dict)
        or data.get("status") != "completed"
        or not isinstance(data.get("file"), dict)
    ):
        status = data.get("status") if isinstance(data, dict) else None
        raise ProviderError(
            f"OpenAI did not complete the upload (status {status!r})",
            provider="OpenAI",
            hint="Upload the file again; an unfinished upload expires after an hour.",
        )
    return parse_file(data["file"])


# ---- requests (pure) -----------------------------------------------------------------------------------


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise InvalidArgument(f"purpose must be one of {', '.join(sorted(PURPOSES))} (got {purpose!r}).")
    return purpose


def mime_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return MIME_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def build_upload_request(name: str, purpose: str, size: int, mime: str) -> dict[str, Any]:
    """The body of ``POST /uploads``."""
    if purpose not in UPLOADS_API_PURPOSES:
        raise InvalidArgument(
            f"files over 512 MB go through OpenAI's Uploads API, which takes purpose "
            f"{', '.join(sorted(UPLOADS_API_PURPOSES))} only (got {purpose!r})."
        )
    if size > UPLOAD_LIMIT:
        raise InvalidArgument(f"OpenAI takes files up to 8 GB; this one has {size} bytes. Split it.")
    return {"filename": name, "purpose": purpose, "bytes": size, "mime_type": mime}


def _check_id(file_id: str) -> str:
    if not isinstance(file_id, str) or not file_id or "/" in file_id:
        raise InvalidArgument(f"a file id looks like 'file-...' (got {file_id!r}).")
    return file_id


class _ProgressReader(io.RawIOBase):
    """A readable, seekable view of the payload that reports what httpx reads (a retry seeks to 0)."""

    def __init__(self, source: BinaryIO, bar: UploadBar) -> None:
        self._source = source
        self._bar = bar

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self._bar.advance(len(chunk))
        return bytes(chunk)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position = self._source.seek(offset, whence)
        if position == 0:
            self._bar.restart()
        return int(position)

    def tell(self) -> int:
        return int(self._source.tell())


def _open(payload: Payload) -> BinaryIO:
    if payload.data is not None:
        return io.BytesIO(payload.data)
    assert payload.path is not None
    return payload.path.open("rb")


class OpenAIFiles:
    """``adapter.files``: files fine-tuning, vision fine-tuning and batches read."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    # ---- preparing (pure apart from reading the file) ------------------------------------------------------
    @staticmethod
    def _prepare(file: UploadSource, filename: str | None, purpose: str) -> tuple[Payload, str]:
        check_purpose(purpose)
        payload, natural = read_payload(file)
        if payload.size == 0:
            raise InvalidArgument("the file is empty; there is nothing to upload.")
        default_suffix = ".jsonl" if purpose in ("fine-tune", "batch") else ".bin"
        name = filename or upload_name(natural, payload.sha256, default_suffix)
        if payload.size > UPLOAD_LIMIT:
            raise InvalidArgument(
                f"OpenAI takes files up to 8 GB; this one has {payload.size} bytes. Split it."
            )
        return payload, name

    @staticmethod
    def _same(
        candidates: builtins.list[OpenAIFile], name: str, payload: Payload, purpose: str
    ) -> OpenAIFile | None:
        if not is_content_addressed(name, payload.sha256):
            return None
        matches = [
            f
            for f in candidates
            if f.filename == name and f.bytes == payload.size and f.purpose == purpose and f.status != "error"
        ]
        matches.sort(key=lambda f: f.created_at or 0, reverse=True)
        return matches[0] if matches else None

    @staticmethod
    def _multipart(payload: Payload, multipart: bool | None, part_size: int) -> bool:
        if part_size < 1 or part_size > PART_SIZE:
            raise InvalidArgument(f"part_size must be between 1 and {PART_SIZE} bytes (got {part_size}).")
        return payload.size > SINGLE_REQUEST_LIMIT if multipart is None else multipart

    @staticmethod
    def _parts(payload: Payload, part_size: int) -> builtins.list[tuple[int, int]]:
        return [(start, min(part_size, payload.size - start)) for start in range(0, payload.size, part_size)]

    # ---- upload ------------------------------------------------------------------------------------------
    def upload(
        self,
        file: UploadSource,
        *,
        filename: str | None = None,
        purpose: FilePurpose = "fine-tune",
        reuse: bool = True,
        progress: bool | UploadProgress = False,
        multipart: bool | None = None,
        part_size: int = PART_SIZE,
    ) -> OpenAIFile:
        """Upload a file (a path, bytes or a binary file object) and return it.

        The name defaults to ``<stem>-<sha256[:16]><suffix>``; with ``reuse=True`` a file of that name, size
        and purpose already at OpenAI is returned (``reused=True``) instead of sending the bytes again.
        Files over 512 MB (or any file with ``multipart=True``) go through the Uploads API in parts of
        ``part_size`` bytes. ``progress=True`` shows a bar on a terminal; a callable gets
        ``(bytes_sent, total)``.
        """
        payload, name = self._prepare(file, filename, purpose)
        in_parts = self._multipart(payload, multipart, part_size)
        if reuse:
            existing = self._same(self.list(purpose=purpose), name, payload, purpose)
            if existing is not None:
                return existing.model_copy(update={"reused": True, "sha256": payload.sha256})
        if in_parts:
            uploaded = self._upload_in_parts(payload, name, purpose, progress, part_size)
        else:
            with _open(payload) as source, UploadBar(progress, payload.size, "upload") as bar:
                reader = _ProgressReader(source, bar)
                response = self.config.http.request(
                    "POST",
                    "/files",
                    data={"purpose": purpose},
                    files={"file": (name, reader, mime_type(name))},
                    idempotent=False,
                )
            uploaded = parse_file(response.json())
        return uploaded.model_copy(update={"sha256": payload.sha256})

    async def aupload(
        self,
        file: UploadSource,
        *,
        filename: str | None = None,
        purpose: FilePurpose = "fine-tune",
        reuse: bool = True,
        progress: bool | UploadProgress = False,
        multipart: bool | None = None,
        part_size: int = PART_SIZE,
    ) -> OpenAIFile:
        """The async twin of :meth:`upload`."""
        payload, name = self._prepare(file, filename, purpose)
        in_parts = self._multipart(payload, multipart, part_size)
        if reuse:
            existing = self._same(await self.alist(purpose=purpose), name, payload, purpose)
            if existing is not None:
                return existing.model_copy(update={"reused": True, "sha256": payload.sha256})
        if in_parts:
            uploaded = await self._aupload_in_parts(payload, name, purpose, progress, part_size)
        else:
            with _open(payload) as source, UploadBar(progress, payload.size, "upload") as bar:
                reader = _ProgressReader(source, bar)
                response = await self.config.http.arequest(
                    "POST",
                    "/files",
                    data={"purpose": purpose},
                    files={"file": (name, reader, mime_type(name))},
                    idempotent=False,
                )
            uploaded = parse_file(response.json())
        return uploaded.model_copy(update={"sha256": payload.sha256})

    def _upload_in_parts(
        self, payload: Payload, name: str, purpose: str, progress: bool | UploadProgress, part_size: int
    ) -> OpenAIFile:
        http = self.config.http
        body = build_upload_request(name, purpose, payload.size, mime_type(name))
        upload = http.request("POST", "/uploads", json=body, idempotent=False).json()
        upload_id = _check_id(str(upload.get("id") or ""))
        md5 = hashlib.md5(usedforsecurity=False)
        part_ids: builtins.list[str] = []
        try:
            with UploadBar(progress, payload.size, "upload") as bar:
                for start, length in self._parts(payload, part_size):
                    chunk = payload.read(start, length)
                    md5.update(chunk)
                    part = http.request(
                        "POST", f"/uploads/{upload_id}/parts", files={"data": ("part", chunk)}
                    ).json()
                    part_ids.append(str(part["id"]))
                    bar.advance(len(chunk))
            done = http.request(
                "POST",
                f"/uploads/{upload_id}/complete",
                json={"part_ids": part_ids, "md5": md5.hexdigest()},
                idempotent=False,
            )
        except BaseException:
            with contextlib.suppress(ProviderError):  # else it expires by itself within the hour
                http.request("POST", f"/uploads/{upload_id}/cancel")
            raise
        return parse_upload_file(done.json())

    async def _aupload_in_parts(
        self, payload: Payload, name: str, purpose: str, progress: bool | UploadProgress, part_size: int
    ) -> OpenAIFile:
        http = self.config.http
        body = build_upload_request(name, purpose, payload.size, mime_type(name))
        upload = (await http.arequest("POST", "/uploads", json=body, idempotent=False)).json()
        upload_id = _check_id(str(upload.get("id") or ""))
        md5 = hashlib.md5(usedforsecurity=False)
        part_ids: builtins.list[str] = []
        try:
            with UploadBar(progress, payload.size, "upload") as bar:
                for start, length in self._parts(payload, part_size):
                    chunk = payload.read(start, length)
                    md5.update(chunk)
                    response = await http.arequest(
                        "POST", f"/uploads/{upload_id}/parts", files={"data": ("part", chunk)}
                    )
                    part_ids.append(str(response.json()["id"]))
                    bar.advance(len(chunk))
            done = await http.arequest(
                "POST",
                f"/uploads/{upload_id}/complete",
                json={"part_ids": part_ids, "md5": md5.hexdigest()},
                idempotent=False,
            )
        except BaseException:
            with contextlib.suppress(ProviderError):  # else it expires by itself within the hour
                await http.arequest("POST", f"/uploads/{upload_id}/cancel")
            raise
        return parse_upload_file(done.json())

    # ---- the rest ------------------------------------------------------------------------------------------
    @staticmethod
    def _list_query(purpose: str | None, after: str | None) -> dict[str, Any]:
        query: dict[str, Any] = {"limit": LIST_PAGE}
        if purpose is not None:
            query["purpose"] = check_purpose(purpose)
        if after is not None:
            query["after"] = after
        return query

    def list(self, *, purpose: FilePurpose | None = None) -> builtins.list[OpenAIFile]:
        """Every file the account has (of one ``purpose`` if given), following OpenAI's pages."""
        files: builtins.list[OpenAIFile] = []
        after: str | None = None
        while True:
            data = self.config.http.request("GET", "/files", params=self._list_query(purpose, after)).json()
            page, after = parse_file_page(data)
            files.extend(page)
            if after is None:
                return files

    async def alist(self, *, purpose: FilePurpose | None = None) -> builtins.list[OpenAIFile]:
        files: builtins.list[OpenAIFile] = []
        after: str | None = None
        while True:
            response = await self.config.http.arequest(
                "GET", "/files", params=self._list_query(purpose, after)
            )
            page, after = parse_file_page(response.json())
            files.extend(page)
            if after is None:
                return files

    def retrieve(self, file_id: str) -> OpenAIFile:
        return parse_file(self.config.http.request("GET", f"/files/{_check_id(file_id)}").json())

    async def aretrieve(self, file_id: str) -> OpenAIFile:
        return parse_file((await self.config.http.arequest("GET", f"/files/{_check_id(file_id)}")).json())

    def delete(self, file_id: str) -> bool:
        """Delete a file; True when OpenAI says it is gone."""
        data = self.config.http.request("DELETE", f"/files/{_check_id(file_id)}").json()
        return bool(data.get("deleted", True)) if isinstance(data, dict) else True

    async def adelete(self, file_id: str) -> bool:
        data = (await self.config.http.arequest("DELETE", f"/files/{_check_id(file_id)}")).json()
        return bool(data.get("deleted", True)) if isinstance(data, dict) else True

    def content(self, file_id: str) -> bytes:
        """The file's bytes as stored at OpenAI."""
        return self.config.http.request("GET", f"/files/{_check_id(file_id)}/content").content

    async def acontent(self, file_id: str) -> bytes:
        return (await self.config.http.arequest("GET", f"/files/{_check_id(file_id)}/content")).content


__all__ = ["OpenAIFile", "OpenAIFiles", "parse_file", "parse_file_page"]
