"""A persona's training samples: import, validate, store once, list, read, remove (``persona.samples``).

```python
rex.samples.add_text("dialogue/*.jsonl")            # JSONL / JSON / CSV / plain scripts, or rows
rex.samples.add_text("scenes.txt", speaker="Rex")   # a script: Rex's lines are the assistant turns
rex.samples.add_audio("voice/")                     # a file, a folder, a glob, bytes, or a list of them
rex.samples.add_images(["face.png", "more/*.jpg"])
report = rex.samples.add_video("clips/", progress=True)
print(report)                                       # added, already stored, and each bad file's reason
```

**What is kept.** Every good row or file is stored even when others in the same call are bad; each bad
one is listed in ``ImportReport.rejected`` with the reason. Identical content for the same persona and
modality is stored once (the later sources are listed in ``duplicates``); media bytes go to the
content-addressed store once, whoever uses them.

**Text.** ``add_text(source, *, system=None, speaker=None)``: ``.jsonl``, ``.json`` and ``.csv`` files are
read by :mod:`polyface.training.text_dataset`; each row must be a conversation (``messages``,
``user``+``assistant``, ``input``+``output``) or ``prompt``+``completion`` (kept as a two-turn
conversation). Each good row is one sample: its ``text`` is the row as canonical JSON (``{"messages":
[...]}``, keys sorted), its checksum the SHA-256 of that text. ``system=`` is stored as the system
message of rows that have none. ``.txt`` files are plain scripts (see :func:`parse_script`): blank lines
separate dialogues; ``Name: line`` turns whose name is the persona's (or ``speaker=``) are the assistant
turns and everyone else's the user turns; a script without names alternates user and assistant lines.
Rows already in memory (a list of dicts) work too. Text files are limited to 50 MiB.

**Media.** Format is decided by the content, never the suffix (a PNG named ``.jpg`` is a PNG); then:

==========  ===========================================  =========  ==================================
modality    formats                                      size       checks
==========  ===========================================  =========  ==================================
audio       WAV, MP3, FLAC, OGG, M4A, WebM               50 MiB     decodable (WAV: header matches the
                                                                    data, so a cut-off file is refused),
                                                                    0.5 s to 10 min, not silent
image       PNG, JPEG, WebP                              20 MiB     decodes fully, at least 64 px a side
video       MP4, MOV, WebM, MKV, AVI (with a video       500 MiB    its first and last frames decode,
            stream)                                                 0.5 s to 10 min, at least 64 px a side
==========  ===========================================  =========  ==================================

Non-WAV audio is converted to WAV by :mod:`polyface.media.ffmpeg` only to measure it: the original bytes
are stored. A folder contributes its files (recursively, hidden ones skipped) whose suffix belongs to the
modality; a file named explicitly or matched by a glob is always checked. A ``<name>.txt`` beside an
audio or video file is its transcript (``SampleInfo.text``). Measured ``meta``: audio ``format``,
``sample_rate``, ``channels``, ``duration``; image ``width``, ``height``, ``format``; video ``width``,
``height``, ``fps``, ``duration``, ``has_audio``, ``format``.
"""

from __future__ import annotations

import builtins
import glob
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from polyface.errors import ConfigurationError, DatasetError, InvalidArgument, PolyfaceError
from polyface.persona.errors import PersonaNotFound
from polyface.persona.store import put_blob
from polyface.persona.tables import MEDIA_REFERENCES, MediaBlob, Persona, Sample
from polyface.persona.views import ImportReport, SampleInfo, SampleProblem

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from polyface.persona.studio import Studio

MiB = 1024 * 1024
MAX_BYTES: dict[str, int] = {"text": 50 * MiB, "audio": 50 * MiB, "image": 20 * MiB, "video": 500 * MiB}
"""The largest file accepted per modality."""
MIN_SECONDS = 0.5
MAX_SECONDS = 600.0
"""Audio and video clips must last between these (seconds)."""
MIN_IMAGE_SIDE = 64
"""Images and video frames must be at least this many pixels wide and high."""
SILENCE_PEAK = 32768 // 1000
"""Peak (on a 16-bit scale, whatever the recording's sample format) below which a recording counts as
silent (-60 dBFS)."""
MAX_TRANSCRIPT_BYTES = MiB

SUFFIXES: dict[str, frozenset[str]] = {
    "text": frozenset({".jsonl", ".ndjson", ".json", ".csv", ".txt"}),
    "audio": frozenset({".wav", ".wave", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".webm"}),
    "image": frozenset({".png", ".jpg", ".jpeg", ".webp"}),
    "video": frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"}),
}
"""What a folder contributes per modality (files named explicitly or by a glob are always checked)."""

AUDIO_MIME: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}
IMAGE_MIME: dict[str, str] = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
VIDEO_MIME: dict[str, str] = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
}

MediaInput: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview
SampleSource: TypeAlias = MediaInput | Sequence[MediaInput]
"""A file, a folder, a glob (``voice/*.wav``), a file's bytes, or a list of them."""
TextSource: TypeAlias = (
    str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Iterable[Mapping[str, Any]]
)
"""Dialogue files (a file, a folder, a glob, a list of them) or rows (dicts) in memory."""
Progress: TypeAlias = bool | Callable[[int, int], None]
"""``True``: a Rich bar on a terminal; a callable gets ``(done, total)`` after each item."""


class Rejected(Exception):
    """One sample is not usable; the message is the reason shown in :class:`ImportReport`."""


# ---- what the bytes are --------------------------------------------------------------------------------


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sniff_audio(data: bytes) -> str | None:
    """The audio container of ``data`` by its first bytes (``wav``, ``mp3``, ``flac``, ``ogg``, ``m4a``,
    ``webm``), or None."""
    from polyface.media.acoustics import sniff_format

    return sniff_format(data)


def sniff_video(data: bytes) -> str | None:
    """The video container of ``data`` (``mp4``, ``mov``, ``webm``, ``mkv``, ``avi``), or None."""
    head = bytes(data[:64])
    if head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def describe_content(data: bytes) -> str:
    """What ``data`` looks like, for messages: ``a PNG image``, ``MP3 audio``, ``text``..."""
    head = bytes(data[:16])
    if not data:
        return "empty"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "a PNG image"
    if head[:3] == b"\xff\xd8\xff":
        return "a JPEG image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[:4] == b"GIF8":
        return "a GIF image"
    if head[:4] == b"%PDF":
        return "a PDF document"
    if head[:4] == b"PK\x03\x04":
        return "a ZIP archive"
    video = sniff_video(data)
    if video in ("mp4", "mov"):
        return f"an {video.upper()} file" if video == "mp4" else "a MOV file"
    if video in ("mkv", "avi"):
        return f"an {video.upper()} video"
    audio = sniff_audio(data)
    if audio is not None:
        return f"{audio.upper()} audio" if audio != "webm" else "a WebM file"
    sample = bytes(data[:1024])
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = sample[: exc.start].decode("utf-8") if exc.start > len(sample) - 4 else ""
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "text"
    return "data of no known media format"


# ---- WAV ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says, checked against the bytes there are."""

    format_tag: int
    channels: int
    sample_rate: int
    bits: int
    block_align: int
    data_offset: int
    data_size: int

    @property
    def frames(self) -> int:
        return self.data_size // self.block_align if self.block_align else 0

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def plain_pcm16(self) -> bool:
        return self.format_tag == 1 and self.bits == 16


def inspect_wav(data: bytes) -> WavInfo:
    """Parse a WAV's chunks; :class:`Rejected` when the header is broken or promises more audio than the
    file holds (a cut-off recording)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise Rejected(f"is {describe_content(data)}, not a WAV file")
    pos = 12
    fmt: tuple[int, int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            if body + 16 > len(data):
                raise Rejected("is cut off inside its WAV header; export the recording again")
            tag, channels, rate, _byte_rate, align, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag == 0xFFFE and size >= 40 and body + 26 <= len(data):  # WAVE_FORMAT_EXTENSIBLE
                tag = struct.unpack_from("<H", data, body + 24)[0]
            fmt = (tag, channels, rate, align, bits)
        elif chunk == b"data":
            if fmt is None:
                raise Rejected("is not a readable WAV file (its audio comes before its format chunk)")
            tag, channels, rate, align, bits = fmt
            if channels <= 0 or rate <= 0 or align <= 0:
                raise Rejected(
                    f"is not a readable WAV file (header says {channels} channel(s) at {rate} Hz); "
                    "export it again"
                )
            available = len(data) - body
            if size in (0, 0xFFFFFFFF):  # written to a pipe: the data runs to the end of the file
                size = available
            elif size > available:
                promised, held = size / (align * rate), available / (align * rate)
                raise Rejected(
                    f"is cut off: its header promises {promised:.2f} s of audio but the file holds only "
                    f"{held:.2f} s; copy or export the recording again"
                )
            if size // align == 0:
                raise Rejected("holds no audio frames; record or pick a file with sound in it")
            return WavInfo(tag, channels, rate, bits, align, body, size)
        pos = body + size + (size & 1)
    if fmt is None:
        raise Rejected("is not a readable WAV file (no format chunk); export it again")
    raise Rejected("is cut off: its WAV header has no audio data after it; export the recording again")


def _integer_pcm(info: WavInfo) -> bool:
    """Packed integer PCM of 8, 16, 24 or 32 bits (what :func:`_peak16` reads without ffmpeg)."""
    return (
        info.format_tag == 1
        and info.bits in (8, 16, 24, 32)
        and info.block_align == info.channels * (info.bits // 8)
    )


def _peak16(data: bytes, info: WavInfo) -> int | None:
    """The largest sample magnitude on a 16-bit scale, for integer PCM of 8, 16, 24 or 32 bits (None for
    other sample formats, which :func:`check_audio` decodes to 16-bit first)."""
    if not _integer_pcm(info):
        return None
    import numpy as np

    width = info.bits // 8
    raw = data[info.data_offset : info.data_offset + info.frames * info.block_align]
    raw = raw[: len(raw) // width * width]
    if not raw:
        return 0
    if info.bits == 8:  # unsigned, centred on 128
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) * 256
    elif info.bits == 16:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    elif info.bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        samples = np.where(value & 0x800000, value - 0x1000000, value) >> 8
    else:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.int64) >> 16
    return max(int(samples.max()), -int(samples.min()))


def convert_to_wav(source: Path, target: Path, *, what: str = "audio") -> Path:
    """Decode ``source`` (any audio ffmpeg reads, or a video's first audio track) into a 16-bit PCM WAV at
    ``target``, keeping its sample rate and channels. :class:`Rejected` when it cannot be decoded."""
    from polyface.media import ffmpeg

    try:
        ffmpeg.run(
            ["-v", "error", "-y", "-i", str(source), "-vn", "-map", "0:a:0", "-c:a", "pcm_s16le", "-f", "wav",
             str(target)],
            what=f"decoding {what}",
        )  # fmt: skip
    except ConfigurationError as exc:
        raise Rejected(f"cannot be measured without ffmpeg ({exc})") from None
    except PolyfaceError as exc:
        reason = str(exc).split(": ", 1)[-1]
        if "matches no streams" in reason or "does not contain any stream" in reason:
            raise Rejected("has no audio stream; use add_video for clips, or pick a recording") from None
        raise Rejected(
            f"cannot be decoded ({ffmpeg_reason(reason)}): it is damaged or not really {what}; export the "
            "recording again (WAV is safest)"
        ) from None
    return target


_FFMPEG_TAG = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def ffmpeg_reason(stderr: str, limit: int = 160) -> str:
    """ffmpeg's complaint in a few words: its ``[decoder @ 0x...]`` tags and the lines about the output
    file it could not make (a temporary file of ours) left out."""
    parts = [_FFMPEG_TAG.sub("", part).strip() for part in stderr.split(" | ")]
    kept = [p for p in parts if p and "output file" not in p.lower() and "polyface-sample-" not in p]
    text = "; ".join(dict.fromkeys(kept)) or "ffmpeg could not read it"
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# ---- per-modality validation ---------------------------------------------------------------------------


@dataclass
class Checked:
    """A validated media file: its MIME type, duration and what was measured."""

    mime_type: str
    meta: dict[str, Any]
    duration: float | None = None


def _check_seconds(seconds: float, kind: str) -> None:
    if seconds < MIN_SECONDS:
        raise Rejected(f"is too short: {seconds:.2f} s of {kind}; clips must last at least {MIN_SECONDS:g} s")
    if seconds > MAX_SECONDS:
        raise Rejected(
            f"is too long: {seconds / 60:.1f} min of {kind}; clips must last at most "
            f"{MAX_SECONDS / 60:g} min (split it)"
        )


def check_audio(data: bytes, path: Path | None) -> Checked:
    """Validate one recording (see the module's table); :class:`Rejected` with the reason."""
    fmt = sniff_audio(data)
    if fmt is None:
        raise Rejected(
            f"is {describe_content(data)}, not audio; use WAV, MP3, FLAC, OGG, M4A or WebM recordings"
        )
    if fmt == "wav":
        info = inspect_wav(data)
        measured, measured_bytes = info, data
        if not _integer_pcm(info):  # float, compressed, padded samples: let ffmpeg decode it
            measured_bytes = _decoded_wav(data, path, fmt)
            measured = inspect_wav(measured_bytes)
        meta: dict[str, Any] = {"format": "wav", "bits": info.bits}
    else:
        measured_bytes = _decoded_wav(data, path, fmt)
        measured = inspect_wav(measured_bytes)
        meta = {"format": fmt}
    duration = measured.duration
    _check_seconds(duration, "audio")
    peak = _peak16(measured_bytes, measured)
    if peak is not None and peak < SILENCE_PEAK:
        raise Rejected("is silent (its loudest sample is below -60 dBFS); pick a recording of the voice")
    meta.update(sample_rate=measured.sample_rate, channels=measured.channels, duration=round(duration, 4))
    return Checked(AUDIO_MIME[fmt], meta, duration)


def _decoded_wav(data: bytes, path: Path | None, fmt: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="polyface-sample-") as tmp:
        source = path if path is not None else Path(tmp) / f"input.{fmt}"
        if path is None:
            source.write_bytes(data)
        target = convert_to_wav(source, Path(tmp) / "decoded.wav", what=f"{fmt.upper()} audio")
        return target.read_bytes()


def check_image(data: bytes, path: Path | None) -> Checked:
    """Validate one image: PNG, JPEG or WebP by content, fully decodable, at least 64 px a side."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format or ""
                width, height = image.size
                if kind not in IMAGE_MIME:
                    raise Rejected(
                        f"is a {kind or 'unknown'} image; use PNG, JPEG or WebP (convert it, e.g. "
                        "`ffmpeg -i in.gif out.png`)"
                    )
                image.load()
    except UnidentifiedImageError:
        kind = describe_content(data)
        if kind.endswith(" image"):  # the right signature, but not decodable as one
            raise Rejected(
                f"starts like {kind} but cannot be decoded (damaged or cut off); export the picture again"
            ) from None
        raise Rejected(f"is {kind}, not an image; use PNG, JPEG or WebP files") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected("has too many pixels to decode safely; scale it down") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Rejected(f"cannot be decoded ({exc}); the file is damaged or cut off") from None
    if width < MIN_IMAGE_SIDE or height < MIN_IMAGE_SIDE:
        raise Rejected(f"is too small: {width}x{height} px; images need at least {MIN_IMAGE_SIDE} px a side")
    return Checked(IMAGE_MIME[kind], {"width": width, "height": height, "format": kind.lower()})


def check_video(data: bytes, path: Path | None) -> Checked:
    """Validate one clip: a video container by content with a video stream whose first and last frames
    decode, 0.5 s to 10 min, at least 64 px a side."""
    from polyface.media import ffmpeg

    container = sniff_video(data)
    if container is None:
        raise Rejected(f"is {describe_content(data)}, not a video; use MP4, MOV, WebM, MKV or AVI clips")
    with _on_disk(data, path, container) as file:
        try:
            info = ffmpeg.probe(file)
        except ConfigurationError as exc:
            raise Rejected(f"cannot be checked without ffmpeg ({exc})") from None
        except PolyfaceError as exc:
            reason = ffmpeg_reason(str(exc).split(": ", 1)[-1])
            raise Rejected(
                f"cannot be read as video ({reason}): it is damaged or cut off; export the clip again"
            ) from None
        stream = info.video
        if stream is None or not stream.width or not stream.height:
            raise Rejected("has no video stream (an audio file? use add_audio for recordings)")
        duration = stream.duration or info.duration
        if duration is None:
            raise Rejected("has no duration ffmpeg can read; re-encode it as MP4")
        _check_seconds(duration, "video")
        if stream.width < MIN_IMAGE_SIDE or stream.height < MIN_IMAGE_SIDE:
            raise Rejected(
                f"is too small: {stream.width}x{stream.height} px; video needs at least "
                f"{MIN_IMAGE_SIDE} px a side"
            )
        for at in (0.0, max(0.0, duration - 0.25)):
            if not _frame_decodes(file, at):
                where = "its first frame" if at == 0.0 else f"the frame at {at:.2f} s"
                raise Rejected(f"cannot be decoded ({where} is missing or damaged: the file may be cut off)")
    meta = {
        "width": stream.width,
        "height": stream.height,
        "fps": stream.fps,
        "duration": round(duration, 4),
        "has_audio": info.audio is not None,
        "format": container,
        "codec": stream.codec,
    }
    return Checked(VIDEO_MIME[container], meta, duration)


def _frame_decodes(file: Path, at: float) -> bool:
    from polyface.media import ffmpeg

    size = 16
    done = ffmpeg.run(
        ["-v", "error", "-ss", f"{at:.3f}", "-i", str(file), "-map", "0:v:0", "-frames:v", "1",
         "-vf", f"scale={size}:{size}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        what="decoding a frame", check=False,
    )  # fmt: skip
    return done.returncode == 0 and len(done.stdout) >= size * size * 3


@contextmanager
def _on_disk(data: bytes, path: Path | None, suffix: str) -> Iterator[Path]:
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="polyface-sample-") as tmp:
        file = Path(tmp) / f"input.{suffix}"
        file.write_bytes(data)
        yield file


CHECKS: dict[str, Callable[[bytes, Path | None], Checked]] = {
    "audio": check_audio,
    "image": check_image,
    "video": check_video,
}


# ---- sources ------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One file to import: what to call it in reports, and its path or bytes."""

    source: str
    path: Path | None = None
    data: bytes | None = None


@dataclass
class Collected:
    items: list[Item] = field(default_factory=list)
    problems: list[SampleProblem] = field(default_factory=list)


_GLOB = re.compile(r"[*?\[]")


def collect(source: Any, modality: str) -> Collected:
    """Expand files, folders, globs, bytes and lists of them into items (missing paths become problems)."""
    out = Collected()
    seen: set[Path] = set()
    suffixes = SUFFIXES[modality]

    def add_path(path: Path, shown: str) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.items.append(Item(shown, path=path))

    def visit(value: Any, depth: int, position: int) -> None:
        if isinstance(value, bytes | bytearray | memoryview):
            out.items.append(Item(f"<bytes #{position}>" if depth else "<bytes>", data=bytes(value)))
            return
        if isinstance(value, str | os.PathLike):
            text = os.fspath(value)
            path = Path(text).expanduser()
            if path.is_dir():
                found = sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in suffixes
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
                if not found:
                    listed = ", ".join(sorted(suffixes))
                    out.problems.append(SampleProblem(source=text, reason=f"folder holds no {listed} files"))
                for p in found:
                    add_path(p, str(p))
            elif path.is_file():
                add_path(path, text)
            elif _GLOB.search(text):
                matched = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=True))
                files = [m for m in matched if m.is_file() and not _is_sidecar(m, matched)]
                if not files:
                    out.problems.append(SampleProblem(source=text, reason="the pattern matches no files"))
                for p in files:
                    add_path(p, str(p))
            else:
                out.problems.append(
                    SampleProblem(
                        source=text, reason="does not exist; pass a file, a folder, a glob or a list of them"
                    )
                )
            return
        if isinstance(value, Sequence) and depth == 0:
            for number, entry in enumerate(value, start=1):
                visit(entry, depth + 1, number)
            return
        raise InvalidArgument(
            f"cannot import samples from a {type(value).__name__}; pass a file path, a folder, a glob, "
            "a file's bytes, or a list of them."
        )

    visit(source, 0, 1)
    return out


def _is_sidecar(path: Path, matched: Sequence[Path]) -> bool:
    """A ``.txt`` transcript beside a media file matched by the same glob."""
    return path.suffix.lower() == ".txt" and any(
        m != path and m.with_suffix("") == path.with_suffix("") for m in matched
    )


def _transcript(path: Path | None) -> str | None:
    if path is None:
        return None
    side = path.with_suffix(".txt")
    if side == path or not side.is_file() or side.stat().st_size > MAX_TRANSCRIPT_BYTES:
        return None
    try:
        text = side.read_text(encoding="utf-8-sig").replace("\x00", "").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def storable(text: str) -> str:
    """``text`` if it is Unicode text a database can store; :class:`Rejected` for lone surrogates (what
    JSON's ``\\ud800`` escapes decode to: UTF-8 cannot encode them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Rejected(
            f"holds a lone surrogate ({text[exc.start]!a}), which is not text; fix the escapes in the file"
        ) from None
    return text


def shown_source(text: str) -> str:
    """A source name every database can store: file names that are not UTF-8 (surrogate escapes) get
    U+FFFD in place of their bad bytes."""
    cleaned = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return cleaned.replace("\x00", "")


def _read(item: Item, modality: str) -> bytes:
    limit = MAX_BYTES[modality]
    if item.data is not None:
        data = item.data
    else:
        assert item.path is not None
        try:
            size = item.path.stat().st_size
            if size > limit:
                raise Rejected(_too_big(size, limit, modality))
            data = item.path.read_bytes()
        except OSError as exc:
            raise Rejected(f"cannot be read ({exc.strerror or exc}); check its permissions") from None
    if not data:
        raise Rejected("is empty (0 bytes); copy or export the file again")
    if len(data) > limit:
        raise Rejected(_too_big(len(data), limit, modality))
    return data


def _too_big(size: int, limit: int, modality: str) -> str:
    return (
        f"is {size / MiB:.1f} MiB; {modality} files may be at most {limit // MiB} MiB (trim or re-encode it)"
    )


# ---- plain scripts ------------------------------------------------------------------------------------

_SPEAKER = re.compile(r"^\s*(?P<name>[^\W\d][\w .'\-]{0,39}?)\s*:(?:\s+(?P<text>.*))?$")


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").casefold().split())


def parse_script(text: str, speaker: str) -> list[tuple[int, Any]]:
    """A plain script's dialogues as numbered conversation rows ``[(first line, row), ...]``.

    Blank lines separate dialogues (one sample each); lines starting with ``#`` are comments. When the
    first line is ``Name: words``, every turn starts with a name: turns by ``speaker`` (compared without
    case, ``_`` or ``-``) are the assistant's, everyone else's the user's (a line without a name continues
    the turn before it; consecutive turns of one role are joined, other speakers' names kept when there
    are several). Otherwise the lines alternate: user, assistant, user... Raises :class:`Rejected` when a
    named script has no turn by ``speaker``.
    """
    lines = text.splitlines()
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if not stripped:
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append((number, stripped))
    blocks = [b for b in blocks if b]
    if not blocks:
        return []
    named = _SPEAKER.match(blocks[0][0][1]) is not None
    if not named:
        return [(b[0][0], _alternating(b)) for b in blocks]
    wanted = _norm(speaker)
    speakers: dict[str, str] = {}
    parsed: list[tuple[int, list[tuple[str, str]]]] = []
    for block in blocks:
        turns: list[tuple[str, str]] = []
        for _number, line in block:
            match = _SPEAKER.match(line)
            if match is not None:
                name = " ".join(match["name"].split())
                speakers.setdefault(_norm(name), name)
                turns.append((name, (match["text"] or "").strip()))
            elif turns:
                turns[-1] = (turns[-1][0], f"{turns[-1][1]}\n{line}".strip())
            else:
                turns.append(("", line))  # a line without a name: reported by validation as a user turn
        parsed.append((block[0][0], turns))
    if wanted not in speakers:
        found = ", ".join(sorted(speakers.values())) or "none"
        raise Rejected(
            f"has no turns by {speaker!r} (speakers: {found}); pass speaker='<name>' to say which "
            "speaker the persona is"
        )
    return [(line, _named_row(turns, wanted)) for line, turns in parsed]


def _alternating(block: list[tuple[int, str]]) -> dict[str, Any]:
    roles = ("user", "assistant")
    return {"messages": [{"role": roles[i % 2], "content": line} for i, (_n, line) in enumerate(block)]}


def _named_row(turns: list[tuple[str, str]], wanted: str) -> dict[str, Any]:
    others = {_norm(n) for n, _t in turns if _norm(n) != wanted and n}
    messages: list[dict[str, str]] = []
    for name, words in turns:
        role = "assistant" if _norm(name) == wanted else "user"
        content = f"{name}: {words}" if role == "user" and len(others) > 1 and name else words
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] = f"{messages[-1]['content']}\n{content}"
        else:
            messages.append({"role": role, "content": content})
    return {"messages": messages}


# ---- dialogue rows ------------------------------------------------------------------------------------


def canonical(row: Mapping[str, Any]) -> str:
    """A stored dialogue row's text: ``{"messages": [...]}`` as compact JSON with sorted keys."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dialogue_row(number: int, raw: Any, *, system: str | None = None) -> dict[str, Any]:
    """One raw row as a checked conversation ``{"messages": [...]}``; :class:`Rejected` says what is wrong."""
    from polyface.training.text_dataset import convert_row, validate_rows

    if isinstance(raw, Mapping) and "messages" not in raw and "prompt" not in raw:
        missing = [key for key in ("user", "assistant") if raw.get(key) is None]
        if len(missing) == 1 and not ({"input", "output"} <= raw.keys()):
            raise Rejected(f"has no {missing[0]!r}: a dialogue row needs both 'user' and 'assistant'")
    try:
        dataset = validate_rows([(number, raw)], system=system)
    except DatasetError as exc:
        raise Rejected("; ".join(f"{where}: {message}" for _line, where, message in exc.problems)) from None
    row = dataset.rows[0]
    if dataset.format == "instruction":
        messages = [
            {"role": "user", "content": row["prompt"]},
            {"role": "assistant", "content": row["completion"]},
        ]
        return {"messages": convert_row({"messages": messages}, system=system)["messages"]}
    if dataset.format != "conversation":
        raise Rejected(
            f"is a {dataset.format} row; persona dialogue is conversations: use messages, user+assistant, "
            "input+output or prompt+completion"
        )
    return {"messages": row["messages"]}


def _is_rows(source: Any) -> bool:
    if isinstance(source, Mapping):
        return True
    if isinstance(source, str | os.PathLike | bytes):
        return False
    if isinstance(source, Sequence):
        return bool(source) and all(isinstance(r, Mapping) for r in source)
    return isinstance(source, Iterable)


# ---- progress -----------------------------------------------------------------------------------------


class _Bar:
    def __init__(self, progress: Progress, total: int, title: str) -> None:
        self.callback = progress if callable(progress) else None
        self.total, self.done = total, 0
        self.bar: Any = None
        if progress is True and total and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=False
            )
            self.task = self.bar.add_task(title, total=total)
            self.bar.start()

    def step(self, name: str) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=Path(name).name[:40])

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


# ---- the set ------------------------------------------------------------------------------------------


class SampleSet:
    """``persona.samples``: add (text, audio, images, video), list, count, read, remove."""

    def __init__(self, studio: Studio, persona_id: int, persona_name: str) -> None:
        self._studio = studio
        self._persona_id = persona_id
        self._name = persona_name

    # ---- adding ---------------------------------------------------------------------------------------
    def add_text(
        self,
        source: TextSource,
        *,
        system: str | None = None,
        speaker: str | None = None,
        progress: Progress = False,
    ) -> ImportReport:
        """Import dialogue: ``.jsonl``/``.json``/``.csv`` files, ``.txt`` scripts (``speaker=`` names the
        persona's lines; default: the persona's name), folders and globs of them, or rows in memory. Each
        row is one sample; bad rows are reported per line (``path:line``) and the good ones kept."""
        report = ImportReport(modality="text")
        numbered: list[tuple[str, int, Any]] = []  # (source, line, raw row)
        if _is_rows(source):
            rows = [source] if isinstance(source, Mapping) else list(source)  # type: ignore[arg-type]
            numbered = [("<rows>", n, r) for n, r in enumerate(rows, start=1)]
        else:
            collected = collect(source, "text")
            report.rejected.extend(collected.problems)
            with _Bar(progress, len(collected.items), "reading dialogue") as bar:
                for item in collected.items:
                    try:
                        numbered += self._text_file(item, speaker or self._name)
                    except Rejected as exc:
                        report.rejected.append(SampleProblem(source=item.source, reason=str(exc)))
                    bar.step(item.source)
        good: list[tuple[str, str]] = []  # (source, canonical text)
        for name, number, raw in numbered:
            where = f"{name}:{number}"
            try:
                good.append((where, storable(canonical(dialogue_row(number, raw, system=system)))))
            except Rejected as exc:
                report.rejected.append(SampleProblem(source=where, reason=str(exc)))
        self._store_texts(good, report)
        return report

    def _text_file(self, item: Item, speaker: str) -> list[tuple[str, int, Any]]:
        from polyface.training.text_dataset import read_rows

        data = _read(item, "text")
        suffix = item.path.suffix.lower() if item.path is not None else ".txt"
        if suffix not in SUFFIXES["text"]:
            raise Rejected(
                f"is not a dialogue file; use .jsonl, .json, .csv or .txt (a script), not {suffix!r}"
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            kind = describe_content(data)
            if kind.startswith("data of no"):
                raise Rejected(
                    f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    "save it as UTF-8"
                ) from None
            raise Rejected(f"is {kind}, not UTF-8 text") from None
        if suffix == ".txt":
            return [(item.source, n, row) for n, row in parse_script(text, speaker)]
        if item.path is None:
            raise Rejected("dialogue bytes need a file name; pass the path")
        try:
            _name, rows = read_rows(item.path)
        except DatasetError as exc:
            raise Rejected("; ".join(message for _l, _w, message in exc.problems)) from None
        except InvalidArgument as exc:
            raise Rejected(str(exc)) from None
        return [(item.source, n, raw) for n, raw in rows]

    def _store_texts(self, good: list[tuple[str, str]], report: ImportReport) -> None:
        if not good:
            return
        with self._studio.db.session() as session:
            self._require_persona(session)
            known = set(
                session.scalars(
                    select(Sample.checksum).where(
                        Sample.persona_id == self._persona_id, Sample.modality == "text"
                    )
                )
            )
        fresh: list[tuple[str, str, str]] = []
        for where, text in good:
            checksum = sha256_text(text)
            if checksum in known:
                report.duplicates.append(where)
            else:
                known.add(checksum)
                fresh.append((where, text, checksum))
        try:
            with self._studio.db.session() as session:
                rows = [self._text_sample(*entry) for entry in fresh]
                session.add_all(rows)
                session.flush()
                report.added.extend(self._info(session, row) for row in rows)
        except IntegrityError:  # someone stored some of them meanwhile: one by one
            for entry in fresh:
                try:
                    with self._studio.db.session() as session:
                        row = self._text_sample(*entry)
                        session.add(row)
                        session.flush()
                        report.added.append(self._info(session, row))
                except IntegrityError as exc:
                    self._duplicate_or_raise("text", entry[2], entry[0], exc)
                    report.duplicates.append(entry[0])

    def _text_sample(self, where: str, text: str, checksum: str) -> Sample:
        return Sample(
            persona_id=self._persona_id,
            modality="text",
            text=text,
            checksum=checksum,
            source=shown_source(where),
        )

    def add_audio(self, source: SampleSource, *, progress: Progress = False) -> ImportReport:
        """Import recordings of the persona's voice (WAV, MP3, FLAC, OGG, M4A, WebM; 0.5 s to 10 min,
        50 MiB each). A ``<name>.txt`` beside a recording is stored as its transcript."""
        return self._add_media("audio", source, progress)

    def add_images(self, source: SampleSource, *, progress: Progress = False) -> ImportReport:
        """Import pictures of the persona (PNG, JPEG, WebP; at least 64x64 px, 20 MiB each)."""
        return self._add_media("image", source, progress)

    def add_video(self, source: SampleSource, *, progress: Progress = False) -> ImportReport:
        """Import clips of the persona (MP4, MOV, WebM, MKV, AVI; 0.5 s to 10 min, 500 MiB each)."""
        return self._add_media("video", source, progress)

    def _add_media(self, modality: str, source: SampleSource, progress: Progress) -> ImportReport:
        report = ImportReport(modality=modality)
        collected = collect(source, modality)
        report.rejected.extend(collected.problems)
        with self._studio.db.session() as session:
            self._require_persona(session)
        with _Bar(progress, len(collected.items), f"checking {modality}") as bar:
            for item in collected.items:
                try:
                    self._add_one(modality, item, report)
                except Rejected as exc:
                    report.rejected.append(SampleProblem(source=item.source, reason=str(exc)))
                bar.step(item.source)
        return report

    def _add_one(self, modality: str, item: Item, report: ImportReport) -> None:
        data = _read(item, modality)
        checksum = hashlib.sha256(data).hexdigest()
        if self._exists(modality, checksum):
            report.duplicates.append(item.source)
            return
        checked = CHECKS[modality](data, item.path)
        transcript = _transcript(item.path) if modality in ("audio", "video") else None
        try:
            with self._studio.db.session() as session:
                blob = put_blob(session, self._studio.media, data, checked.mime_type)
                row = Sample(
                    persona_id=self._persona_id,
                    modality=modality,
                    media_sha256=blob.sha256,
                    text=transcript,
                    duration=checked.duration,
                    checksum=checksum,
                    source=shown_source(item.source),
                    meta=checked.meta,
                )
                session.add(row)
                session.flush()
                report.added.append(self._info(session, row))
        except IntegrityError as exc:
            self._duplicate_or_raise(modality, checksum, item.source, exc)
            report.duplicates.append(item.source)  # stored by another import meanwhile

    def _duplicate_or_raise(self, modality: str, checksum: str, source: str, exc: IntegrityError) -> None:
        """After an IntegrityError storing one sample: return when the same content is stored now (another
        import won the race); else the persona is gone (:class:`PersonaNotFound`) or the database refused
        the row for another reason (:class:`PolyfaceError` saying so)."""
        if self._exists(modality, checksum):
            return
        with self._studio.db.session() as session:
            self._require_persona(session)
        raise PolyfaceError(
            f"the database refused the {modality} sample from {source} "
            f"({type(exc.orig).__name__ if exc.orig is not None else 'IntegrityError'}); nothing was stored "
            "for it: check the database (`polyface samples list`) and import it again."
        ) from exc

    def _exists(self, modality: str, checksum: str) -> bool:
        with self._studio.db.session() as session:
            found = session.scalar(
                select(Sample.id).where(
                    Sample.persona_id == self._persona_id,
                    Sample.modality == modality,
                    Sample.checksum == checksum,
                )
            )
        return found is not None

    # ---- looking ----------------------------------------------------------------------------------------
    def list(self, modality: str | None = None) -> builtins.list[SampleInfo]:
        """The persona's samples (oldest first), of one modality when given."""
        with self._studio.db.session() as session:
            query = select(Sample).where(Sample.persona_id == self._persona_id).order_by(Sample.id)
            if modality is not None:
                query = query.where(Sample.modality == _modality(modality))
            return [self._info(session, row) for row in session.scalars(query)]

    def count(self, modality: str | None = None) -> int:
        with self._studio.db.session() as session:
            query = select(func.count()).select_from(Sample).where(Sample.persona_id == self._persona_id)
            if modality is not None:
                query = query.where(Sample.modality == _modality(modality))
            return int(session.scalar(query) or 0)

    def get(self, sample_id: int) -> SampleInfo:
        with self._studio.db.session() as session:
            return self._info(session, self._row(session, sample_id))

    def read(self, sample_id: int) -> bytes:
        """A sample's content: the stored file's bytes, or a text sample's row (UTF-8 JSON)."""
        with self._studio.db.session() as session:
            row = self._row(session, sample_id)
            if row.media_sha256 is None:
                return (row.text or "").encode()
            blob = session.get(MediaBlob, row.media_sha256)
            assert blob is not None
            sha, mime = blob.sha256, blob.mime_type
        return self._studio.media.read(sha, mime)

    def remove(self, sample_id: int) -> SampleInfo:
        """Delete one sample; its file goes from the store only when no other row (another persona's
        sample, a consent, a turn) uses the same bytes. Returns what was removed."""
        unused: tuple[str, str] | None = None
        with self._studio.db.session() as session:
            row = self._row(session, sample_id)
            info = self._info(session, row)
            sha = row.media_sha256
            session.delete(row)
            session.flush()
            if sha is not None and not _referenced(session, sha):
                blob = session.get(MediaBlob, sha)
                if blob is not None:
                    unused = (sha, blob.mime_type)
                    session.delete(blob)
                    session.flush()
        if unused is not None:  # only once the rows are gone for good
            self._studio.media.delete(*unused)
        return info

    # ---- helpers ----------------------------------------------------------------------------------------
    def _require_persona(self, session: Session) -> None:
        if session.get(Persona, self._persona_id) is None:
            names = builtins.list(session.scalars(select(Persona.name).order_by(Persona.name)))
            raise PersonaNotFound(self._name, names)

    def _row(self, session: Session, sample_id: int) -> Sample:
        row = session.get(Sample, sample_id)
        if row is None or row.persona_id != self._persona_id:
            raise InvalidArgument(
                f"persona {self._name!r} has no sample {sample_id}; `persona.samples.list()` (or "
                f"`polyface samples list {self._name}`) shows its samples."
            )
        return row

    def _info(self, session: Session, row: Sample) -> SampleInfo:
        path = None
        if row.media_sha256 is not None:
            blob = session.get(MediaBlob, row.media_sha256)
            if blob is not None:
                path = self._studio.media.path(blob.sha256, blob.mime_type)
        return SampleInfo(
            id=row.id,
            modality=row.modality,
            source=row.source,
            checksum=row.checksum,
            media_sha256=row.media_sha256,
            path=path,
            text=row.text,
            duration=row.duration,
            meta=dict(row.meta or {}),
            created_at=row.created_at,
        )

    def __repr__(self) -> str:
        return f"SampleSet({self._name!r})"


def _modality(value: str) -> str:
    names = {
        "text": "text",
        "audio": "audio",
        "voice": "audio",
        "image": "image",
        "images": "image",
        "video": "video",
    }
    found = names.get(value.strip().lower())
    if found is None:
        raise InvalidArgument(f"modality must be text, audio, image or video (got {value!r}).")
    return found


def _referenced(session: Session, sha: str) -> bool:
    for table, column in MEDIA_REFERENCES:
        attribute = getattr(table, column)
        if session.scalar(select(func.count()).select_from(table).where(attribute == sha)):
            return True
    return False


__all__ = [
    "MAX_BYTES",
    "MAX_SECONDS",
    "MIN_IMAGE_SIDE",
    "MIN_SECONDS",
    "Rejected",
    "SampleSet",
    "WavInfo",
    "canonical",
    "check_audio",
    "check_image",
    "check_video",
    "convert_to_wav",
    "describe_content",
    "dialogue_row",
    "inspect_wav",
    "parse_script",
    "sniff_audio",
    "sniff_video",
]
