"""A persona's stored samples in the shape each trainer takes (what ``avatar.train`` hands providers).

- :func:`text_rows` / :func:`text_samples`: conversation rows ``{"messages": [...]}`` (the JSONL Together,
  OpenAI and the local trainer read), with a system prompt applied to rows that have none;
- :func:`audio_files`: 16-bit PCM WAV files on disk (MP3/FLAC/OGG/... and float or extensible WAVs are
  converted by ffmpeg; 16-bit WAVs are copied as they are);
- :func:`image_files`, :func:`video_files`: the stored files, copied to a work folder with their suffix;
- :func:`texts_for_recognizer`: what the persona says (assistant turns, and transcripts of its
  recordings), for ``local.fine_tuning.audio.train(texts=...)``;
- :func:`summary`: per modality, how many samples and how many seconds (for plans and estimates).

Each list comes with the sample ids it used (ordered by id), to record on the training run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from polyface.persona.errors import PersonaNotFound
from polyface.persona.media import extension_for
from polyface.persona.samples import Rejected, convert_to_wav, inspect_wav
from polyface.persona.tables import MediaBlob, Persona, Sample
from polyface.persona.views import SAMPLE_MODALITIES
from polyface.training.text_dataset import convert_row, row_tokens

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from polyface.persona.studio import Studio


def _persona(session: Session, persona_id: int) -> Persona:
    row = session.get(Persona, persona_id)
    if row is None:
        names = list(session.scalars(select(Persona.name).order_by(Persona.name)))
        raise PersonaNotFound(f"#{persona_id}", names)
    return row


def _samples(session: Session, persona_id: int, modality: str) -> list[Sample]:
    _persona(session, persona_id)
    query = (
        select(Sample).where(Sample.persona_id == persona_id, Sample.modality == modality).order_by(Sample.id)
    )
    return list(session.scalars(query))


def text_samples(
    studio: Studio, persona_id: int, *, system: str | None = None
) -> tuple[list[dict[str, Any]], list[int]]:
    """The persona's dialogue as conversation rows, and the ids of the samples they came from.

    ``system``: the system prompt for rows that have none; ``None`` uses the persona's own
    ``system_prompt`` (when set), ``""`` adds none.
    """
    with studio.db.session() as session:
        prompt = _persona(session, persona_id).system_prompt if system is None else system
        stored = [(row.id, row.text or "") for row in _samples(session, persona_id, "text")]
    rows: list[dict[str, Any]] = []
    ids: list[int] = []
    for sample_id, text in stored:
        row = json.loads(text)
        rows.append(convert_row(row, system=prompt or None))
        ids.append(sample_id)
    return rows, ids


def text_rows(studio: Studio, persona_id: int, *, system: str | None = None) -> list[dict[str, Any]]:
    """The persona's dialogue as conversation rows (see :func:`text_samples`)."""
    return text_samples(studio, persona_id, system=system)[0]


def _media(studio: Studio, persona_id: int, modality: str) -> list[tuple[int, str, str]]:
    """``(sample id, sha256, mime type)`` of the persona's samples of ``modality``."""
    with studio.db.session() as session:
        _persona(session, persona_id)
        query = (
            select(Sample.id, MediaBlob.sha256, MediaBlob.mime_type)
            .join(MediaBlob, MediaBlob.sha256 == Sample.media_sha256)
            .where(Sample.persona_id == persona_id, Sample.modality == modality)
            .order_by(Sample.id)
        )
        return [(int(i), str(sha), str(mime)) for i, sha, mime in session.execute(query)]


def _workdir(workdir: str | Path) -> Path:
    folder = Path(workdir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write(studio: Studio, sha: str, mime: str, target: Path) -> Path:
    local = studio.media.path(sha, mime)
    if local is not None and local.is_file():
        shutil.copyfile(local, target)
    else:
        target.write_bytes(studio.media.read(sha, mime))
    return target


def audio_files(studio: Studio, persona_id: int, workdir: str | Path) -> tuple[list[Path], list[int]]:
    """The persona's recordings as 16-bit PCM WAV files in ``workdir`` (``audio-<id>.wav``), and their
    sample ids. A recording that cannot be converted any more (ffmpeg missing) raises
    :class:`~polyface.errors.PolyfaceError` naming it."""
    from polyface.errors import PolyfaceError

    folder = _workdir(workdir)
    paths: list[Path] = []
    ids: list[int] = []
    for sample_id, sha, mime in _media(studio, persona_id, "audio"):
        target = folder / f"audio-{sample_id}.wav"
        data = studio.media.read(sha, mime)
        plain = False
        try:
            plain = inspect_wav(data).plain_pcm16
        except Rejected:
            plain = False
        if plain:
            target.write_bytes(data)
        else:
            source = folder / f".audio-{sample_id}{extension_for(mime)}"
            source.write_bytes(data)
            try:
                convert_to_wav(source, target, what=f"audio sample {sample_id}")
            except Rejected as exc:
                raise PolyfaceError(f"audio sample {sample_id} {exc}.") from None
            finally:
                source.unlink(missing_ok=True)
        paths.append(target)
        ids.append(sample_id)
    return paths, ids


def _copies(
    studio: Studio, persona_id: int, modality: str, workdir: str | Path
) -> tuple[list[Path], list[int]]:
    folder = _workdir(workdir)
    paths: list[Path] = []
    ids: list[int] = []
    for sample_id, sha, mime in _media(studio, persona_id, modality):
        paths.append(_write(studio, sha, mime, folder / f"{modality}-{sample_id}{extension_for(mime)}"))
        ids.append(sample_id)
    return paths, ids


def image_files(studio: Studio, persona_id: int, workdir: str | Path) -> tuple[list[Path], list[int]]:
    """The persona's pictures as files in ``workdir`` (``image-<id>.png``/``.jpg``/``.webp``), and their
    sample ids."""
    return _copies(studio, persona_id, "image", workdir)


def video_files(studio: Studio, persona_id: int, workdir: str | Path) -> tuple[list[Path], list[int]]:
    """The persona's clips as files in ``workdir`` (``video-<id>.mp4``...), and their sample ids."""
    return _copies(studio, persona_id, "video", workdir)


def texts_for_recognizer(
    studio: Studio, persona_id: int, *, transcripts: bool = True
) -> tuple[list[str], list[int]]:
    """What the persona says: the assistant turns of its dialogue (one entry per turn) and, with
    ``transcripts``, the transcripts of its recordings and clips; and the ids of the samples used."""
    with studio.db.session() as session:
        _persona(session, persona_id)
        query = select(Sample.id, Sample.modality, Sample.text).where(
            Sample.persona_id == persona_id, Sample.text.is_not(None)
        )
        stored = [(int(i), str(m), str(t)) for i, m, t in session.execute(query.order_by(Sample.id))]
    texts: list[str] = []
    ids: list[int] = []
    for sample_id, modality, text in stored:
        said: list[str] = []
        if modality == "text":
            messages = json.loads(text).get("messages") or []
            said = [
                str(m.get("content") or "").strip()
                for m in messages
                if isinstance(m, dict) and m.get("role") == "assistant"
            ]
        elif transcripts and modality in ("audio", "video"):
            said = [text.strip()]
        said = [s for s in said if s]
        if said:
            texts.extend(said)
            ids.append(sample_id)
    return texts, ids


def summary(studio: Studio, persona_id: int) -> dict[str, dict[str, float]]:
    """Per sample modality: ``{"count": n, "seconds": total duration}`` (and ``"tokens"``, a rough count of
    the dialogue's tokens, for text). Every modality is present, with zeros when it has no samples."""
    out: dict[str, dict[str, float]] = {m: {"count": 0, "seconds": 0.0} for m in SAMPLE_MODALITIES}
    out["text"]["tokens"] = 0
    with studio.db.session() as session:
        _persona(session, persona_id)
        query = select(Sample.modality, Sample.duration, Sample.text).where(Sample.persona_id == persona_id)
        for modality, duration, text in session.execute(query):
            entry = out.setdefault(str(modality), {"count": 0, "seconds": 0.0})
            entry["count"] += 1
            entry["seconds"] = round(entry["seconds"] + float(duration or 0.0), 4)
            if modality == "text" and text:
                entry["tokens"] += row_tokens(json.loads(text))
    return out


__all__ = [
    "audio_files",
    "image_files",
    "summary",
    "text_rows",
    "text_samples",
    "texts_for_recognizer",
    "video_files",
]
