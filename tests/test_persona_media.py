"""The content-addressed media store: a local folder, or any fsspec URL; each content stored once."""

from __future__ import annotations

import io
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest

from polyface.persona.media import MediaStore, sha256_of
from polyface.persona.studio import Studio


def tone_wav(seconds: float = 1.0, hz: float = 220.0) -> bytes:
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("kind", ["folder", "fsspec"])
def test_put_is_idempotent_and_reads_back(tmp_path: Path, kind: str) -> None:
    store = MediaStore(tmp_path / "media" if kind == "folder" else f"memory://pf-{uuid.uuid4().hex}")
    data = tone_wav()
    sha = store.put(data, "audio/wav")
    assert sha == sha256_of(data) and store.put(data, "audio/wav") == sha
    assert store.exists(sha, "audio/wav") and store.read(sha, "audio/wav") == data
    if kind == "folder":
        path = store.path(sha, "audio/wav")
        assert path is not None and path.suffix == ".wav" and path.read_bytes() == data
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".put-")]
    else:
        assert store.path(sha, "audio/wav") is None and store.url_of(sha, "audio/wav").startswith("memory://")
    store.delete(sha, "audio/wav")
    assert not store.exists(sha, "audio/wav")


def test_a_studio_on_an_fsspec_store_keeps_samples_there(database_url: str, tmp_path: Path) -> None:
    url = f"memory://pf-{uuid.uuid4().hex}"
    with Studio(database_url, media=url, data_dir=tmp_path) as studio:
        rex = studio.personas.create("rex")
        report = rex.samples.add_audio([tone_wav(1.0), tone_wav(1.0), tone_wav(1.5, 330.0)])
        assert len(report.added) == 2 and len(report.duplicates) == 1
        (first, _) = rex.samples.list("audio")
        assert first.path is None  # remote: read through the store
        assert rex.samples.read(first.id) == tone_wav(1.0)
        assert not (tmp_path / "media").exists()
