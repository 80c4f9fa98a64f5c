"""``LocalAdapter().fine_tuning.image.train(images)``: learn a persona's portrait from sample pictures.

What is learned is a :class:`~polyface.providers.local.portrait.PortraitSpec` for the offline compositor
(not a diffusion model's weights): where the face sits in the frame and how big it is, the skin, hair, eye,
lip, clothing and background colours, the samples' dominant palette (k-means in numpy) and a reference crop
of the face. The result is the model ``portrait:<name>``, drawn by ``LocalAdapter().image.generate``.

How the face is found: the background is the colour of the frame's border; skin is picked by the usual
YCbCr skin-tone rule, and when a picture has no skin-toned region near its centre (a drawing, say), by the
colour cluster that is most concentrated around the centre. The connected region grown from the centre is
trimmed below the jaw (where it narrows into the neck) and an ellipse fitted to its moments; the fit is
calibrated on the compositor's own drawing, so that learning from a rendered portrait gives back its framing.

Metrics: ``palette_distance`` (a render of the learned portrait vs the samples' palette, RGB units) beside
``palette_distance_default`` (the shipped persona vs the same samples): training worked when the first is
clearly smaller.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from polyface.errors import InvalidArgument
from polyface.providers.local.jobs import LocalFineTuneJob, LocalFineTuningBase, TrainingContext
from polyface.providers.local.portrait import (
    DEFAULT_SPEC,
    RGB,
    PortraitRenderer,
    PortraitSpec,
    kmeans_palette,
    palette_distance,
)
from polyface.providers.local.store import LocalModel, check_name
from polyface.types.fine_tuning import FineTuneModality

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    ByteImage: TypeAlias = NDArray[np.uint8]
    FloatImage: TypeAlias = NDArray[np.float32]
    BoolImage: TypeAlias = NDArray[np.bool_]
else:
    ByteImage = FloatImage = BoolImage = Any

ImageInput: TypeAlias = str | os.PathLike[str] | bytes
"""A sample picture: a file path (PNG, JPEG, WebP, ...) or the file's bytes."""

MIN_SIDE = 64
"""The smallest sample accepted, in pixels per side (smaller ones hold too little face to learn from)."""
MAX_IMAGES = 500
WORK_SIDE = 192
"""Samples are analysed at this size (long side), whatever their resolution."""
REFERENCE_FILE = "reference.png"
SPEC_FILE = "portrait.json"
CHECK_SIZE = 192


@dataclass(frozen=True)
class Sample:
    """A decoded sample: its name (for messages) and RGB pixels."""

    name: str
    pixels: ByteImage


@dataclass(frozen=True)
class FaceFit:
    """What :func:`find_face` read from one picture (positions as fractions of the frame)."""

    face_x: float
    face_y: float
    face_height: float
    face_aspect: float
    skin: RGB
    hair: RGB
    eyes: RGB
    lips: RGB
    clothing: RGB
    background: RGB
    found_by: str
    """``skin`` (skin-tone rule) or ``centre`` (the most central colour cluster)."""
    area: float
    """The face's share of the picture."""


# ---- reading samples ---------------------------------------------------------------------------------


def decode_image(data: bytes, name: str) -> ByteImage:
    """RGB pixels of an encoded image; :class:`InvalidArgument` naming ``name`` when it cannot be read or is
    smaller than :data:`MIN_SIDE` pixels on a side."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise InvalidArgument(f"sample image {name} is empty.")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = (ImageOps.exif_transpose(im) or im).convert("RGB")  # a phone photo's EXIF turn applied
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidArgument(
            f"sample image {name} is not a picture Pillow can read ({type(exc).__name__}); "
            "use PNG, JPEG or WebP files."
        ) from None
    if min(rgb.size) < MIN_SIDE:
        raise InvalidArgument(
            f"sample image {name} is {rgb.width}x{rgb.height}; "
            f"it needs at least {MIN_SIDE} pixels on each side."
        )
    return np.asarray(rgb, dtype=np.uint8)


def load_images(images: Sequence[ImageInput]) -> list[Sample]:
    """Read and check every sample now (before any job starts); errors name the file."""
    if isinstance(images, str | bytes | bytearray | os.PathLike) or not isinstance(images, Sequence):
        raise InvalidArgument("images must be a list of image paths or bytes; wrap a single one: [image].")
    if not images:
        raise InvalidArgument("images is empty: pass at least one picture of the persona's face.")
    if len(images) > MAX_IMAGES:
        raise InvalidArgument(f"at most {MAX_IMAGES} images per training (got {len(images)}).")
    samples = []
    for i, item in enumerate(images):
        if isinstance(item, bytes | bytearray | memoryview):
            name, data = f"images[{i}]", bytes(item)
        elif isinstance(item, str | os.PathLike):
            path = Path(item).expanduser()
            name = repr(str(path))
            if not path.is_file():
                raise InvalidArgument(f"sample image {name} does not exist or is not a file; check the path.")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidArgument(f"sample image {name} cannot be read: {exc.strerror or exc}.") from None
        else:
            raise InvalidArgument(f"images[{i}] must be a path or bytes, not {type(item).__name__}.")
        samples.append(Sample(name, decode_image(data, name)))
    return samples


# ---- finding the face ----------------------------------------------------------------------------------


def _resize(pixels: ByteImage, side: int) -> FloatImage:
    import numpy as np
    from PIL import Image

    h, w = pixels.shape[:2]
    scale = side / max(h, w)
    if scale < 1:
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BOX))
    return np.asarray(pixels, dtype=np.float32)


def _median(pixels: FloatImage, fallback: RGB, minimum: int = 12) -> RGB:
    import numpy as np

    if len(pixels) < minimum:
        return fallback
    m = np.median(pixels.reshape(-1, 3), axis=0)
    return (round(float(m[0])), round(float(m[1])), round(float(m[2])))


def _grow(mask: BoolImage, seed: tuple[int, int]) -> BoolImage:
    """The connected part of ``mask`` (4-neighbours) that holds ``seed``."""
    import numpy as np

    region = np.zeros_like(mask)
    region[seed] = True
    while True:
        grown = region.copy()
        grown[1:] |= region[:-1]
        grown[:-1] |= region[1:]
        grown[:, 1:] |= region[:, :-1]
        grown[:, :-1] |= region[:, 1:]
        grown &= mask
        if (grown == region).all():
            return region
        region = grown


def _fill_rows(region: BoolImage) -> BoolImage:
    """``region`` with each row filled from its leftmost to its rightmost pixel (eyes and mouth are holes
    in a skin mask; the face's outline is what matters)."""
    import numpy as np

    rows = region.any(axis=1)
    if not rows.any():
        return region
    w = region.shape[1]
    first = np.where(rows, region.argmax(axis=1), w)
    last = np.where(rows, w - 1 - region[:, ::-1].argmax(axis=1), -1)
    cols = np.arange(w)[None, :]
    filled: BoolImage = (cols >= first[:, None]) & (cols <= last[:, None])
    return filled


def _raw_fit(pixels: ByteImage) -> tuple[float, float, float, float, BoolImage, FloatImage, RGB, str]:
    """(cx, cy, rx, ry) in work pixels before calibration, the face mask, the work image, the background
    colour and how the face was found."""
    import numpy as np

    arr = _resize(pixels, WORK_SIDE)
    h, w = arr.shape[:2]
    b = max(2, min(h, w) // 25)
    border = np.concatenate([arr[:b].reshape(-1, 3), arr[-b:].reshape(-1, 3),
                             arr[:, :b].reshape(-1, 3), arr[:, -b:].reshape(-1, 3)])  # fmt: skip
    bg = _median(border, (0, 0, 0), minimum=1)
    not_bg = np.sqrt(((arr - np.asarray(bg, np.float32)) ** 2).sum(-1)) > 40
    r, g, bl = arr[..., 0], arr[..., 1], arr[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * bl
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * bl
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * bl
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w, yy / h
    prior = np.exp(-((u - 0.5) ** 2) / (2 * 0.2**2) - ((v - 0.45) ** 2) / (2 * 0.22**2))
    skin = (cr >= 135) & (cr <= 180) & (cb >= 80) & (cb <= 135) & (y >= 40) & not_bg
    found_by = "skin"
    if float((skin * prior).sum()) < 0.01 * h * w:
        # no skin tone near the centre: take the colour cluster most concentrated there
        found_by = "centre"
        fg = arr[not_bg] if not_bg.sum() >= 16 else arr.reshape(-1, 3)
        colours, _ = kmeans_palette(fg, 5, seed=0)
        centres = np.asarray(colours, np.float32)
        labels = ((arr[..., None, :] - centres) ** 2).sum(-1).argmin(-1)
        tight = np.exp(-((u - 0.5) ** 2) / (2 * 0.15**2) - ((v - 0.45) ** 2) / (2 * 0.15**2))
        scores = [float((tight * ((labels == j) & not_bg)).sum()) for j in range(len(centres))]
        skin = (labels == int(np.argmax(scores))) & not_bg
    if not skin.any():
        skin = not_bg if not_bg.any() else np.ones((h, w), dtype=bool)
        found_by = "centre"
    # brown hair passes the skin-tone rule too: keep what is close to the colour at the face's centre
    core = skin & (prior > 0.6)
    tone = np.median(arr[core if core.sum() >= 8 else skin], axis=0)
    near = np.sqrt(((arr - tone) ** 2).sum(-1)) < 60
    if (skin & near).sum() >= 8:
        skin = skin & near
    weight = np.where(skin, prior, 0.0)
    seed = np.unravel_index(int(np.argmax(weight)), weight.shape)
    face = _fill_rows(_grow(skin, (int(seed[0]), int(seed[1]))))
    widths = face.sum(axis=1)
    widest = int(np.argmax(widths))
    narrow = np.nonzero(widths[widest:] < 0.6 * widths[widest])[0]
    if len(narrow):  # below the jaw: the neck
        face[widest + int(narrow[0]) :] = False
    ys, xs = np.nonzero(face)
    if len(xs) < 4:
        ys, xs = np.nonzero(skin)
    cx, cy = float(xs.mean()), float(ys.mean())
    rx, ry = max(2.0, 2 * float(xs.std())), max(2.0, 2 * float(ys.std()))
    return cx, cy, rx, ry, face, arr, bg, found_by


@cache
def _calibration() -> tuple[float, float, float]:
    """(centre shift in face heights, height factor, width factor) that map a raw fit of the compositor's
    own drawing back to the spec it was drawn from (hair covers the forehead; the jaw is trimmed)."""
    spec = DEFAULT_SPEC
    pixels = PortraitRenderer(spec, CHECK_SIZE, CHECK_SIZE, seed=0).render()
    _cx, cy, rx, ry, *_ = _raw_fit(pixels)
    true_ry = spec.face_height * CHECK_SIZE / 2
    true_rx = true_ry * spec.face_aspect
    return (spec.face_y * CHECK_SIZE - cy) / (2 * true_ry), true_ry / ry, true_rx / rx


def find_face(pixels: ByteImage) -> FaceFit:
    """Where the face is in a picture and the colours around it (a heuristic, not a detector network)."""
    import numpy as np

    raw_cx, raw_cy, raw_rx, raw_ry, face, arr, bg, found_by = _raw_fit(pixels)
    shift, fy, fx = _calibration()
    ry, rx = raw_ry * fy, raw_rx * fx
    cx, cy = raw_cx, raw_cy + shift * 2 * ry
    h, w = arr.shape[:2]
    skin = _median(arr[face], bg)
    bg_arr, skin_arr = np.asarray(bg, np.float32), np.asarray(skin, np.float32)
    far_bg = np.sqrt(((arr - bg_arr) ** 2).sum(-1)) > 40
    far_skin = np.sqrt(((arr - skin_arr) ** 2).sum(-1)) > 40

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice]:
        return (
            slice(max(0, int(y0)), max(0, min(h, int(y1)))),
            slice(max(0, int(x0)), max(0, min(w, int(x1)))),
        )

    def pick(where: tuple[slice, slice], keep: BoolImage, fallback: RGB) -> RGB:
        return _median(arr[where][keep[where]], fallback)

    hair = pick(box(cx - rx, cy - 1.25 * ry, cx + rx, cy - 0.55 * ry), far_bg & far_skin,
                (int(skin[0] * 0.35), int(skin[1] * 0.3), int(skin[2] * 0.28)))  # fmt: skip
    clothing = pick(box(cx - 1.6 * rx, cy + 1.5 * ry, cx + 1.6 * rx, h), far_bg & far_skin,
                    (int(bg[0] * 0.6), int(bg[1] * 0.6), int(bg[2] * 0.6)))  # fmt: skip
    lips_box = box(cx - 0.4 * rx, cy + 0.35 * ry, cx + 0.4 * rx, cy + 0.72 * ry)
    lip_like = np.sqrt(((arr - skin_arr) ** 2).sum(-1)) > 25
    lips = pick(lips_box, lip_like, (int(skin[0] * 0.8 + 30), int(skin[1] * 0.55), int(skin[2] * 0.6)))
    eye_box = box(cx - 0.6 * rx, cy - 0.25 * ry, cx + 0.6 * rx, cy + 0.05 * ry)
    eye_px = arr[eye_box][far_skin[eye_box]]
    eyes: RGB = (60, 60, 60)
    if len(eye_px) >= 8:
        luma = eye_px @ np.asarray([0.299, 0.587, 0.114], np.float32)
        eyes = _median(eye_px[luma <= np.percentile(luma, 30)], eyes, minimum=4)
    return FaceFit(
        face_x=min(1.0, max(0.0, cx / w)),
        face_y=min(1.0, max(0.0, cy / h)),
        face_height=min(1.5, max(0.03, 2 * ry / h)),
        face_aspect=min(2.0, max(0.25, rx / ry)),
        skin=skin,
        hair=hair,
        eyes=eyes,
        lips=lips,
        clothing=clothing,
        background=bg,
        found_by=found_by,
        area=float(face.sum()) / (h * w),
    )


# ---- learning ----------------------------------------------------------------------------------------


def _median_colour(colours: list[RGB]) -> RGB:
    import numpy as np

    m = np.median(np.asarray(colours, dtype=np.float64), axis=0)
    return (round(float(m[0])), round(float(m[1])), round(float(m[2])))


def samples_palette(samples: Sequence[Sample], k: int = 6) -> tuple[list[RGB], list[float]]:
    """The dominant colours of all samples together (each contributes equally)."""
    import numpy as np

    pooled = np.concatenate([_resize(s.pixels, 96).reshape(-1, 3) for s in samples])
    return kmeans_palette(pooled, k, seed=0)


def reference_crop(pixels: ByteImage, fit: FaceFit, height: int = 160) -> ByteImage:
    """The face's box cut from the full-resolution picture, scaled to ``height`` pixels."""
    import numpy as np
    from PIL import Image

    h, w = pixels.shape[:2]
    ry = fit.face_height * h / 2
    rx = ry * fit.face_aspect
    cx, cy = fit.face_x * w, fit.face_y * h
    box = (max(0, int(cx - rx)), max(0, int(cy - ry)), min(w, int(cx + rx) + 1), min(h, int(cy + ry) + 1))
    crop = Image.fromarray(pixels).crop(box)
    width = max(8, round(height * crop.width / max(1, crop.height)))
    return np.asarray(crop.resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)


def learn_portrait(
    samples: Sequence[Sample],
    on_sample: Callable[[int, Sample, FaceFit], None] | None = None,
    *,
    source: str = "images",
) -> tuple[PortraitSpec, ByteImage]:
    """A portrait spec learned from ``samples`` (the median of each face's framing and colours, the pooled
    palette) and the reference crop of the largest face. ``on_sample(i, sample, fit)`` is called after
    each sample (progress events; cancellation)."""
    fits: list[FaceFit] = []
    for i, sample in enumerate(samples):
        fit = find_face(sample.pixels)
        fits.append(fit)
        if on_sample is not None:
            on_sample(i, sample, fit)
    import numpy as np

    def med(values: list[float]) -> float:
        return float(np.median(np.asarray(values, dtype=np.float64)))

    colours, weights = samples_palette(samples)
    spec = PortraitSpec(
        face_x=med([f.face_x for f in fits]),
        face_y=med([f.face_y for f in fits]),
        face_height=med([f.face_height for f in fits]),
        face_aspect=med([f.face_aspect for f in fits]),
        skin=_median_colour([f.skin for f in fits]),
        hair=_median_colour([f.hair for f in fits]),
        eyes=_median_colour([f.eyes for f in fits]),
        lips=_median_colour([f.lips for f in fits]),
        clothing=_median_colour([f.clothing for f in fits]),
        background=_median_colour([f.background for f in fits]),
        palette=colours,
        palette_weights=[round(w, 4) for w in weights],
        source=source,
    )
    best = max(range(len(fits)), key=lambda i: fits[i].area)
    return spec, reference_crop(samples[best].pixels, fits[best])


def check_metrics(
    spec: PortraitSpec, reference: ByteImage | None, samples: Sequence[Sample]
) -> dict[str, float]:
    """How close a render of ``spec`` comes to the samples' palette, and the shipped persona for contrast."""
    target = (spec.palette, spec.palette_weights) if spec.palette else samples_palette(samples)
    mine = PortraitRenderer(spec, CHECK_SIZE, CHECK_SIZE, seed=0, reference=reference).render()
    default = PortraitRenderer(DEFAULT_SPEC, CHECK_SIZE, CHECK_SIZE, seed=0).render()
    trained = palette_distance(kmeans_palette(mine, 6, seed=0), target)
    baseline = palette_distance(kmeans_palette(default, 6, seed=0), target)
    return {"palette_distance": round(trained, 3), "palette_distance_default": round(baseline, 3)}


def save_portrait(folder: Path, spec: PortraitSpec, reference: ByteImage | None) -> PortraitSpec:
    """Write the reference crop and the spec into ``folder``; returns the spec as saved."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if reference is not None:
        Image.fromarray(reference).save(folder / REFERENCE_FILE, format="PNG")
        spec = spec.model_copy(update={"reference": REFERENCE_FILE})
    (folder / SPEC_FILE).write_text(spec.model_dump_json(indent=1), encoding="utf-8")
    return spec


def load_portrait(model: LocalModel) -> tuple[PortraitSpec, ByteImage | None]:
    """The spec and reference crop a ``portrait`` or ``talking-head`` model draws (the shipped ones draw
    :data:`~polyface.providers.local.portrait.DEFAULT_SPEC`)."""
    import numpy as np
    from PIL import Image

    data = model.params.get("portrait")
    if model.kind == "base" or not isinstance(data, dict):
        return DEFAULT_SPEC, None
    spec = PortraitSpec.model_validate(data)
    reference = None
    if spec.reference and model.path:
        path = Path(model.path) / spec.reference
        if path.is_file():
            with Image.open(path) as im:
                reference = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return spec, reference


def consent_note(consent: Any) -> str | None:
    if consent is None:
        return None
    if isinstance(consent, str | os.PathLike):
        return os.fspath(consent)
    raise InvalidArgument("consent must be a string (who consented, or a recording's path) or None.")


# ---- the capability ----------------------------------------------------------------------------------


class LocalImageTraining(LocalFineTuningBase):
    """``LocalAdapter().fine_tuning.image``: learn a persona's portrait from sample pictures, on this machine.

    Not a diffusion fine-tune: it learns the compositor's framing and palette (see the module's doc).
    """

    modality: ClassVar[FineTuneModality] = "image"

    def train(
        self,
        images: Sequence[ImageInput],
        *,
        name: str | None = None,
        budget_usd: float | None = None,
        consent: str | os.PathLike[str] | None = None,
    ) -> LocalFineTuneJob:
        """Start learning ``portrait:<name>`` from ``images`` (paths or bytes; at least one, each at least
        64x64). Every image is read and checked now: an unreadable or too-small one raises
        :class:`InvalidArgument` naming it, before any job starts. Returns the job
        (``job.wait(progress=True)``, then ``job.result_model``). ``consent`` (who agreed to their likeness
        being used, or a recording of it) is kept with the model; nothing leaves this machine."""
        samples = load_images(images)
        model_name = check_name(name) if name is not None else "persona"
        note = consent_note(consent)
        total = len(samples) + 1

        def trainer(ctx: TrainingContext) -> LocalModel:
            def on_sample(i: int, sample: Sample, fit: FaceFit) -> None:
                ctx.check_cancelled()
                ctx.event(
                    f"read {sample.name}: face at ({fit.face_x:.2f}, {fit.face_y:.2f}), "
                    f"{fit.face_height:.2f} of the height, found by {fit.found_by}",
                    step=i + 1,
                    total_steps=total,
                    face_x=fit.face_x,
                    face_y=fit.face_y,
                    face_height=fit.face_height,
                )

            spec, reference = learn_portrait(samples, on_sample, source="images")
            ctx.check_cancelled()
            spec = save_portrait(ctx.staging, spec, reference)
            metrics = check_metrics(spec, reference, samples)
            metrics["images"] = float(len(samples))
            ctx.event(
                f"check render: palette distance {metrics['palette_distance']:.1f} "
                f"(the default portrait: {metrics['palette_distance_default']:.1f})",
                step=total,
                total_steps=total,
                **metrics,
            )
            return LocalModel(
                id=f"portrait:{model_name}",
                modality="image",
                kind="portrait",
                base_model="portrait",
                description=f"portrait learned from {len(samples)} image(s)",
                metrics=metrics,
                params={"portrait": spec.model_dump(mode="json"), "images": len(samples), "consent": note},
            )

        return self._start(base_model="portrait", trainer=trainer, budget_usd=budget_usd, name=model_name)


__all__ = [
    "FaceFit",
    "LocalImageTraining",
    "Sample",
    "check_metrics",
    "find_face",
    "learn_portrait",
    "load_images",
    "load_portrait",
    "save_portrait",
]
