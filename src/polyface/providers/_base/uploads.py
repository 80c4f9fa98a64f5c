"""What every provider's file upload needs: the bytes (streamed from disk) with their SHA-256, a
content-addressed name, and a progress display. Pure apart from reading the file."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from polyface.errors import InvalidArgument

UploadSource = str | os.PathLike[str] | bytes | IO[bytes]
"""A path, bytes, or a binary file object."""
UploadProgress = Callable[[int, int], None]
"""Called with (bytes sent, total bytes) as an upload goes."""

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class Payload:
    """What to upload: a file on disk (streamed) or bytes in memory."""

    path: Path | None
    data: bytes | None
    size: int
    sha256: str

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        if self.data is not None:
            for start in range(0, len(self.data), size):
                yield self.data[start : start + size]
            return
        assert self.path is not None
        with self.path.open("rb") as stream:
            while chunk := stream.read(size):
                yield chunk

    def read(self, start: int, length: int) -> bytes:
        """``length`` bytes from offset ``start`` (one part of a multi-part upload)."""
        if self.data is not None:
            return self.data[start : start + length]
        assert self.path is not None
        with self.path.open("rb") as stream:
            stream.seek(start)
            return stream.read(length)


def read_payload(file: UploadSource) -> tuple[Payload, str | None]:
    """The upload's bytes (a path is streamed from disk) with its checksum, and its natural name if any."""
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
        return Payload(None, data, len(data), hashlib.sha256(data).hexdigest()), None
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        if not path.is_file():
            raise InvalidArgument(f"{str(path)!r} is not a file; pass the path of the file to upload.")
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
        return Payload(path, None, path.stat().st_size, digest.hexdigest()), path.name
    if hasattr(file, "read"):
        data = file.read()
        if not isinstance(data, bytes):
            raise InvalidArgument("open the file in binary mode ('rb') to upload it.")
        name = getattr(file, "name", None)
        return Payload(None, data, len(data), hashlib.sha256(data).hexdigest()), (
            Path(name).name if isinstance(name, str) else None
        )
    raise InvalidArgument(f"upload a path, bytes or a binary file object, not {type(file).__name__}.")


def upload_name(natural: str | None, sha256: str, suffix: str) -> str:
    """The content-addressed name an upload gets: ``<stem>-<sha256[:16]><suffix>`` (``suffix`` with its dot,
    used when ``natural`` has none); a name that already ends with the digest is kept."""
    stem = "polyface"
    if natural:
        path = Path(natural)
        stem, suffix = path.stem or stem, path.suffix or suffix
        if stem.endswith(sha256[:16]):
            return natural
    return f"{stem}-{sha256[:16]}{suffix}"


def is_content_addressed(name: str, sha256: str) -> bool:
    """Whether ``name`` carries the first 16 hex digits of ``sha256`` in its stem (as :func:`upload_name`
    makes them), so that a stored file of that name and size holds these very bytes."""
    return Path(name).stem.endswith(sha256[:16])


class UploadBar:
    """Upload progress: a callback, a Rich bar on a terminal, or nothing."""

    def __init__(self, progress: bool | UploadProgress, total: int, title: str) -> None:
        self.callback = progress if callable(progress) else None
        self.total = total
        self.sent = 0
        self.bar: Any = None
        if progress is True and sys.stderr.isatty():
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()
            )
            self.task = self.bar.add_task(title, total=total)
            self.bar.start()

    def advance(self, n: int) -> None:
        self.sent += n
        if self.callback is not None:
            self.callback(self.sent, self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.sent)

    def restart(self) -> None:
        """Back to zero (a retried request sends the bytes again)."""
        self.sent = 0
        if self.bar is not None:
            self.bar.update(self.task, completed=0)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __enter__(self) -> UploadBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "CHUNK_SIZE",
    "Payload",
    "UploadBar",
    "UploadProgress",
    "UploadSource",
    "is_content_addressed",
    "read_payload",
    "upload_name",
]
