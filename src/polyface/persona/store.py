"""Media rows and bytes together: put a blob (bytes in the store, a row in ``media``), read it back,
and collect the blobs no row refers to any more."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyface.persona.media import MediaStore
from polyface.persona.tables import MEDIA_REFERENCES, MediaBlob


def put_blob(session: Session, media: MediaStore, data: bytes, mime_type: str) -> MediaBlob:
    """Store ``data`` once (bytes first, then the row: a crash leaves at most an unreferenced file).
    Bytes stored before under another MIME type keep their first one (one file per content)."""
    from polyface.persona.media import sha256_of

    blob = session.get(MediaBlob, sha256_of(data))
    if blob is not None and media.exists(blob.sha256, blob.mime_type):
        return blob
    sha = media.put(data, blob.mime_type if blob is not None else mime_type)
    if blob is None:
        blob = MediaBlob(sha256=sha, size=len(data), mime_type=mime_type)
        session.add(blob)
        session.flush()
    return blob


def referenced(session: Session) -> set[str]:
    used: set[str] = set()
    for table, column in MEDIA_REFERENCES:
        used.update(v for v in session.scalars(select(getattr(table, column))) if v)
    return used


def collect_garbage(session: Session) -> list[tuple[str, str]]:
    """Delete the rows of blobs no sample, consent or turn refers to; returns their (sha256, mime type) for
    :func:`delete_files`, to call once the transaction committed (a rollback then loses no file)."""
    used = referenced(session)
    removed: list[tuple[str, str]] = []
    for blob in session.scalars(select(MediaBlob)).all():
        if blob.sha256 not in used:
            removed.append((blob.sha256, blob.mime_type))
            session.delete(blob)
    session.flush()
    return removed


def delete_files(media: MediaStore, blobs: list[tuple[str, str]]) -> None:
    """Remove the files of blobs whose rows are gone (best effort: a file left behind costs only space)."""
    for sha, mime in blobs:
        try:
            media.delete(sha, mime)
        except OSError:
            continue


def known_names(session: Session, media: MediaStore) -> set[str]:
    """The store names of every blob that has a row."""
    return {
        media.name_of(sha, mime)
        for sha, mime in session.execute(select(MediaBlob.sha256, MediaBlob.mime_type))
    }
