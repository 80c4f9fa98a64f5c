"""Small media files for the upload fuzz tests (good ones, and ways to break them), a hand-written
multipart encoder (so that file names and headers can be anything, byte for byte), and a census of what
a studio holds on disk and in its database (to prove a refused upload left nothing behind)."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from polyface.media import ffmpeg
from polyface.persona.studio import Studio
from polyface.persona.tables import Consent, MediaBlob, Sample

BOUNDARY = "pf-fuzz-boundary-7d3a"


def wav(seconds: float = 1.0, *, freq: float = 220.0, level: float = 0.3, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (level * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return out.getvalue()


def png(width: int = 96, height: int = 96, shade: int = 120) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), (200, shade % 256, 90))
    image.paste((20, 20, 20), (width // 4, height // 4, width // 2, height // 2))
    image.save(out, format="PNG")
    return out.getvalue()


def mp4(folder: Path, seconds: float = 1.0, size: int = 64) -> bytes:
    frames = [np.full((size, size, 3), (i * 9) % 255, np.uint8) for i in range(int(seconds * 25))]
    return ffmpeg.encode_mp4(frames, folder / "clip.mp4", width=size, height=size, fps=25).read_bytes()


Part = tuple[str | None, str | bytes | None, str | None, bytes]
"""(field name or None: no name, file name or None: a plain field, content type, bytes)."""


def _quoted(value: str | bytes) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    # what browsers do with the characters a quoted header value cannot hold
    return raw.replace(b'"', b"%22").replace(b"\r", b"%0D").replace(b"\n", b"%0A")


def multipart(parts: list[Part], boundary: str = BOUNDARY, *, close: bool = True) -> bytes:
    """A multipart/form-data body, byte for byte as given (file names escaped the way browsers do)."""
    out = bytearray()
    for name, filename, content_type, data in parts:
        disposition = b"Content-Disposition: form-data"
        if name is not None:
            disposition += b'; name="' + _quoted(name) + b'"'
        if filename is not None:
            disposition += b'; filename="' + _quoted(filename) + b'"'
        out += f"--{boundary}\r\n".encode() + disposition + b"\r\n"
        if content_type is not None:
            out += b"Content-Type: " + content_type.encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    if close:
        out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def form_headers(boundary: str = BOUNDARY) -> dict[str, str]:
    return {"content-type": f"multipart/form-data; boundary={boundary}"}


@dataclass(frozen=True)
class Census:
    """What a studio holds: rows, stored media files, and files in its upload and temporary folders."""

    samples: int
    blobs: int
    consents: int
    media_files: frozenset[str]
    upload_files: frozenset[str]
    temp_files: frozenset[str]


def _files(folder: Path) -> frozenset[str]:
    if not folder.exists():
        return frozenset()
    return frozenset(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def census(studio: Studio, temp: Path) -> Census:
    with studio.db.session() as session:
        samples = session.scalar(select(func.count()).select_from(Sample)) or 0
        blobs = session.scalar(select(func.count()).select_from(MediaBlob)) or 0
        consents = session.scalar(select(func.count()).select_from(Consent)) or 0
    return Census(
        samples,
        blobs,
        consents,
        _files(studio.data_dir / "media"),
        _files(studio.data_dir / "uploads"),
        _files(temp),
    )


def error_body(response: Any, *statuses: int) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer, after checking its status and shape."""
    assert response.status_code in statuses, (response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], error
    assert isinstance(error.get("message"), str) and error["message"].strip(), error
    return error
