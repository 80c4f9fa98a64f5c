"""What the crash tests share: a child process to SIGKILL, sample data, and the checks that a restarted
studio holds every media file once, whole, and nothing else."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from polyface.persona.studio import Studio
from polyface.persona.tables import MediaBlob, Sample

CHILD = Path(__file__).with_name("_crash_child.py")


class Child:
    """``_crash_child.py`` running one job; its stdout lines (``commit <n>``, ``ready``, ``done``) are read
    by a thread so that the parent can wait for one without blocking on the pipe."""

    def __init__(self, config: dict[str, Any], log: Path) -> None:
        self.log = log
        self._stderr = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.strip())
        self._queue.put(None)

    def wait_line(self, wanted: Callable[[str], bool], timeout: float = 60.0) -> str | None:
        """The first line ``wanted`` accepts; None when the child ended without printing one."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"the child printed no wanted line in {timeout} s: {self.stderr()}"
                ) from None
            if line is None:
                return None
            self.lines.append(line)
            if wanted(line):
                return line

    def commits(self) -> int:
        return sum(1 for line in self.lines if line.startswith("commit "))

    def kill(self) -> bool:
        """SIGKILL the child (if it still runs) and reap it; True when it was killed, not finished."""
        killed = self.proc.poll() is None
        if killed:
            os.kill(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait(timeout=30)
        self._stderr.close()
        assert killed or code == 0, f"the child failed on its own ({code}): {self.stderr()}"
        return killed and code == -signal.SIGKILL

    def died_by_itself(self, timeout: float = 60.0) -> None:
        """The child SIGKILLed itself at its ``die_at`` point."""
        code = self.proc.wait(timeout=timeout)
        self._stderr.close()
        assert code == -signal.SIGKILL, f"the child did not die at its point ({code}): {self.stderr()}"

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:] if self.log.exists() else ""


def eventually(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it holds (what another process or the fake's thread does meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)


def tone_wav(path: Path, *, seconds: float, hz: float, rate: int = 16000, seed: int = 0) -> Path:
    """A voiced-sounding recording: a tone with harmonics and a little noise (16-bit mono)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    signal_ = sum(np.sin(2 * np.pi * hz * k * t) / k for k in (1, 2, 3)) * 0.3
    signal_ = signal_ * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + rng.normal(0, 0.01, t.size)
    pcm = (np.clip(signal_, -1, 1) * 32000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def noise_png(path: Path, *, side: int, seed: int) -> Path:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def media_problems(studio: Studio) -> list[str]:
    """Every media row's file exists and holds the bytes its SHA-256 names; every sample's media has a
    row; the store holds no file without a row and no unfinished write."""
    problems: list[str] = []
    with studio.db.session() as session:
        blobs = [(b.sha256, b.mime_type, b.size) for b in session.scalars(select(MediaBlob))]
        referenced = {s for s in session.scalars(select(Sample.media_sha256)) if s}
    known = {sha for sha, _mime, _size in blobs}
    problems += [f"sample media {sha} has no media row" for sha in referenced - known]
    names = set()
    for sha, mime, size in blobs:
        path = studio.media.path(sha, mime)
        assert path is not None
        names.add(studio.media.name_of(sha, mime))
        if not path.is_file():
            problems.append(f"missing media file {path}")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha or len(data) != size:
            problems.append(f"media file {path} does not hold the bytes its row names")
    root = studio.media.local_root
    assert root is not None
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file() and path.relative_to(root).as_posix() not in names:
                problems.append(f"file without a media row: {path.relative_to(root)}")
    return problems


def sample_problems(studio: Studio, persona: str) -> list[str]:
    """No content stored twice for the persona."""
    infos = studio.personas.get(persona).samples.list()
    seen: dict[tuple[str, str], int] = {}
    problems = []
    for info in infos:
        key = (info.modality, info.checksum)
        if key in seen:
            problems.append(f"sample {info.id} duplicates sample {seen[key]} ({info.source})")
        seen[key] = info.id
    return problems
