"""Multipart uploads streamed to disk with a per-file size limit, and safe file names.

Starlette's form parser would spool a whole upload before any limit applies; this parser writes each
file part to a temporary folder as it arrives and stops at the limit (413 ``too_large``). The caller owns
the folder (:func:`upload_folder`) and it is removed with everything in it, whatever happens.
"""

from __future__ import annotations

import codecs
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.concurrency import run_in_threadpool

from polyface.server.errors import ApiError, UploadTooLarge

MAX_FIELD_BYTES: Final = 1024 * 1024
"""The largest plain (non-file) form field."""
MAX_FIELDS: Final = 100
MAX_FILES: Final = 1000
MAX_NAME: Final = 120
MAX_NAME_BYTES: Final = 200

_UNSAFE = re.compile(r"[^\w.\-+,@() ]")


def safe_name(raw: str | None, fallback: str = "upload") -> str:
    """The base name of an uploaded file's name, harmless on disk: no folders (``/`` or ``\\``), no
    control or shell characters, no leading dots, at most 120 characters and 200 bytes of UTF-8 (the
    suffix kept)."""
    base = re.split(r"[/\\]", raw or "")[-1]
    base = _UNSAFE.sub("_", "".join(ch for ch in base if ch.isprintable())).strip().lstrip(".").strip()
    if not base:
        return fallback
    if len(base) <= MAX_NAME and len(base.encode()) <= MAX_NAME_BYTES:
        return base
    full_suffix = Path(base).suffix
    suffix = full_suffix[:16]
    stem = base[: len(base) - len(full_suffix)]
    # at most MAX_NAME characters and MAX_NAME_BYTES of UTF-8 (file systems count bytes: 255 at most)
    while len(stem) + len(suffix) > MAX_NAME or len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem + suffix) if stem.strip() else fallback + suffix


@dataclass
class UploadedFile:
    field: str
    name: str
    """The sanitised base name (what reports show)."""
    path: Path
    size: int = 0
    content_type: str | None = None
    named: bool = True
    """False when the part had an empty file name (a form's file input left empty)."""


@dataclass
class Form:
    files: list[UploadedFile] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        """The last value of a plain field (None when absent)."""
        found = [v for k, v in self.fields if k == name]
        return found[-1] if found else None

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]


@asynccontextmanager
async def upload_folder(parent: Path) -> AsyncIterator[Path]:
    """A fresh temporary folder under ``parent``, removed afterwards with everything in it."""

    def make() -> Path:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="upload-", dir=parent))

    folder = await run_in_threadpool(make)
    try:
        yield folder
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


class _Parser:
    """python-multipart callbacks: file parts go to ``folder`` (limit each), fields stay in memory."""

    def __init__(self, folder: Path, limit: int, charset: str) -> None:
        self.folder = folder
        self.limit = limit
        self.charset = charset
        self.form = Form()
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.content_type: str | None = None
        self.field_name = ""
        self.file: UploadedFile | None = None
        self.data = bytearray()
        self.pending: list[tuple[UploadedFile, bytes]] = []
        """File parts' bytes not on disk yet (``b""``: create the file)."""
        self.handles: dict[Path, IO[bytes]] = {}

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode(self.charset)
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def on_part_begin(self) -> None:
        self.disposition, self.content_type, self.file = b"", None, None
        self.data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self.header_name.lower()
        if name == b"content-disposition":
            self.disposition = self.header_value
        elif name == b"content-type":
            self.content_type = self._decode(self.header_value)
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise ApiError(400, "bad_request", 'a form part has no name (Content-Disposition "name").')
        self.field_name = self._decode(options[b"name"])
        if b"filename" not in options:
            if len(self.form.fields) >= MAX_FIELDS:
                raise ApiError(400, "bad_request", f"too many form fields (at most {MAX_FIELDS}).")
            return
        if len(self.form.files) >= MAX_FILES:
            raise ApiError(400, "bad_request", f"too many files in one upload (at most {MAX_FILES}).")
        raw = self._decode(options[b"filename"])
        name = safe_name(raw, f"upload-{len(self.form.files) + 1}")
        path = self._free_path(name)
        self.file = UploadedFile(self.field_name, path.name, path, 0, self.content_type, named=bool(raw))
        self.form.files.append(self.file)
        self.pending.append((self.file, b""))  # created on disk by flush(), in a worker thread

    def _free_path(self, name: str) -> Path:
        """A name not taken yet in the (fresh, private) folder: decided here, without touching the disk."""
        taken = {f.path.name for f in self.form.files}
        candidate, number = name, 2
        while candidate in taken:
            candidate = f"{Path(name).stem}-{number}{Path(name).suffix}"
            number += 1
        return self.folder / candidate

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.file is None:
            if len(self.data) + len(chunk) > MAX_FIELD_BYTES:
                raise UploadTooLarge(f"form field {self.field_name!r}", MAX_FIELD_BYTES)
            self.data.extend(chunk)
            return
        self.file.size += len(chunk)
        if self.file.size > self.limit:
            raise UploadTooLarge(self.file.name, self.limit)
        self.pending.append((self.file, chunk))

    def on_part_end(self) -> None:
        if self.file is None:
            self.form.fields.append((self.field_name, self._decode(bytes(self.data))))

    def flush(self) -> None:
        """Write what arrived (blocking: called in a worker thread); files are opened on first use."""
        for file, chunk in self.pending:
            handle = self.handles.get(file.path)
            if handle is None:
                handle = self.handles[file.path] = file.path.open("xb")
            if chunk:
                handle.write(chunk)
        self.pending.clear()

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


async def read_multipart(request: Request, folder: Path, *, limit: int) -> Form:
    """Parse a ``multipart/form-data`` request: each file part into ``folder`` (at most ``limit`` bytes
    each, else 413 ``too_large``), plain fields into memory. Parts with an empty file name and no bytes
    (a form's empty file input) are left out."""
    content_type = request.headers.get("content-type", "")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise ApiError(
            415, "unsupported_media_type", "send the files as multipart/form-data (one part per file)."
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "bad_request", "the multipart request has no boundary in its Content-Type.")
    raw_charset = params.get(b"charset", b"utf-8")
    try:
        charset = codecs.lookup(raw_charset.decode("latin-1")).name
    except LookupError:
        charset = "utf-8"
    parser_state = _Parser(folder, limit, charset)
    try:
        parser = MultipartParser(boundary, parser_state.callbacks())  # type: ignore[arg-type]
    except FormParserError as exc:  # e.g. a boundary over 256 bytes
        raise ApiError(400, "bad_request", f"the multipart boundary is not usable ({exc}).") from None
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise ApiError(400, "bad_request", f"the multipart body is malformed ({exc}).") from None
            await run_in_threadpool(parser_state.flush)
        parser.finalize()
        if parser.state not in (MultipartState.END, MultipartState.BOUNDARY_PADDING):
            raise ApiError(
                400, "bad_request", "the multipart body ends early (no closing boundary); send it again."
            )
        await run_in_threadpool(parser_state.flush)
    finally:
        await run_in_threadpool(parser_state.close)
    form = parser_state.form
    form.files = [f for f in form.files if f.size or f.named]
    return form
