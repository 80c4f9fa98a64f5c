"""Running the ffmpeg that ``imageio-ffmpeg`` ships: probe a media file, pull frames out, encode an MP4.

There is no ffprobe in that package, so :func:`probe` reads what ``ffmpeg -i`` prints (container duration,
each stream's codec, size, frame rate, sample rate) and, for MP4/MOV files, each track's own duration from
its ``tkhd`` box (what a player shows for that stream). :func:`extract_frames` decodes frames to RGB numpy
arrays through a pipe. :func:`encode_mp4` pipes raw RGB frames into H.264 (yuv420p, ``+faststart``) and
muxes a WAV track as AAC. Every failure raises :class:`~polyface.errors.PolyfaceError` (or
:class:`~polyface.errors.InvalidArgument` for bad input) with ffmpeg's last lines of output.

numpy and imageio-ffmpeg are imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import struct
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

from polyface.errors import ConfigurationError, InvalidArgument, PolyfaceError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Frame: TypeAlias = NDArray[np.uint8]
else:
    Frame = Any

MediaSource: TypeAlias = str | os.PathLike[str] | bytes
"""A media file: its path, or its bytes (written to a temporary file for ffmpeg)."""

INSTALL = "pip install 'polyface[local]'"
STDERR_LINES = 8


@cache
def executable() -> str:
    """The path of the ffmpeg binary inside ``imageio-ffmpeg``."""
    try:
        imageio_ffmpeg = importlib.import_module("imageio_ffmpeg")
    except ImportError:
        raise ConfigurationError(
            f"video needs the ffmpeg shipped in imageio-ffmpeg: run `{INSTALL}`."
        ) from None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _tail(stderr: str | bytes, lines: int = STDERR_LINES) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    kept = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(ffmpeg printed nothing)"


def run(
    args: list[str], *, what: str, check: bool = True, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``ffmpeg -hide_banner -nostdin <args>``; raise :class:`PolyfaceError` naming ``what`` (with
    ffmpeg's last lines) when it exits with an error and ``check`` is true."""
    cmd = [executable(), "-hide_banner", *([] if input is not None else ["-nostdin"]), *args]
    try:
        done = subprocess.run(cmd, input=input, capture_output=True, check=False)
    except OSError as exc:
        raise ConfigurationError(f"could not start ffmpeg ({exc}); reinstall it: `{INSTALL}`.") from None
    if check and done.returncode != 0:
        raise PolyfaceError(f"ffmpeg failed while {what}: {_tail(done.stderr)}")
    return done


@contextmanager
def _as_file(source: MediaSource, what: str, suffix: str = "") -> Iterator[Path]:
    """``source`` as a path on disk (bytes go to a temporary file, removed afterwards)."""
    if isinstance(source, bytes | bytearray | memoryview):
        if not source:
            raise InvalidArgument(f"{what} is empty.")
        with tempfile.TemporaryDirectory(prefix="polyface-ff-") as tmp:
            path = Path(tmp) / f"input{suffix}"
            path.write_bytes(bytes(source))
            yield path
        return
    if not isinstance(source, str | os.PathLike):
        raise InvalidArgument(f"{what} must be a file path or bytes, not {type(source).__name__}.")
    path = Path(source).expanduser()
    if not path.is_file():
        raise InvalidArgument(f"{what} {str(path)!r} does not exist or is not a file; check the path.")
    if path.stat().st_size == 0:
        raise InvalidArgument(f"{what} {str(path)!r} is empty.")
    yield path


# ---- probing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a media file, as ffmpeg describes it."""

    index: int
    kind: Literal["video", "audio", "subtitle", "data", "attachment", "unknown"]
    codec: str
    """ffmpeg's codec name: ``h264``, ``aac``, ``vp9``, ``pcm_s16le``..."""
    profile: str | None = None
    pix_fmt: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration: float | None = None
    """Seconds of this stream (MP4/MOV: read from its track header); None when ffmpeg does not say."""


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found in a media file."""

    format: str
    """The demuxer's name(s), e.g. ``mov,mp4,m4a,3gp,3g2,mj2`` or ``wav``."""
    duration: float | None
    streams: list[StreamInfo] = field(default_factory=list)
    bitrate_kbps: float | None = None

    @property
    def video(self) -> StreamInfo | None:
        """The first video stream (cover art excluded), or None."""
        return next((s for s in self.streams if s.kind == "video"), None)

    @property
    def audio(self) -> StreamInfo | None:
        """The first audio stream, or None."""
        return next((s for s in self.streams if s.kind == "audio"), None)


_INPUT = re.compile(r"^Input #0, (?P<format>[^,]+(?:,[^ ,]+)*), from ", re.M)
_DURATION = re.compile(r"Duration: (?P<d>N/A|\d+:\d+:\d+(?:\.\d+)?)(?:.*?bitrate: (?P<b>[\d.]+) kb/s)?")
_STREAM = re.compile(r"^\s*Stream #0:(?P<index>\d+)[^:]*: (?P<kind>\w+): (?P<rest>.*)$", re.M)
_SIZE = re.compile(r"(?<![\w])(\d{2,5})x(\d{2,5})(?![\w])")
_FPS = re.compile(r"([\d.]+)(k?) fps")
_TBR = re.compile(r"([\d.]+)(k?) tbr")
_RATE = re.compile(r"(\d+) Hz")
_ROTATION = re.compile(r"display ?matrix: rotation of (-?[\d.]+) degrees", re.I)
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


def _seconds(clock: str) -> float | None:
    if clock == "N/A":
        return None
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _split_top(text: str) -> list[str]:
    """Split ffmpeg's stream description at commas outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _rate(match: re.Match[str] | None) -> float | None:
    if match is None:
        return None
    return float(match[1]) * (1000.0 if match[2] else 1.0)


def parse_probe(text: str, durations: dict[int, float] | None = None) -> MediaInfo:
    """A :class:`MediaInfo` from what ``ffmpeg -i`` printed (``durations``: per-stream seconds by index)."""
    fmt = _INPUT.search(text)
    duration = _DURATION.search(text)
    streams: list[StreamInfo] = []
    matches = list(_STREAM.finditer(text))
    for n, m in enumerate(matches):
        details = text[m.end() : matches[n + 1].start() if n + 1 < len(matches) else len(text)]
        kind_word = m["kind"].lower()
        kind: Any = (
            kind_word if kind_word in ("video", "audio", "subtitle", "data", "attachment") else "unknown"
        )
        rest = m["rest"].replace(" (default)", "").replace(" (attached pic)", " [attached pic]")
        parts = _split_top(rest)
        head = parts[0].split(" ", 1)
        codec = head[0]
        profile_match = re.match(r"\(([^)]*)\)", head[1].strip()) if len(head) > 1 else None
        profile = profile_match[1] if profile_match and "/" not in profile_match[1] else None
        index = int(m["index"])
        common: dict[str, Any] = {"index": index, "kind": kind, "codec": codec, "profile": profile}
        if durations and index in durations:
            common["duration"] = durations[index]
        if kind == "video":
            if "attached pic" in rest:
                continue
            size = next((_SIZE.search(p) for p in parts[1:] if _SIZE.search(p)), None)
            pix = parts[1].split("(")[0].strip() if len(parts) > 1 and not _SIZE.search(parts[1]) else None
            width, height = (int(size[1]), int(size[2])) if size else (None, None)
            rotation = _ROTATION.search(details)
            if rotation and round(abs(float(rotation[1]))) % 180 == 90:
                width, height = height, width  # ffmpeg turns the frames upright when it decodes them
            streams.append(
                StreamInfo(
                    **common,
                    pix_fmt=pix or None,
                    width=width,
                    height=height,
                    fps=_rate(_FPS.search(rest)) or _rate(_TBR.search(rest)),
                )
            )
        elif kind == "audio":
            rate = _RATE.search(rest)
            channels = next((_CHANNELS[p] for p in parts[1:] if p in _CHANNELS), None)
            if channels is None:
                ch = re.search(r"(\d+) channels", rest)
                channels = int(ch[1]) if ch else None
            streams.append(
                StreamInfo(**common, sample_rate=int(rate[1]) if rate else None, channels=channels)
            )
        else:
            streams.append(StreamInfo(**common))
    return MediaInfo(
        format=fmt["format"] if fmt else "unknown",
        duration=_seconds(duration["d"]) if duration else None,
        streams=streams,
        bitrate_kbps=float(duration["b"]) if duration and duration["b"] else None,
    )


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, body end) of each ISO-BMFF box in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _moov(path: Path) -> bytes:
    """The ``moov`` box of an MP4/MOV file (found by walking the top-level box headers; the media data
    is skipped, not read), or b"" when there is none."""
    with open(path, "rb") as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return b""
            size, kind = struct.unpack(">I4s", header)
            skip = size - 8
            if size == 1:
                large = fh.read(8)
                if len(large) < 8:
                    return b""
                size = struct.unpack(">Q", large)[0]
                skip = size - 16
                header += large
            elif size == 0:  # the box runs to the end of the file
                return header + fh.read() if kind == b"moov" else b""
            if skip < 0:
                return b""
            if kind == b"moov":
                return header + fh.read(skip)
            fh.seek(skip, os.SEEK_CUR)


def mp4_track_durations(data: bytes) -> dict[int, float]:
    """Each track's presentation duration in seconds (``tkhd`` over ``mvhd``'s timescale), by track order
    (which is ffmpeg's stream index for MP4/MOV). Empty when ``data`` is not an MP4/MOV."""
    moov = next(((s, e) for k, s, e in _boxes(data, 0, len(data)) if k == b"moov"), None)
    if moov is None:
        return {}
    timescale, out, track = 0, {}, 0
    for kind, start, end in _boxes(data, *moov):
        if kind == b"mvhd":
            version = data[start]
            timescale = struct.unpack_from(">I", data, start + (20 if version == 1 else 12))[0]
        elif kind == b"trak":
            for sub, s, _e in _boxes(data, start, end):
                if sub == b"tkhd" and timescale:
                    version = data[s]
                    if version == 1:
                        duration = struct.unpack_from(">Q", data, s + 28)[0]
                    else:
                        duration = struct.unpack_from(">I", data, s + 20)[0]
                    out[track] = duration / timescale
            track += 1
    return out


def probe(source: MediaSource) -> MediaInfo:
    """Describe a media file: container format and duration, and each stream (codec, size, frame rate,
    sample rate, channels, and for MP4/MOV its own duration). Raises :class:`InvalidArgument` when the file
    is missing or ffmpeg cannot read it as media."""
    with _as_file(source, "media file") as path:
        done = run(["-i", str(path)], what=f"reading {path.name}", check=False)
        text = done.stderr.decode("utf-8", "replace")
        if "Input #0" not in text:
            raise InvalidArgument(
                f"{_name(source, path)} is not a media file ffmpeg can read: {_tail(text, 3)}"
            )
        durations: dict[int, float] = {}
        if "mov,mp4" in text:
            durations = mp4_track_durations(_moov(path))
        return parse_probe(text, durations)


def _name(source: MediaSource, path: Path) -> str:
    return "the media bytes" if isinstance(source, bytes | bytearray | memoryview) else repr(str(path))


# ---- frames out ------------------------------------------------------------------------------------


def extract_frames(
    source: MediaSource,
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
) -> list[Frame]:
    """Decode a video's frames as RGB ``uint8`` arrays of shape (height, width, 3).

    ``fps`` resamples the frame rate (e.g. 5 frames a second for learning from a clip), ``size`` (width,
    height) scales them, ``max_frames`` stops early. Raises :class:`InvalidArgument` when the file has no
    video stream.
    """
    import numpy as np

    if fps is not None and not fps > 0:
        raise InvalidArgument(f"fps must be positive (got {fps!r}).")
    with _as_file(source, "video file") as path:
        info = probe(path)
        stream = info.video
        if stream is None or not stream.width or not stream.height:
            raise InvalidArgument(f"{_name(source, path)} has no video stream to take frames from.")
        width, height = size or (stream.width, stream.height)
        filters = []
        if fps is not None:
            filters.append(f"fps={fps:g}")
        if size is not None:
            filters.append(f"scale={width}:{height}:flags=area")
        args = ["-i", str(path), "-map", "0:v:0", "-an", "-sn"]
        if filters:
            args += ["-vf", ",".join(filters)]
        if max_frames is not None:
            args += ["-frames:v", str(max(1, int(max_frames)))]
        args += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        done = run(args, what=f"decoding frames of {path.name}")
    frame_bytes = width * height * 3
    count = len(done.stdout) // frame_bytes
    if count == 0:
        raise PolyfaceError(f"ffmpeg decoded no frames from {path.name}: {_tail(done.stderr)}")
    array = np.frombuffer(done.stdout[: count * frame_bytes], dtype=np.uint8).reshape(count, height, width, 3)
    return [array[i] for i in range(count)]


# ---- encoding ----------------------------------------------------------------------------------------


def _drain(stream: IO[bytes], sink: list[bytes]) -> None:
    for chunk in iter(lambda: stream.read(65536), b""):
        sink.append(chunk)
        if len(sink) > 64:  # keep only the tail: ffmpeg's progress lines can run long
            del sink[:-32]


def encode_mp4(
    frames: Iterable[Frame],
    output: str | os.PathLike[str],
    *,
    width: int,
    height: int,
    fps: float = 25.0,
    audio: MediaSource | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    audio_bitrate: str = "128k",
) -> Path:
    """Encode RGB frames (``uint8`` arrays of shape (height, width, 3)) into an H.264 MP4 at ``output``.

    Video is H.264 in yuv420p, so ``width`` and ``height`` must be even (:class:`InvalidArgument`
    otherwise); ``audio`` (a WAV path or bytes) is muxed as AAC. ``-movflags +faststart`` puts the index
    first, so the file plays while it downloads. The file appears at ``output`` only once complete.
    Returns ``output``.
    """
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise InvalidArgument(f"H.264 in yuv420p needs an even width and height (got {width}x{height}).")
    if not fps > 0:
        raise InvalidArgument(f"fps must be positive (got {fps!r}).")
    target = Path(output).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part.mp4")
    with _audio_file(audio) as audio_path:
        args = [
            executable(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
        ]  # fmt: skip
        if audio_path is not None:
            args += ["-i", str(audio_path), "-map", "0:v:0", "-map", "1:a:0"]
            args += ["-c:a", "aac", "-b:a", audio_bitrate]
        args += [
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4", str(partial),
        ]  # fmt: skip
        _pipe_frames(args, frames, width, height, partial)
    os.replace(partial, target)
    return target


def _pipe_frames(args: list[str], frames: Iterable[Frame], width: int, height: int, partial: Path) -> None:
    import numpy as np

    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise ConfigurationError(f"could not start ffmpeg ({exc}); reinstall it: `{INSTALL}`.") from None
    assert proc.stdin is not None and proc.stderr is not None
    errors: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
    reader.start()
    count = 0
    try:
        for frame in frames:
            array = np.asarray(frame)
            if array.shape != (height, width, 3):
                raise InvalidArgument(
                    f"frame {count} has shape {array.shape}; every frame must be ({height}, {width}, 3) RGB."
                )
            proc.stdin.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
            count += 1
        proc.stdin.close()
    except BrokenPipeError:  # ffmpeg stopped reading: its exit status and stderr say why
        with contextlib.suppress(OSError):
            proc.stdin.close()
    except BaseException:
        proc.kill()
        proc.wait()
        reader.join()
        partial.unlink(missing_ok=True)
        raise
    code = proc.wait()
    reader.join()
    if code != 0 or count == 0:
        partial.unlink(missing_ok=True)
        why = _tail(b"".join(errors)) if code != 0 else "no frames were given"
        raise PolyfaceError(f"ffmpeg failed while encoding the MP4: {why}")


@contextmanager
def _audio_file(audio: MediaSource | None) -> Iterator[Path | None]:
    if audio is None:
        yield None
        return
    with _as_file(audio, "audio", suffix=".wav") as path:
        yield path


def has_ffmpeg() -> bool:
    """Whether the ffmpeg binary is available (imageio-ffmpeg installed and its binary present)."""
    try:
        return Path(executable()).is_file()
    except ConfigurationError:
        return False


__all__ = [
    "MediaInfo",
    "StreamInfo",
    "encode_mp4",
    "executable",
    "extract_frames",
    "has_ffmpeg",
    "mp4_track_durations",
    "parse_probe",
    "probe",
    "run",
]
