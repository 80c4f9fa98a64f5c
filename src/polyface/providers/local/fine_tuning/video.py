"""``LocalAdapter().fine_tuning.video.train(clips)``: learn a persona's talking head from sample clips.

Frames are taken from each clip (8 a second) by the ffmpeg that ``imageio-ffmpeg`` ships. The portrait is
learned from a dozen of them exactly as ``fine_tuning.image`` learns it from pictures (same code); the
motion range from all of them: how far the head sways (the face's centre, frame to frame, over the face's
size), how wide the mouth opens (the change of the dark area inside the mouth's box, over what a fully open
mouth changes in the compositor's own drawing), and the mean frame-to-frame difference inside the mouth and
the face (reported as metrics). The result is ``talking-head:<name>``; its ``params`` hold the portrait
(``params["portrait"]``) and the motion (``params["motion"]``) that ``LocalAdapter().video.generate`` uses.

Like the image side, this is not a neural video model: it fits the offline compositor's parameters.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from polyface.errors import InvalidArgument, PolyfaceError
from polyface.providers.local.fine_tuning.image import (
    FaceFit,
    Sample,
    check_metrics,
    consent_note,
    find_face,
    learn_portrait,
    save_portrait,
)
from polyface.providers.local.jobs import LocalFineTuneJob, LocalFineTuningBase, TrainingContext
from polyface.providers.local.portrait import PortraitRenderer, PortraitSpec
from polyface.providers.local.store import LocalModel, check_name, write_json
from polyface.providers.local.video import DEFAULT_MOTION
from polyface.types.fine_tuning import FineTuneModality

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from polyface.media.ffmpeg import MediaInfo

    ByteImage: TypeAlias = NDArray[np.uint8]
else:
    ByteImage = Any

ClipInput: TypeAlias = str | os.PathLike[str] | bytes
"""A sample clip: a video file's path (MP4, MOV, WebM, MKV...) or its bytes."""

MAX_CLIPS = 50
MIN_SIDE = 64
LEARN_FPS = 8.0
MAX_FRAMES_PER_CLIP = 240
WORK_SIDE = 256
PORTRAIT_FRAMES = 12
MOTION_FILE = "motion.json"


@dataclass(frozen=True)
class Clip:
    """A checked sample clip."""

    name: str
    source: ClipInput
    info: MediaInfo


def check_clips(clips: Sequence[ClipInput]) -> list[Clip]:
    """Probe every clip now (before any job starts); errors name the clip."""
    from polyface.media.ffmpeg import probe

    if isinstance(clips, str | bytes | bytearray | os.PathLike) or not isinstance(clips, Sequence):
        raise InvalidArgument("clips must be a list of video paths or bytes; wrap a single one: [clip].")
    if not clips:
        raise InvalidArgument("clips is empty: pass at least one video of the persona talking.")
    if len(clips) > MAX_CLIPS:
        raise InvalidArgument(f"at most {MAX_CLIPS} clips per training (got {len(clips)}).")
    out = []
    for i, item in enumerate(clips):
        source: ClipInput
        if isinstance(item, bytes | bytearray | memoryview):
            name, source = f"clips[{i}]", bytes(item)
        elif isinstance(item, str | os.PathLike):
            path = Path(item).expanduser()
            name, source = repr(str(path)), path
            if not path.is_file():
                raise InvalidArgument(f"sample clip {name} does not exist or is not a file; check the path.")
        else:
            raise InvalidArgument(f"clips[{i}] must be a path or bytes, not {type(item).__name__}.")
        try:
            info = probe(source)
        except InvalidArgument as exc:
            raise InvalidArgument(f"sample clip {name} cannot be read as a video: {exc}") from None
        video = info.video
        if video is None or not video.width or not video.height:
            raise InvalidArgument(f"sample clip {name} has no video stream.")
        if min(video.width, video.height) < MIN_SIDE:
            raise InvalidArgument(
                f"sample clip {name} is {video.width}x{video.height}; "
                f"it needs at least {MIN_SIDE} pixels a side."
            )
        out.append(Clip(name, source, info))
    return out


def clip_frames(clip: Clip) -> list[ByteImage]:
    """The clip's frames at :data:`LEARN_FPS` (at most :data:`MAX_FRAMES_PER_CLIP`), long side 256 or less."""
    from polyface.media.ffmpeg import extract_frames

    video = clip.info.video
    assert video is not None and video.width and video.height
    scale = min(1.0, WORK_SIDE / max(video.width, video.height))
    size = (max(2, round(video.width * scale / 2) * 2), max(2, round(video.height * scale / 2) * 2))
    fps = min(LEARN_FPS, video.fps or LEARN_FPS)
    try:
        frames = extract_frames(clip.source, fps=fps, size=size, max_frames=MAX_FRAMES_PER_CLIP)
    except PolyfaceError as exc:
        raise PolyfaceError(f"sample clip {clip.name}: {exc}") from None
    return frames


# ---- motion ----------------------------------------------------------------------------------------------


def _luma(pixels: Any) -> Any:
    import numpy as np

    return np.asarray(pixels, dtype=np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)


def _mouth_slice(fit: FaceFit | PortraitSpec, width: int, height: int) -> tuple[slice, slice]:
    ry = fit.face_height * height / 2
    rx = ry * fit.face_aspect
    cx, cy = fit.face_x * width, fit.face_y * height
    return (
        slice(max(0, int(cy + 0.3 * ry)), max(1, min(height, int(cy + 0.8 * ry)))),
        slice(max(0, int(cx - 0.45 * rx)), max(1, min(width, int(cx + 0.45 * rx)))),
    )


def dark_fraction(pixels: ByteImage, fit: FaceFit | PortraitSpec, skin: tuple[int, int, int]) -> float:
    """The share of the mouth's box darker than 60% of the skin's brightness: an open mouth is dark."""
    h, w = pixels.shape[:2]
    box = _mouth_slice(fit, w, h)
    region = _luma(pixels[box])
    if region.size == 0:
        return 0.0
    limit = 0.6 * float(_luma([skin])[0])
    return float((region < limit).mean())


def _full_open(spec: PortraitSpec) -> float:
    """How much the dark share of the mouth's box changes when the compositor opens the mouth fully."""
    renderer = PortraitRenderer(spec, WORK_SIDE, WORK_SIDE, seed=0)
    shut = dark_fraction(renderer.render(mouth_open=0.0), spec, spec.skin)
    wide = dark_fraction(renderer.render(mouth_open=1.0), spec, spec.skin)
    return max(0.02, wide - shut)


def clip_motion(frames: Sequence[ByteImage], skin: tuple[int, int, int]) -> dict[str, float]:
    """One clip's motion: ``head_motion`` (half the central 90% range of the face's centre, over the face's
    width or height, whichever is larger), ``mouth_range`` (the central 90% range of the mouth's dark share),
    and the mean frame-to-frame differences inside the mouth and the face boxes (0..255)."""
    import numpy as np

    fits = [find_face(f) for f in frames]
    h, w = frames[0].shape[:2]
    xs = np.array([f.face_x * w for f in fits])
    ys = np.array([f.face_y * h for f in fits])
    face_h = float(np.median([f.face_height * h for f in fits]))
    face_w = float(np.median([f.face_height * h * f.face_aspect for f in fits]))

    def spread(values: Any) -> float:
        return float(np.percentile(values, 95) - np.percentile(values, 5)) if len(values) > 1 else 0.0

    head = max(spread(xs) / 2 / max(1.0, face_w), spread(ys) / 2 / max(1.0, face_h))
    dark = np.array([dark_fraction(f, fit, skin) for f, fit in zip(frames, fits, strict=True)])
    middle = fits[len(fits) // 2]
    mouth_box = _mouth_slice(middle, w, h)
    ry = middle.face_height * h / 2
    rx = ry * middle.face_aspect
    face_box = (
        slice(max(0, int(middle.face_y * h - ry)), max(1, int(middle.face_y * h + ry))),
        slice(max(0, int(middle.face_x * w - rx)), max(1, int(middle.face_x * w + rx))),
    )

    def difference(box: tuple[slice, slice]) -> float:
        if len(frames) < 2:
            return 0.0
        diffs = [np.abs(frames[i + 1][box].astype(np.float32) - frames[i][box].astype(np.float32)).mean()
                 for i in range(len(frames) - 1)]  # fmt: skip
        return float(np.mean(diffs))

    return {
        "head_motion": head,
        "mouth_range": spread(dark),
        "mouth_frame_difference": difference(mouth_box),
        "face_frame_difference": difference(face_box),
    }


def learn_motion(per_clip: Sequence[dict[str, float]], spec: PortraitSpec) -> dict[str, float]:
    """The talking head's motion from the clips' measurements (medians across clips)."""
    import numpy as np

    head = float(np.median([m["head_motion"] for m in per_clip]))
    mouth = float(np.median([m["mouth_range"] for m in per_clip])) / _full_open(spec)
    head = min(0.12, max(0.0, head))
    return {
        "head_motion": round(head, 4),
        "tilt_degrees": round(min(5.0, max(0.5, head * 75)), 3),
        "mouth_open": round(min(1.0, max(0.15, mouth)), 4),
        "blink_interval_s": DEFAULT_MOTION["blink_interval_s"],
    }


def _pick(frames: Sequence[ByteImage], count: int) -> list[int]:
    if len(frames) <= count:
        return list(range(len(frames)))
    step = len(frames) / count
    return [int(i * step) for i in range(count)]


# ---- the capability ----------------------------------------------------------------------------------


class LocalVideoTraining(LocalFineTuningBase):
    """``LocalAdapter().fine_tuning.video``: learn a talking head (portrait and motion range) from clips."""

    modality: ClassVar[FineTuneModality] = "video"

    def train(
        self,
        clips: Sequence[ClipInput],
        *,
        name: str | None = None,
        budget_usd: float | None = None,
        consent: str | os.PathLike[str] | None = None,
    ) -> LocalFineTuneJob:
        """Start learning ``talking-head:<name>`` from ``clips`` (video paths or bytes, each at least 64
        pixels a side). Every clip is probed now: one that is missing, is not a video or is too small raises
        :class:`InvalidArgument` naming it, before any job starts. ``consent`` (who agreed to their likeness
        being used) is kept with the model; nothing leaves this machine."""
        checked = check_clips(clips)
        model_name = check_name(name) if name is not None else "persona"
        note = consent_note(consent)
        total = len(checked) + 2

        def trainer(ctx: TrainingContext) -> LocalModel:
            per_clip_frames: list[list[ByteImage]] = []
            for i, clip in enumerate(checked):
                ctx.check_cancelled()
                frames = clip_frames(clip)
                per_clip_frames.append(frames)
                ctx.event(f"took {len(frames)} frames from {clip.name}", step=i + 1, total_steps=total,
                          frames=len(frames))  # fmt: skip
            pool = [(c, f) for c, frames in enumerate(per_clip_frames) for f in frames]
            chosen = _pick([f for _, f in pool], PORTRAIT_FRAMES)
            samples = [Sample(f"{checked[pool[j][0]].name} frame {j}", pool[j][1]) for j in chosen]
            spec, reference = learn_portrait(samples, lambda *_: ctx.check_cancelled(), source="clips")
            ctx.event(
                f"learned the portrait from {len(samples)} frames: "
                f"face at ({spec.face_x:.2f}, {spec.face_y:.2f})",
                step=len(checked) + 1,
                total_steps=total,
            )
            per_clip = []
            for frames in per_clip_frames:
                ctx.check_cancelled()
                per_clip.append(clip_motion(frames, spec.skin))
            motion = learn_motion(per_clip, spec)
            spec = save_portrait(ctx.staging, spec, reference)
            write_json(ctx.staging / MOTION_FILE, motion)
            metrics = check_metrics(spec, reference, samples)
            metrics.update(
                clips=float(len(checked)),
                frames=float(sum(len(f) for f in per_clip_frames)),
                head_motion=motion["head_motion"],
                mouth_open=motion["mouth_open"],
                mouth_frame_difference=round(
                    sum(m["mouth_frame_difference"] for m in per_clip) / len(per_clip), 3
                ),
                face_frame_difference=round(
                    sum(m["face_frame_difference"] for m in per_clip) / len(per_clip), 3
                ),
            )
            ctx.event(
                f"motion: head sways {motion['head_motion']:.3f} of the face, "
                f"mouth opens to {motion['mouth_open']:.2f}",
                step=total,
                total_steps=total,
                **metrics,
            )
            return LocalModel(
                id=f"talking-head:{model_name}",
                modality="video",
                kind="motion",
                base_model="talking-head",
                description=f"talking head learned from {len(checked)} clip(s)",
                metrics=metrics,
                params={
                    "portrait": spec.model_dump(mode="json"),
                    "motion": motion,
                    "clips": len(checked),
                    "consent": note,
                },
            )

        return self._start(base_model="talking-head", trainer=trainer, budget_usd=budget_usd, name=model_name)


__all__ = ["LocalVideoTraining", "check_clips", "clip_motion", "learn_motion"]
