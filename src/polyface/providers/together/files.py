"""Together files: upload (redirect + presigned PUT + preprocess), list, retrieve, delete, content.

The upload flow is not in Together's OpenAPI spec; it is what Together's own SDK does:

1. ``POST /v1/files`` with the form fields ``file_name``, ``purpose`` and ``file_type`` (redirects off):
   ``302`` with ``Location`` (a presigned URL on a storage host) and ``X-Together-File-Id``;
2. ``PUT`` the bytes to that URL, **without** Together's ``Authorization`` header (another host; the URL
   carries its own signature);
3. ``POST /v1/files/{id}/preprocess``: Together checks the file and answers its ``FileResponse``.

``409`` at step 1 means a file of that name already exists. Uploads are named after their content by
default (``<stem>-<sha256[:16]><suffix>``), so a 409 means the same bytes are already there: polyface
finds that file (``GET /v1/files``, same name and size) and returns it instead of uploading twice.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import httpx

from polyface.errors import Conflict, InvalidArgument, ProviderError
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.errors import transport_error
from polyface.providers._base.secrets import redact
from polyface.providers._base.uploads import (
    Payload,
    UploadBar,
    UploadProgress,
    read_payload,
)
from polyface.providers._base.uploads import upload_name as shared_upload_name
from polyface.types.files import StoredFile

FilePurpose = Literal[
    "fine-tune", "eval", "eval-sample", "eval-output", "eval-summary", "batch-generated", "batch-api"
]
FileType = Literal["jsonl", "csv", "parquet"]

PURPOSES: frozenset[str] = frozenset(
    {"fine-tune", "eval", "eval-sample", "eval-output", "eval-summary", "batch-generated", "batch-api"}
)
FILE_TYPES: dict[str, FileType] = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}


class TogetherFile(StoredFile):
    """A file stored at Together (``FileResponse``)."""

    file_type: str | None = None
    processed: bool | None = None
    """Whether Together has checked the file (training needs a processed file)."""
    line_count: int | None = None


def parse_file(data: Any) -> TogetherFile:
    """A ``FileResponse`` dict as a :class:`TogetherFile`."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ProviderError("Together AI answered a file request without a file id", provider="Together AI")
    return TogetherFile(
        id=data["id"],
        filename=str(data.get("filename") or ""),
        bytes=int(data.get("bytes") or 0),
        purpose=data.get("purpose"),
        file_type=data.get("FileType") or data.get("file_type"),
        processed=data.get("Processed", data.get("processed")),
        created_at=data.get("created_at"),
        line_count=data.get("LineCount"),
        raw=data,
    )


def parse_file_list(data: Any) -> list[TogetherFile]:
    items = data.get("data", []) if isinstance(data, dict) else data
    return [parse_file(item) for item in items or () if isinstance(item, dict)]


def upload_name(natural: str | None, sha256: str, file_type: str) -> str:
    """The content-addressed name an upload gets: ``<stem>-<sha256[:16]><suffix>``."""
    return shared_upload_name(natural, sha256, f".{file_type}")


class TogetherFiles:
    """``adapter.files``: the data files fine-tuning (and batch jobs) read."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    # ---- requests (pure) --------------------------------------------------------------------------
    @staticmethod
    def _form(name: str, purpose: str, file_type: str) -> dict[str, str]:
        if purpose not in PURPOSES:
            raise InvalidArgument(f"purpose must be one of {', '.join(sorted(PURPOSES))} (got {purpose!r}).")
        if file_type not in FILE_TYPES.values():
            raise InvalidArgument(f"file_type must be jsonl, csv or parquet (got {file_type!r}).")
        return {"file_name": name, "purpose": purpose, "file_type": file_type}

    @staticmethod
    def _redirect(response: httpx.Response) -> tuple[str, str]:
        location = response.headers.get("location")
        file_id = response.headers.get("x-together-file-id")
        if response.status_code not in (301, 302, 303, 307, 308) or not location or not file_id:
            raise ProviderError(
                f"Together AI answered the upload request with HTTP {response.status_code} instead of a "
                "redirect to an upload URL",
                provider="Together AI",
                status=response.status_code,
            )
        return location, file_id

    def _prepare(
        self,
        file: str | os.PathLike[str] | bytes | IO[bytes],
        filename: str | None,
        purpose: str,
        file_type: str | None,
    ) -> tuple[Payload, dict[str, str]]:
        payload, natural = read_payload(file)
        if payload.size == 0:
            raise InvalidArgument("the file is empty; there is nothing to upload.")
        kind = file_type or FILE_TYPES.get(Path(filename or natural or "").suffix.lower(), "jsonl")
        name = filename or upload_name(natural, payload.sha256, kind)
        return payload, self._form(name, purpose, kind)

    @staticmethod
    def _same(candidates: builtins.list[TogetherFile], name: str, size: int) -> TogetherFile | None:
        matches = [f for f in candidates if f.filename == name and f.bytes in (0, size)]
        matches.sort(key=lambda f: f.created_at or 0, reverse=True)
        return matches[0] if matches else None

    @staticmethod
    def _reuse_plan(existing: TogetherFile, size: int) -> str:
        """What to do with a file of the same name: ``reuse`` it, ``preprocess`` it (its bytes arrived but
        an earlier upload died before processing), or ``replace`` it (its bytes never fully arrived)."""
        if existing.bytes != size:
            return "replace"
        return "reuse" if existing.processed is not False else "preprocess"

    def _conflict(self, error: Conflict, name: str) -> Conflict:
        return Conflict(
            f"a different file named {name!r} already exists at Together ({error.vendor_message})",
            provider=error.provider,
            status=error.status,
            code=error.code,
            request_id=error.request_id,
            hint="Pass another filename=..., or delete the old file with files.delete(id).",
        )

    # ---- the presigned PUT (no Together credentials) ------------------------------------------------
    def _put_request(self, url: str, payload: Payload, content: Any) -> httpx.Request:
        from polyface._version import __version__

        headers = {
            "User-Agent": f"polyface/{__version__}",
            "Content-Type": "application/octet-stream",
            "Content-Length": str(payload.size),
        }
        timeout = httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout)
        return httpx.Request(
            "PUT", url, content=content, headers=headers, extensions={"timeout": timeout.as_dict()}
        )

    def _put_failed(self, response: httpx.Response | None, exc: httpx.TransportError | None) -> ProviderError:
        if exc is not None:
            return transport_error(exc, provider=self.config.info.display_name)
        assert response is not None
        body = redact(response.text[:300])
        return ProviderError(
            f"the upload URL refused the file with HTTP {response.status_code}: {body}",
            provider=self.config.info.display_name,
            status=response.status_code,
            hint="Try the upload again; a presigned URL expires after a while.",
        )

    def _put(self, url: str, payload: Payload, progress: bool | UploadProgress) -> None:
        retry = self.config.retry
        attempt = 0
        while True:
            bar = UploadBar(progress, payload.size, "upload")

            def body(bar: UploadBar = bar) -> Iterator[bytes]:
                for chunk in payload.chunks():
                    yield chunk
                    bar.advance(len(chunk))

            response: httpx.Response | None = None
            failure: httpx.TransportError | None = None
            try:
                # Sent as built: the pooled client's default headers (Together's key) are not added.
                response = self.config.http.client.send(self._put_request(url, payload, body()))
                response.read()
            except httpx.TransportError as exc:
                failure = exc
            finally:
                bar.close()
            if response is not None and response.status_code < 300:
                return
            status = response.status_code if response is not None else None
            delay = retry.delay(attempt, None) if status is None or status >= 500 else None
            if delay is None:
                raise self._put_failed(response, failure)
            time.sleep(delay)
            attempt += 1

    async def _aput(self, url: str, payload: Payload, progress: bool | UploadProgress) -> None:
        retry = self.config.retry
        attempt = 0
        while True:
            bar = UploadBar(progress, payload.size, "upload")

            async def body(bar: UploadBar = bar) -> AsyncIterator[bytes]:
                for chunk in payload.chunks():
                    yield chunk
                    bar.advance(len(chunk))

            response: httpx.Response | None = None
            failure: httpx.TransportError | None = None
            try:
                response = await self.config.http.aclient.send(self._put_request(url, payload, body()))
                await response.aread()
            except httpx.TransportError as exc:
                failure = exc
            finally:
                bar.close()
            if response is not None and response.status_code < 300:
                return
            status = response.status_code if response is not None else None
            delay = retry.delay(attempt, None) if status is None or status >= 500 else None
            if delay is None:
                raise self._put_failed(response, failure)
            await asyncio.sleep(delay)
            attempt += 1

    # ---- upload -------------------------------------------------------------------------------------
    def upload(
        self,
        file: str | os.PathLike[str] | bytes | IO[bytes],
        *,
        filename: str | None = None,
        purpose: FilePurpose = "fine-tune",
        file_type: FileType | None = None,
        progress: bool | UploadProgress = False,
    ) -> TogetherFile:
        """Upload a file (a path, bytes or a binary file object) and return it once Together processed it.

        The name defaults to ``<stem>-<sha256[:16]><suffix>`` so that the same bytes are never uploaded
        twice: if Together already has it (HTTP 409), the existing file is returned with ``reused=True``.
        ``progress=True`` shows a bar on a terminal; a callable gets ``(bytes_sent, total)``.
        """
        payload, form = self._prepare(file, filename, purpose, file_type)
        http = self.config.http
        for attempt in range(2):
            try:
                response = http.request("POST", "/files", data=form, idempotent=False, expect_redirect=True)
                break
            except Conflict as exc:
                existing = self._same(self.list(), form["file_name"], payload.size)
                if existing is None:
                    raise self._conflict(exc, form["file_name"]) from None
                plan = self._reuse_plan(existing, payload.size)
                if plan == "reuse":
                    return existing.model_copy(update={"reused": True, "sha256": payload.sha256})
                if plan == "preprocess":
                    done = http.request("POST", f"/files/{existing.id}/preprocess")
                    return parse_file(done.json()).model_copy(
                        update={"reused": True, "sha256": payload.sha256}
                    )
                if attempt:
                    raise self._conflict(exc, form["file_name"]) from None
                self.delete(existing.id)  # an incomplete copy of these very bytes: upload them again
        url, file_id = self._redirect(response)
        self._put(url, payload, progress)
        done = http.request("POST", f"/files/{file_id}/preprocess")
        return parse_file(done.json()).model_copy(update={"sha256": payload.sha256})

    async def aupload(
        self,
        file: str | os.PathLike[str] | bytes | IO[bytes],
        *,
        filename: str | None = None,
        purpose: FilePurpose = "fine-tune",
        file_type: FileType | None = None,
        progress: bool | UploadProgress = False,
    ) -> TogetherFile:
        """The async twin of :meth:`upload`."""
        payload, form = self._prepare(file, filename, purpose, file_type)
        http = self.config.http
        for attempt in range(2):
            try:
                response = await http.arequest(
                    "POST", "/files", data=form, idempotent=False, expect_redirect=True
                )
                break
            except Conflict as exc:
                existing = self._same(await self.alist(), form["file_name"], payload.size)
                if existing is None:
                    raise self._conflict(exc, form["file_name"]) from None
                plan = self._reuse_plan(existing, payload.size)
                if plan == "reuse":
                    return existing.model_copy(update={"reused": True, "sha256": payload.sha256})
                if plan == "preprocess":
                    done = await http.arequest("POST", f"/files/{existing.id}/preprocess")
                    return parse_file(done.json()).model_copy(
                        update={"reused": True, "sha256": payload.sha256}
                    )
                if attempt:
                    raise self._conflict(exc, form["file_name"]) from None
                await self.adelete(existing.id)  # an incomplete copy of these very bytes: upload them again
        url, file_id = self._redirect(response)
        await self._aput(url, payload, progress)
        done = await http.arequest("POST", f"/files/{file_id}/preprocess")
        return parse_file(done.json()).model_copy(update={"sha256": payload.sha256})

    # ---- the rest -----------------------------------------------------------------------------------
    def list(self) -> builtins.list[TogetherFile]:
        """Every file the account has uploaded."""
        return parse_file_list(self.config.http.request("GET", "/files").json())

    async def alist(self) -> builtins.list[TogetherFile]:
        return parse_file_list((await self.config.http.arequest("GET", "/files")).json())

    def retrieve(self, file_id: str) -> TogetherFile:
        return parse_file(self.config.http.request("GET", f"/files/{_check_id(file_id)}").json())

    async def aretrieve(self, file_id: str) -> TogetherFile:
        return parse_file((await self.config.http.arequest("GET", f"/files/{_check_id(file_id)}")).json())

    def delete(self, file_id: str) -> bool:
        """Delete a file; True when Together says it is gone."""
        data = self.config.http.request("DELETE", f"/files/{_check_id(file_id)}").json()
        return bool(data.get("deleted", True)) if isinstance(data, dict) else True

    async def adelete(self, file_id: str) -> bool:
        data = (await self.config.http.arequest("DELETE", f"/files/{_check_id(file_id)}")).json()
        return bool(data.get("deleted", True)) if isinstance(data, dict) else True

    def content(self, file_id: str) -> bytes:
        """The file's bytes as stored at Together."""
        return self.config.http.request("GET", f"/files/{_check_id(file_id)}/content").content

    async def acontent(self, file_id: str) -> bytes:
        return (await self.config.http.arequest("GET", f"/files/{_check_id(file_id)}/content")).content


def _check_id(file_id: str) -> str:
    if not isinstance(file_id, str) or not file_id or "/" in file_id:
        raise InvalidArgument(f"a file id looks like 'file-...' (got {file_id!r}).")
    return file_id
