"""The local provider's video: the talking head (portrait animated to speech, H.264 + AAC MP4), re-attaching
to jobs by id, and learning a talking head from clips (``fine_tuning.video``)."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyface import LocalAdapter
from polyface.capabilities import VideoGeneration, VideoJob
from polyface.errors import InvalidArgument, JobFailed, NotFound
from polyface.media.ffmpeg import encode_mp4, extract_frames, probe
from polyface.providers.local.portrait import DEFAULT_SPEC, mouth_box
from polyface.providers.local.video import loudness_envelope
from test_local_image import SAMPLE_PALETTE, drawn_face

SIZE = 192


def speech_wav(seconds: float = 2.0, *, silent_tail: float = 0.6, sample_rate: int = 22050) -> bytes:
    """Speech-like sound: a 140 Hz harmonic tone, 4 syllables a second, then ``silent_tail`` s of silence."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 8))
    envelope = np.sin(np.pi * 4 * t) ** 2
    envelope[t > seconds - silent_tail] = 0.0
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes((0.25 * tone * envelope * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def dark_share(frame: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    region = frame[y0:y1, x0:x1].astype(float) @ np.array([0.299, 0.587, 0.114])
    return float((region < 90).mean())


def test_loudness_envelope_follows_the_speech() -> None:
    rate, fps = 16000, 25
    t = np.arange(2 * rate) / rate
    samples = np.where(t < 1.0, 0.3 * np.sin(2 * np.pi * 200 * t), 0.0)
    env = loudness_envelope(samples, rate, fps, 50)
    assert env.shape == (50,) and env.min() >= 0.0 and env.max() <= 1.0
    assert env[5:20].mean() > 0.8 and env[35:].max() < 0.05


def test_talking_head_mp4_has_h264_and_aac_of_matching_duration(local: Any, tmp_path: Path) -> None:
    assert isinstance(local.video, VideoGeneration)
    seconds = 2.0
    job = local.video.generate(model="talking-head", prompt="smiling", audio=speech_wav(seconds),
                               size=f"{SIZE}x{SIZE}", fps=25, seed=1)  # fmt: skip
    assert isinstance(job, VideoJob) and job.id.startswith("video-local-")
    job.wait(timeout=60)
    assert job.status == "completed"
    result = job.result()
    assert result.format == "mp4" and result.has_audio is True and result.cost == 0.0
    assert (result.width, result.height, result.fps) == (SIZE, SIZE, 25.0)
    assert result.duration_seconds is not None and abs(result.duration_seconds - seconds) < 0.1
    path = job.download(tmp_path)
    assert path == tmp_path / f"{job.id}.mp4" and path.read_bytes() == result.data
    info = probe(path)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.pix_fmt, info.video.width) == ("h264", "yuv420p", SIZE)
    assert info.audio.codec == "aac"
    assert info.video.duration is not None and info.audio.duration is not None
    assert abs(info.video.duration - info.audio.duration) < 0.1
    assert abs(info.audio.duration - seconds) < 0.1
    assert path.read_bytes().index(b"moov") < path.read_bytes().index(b"mdat")  # +faststart

    # the mouth moves while it speaks, and is shut in the silent tail
    frames = extract_frames(path)
    assert len(frames) == 50
    box = mouth_box(DEFAULT_SPEC, SIZE, SIZE)
    x0, y0, x1, y1 = box
    steps = [
        np.abs(frames[i + 1][y0:y1, x0:x1].astype(float) - frames[i][y0:y1, x0:x1]).mean() for i in range(30)
    ]
    assert max(steps) > 5.0, max(steps)
    speaking = np.mean([dark_share(f, box) for f in frames[:30]])
    silent = np.mean([dark_share(f, box) for f in frames[-10:]])
    assert speaking > silent + 0.03, (speaking, silent)


def test_reattach_from_another_adapter_on_the_same_data_dir(local: Any, tmp_path: Path) -> None:
    wav = tmp_path / "hello.wav"
    wav.write_bytes(speech_wav(1.0, silent_tail=0.2))
    job = local.video.generate(prompt="at night", audio=wav, size="128x96", fps=20).wait(timeout=60)
    other = LocalAdapter(data_dir=local.config.data_dir)
    again = other.video.get(job.id)
    assert again.status == "completed" and again.info is not None and again.info.size == "128x96"
    assert again.result().data == job.result().data
    assert [i.id for i in other.video.list()] == [job.id]
    with pytest.raises(NotFound, match="no local video job"):
        other.video.get("video-local-0123456789abcdef")
    with pytest.raises(InvalidArgument, match="not a local video job id"):
        other.video.get("../../etc/passwd")


def test_a_render_whose_process_died_reads_as_interrupted(local: Any) -> None:
    job = local.video.generate(audio=speech_wav(0.4, silent_tail=0.0), size="64x64").wait(timeout=60)
    state = local.video.folder / f"{job.id}.json"
    data = json.loads(state.read_text())
    data["info"]["status"] = "in_progress"
    state.write_text(json.dumps(data))
    stale = local.video.get(job.id)
    assert stale.status == "failed" and "interrupted" in (stale.info.error or "")


def test_cancel_stops_a_render(local: Any) -> None:
    job = local.video.generate(audio=speech_wav(60.0, silent_tail=0.0), size="256x256")
    job.cancel()
    with pytest.raises(JobFailed):
        job.wait(timeout=60)
    assert job.status == "cancelled"


def test_text_is_spoken_with_espeak(local: Any) -> None:
    job = local.video.generate(prompt="serious", text="Hello from the local talking head.", size="96x96")
    result = job.wait(timeout=60).result()
    info = probe(result.data)
    assert info.audio is not None and info.video is not None and result.has_audio
    assert info.audio.duration is not None and info.video.duration is not None
    assert info.audio.duration > 1.0 and abs(info.video.duration - info.audio.duration) < 0.1


async def test_agenerate_and_aresult(local: Any) -> None:
    job = await local.video.agenerate(audio=speech_wav(0.5, silent_tail=0.0), size="64x64")
    await job.async_wait(timeout=60)
    result = await job.aresult()
    assert result.data is not None and result.data[4:8] == b"ftyp"


def test_generate_refuses_bad_arguments(local: Any, tmp_path: Path) -> None:
    wav = speech_wav(0.5)
    with pytest.raises(InvalidArgument, match="even sides"):
        local.video.generate(audio=wav, size="101x100")
    with pytest.raises(InvalidArgument, match="fps must be"):
        local.video.generate(audio=wav, fps=0)
    with pytest.raises(InvalidArgument, match="WAV audio only: audio is MP3"):
        local.video.generate(audio=b"ID3 this is an mp3, honest")
    with pytest.raises(InvalidArgument, match="does not exist"):
        local.video.generate(audio=tmp_path / "missing.wav")
    with pytest.raises(InvalidArgument, match="nothing to say"):
        local.video.generate(prompt="   ")
    with pytest.raises(InvalidArgument, match="does not take 'resolution'"):
        local.video.generate(audio=wav, resolution="720p")
    with pytest.raises(NotFound, match="video model"):
        local.video.generate(model="talking-head:nobody", audio=wav)
    with pytest.raises(NotFound, match="image model"):
        local.video.generate(audio=wav, image_model="portrait:nobody")
    assert local.video.list() == []  # nothing started


def test_image_model_draws_a_trained_portrait(local: Any, tmp_path: Path) -> None:
    sample = tmp_path / "face.png"
    drawn_face().save(sample)
    portrait = local.fine_tuning.image.train([sample], name="rex").wait(timeout=60).result_model
    wav = speech_wav(0.6, silent_tail=0.1)
    mine = local.video.generate(audio=wav, image_model=portrait, size="128x128").wait(timeout=60)
    default = local.video.generate(audio=wav, size="128x128").wait(timeout=60)

    def backdrop(job: Any) -> np.ndarray:
        first = extract_frames(job.result().data, max_frames=1)[0]
        return first[4:20, 56:72].reshape(-1, 3).mean(axis=0)  # above the head

    assert np.abs(backdrop(mine) - SAMPLE_PALETTE["bg"]).mean() < 25
    assert np.abs(backdrop(default) - SAMPLE_PALETTE["bg"]).mean() > 60


# ---- learning a talking head from clips --------------------------------------------------------------


def make_clip(path: Path, *, talking: bool, sway: float, frames: int = 40) -> Path:
    """A 320x320, 25 fps clip of the drawn face, its mouth opening 3 times a second when ``talking``,
    swaying sideways by ``sway`` of the frame's width; encoded by polyface's own encoder."""
    images = []
    for i in range(frames):
        t = i / 25
        mouth = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) if talking else 0.0
        face = (0.5 + sway * np.sin(2 * np.pi * 0.8 * t), 0.45, 0.2, 0.2)
        images.append(np.asarray(drawn_face(size=(320, 320), face=face, mouth=mouth)))
    return encode_mp4(images, path, width=320, height=320, fps=25)


@pytest.mark.slow
def test_video_training_learns_portrait_and_motion_range(local: Any, tmp_path: Path) -> None:
    talking = make_clip(tmp_path / "talking.mp4", talking=True, sway=0.04)
    still = make_clip(tmp_path / "still.mp4", talking=False, sway=0.0)
    job = local.fine_tuning.video.train([talking, talking.read_bytes()], name="rex").wait(timeout=120)
    assert job.result_model == "talking-head:rex"
    assert len([e for e in job.events() if e.step is not None]) == 4  # two clips, the portrait, the motion
    model = local.model("talking-head:rex")
    assert model.kind == "motion" and model.base_model == "talking-head"
    calm = local.model(local.fine_tuning.video.train([still], name="calm").wait(timeout=120).result_model)
    moving, resting = model.params["motion"], calm.params["motion"]
    # sway 0.04 of 320 px is 12.8 px each way, for a face 128 px wide: 0.1 of the face
    assert 0.06 < moving["head_motion"] < 0.14 and resting["head_motion"] < 0.01
    assert moving["mouth_open"] > resting["mouth_open"] + 0.4
    assert model.metrics["mouth_frame_difference"] > calm.metrics["mouth_frame_difference"] + 2
    assert model.metrics["palette_distance"] < model.metrics["palette_distance_default"] / 2
    assert np.abs(np.subtract(model.params["portrait"]["background"], SAMPLE_PALETTE["bg"])).max() < 10

    # the trained head talks in the learned colours
    video = local.video.generate(model="talking-head:rex", audio=speech_wav(1.0, silent_tail=0.2),
                                 size="160x160").wait(timeout=60)  # fmt: skip
    default = local.video.generate(audio=speech_wav(1.0, silent_tail=0.2), size="160x160").wait(timeout=60)

    def backdrop(job: Any) -> np.ndarray:
        first = extract_frames(job.result().data, max_frames=1)[0]
        return first[4:24, 70:90].reshape(-1, 3).mean(axis=0)  # above the head

    trained_gap = np.abs(backdrop(video) - SAMPLE_PALETTE["bg"]).mean()
    default_gap = np.abs(backdrop(default) - SAMPLE_PALETTE["bg"]).mean()
    assert trained_gap < default_gap / 3, (trained_gap, default_gap)


def test_video_training_refuses_bad_clips(local: Any, tmp_path: Path) -> None:
    picture = tmp_path / "face.png"
    drawn_face().save(picture)
    sound = tmp_path / "voice.wav"
    sound.write_bytes(speech_wav(0.5))
    small = encode_mp4([np.zeros((32, 48, 3), np.uint8)] * 3, tmp_path / "small.mp4", width=48, height=32)
    with pytest.raises(InvalidArgument, match=r"missing\.mp4.*does not exist"):
        local.fine_tuning.video.train([tmp_path / "missing.mp4"])
    with pytest.raises(InvalidArgument, match=r"voice\.wav.*no video stream"):
        local.fine_tuning.video.train([sound])
    with pytest.raises(InvalidArgument, match=r"small\.mp4.*48x32"):
        local.fine_tuning.video.train([small])
    with pytest.raises(InvalidArgument, match=r"clips\[0\].*cannot be read"):
        local.fine_tuning.video.train([b"definitely not a video"])
    with pytest.raises(InvalidArgument, match="list"):
        local.fine_tuning.video.train(str(picture))
    assert local.fine_tuning.video.list() == []
