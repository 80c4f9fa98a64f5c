"""The content-addressed media store: every file is kept once, under the SHA-256 of its bytes.

A local folder by default (``<data>/media``); any fsspec URL (``s3://bucket/polyface``, ``memory://x``...)
by ``Studio(media=...)`` or ``POLYFACE_MEDIA_URL`` (install ``fsspec`` and the filesystem's package, e.g.
``s3fs``). Files are written atomically (a temporary name, then a rename) and never overwritten: the
same bytes always have the same name. Deleting is the database's decision (a blob goes only when no
row refers to it: :func:`polyface.persona.store.collect_garbage`).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
from pathlib import Path
from typing import Any

from polyface.errors import ConfigurationError

EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "application/json": ".json",
}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extension_for(mime_type: str) -> str:
    return EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ".bin"


def _hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def mime_for(name: str | os.PathLike[str], default: str = "application/octet-stream") -> str:
    guessed, _ = mimetypes.guess_type(str(name))
    return {"audio/x-wav": "audio/wav"}.get(guessed or "", guessed or default)


class MediaStore:
    """Blobs by SHA-256 under ``location`` (a folder or an fsspec URL)."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        text = os.fspath(location)
        self.url = text
        self._fs: Any = None
        if "://" in text and not text.startswith("file://"):
            try:
                import fsspec
            except ImportError:
                raise ConfigurationError(
                    f"media store {text!r} needs fsspec: `pip install fsspec` (and s3fs for s3://)."
                ) from None
            self._fs, self._root = fsspec.core.url_to_fs(text)
            self.local_root: Path | None = None
        else:
            self.local_root = Path(text.removeprefix("file://")).expanduser()
            self._root = str(self.local_root)

    def _name(self, sha: str, mime_type: str) -> str:
        return f"{sha[:2]}/{sha}{extension_for(mime_type)}"

    def path(self, sha: str, mime_type: str) -> Path | None:
        """The blob's file on this machine (None for a remote store: use :meth:`read`)."""
        if self.local_root is None:
            return None
        return self.local_root / self._name(sha, mime_type)

    def url_of(self, sha: str, mime_type: str) -> str:
        local = self.path(sha, mime_type)
        return str(local) if local is not None else f"{self.url.rstrip('/')}/{self._name(sha, mime_type)}"

    def exists(self, sha: str, mime_type: str) -> bool:
        local = self.path(sha, mime_type)
        if local is not None:
            return local.is_file()
        return bool(self._fs.exists(f"{self._root}/{self._name(sha, mime_type)}"))

    def put(self, data: bytes, mime_type: str) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        sha = sha256_of(data)
        if self.exists(sha, mime_type):
            return sha
        local = self.path(sha, mime_type)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".put-", dir=local.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, local)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            target = f"{self._root}/{self._name(sha, mime_type)}"
            self._fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            with self._fs.open(target + ".part", "wb") as out:
                out.write(data)
            self._fs.mv(target + ".part", target)
        return sha

    def read(self, sha: str, mime_type: str) -> bytes:
        local = self.path(sha, mime_type)
        if local is not None:
            return local.read_bytes()
        with self._fs.open(f"{self._root}/{self._name(sha, mime_type)}", "rb") as f:
            data: bytes = f.read()
        return data

    def name_of(self, sha: str, mime_type: str) -> str:
        """The blob's name inside the store (``ab/ab12...ef.wav``)."""
        return self._name(sha, mime_type)

    def sweep(self, keep: set[str], *, older_than: float) -> list[str]:
        """Remove what a crash can leave in the store: files named like blobs (``ab/<sha256>.<ext>``) that
        are not in ``keep`` (names from :meth:`name_of`) and unfinished writes (``.put-*``, ``*.part``),
        when last modified more than ``older_than`` seconds ago (a write still in progress is younger).
        Other files are left alone. Returns the names removed."""
        import time

        cutoff = time.time() - older_than
        removed: list[str] = []
        for name, modified in self._entries():
            folder, _, base = name.rpartition("/")
            temporary = base.startswith(".put-") or base.endswith(".part")
            stem = base.split(".", 1)[0]
            blob_like = len(folder) == 2 and len(stem) == 64 and stem.startswith(folder) and _hex(stem)
            if not (temporary or (blob_like and name not in keep)):
                continue
            if modified is not None and modified > cutoff:
                continue
            if modified is None and older_than > 0:  # age unknown: only an explicit sweep of everything
                continue
            try:
                self._remove(name)
            except (OSError, FileNotFoundError):
                continue
            removed.append(name)
        return sorted(removed)

    def _entries(self) -> list[tuple[str, float | None]]:
        """Every file under the root as (name relative to the root, modification time or None)."""
        out: list[tuple[str, float | None]] = []
        if self.local_root is not None:
            if not self.local_root.is_dir():
                return out
            for path in self.local_root.rglob("*"):
                try:
                    if path.is_file() and not path.is_symlink():
                        out.append((path.relative_to(self.local_root).as_posix(), path.stat().st_mtime))
                except OSError:
                    continue
            return out
        root = self._root.rstrip("/")
        for full, info in self._fs.find(root, detail=True).items():
            stamp = info.get("mtime") or info.get("LastModified") or info.get("created")
            modified = stamp.timestamp() if hasattr(stamp, "timestamp") else stamp
            name = str(full)[len(root) :].lstrip("/")
            out.append((name, float(modified) if isinstance(modified, int | float) else None))
        return out

    def _remove(self, name: str) -> None:
        if self.local_root is not None:
            (self.local_root / name).unlink(missing_ok=True)
        else:
            self._fs.rm(f"{self._root.rstrip('/')}/{name}")

    def delete(self, sha: str, mime_type: str) -> None:
        local = self.path(sha, mime_type)
        if local is not None:
            local.unlink(missing_ok=True)
        elif self.exists(sha, mime_type):
            self._fs.rm(f"{self._root}/{self._name(sha, mime_type)}")

    def __repr__(self) -> str:
        return f"MediaStore({self.url!r})"
