"""``LocalVideo``: a persona's talking head, rendered and encoded on this machine (the VideoGeneration
protocol).

``LocalAdapter().video.generate(model="talking-head", prompt="smiling in an office", text="Hello!")``
returns a job at once; ``job.wait()``, then ``job.result()`` (the MP4's bytes, duration, size, fps) or
``job.download("hello.mp4")``. ``get(job_id)`` re-attaches from any ``LocalAdapter`` on the same data folder.

What it makes: the portrait of :mod:`polyface.providers.local.portrait` (an offline compositor, not a
diffusion or neural video model) animated to the speech: the mouth opens with the speech's loudness frame by
frame, the eyes blink every few seconds, the head sways a little; muxed with the speech into H.264 (yuv420p)
+ AAC MP4 by the ffmpeg shipped in ``imageio-ffmpeg``. The prompt varies the portrait (expression,
background, lighting) as for images.

The speech: ``audio=`` (a WAV path or bytes) when given, else ``text`` (or the prompt when there is no text)
spoken by eSpeak NG in ``voice``. ``model`` is the shipped ``talking-head`` (the default persona, or the
portrait ``image_model=`` names) or ``talking-head:<name>`` from ``fine_tuning.video.train(clips)``
(its learned portrait and motion range). The render runs in a background thread; its state and the MP4
live under ``<data_dir>/local/videos/``.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyface.errors import InvalidArgument, JobNotFinished, NotFound
from polyface.providers._base.download import target_path
from polyface.providers._base.jobs import Job
from polyface.providers._base.telemetry import get_logger
from polyface.providers.local.fine_tuning.image import load_portrait
from polyface.providers.local.portrait import (
    PortraitRenderer,
    PortraitSpec,
    Variation,
    parse_prompt,
    parse_size,
)
from polyface.providers.local.runtime import pid_alive, to_thread
from polyface.providers.local.store import write_json
from polyface.types.usage import Usage
from polyface.types.video import VideoJobInfo, VideoJobStatus, VideoResult

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from polyface.media.acoustics import Waveform
    from polyface.providers.local.config import LocalConfig

log = get_logger("polyface.providers.local")

BASE_MODEL = "talking-head"
MAX_SECONDS = 600.0
MAX_TEXT_CHARS = 5000
OPTIONS = frozenset({"user", "seconds", "negative_prompt"})
"""Accepted for compatibility with other providers' calls and ignored (the speech sets the length)."""

DEFAULT_MOTION: dict[str, float] = {
    "head_motion": 0.02,
    "tilt_degrees": 1.5,
    "mouth_open": 0.85,
    "blink_interval_s": 3.5,
}
"""How much the shipped talking head moves: head sway as a fraction of the face's size, roll in degrees,
the widest the mouth opens (0..1), and the mean time between blinks."""


# ---- animation (pure) ---------------------------------------------------------------------------------


def loudness_envelope(
    samples: NDArray[np.float64], sample_rate: int, fps: float, frames: int
) -> NDArray[np.float64]:
    """How open the mouth is at each video frame, 0..1, from the speech's loudness.

    RMS over each frame's window in dB, mapped from 35 dB under the loud peaks (95th percentile) to them,
    then smoothed: it opens fast and closes a little slower, like a jaw.
    """
    import numpy as np

    if frames <= 0:
        return np.zeros(0)
    hop = sample_rate / fps
    centres = (np.arange(frames) + 0.5) * hop
    half = max(1, int(hop))
    starts = np.clip((centres - half).astype(int), 0, max(0, len(samples) - 1))
    power = np.empty(frames)
    squared = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    for i, start in enumerate(starts):
        end = min(len(samples), start + 2 * half)
        power[i] = (squared[end] - squared[start]) / max(1, end - start)
    db = 10 * np.log10(power + 1e-10)
    peak = float(np.percentile(db, 95))
    floor = peak - 35.0
    level = np.clip((db - floor) / (peak - floor), 0.0, 1.0) ** 1.6
    level[db < -60] = 0.0
    out = np.empty(frames)
    current = 0.0
    for i, target in enumerate(level):
        rate = 0.65 if target > current else 0.4
        current += (target - current) * rate
        out[i] = current
    return out


def blink_curve(frames: int, fps: float, interval: float, seed: int) -> NDArray[np.float64]:
    """Eye openness per frame (1 open, 0 shut): a 0.16 s blink every ``interval`` seconds or so."""
    import numpy as np

    rng = np.random.default_rng(seed)
    eyes = np.ones(frames)
    t = rng.uniform(0.6, 1.6)
    length = 0.16
    times = np.arange(frames) / fps
    while t < frames / fps:
        inside = (times >= t) & (times < t + length)
        eyes[inside] = np.abs(np.cos(np.pi * (times[inside] - t) / length))
        t += max(1.0, rng.uniform(0.6, 1.4) * interval)
    return eyes


def head_path(
    frames: int, fps: float, amplitude: float, tilt: float, speech: NDArray[np.float64], seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(dx, dy, roll) per frame: slow sways of ``amplitude`` (a fraction of the face's size) and ``tilt``
    degrees, plus a small nod with the speech."""
    import numpy as np

    rng = np.random.default_rng(seed + 7919)
    t = np.arange(frames) / fps
    p = rng.uniform(0, 2 * np.pi, 4)
    dx = amplitude * (0.65 * np.sin(2 * np.pi * 0.23 * t + p[0]) + 0.35 * np.sin(2 * np.pi * 0.53 * t + p[1]))
    dy = amplitude * 0.5 * np.sin(2 * np.pi * 0.31 * t + p[2]) + amplitude * 0.35 * speech
    roll = tilt * np.sin(2 * np.pi * 0.17 * t + p[3])
    return dx, dy, roll


@dataclass(frozen=True)
class Plan:
    """Everything one render needs, decided in the caller's thread."""

    job_id: str
    model: str
    spec: PortraitSpec
    reference: Any
    variation: Variation
    motion: dict[str, float]
    width: int
    height: int
    fps: float
    seed: int
    wav: bytes
    wave: Waveform


def frames_for(
    plan: Plan,
    cancelled: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> Iterator[NDArray[np.uint8]]:
    """The talking head's frames, one per 1/fps of speech (rendered lazily; ``progress`` hears the fraction
    done every 10 frames; a set ``cancelled`` stops it)."""
    import numpy as np

    samples = plan.wave.samples
    count = max(1, round(float(plan.wave.duration * plan.fps)))
    speech = loudness_envelope(samples, plan.wave.sample_rate, plan.fps, count)
    mouth = np.clip(speech * plan.motion["mouth_open"], 0.0, 1.0)
    eyes = blink_curve(count, plan.fps, plan.motion["blink_interval_s"], plan.seed)
    motion = plan.motion
    dx, dy, roll = head_path(
        count, plan.fps, motion["head_motion"], motion["tilt_degrees"], speech, plan.seed
    )
    renderer = PortraitRenderer(
        plan.spec, plan.width, plan.height, plan.variation, seed=plan.seed, reference=plan.reference
    )
    for i in range(count):
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        if progress is not None and i % 10 == 0:
            progress(i / count)
        yield renderer.render(
            mouth_open=float(mouth[i]),
            eyes_open=float(eyes[i]),
            head_dx=float(dx[i]),
            head_dy=float(dy[i]),
            tilt=float(roll[i]),
        )


# ---- jobs ----------------------------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


_live: dict[str, threading.Thread] = {}
_cancel: dict[str, threading.Event] = {}
_lock = threading.Lock()


def _job_id(job_id: str) -> str:
    if (
        not isinstance(job_id, str)
        or not job_id.startswith("video-local-")
        or not job_id.replace("-", "").isalnum()
    ):
        raise InvalidArgument(f"{job_id!r} is not a local video job id (they look like video-local-...).")
    return job_id


class LocalVideoJob(Job[VideoJobInfo]):
    """A talking-head render: ``id``, ``status``, ``info``, ``refresh()``, ``wait()``, ``result()``,
    ``download(path)``, ``cancel()``, and their async twins."""

    poll_interval = 0.1
    max_poll_interval = 0.5

    def __init__(self, video: LocalVideo, job_id: str, info: VideoJobInfo | None = None) -> None:
        super().__init__("local", job_id, info)
        self._video = video

    # ---- Job hooks
    def _fetch(self) -> VideoJobInfo:
        return self._video._info(self.id)

    async def _afetch(self) -> VideoJobInfo:
        return self._video._info(self.id)

    def _status(self, info: VideoJobInfo) -> str:
        return info.status

    def _done(self, info: VideoJobInfo) -> bool:
        return info.done

    def _succeeded(self, info: VideoJobInfo) -> bool:
        return info.succeeded

    def _fraction(self, info: VideoJobInfo) -> float | None:
        return 1.0 if info.succeeded else info.progress

    def _failure_reason(self, info: VideoJobInfo) -> str | None:
        return info.error

    # ---- public
    @property
    def status(self) -> VideoJobStatus:
        """queued, in_progress, completed, failed or cancelled (as of the last refresh)."""
        if self.info is None:
            self.refresh()
        assert self.info is not None
        return self.info.status

    def _finished(self, info: VideoJobInfo) -> VideoJobInfo:
        if not info.done:
            raise JobNotFinished(
                f"local video job {self.id} is still {info.status!r}; call job.wait() first."
            )
        self._check(info)
        return info

    def result(self, *, wait: bool = False) -> VideoResult:
        """The finished MP4 (bytes, duration, size, fps, has_audio). Raises JobNotFinished while it renders
        (``wait=True`` waits), JobFailed if it failed."""
        info = self.wait().info if wait else self.refresh()
        assert info is not None
        return self._video._result(self._finished(info))

    async def aresult(self, *, wait: bool = False) -> VideoResult:
        """The async twin of :meth:`result`."""
        info = (await self.async_wait()).info if wait else await self.arefresh()
        assert info is not None
        return await to_thread(self._video._result, self._finished(info))

    def download(self, path: str | os.PathLike[str], *, wait: bool = False) -> Path:
        """Copy the finished MP4 to ``path`` (a folder gets ``<job id>.mp4``); returns the path written."""
        info = self.wait().info if wait else self.refresh()
        assert info is not None
        self._finished(info)
        source = self._video._mp4(self.id)
        target = target_path(path, f"{self.id}.mp4")
        partial = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        return target

    async def adownload(self, path: str | os.PathLike[str], *, wait: bool = False) -> Path:
        """The async twin of :meth:`download`."""
        if wait:
            await self.async_wait()
        return await to_thread(self.download, path)

    def cancel(self) -> VideoJobInfo:
        """Stop the render (between frames); a finished job is left as it is."""
        event = _cancel.get(self.id)
        if event is not None:
            event.set()
        return self.refresh()

    async def acancel(self) -> VideoJobInfo:
        return self.cancel()


# ---- the capability ------------------------------------------------------------------------------------


class LocalVideo:
    """``LocalAdapter().video``: talking-head clips on this machine (a portrait compositor animated to
    speech; not a neural video model)."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config

    @property
    def folder(self) -> Path:
        """Where jobs' state files and MP4s live: ``<data_dir>/local/videos``."""
        return self.config.store.root / "videos"

    def _state_path(self, job_id: str) -> Path:
        return self.folder / f"{_job_id(job_id)}.json"

    def _mp4(self, job_id: str) -> Path:
        return self.folder / f"{_job_id(job_id)}.mp4"

    # ---- state
    def _read(self, job_id: str) -> dict[str, Any]:
        path = self._state_path(job_id)
        if not path.is_file():
            raise NotFound(
                f"no local video job {job_id!r} in {self.folder}.",
                provider="local",
                hint="Video jobs are kept per data folder: open the LocalAdapter with the same data_dir.",
            )
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _write(self, info: VideoJobInfo, result: dict[str, Any] | None = None) -> None:
        write_json(
            self._state_path(info.id),
            {"info": info.model_dump(mode="json"), "pid": os.getpid(), "result": result},
        )

    def _info(self, job_id: str) -> VideoJobInfo:
        data = self._read(job_id)
        info = VideoJobInfo.model_validate(data["info"])
        pid = int(data.get("pid") or 0)
        if not info.done and job_id not in _live and (pid == os.getpid() or not pid_alive(pid)):
            info = info.model_copy(
                update={
                    "status": "failed",
                    "raw_status": "interrupted",
                    "error": "interrupted: the process rendering it stopped before it finished; "
                    "generate again",
                }
            )
        return info

    def _result(self, info: VideoJobInfo) -> VideoResult:
        data = self._read(info.id)
        facts = data.get("result") or {}
        mp4 = self._mp4(info.id)
        if not mp4.is_file():
            raise NotFound(
                f"the MP4 of local video job {info.id} is gone from {self.folder}.", provider="local"
            )
        duration = facts.get("duration_seconds")
        return VideoResult(
            job_id=info.id,
            provider="local",
            model=info.model,
            data=mp4.read_bytes(),
            format="mp4",
            duration_seconds=duration,
            width=facts.get("width"),
            height=facts.get("height"),
            fps=facts.get("fps"),
            has_audio=facts.get("has_audio"),
            usage=Usage(video_seconds=duration or 0.0),
            cost=0.0,
        )

    # ---- planning (caller's thread)
    def _speech(self, audio: Any, text: str | None, prompt: str, voice: str | None) -> bytes:
        from polyface.media.acoustics import read_bytes

        if audio is not None:
            data, _name = read_bytes(audio)
            return data
        words = text if text is not None else prompt
        if not isinstance(words, str) or not words.strip():
            raise InvalidArgument("nothing to say: pass text= (or a prompt to speak), or audio= (a WAV).")
        if len(words) > MAX_TEXT_CHARS:
            raise InvalidArgument(
                f"text is {len(words)} characters; the local talking head takes {MAX_TEXT_CHARS}."
            )
        from polyface.providers.local.audio import LocalAudio

        speaker = LocalAudio(self.config)
        spoken = (
            speaker.speak(model="espeak-ng", text=words, voice=voice)
            if voice
            else speaker.speak(model="espeak-ng", text=words)
        )
        return spoken.audio

    def _plan(
        self,
        model: str,
        prompt: str,
        text: str | None,
        audio: Any,
        voice: str | None,
        image_model: str | None,
        size: str,
        fps: float,
        seed: int | None,
        options: dict[str, Any],
    ) -> Plan:
        from polyface.media.acoustics import read_wav

        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise InvalidArgument(
                f"the local talking head does not take {', '.join(map(repr, unknown))}; "
                "it takes prompt, text, "
                "audio, voice, image_model, size, fps and seed."
            )
        if not isinstance(prompt, str):
            raise InvalidArgument(f"prompt must be a string (got {type(prompt).__name__}).")
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 1 <= fps <= 60:
            raise InvalidArgument(f"fps must be a number from 1 to 60 (got {fps!r}).")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidArgument(f"seed must be an integer (got {seed!r}).")
        width, height = parse_size(size, even=True)
        record = self.config.store.get(model, modality="video")
        spec, reference = load_portrait(record)
        if image_model is not None:
            spec, reference = load_portrait(self.config.store.get(image_model, modality="image"))
        motion = {**DEFAULT_MOTION, **{k: float(v) for k, v in (record.params.get("motion") or {}).items()}}
        wav = self._speech(audio, text, prompt, voice)
        try:
            wave = read_wav(wav)
        except InvalidArgument as exc:
            raise InvalidArgument(f"the talking head speaks WAV audio only: {exc}") from None
        if wave.duration <= 0:
            raise InvalidArgument("the speech is empty: it has no samples.")
        if wave.duration > MAX_SECONDS:
            raise InvalidArgument(
                f"the speech lasts {wave.duration:.0f} s; "
                f"the local talking head renders up to {MAX_SECONDS:.0f} s."
            )
        return Plan(
            job_id=f"video-local-{uuid.uuid4().hex[:16]}",
            model=model,
            spec=spec,
            reference=reference,
            variation=parse_prompt(prompt),
            motion=motion,
            width=width,
            height=height,
            fps=float(fps),
            seed=seed if seed is not None else 0,
            wav=wav,
            wave=wave,
        )

    # ---- rendering (background thread)
    def _start(self, plan: Plan, prompt: str) -> LocalVideoJob:
        now = datetime.now(UTC)
        info = VideoJobInfo(
            id=plan.job_id,
            provider="local",
            model=plan.model,
            status="queued",
            progress=0.0,
            prompt=prompt,
            size=f"{plan.width}x{plan.height}",
            seconds=round(plan.wave.duration, 3),
            created_at=now,
            cost=0.0,
        )
        event = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(plan, info, event), name=f"polyface-{plan.job_id}", daemon=True
        )
        with _lock:  # registered before its state is visible: a reader never takes it for a dead render
            _live[plan.job_id] = thread
            _cancel[plan.job_id] = event
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write(info)
        except BaseException:
            with _lock:
                _live.pop(plan.job_id, None)
                _cancel.pop(plan.job_id, None)
            raise
        thread.start()
        return LocalVideoJob(self, plan.job_id, info)

    def _run(self, plan: Plan, info: VideoJobInfo, cancelled: threading.Event) -> None:
        from polyface.media.ffmpeg import encode_mp4, probe

        def progress(fraction: float) -> None:
            nonlocal info
            info = info.model_copy(
                update={"status": "in_progress", "progress": round(min(0.99, fraction), 3)}
            )
            self._write(info)

        try:
            progress(0.0)
            target = self._mp4(plan.job_id)
            encode_mp4(
                frames_for(plan, cancelled, progress),
                target,
                width=plan.width,
                height=plan.height,
                fps=plan.fps,
                audio=plan.wav,
            )
            media = probe(target)
            video, sound = media.video, media.audio
            facts = {
                "duration_seconds": media.duration,
                "width": video.width if video else plan.width,
                "height": video.height if video else plan.height,
                "fps": video.fps if video and video.fps else plan.fps,
                "has_audio": sound is not None,
                "video_seconds": video.duration if video else None,
                "audio_seconds": sound.duration if sound else None,
            }
            info = info.model_copy(
                update={
                    "status": "completed",
                    "progress": 1.0,
                    "seconds": media.duration,
                    "completed_at": datetime.now(UTC),
                }
            )
            self._write(info, facts)
        except _Cancelled:
            info = info.model_copy(update={"status": "cancelled", "completed_at": datetime.now(UTC)})
            self._write(info)
        except BaseException as exc:
            log.debug("local video %s failed:\n%s", plan.job_id, traceback.format_exc())
            info = info.model_copy(
                update={
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                    "completed_at": datetime.now(UTC),
                }
            )
            self._write(info)
        finally:
            with _lock:
                _live.pop(plan.job_id, None)
                _cancel.pop(plan.job_id, None)

    # ---- public
    def generate(
        self,
        *,
        model: str = BASE_MODEL,
        prompt: str = "",
        text: str | None = None,
        audio: str | os.PathLike[str] | bytes | None = None,
        voice: str | None = None,
        image_model: str | None = None,
        size: str = "512x512",
        fps: float = 25,
        seed: int | None = None,
        **options: Any,
    ) -> LocalVideoJob:
        """Start rendering a talking-head MP4 and return its job at once.

        ``audio``: the speech as a WAV (path or bytes); else ``text`` (or ``prompt``) is spoken by eSpeak NG
        in ``voice`` (a ``LocalAdapter().voice.list()`` id or a trained ``espeak-ng:<name>``). ``prompt``
        varies the portrait (expression, background, lighting). ``image_model``: draw a
        ``portrait``/``portrait:<name>`` instead of the model's own. ``size``: ``"WxH"``, even sides.
        ``fps``: 1 to 60. ``seed``: blinks and sways (default 0: the same call gives the same video).
        Bad arguments, an unknown model or unreadable audio raise now, before the job starts.
        """
        plan = self._plan(model, prompt, text, audio, voice, image_model, size, fps, seed, options)
        with self.config.telemetry.call(
            "generate_video", model, seconds=round(plan.wave.duration, 3)
        ) as call:
            job = self._start(plan, prompt)
            call.finish(response_model=model, response_id=job.id, cost=0.0)
        return job

    async def agenerate(
        self,
        *,
        model: str = BASE_MODEL,
        prompt: str = "",
        text: str | None = None,
        audio: str | os.PathLike[str] | bytes | None = None,
        voice: str | None = None,
        image_model: str | None = None,
        size: str = "512x512",
        fps: float = 25,
        seed: int | None = None,
        **options: Any,
    ) -> LocalVideoJob:
        """The async twin of :meth:`generate` (the speech is synthesised off the event loop)."""
        return await to_thread(
            self.generate,
            model=model,
            prompt=prompt,
            text=text,
            audio=audio,
            voice=voice,
            image_model=image_model,
            size=size,
            fps=fps,
            seed=seed,
            **options,
        )

    def get(self, job_id: str) -> LocalVideoJob:
        """Re-attach to a job by id (from this adapter, another one on the same data folder, or an earlier
        process: a render whose process died reads as failed, "interrupted")."""
        job = LocalVideoJob(self, _job_id(job_id))
        job.refresh()
        return job

    async def aget(self, job_id: str) -> LocalVideoJob:
        return self.get(job_id)

    def list(self, *, limit: int | None = None) -> builtins.list[VideoJobInfo]:
        """The video jobs of this data folder, newest first."""
        if not self.folder.is_dir():
            return []
        infos = [self._info(p.stem) for p in self.folder.glob("video-local-*.json")]
        infos.sort(key=lambda i: i.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return infos[:limit] if limit else infos


__all__ = ["DEFAULT_MOTION", "LocalVideo", "LocalVideoJob", "blink_curve", "head_path", "loudness_envelope"]
