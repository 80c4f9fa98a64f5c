"""``polyface gc``: what a killed import left in the media store goes; what rows refer to stays."""

from __future__ import annotations

import math
import os
import struct
import time
import wave
from pathlib import Path

from typer.testing import CliRunner

from polyface.cli.app import app
from polyface.persona.studio import Studio

runner = CliRunner(env={"COLUMNS": "200"})


def _tone(path: Path) -> Path:
    """Two seconds of a 220 Hz tone, 16-bit mono WAV: an audio sample the importer accepts."""
    rate = 16000
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate))) for i in range(2 * rate)
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def test_gc_removes_stray_files_and_keeps_stored_samples(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'p.db'}"
    base = ["--database", database, "--data-dir", str(tmp_path / "data")]
    studio = Studio(database, data_dir=tmp_path / "data")
    try:
        rex = studio.personas.create("rex")
        rex.samples.add_audio(_tone(tmp_path / "line.wav"))
        root = studio.media.local_root
        assert root is not None
        kept = sorted(p for p in root.rglob("*") if p.is_file())
    finally:
        studio.close()
    stray = root / "ab" / ("ab" + "0" * 62 + ".wav")  # named like a blob, no row
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"RIFF")
    unfinished = stray.parent / ".put-deadbeef"
    unfinished.write_bytes(b"half")

    young = runner.invoke(app, [*base, "gc"])
    assert young.exit_code == 0, young.output
    assert stray.is_file() and unfinished.is_file()  # younger than an hour: an import may own them

    old = time.time() - 7200
    for path in (stray, unfinished):
        os.utime(path, (old, old))
    result = runner.invoke(app, [*base, "gc"])

    assert result.exit_code == 0, result.output
    assert "removed 2 stray file(s)" in result.output, result.output
    assert not stray.exists() and not unfinished.exists()
    assert sorted(p for p in root.rglob("*") if p.is_file()) == kept and kept
    again = runner.invoke(app, [*base, "gc", "--older-than", "0"])
    assert again.exit_code == 0 and "nothing to remove" in again.output, again.output


def test_gc_refuses_a_negative_age(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "gc", "--older-than", "-5"])
    assert result.exit_code == 1 and "--older-than must be 0 or more" in result.output, result.output
