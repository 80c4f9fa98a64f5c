"""The demo persona's sample files, made on the spot from data shipped with polyface.

Rex Harbor is fictional. :func:`make_rex_samples` writes into a folder: his dialogue (the shipped
``rex_dialogue.jsonl``), voice recordings synthesized with a known eSpeak NG profile (``en-us+m2`` at a
low pitch and slow rate: what the voice fit should find again), portraits drawn by the local compositor
from his :class:`~polyface.providers.local.portrait.PortraitSpec`, short talking clips (the portrait's
mouth following his synthesized speech, H.264 + AAC), and a consent form standing in for a signed one.
Nothing is downloaded; everything takes a few seconds.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

CLIP_SIZE = 256
CLIP_FPS = 25.0
PORTRAIT_SIZE = 384


@dataclass
class RexSamples:
    """Where each kind of sample was written."""

    folder: Path
    profile: dict[str, Any]
    dialogue: Path
    voice: list[Path] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    clips: list[Path] = field(default_factory=list)
    consent: Path | None = None


def rex_profile() -> dict[str, Any]:
    """Rex's persona data (``polyface/samples/rex_persona.json``): name, description, prompt, voice
    profile, portrait spec, the lines he records, the consent and the demo's questions."""
    text = resources.files("polyface.samples").joinpath("rex_persona.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def speak(text: str, voice: dict[str, Any]) -> bytes:
    """``text`` spoken by eSpeak NG with ``voice`` (variant, pitch, range, rate) as a 16-bit WAV."""
    from polyface.providers.local import espeak
    from polyface.providers.local.audio import wav_bytes

    settings = espeak.VoiceSettings(
        variant=voice.get("variant"),
        pitch=int(voice.get("pitch", 50)),
        range=int(voice.get("range", 50)),
        rate=int(voice.get("rate", 175)),
    )
    samples, rate = espeak.synthesize(text, settings)
    return wav_bytes(samples, rate)


def write_voice(folder: Path, profile: dict[str, Any]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, line in enumerate(profile["voice_lines"], 1):
        path = folder / f"rex_voice_{i:02d}.wav"
        path.write_bytes(speak(line, profile["voice"]))
        path.with_suffix(".txt").write_text(line + "\n", encoding="utf-8")  # its transcript
        paths.append(path)
    return paths


def write_portraits(folder: Path, profile: dict[str, Any]) -> list[Path]:
    from polyface.providers.local.portrait import PortraitRenderer, PortraitSpec, parse_prompt

    folder.mkdir(parents=True, exist_ok=True)
    spec = PortraitSpec(**profile["portrait"])
    paths = []
    for i, prompt in enumerate(profile["portrait_prompts"], 1):
        renderer = PortraitRenderer(spec, PORTRAIT_SIZE, PORTRAIT_SIZE, parse_prompt(prompt), seed=100 + i)
        path = folder / f"rex_portrait_{i:02d}.png"
        renderer.image().save(path)
        paths.append(path)
    return paths


def write_clips(folder: Path, profile: dict[str, Any]) -> list[Path]:
    """Clips of Rex talking: his portrait, mouth following the loudness of his synthesized line, the head
    swaying a little; encoded by :func:`polyface.media.ffmpeg.encode_mp4` with the line as its sound."""
    import numpy as np

    from polyface.media.acoustics import read_wav
    from polyface.media.ffmpeg import encode_mp4
    from polyface.providers.local.portrait import PortraitRenderer, PortraitSpec, parse_prompt
    from polyface.providers.local.video import loudness_envelope

    folder.mkdir(parents=True, exist_ok=True)
    spec = PortraitSpec(**profile["portrait"])
    paths = []
    for i, line in enumerate(profile["clip_lines"], 1):
        wav = speak(line, profile["voice"])
        wave = read_wav(wav)
        count = max(1, round(wave.duration * CLIP_FPS))
        mouth = loudness_envelope(wave.samples, wave.sample_rate, CLIP_FPS, count)
        renderer = PortraitRenderer(spec, CLIP_SIZE, CLIP_SIZE, parse_prompt("neutral"), seed=200 + i)
        t = np.arange(count) / CLIP_FPS
        sway = 0.05 * np.sin(2 * np.pi * 0.4 * t + i)
        frames = (
            renderer.render(mouth_open=float(0.8 * mouth[k]), head_dx=float(sway[k]), tilt=float(3 * sway[k]))
            for k in range(count)
        )
        path = folder / f"rex_clip_{i:02d}.mp4"
        encode_mp4(frames, path, width=CLIP_SIZE, height=CLIP_SIZE, fps=CLIP_FPS, audio=wav)
        path.with_suffix(".txt").write_text(line + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def write_consent(folder: Path, profile: dict[str, Any]) -> Path:
    consent = profile["consent"]
    path = folder / "rex_consent.txt"
    path.write_text(
        f"Consent to the use of likeness\n\nSubject: {consent['subject']}\n"
        f"Uses: {', '.join(consent['uses'])}\n\n{consent['note']}\n",
        encoding="utf-8",
    )
    return path


def make_rex_samples(folder: Path) -> RexSamples:
    """Write every sample of Rex into ``folder`` (replacing what an earlier run left there)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    profile = rex_profile()
    dialogue = folder / "rex_dialogue.jsonl"
    dialogue.write_bytes(resources.files("polyface.samples").joinpath("rex_dialogue.jsonl").read_bytes())
    return RexSamples(
        folder=folder,
        profile=profile,
        dialogue=dialogue,
        voice=write_voice(folder / "voice", profile),
        images=write_portraits(folder / "portraits", profile),
        clips=write_clips(folder / "clips", profile),
        consent=write_consent(folder, profile),
    )
