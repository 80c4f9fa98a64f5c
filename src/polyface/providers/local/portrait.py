"""The offline portrait compositor behind the local ``portrait`` and ``talking-head`` models.

This is **not a diffusion model** and not a neural network: it draws a stylised head-and-shoulders portrait
with Pillow and numpy from a :class:`PortraitSpec` (where the face sits in the frame and how big it is;
skin, hair, eye, lip, clothing and background colours; optionally a blurred crop of a reference face used
as the face's texture). ``fine_tuning.image.train(images)`` learns such a spec from sample photos; the
shipped ``portrait`` model uses :data:`DEFAULT_SPEC`.

A prompt varies it (:func:`parse_prompt`): the expression (``smiling``, ``neutral``, ``serious``,
``surprised``), the background (a colour such as ``"blue background"``, or a scene: ``beach``, ``office``,
``night``, ``forest``, ``sunset``, ``city``, ``studio``), the lighting (``warm``, ``cool``, ``dramatic``,
``soft``) and colours of hair, eyes and clothing (``"red hair"``, ``"green shirt"``). Everything else in
the prompt is ignored. For animation, :meth:`PortraitRenderer.render` takes the mouth's openness (0..1), the
eyes' openness (0..1) and a small head offset and tilt. The same spec, prompt, size and seed always give the
same pixels.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import Field

from polyface.errors import InvalidArgument
from polyface.types._base import PolyfaceModel

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

    FloatImage: TypeAlias = NDArray[np.float32]
    ByteImage: TypeAlias = NDArray[np.uint8]
else:
    FloatImage = Any
    ByteImage = Any

RGB: TypeAlias = tuple[int, int, int]
Expression = Literal["neutral", "smile", "serious", "surprised"]
Lighting = Literal["neutral", "warm", "cool", "dramatic", "soft"]
Scene = Literal["plain", "studio", "beach", "office", "night", "forest", "sunset", "city"]

EXPRESSIONS: tuple[str, ...] = ("neutral", "smile", "serious", "surprised")
LIGHTINGS: tuple[str, ...] = ("neutral", "warm", "cool", "dramatic", "soft")
SCENES: tuple[str, ...] = ("plain", "studio", "beach", "office", "night", "forest", "sunset", "city")
MIN_SIDE = 32
MAX_SIDE = 2048


class PortraitSpec(PolyfaceModel):
    """What the compositor draws: the framing and colours of one persona's portrait.

    Positions are fractions of the frame (``face_x``, ``face_y``: the face's centre; ``face_height``: the
    face's height over the frame's height); ``face_aspect`` is the face's width over its height in pixels,
    so a spec renders at any frame size and shape.
    """

    face_x: float = Field(default=0.5, ge=0.0, le=1.0)
    face_y: float = Field(default=0.42, ge=0.0, le=1.0)
    face_height: float = Field(default=0.46, gt=0.02, le=1.5)
    face_aspect: float = Field(default=0.76, gt=0.2, le=2.0)
    skin: RGB = (224, 172, 140)
    hair: RGB = (70, 45, 30)
    eyes: RGB = (70, 100, 60)
    lips: RGB = (178, 92, 92)
    clothing: RGB = (45, 60, 95)
    background: RGB = (96, 140, 160)
    palette: list[RGB] = Field(default_factory=list)
    """The samples' dominant colours (k-means), most common first; empty for the default persona."""
    palette_weights: list[float] = Field(default_factory=list)
    reference: str | None = None
    """File name of the reference face crop beside the spec (a trained model's folder), if any."""
    source: str = "default"
    """``default`` (the shipped persona) or what it was learned from (``images``, ``clips``)."""


DEFAULT_SPEC = PortraitSpec()
"""The shipped ``portrait`` model's persona."""


@dataclass(frozen=True)
class Variation:
    """What a prompt asks of a portrait (see :func:`parse_prompt`)."""

    expression: Expression = "neutral"
    scene: Scene = "plain"
    background: RGB | None = None
    """A plain background colour asked for (``"red background"``); None keeps the spec's."""
    lighting: Lighting = "neutral"
    hair: RGB | None = None
    eyes: RGB | None = None
    clothing: RGB | None = None


COLOURS: dict[str, RGB] = {
    "red": (200, 50, 50),
    "orange": (235, 140, 50),
    "yellow": (235, 210, 70),
    "gold": (212, 175, 55),
    "green": (70, 150, 80),
    "teal": (40, 140, 140),
    "cyan": (80, 200, 220),
    "blue": (60, 100, 200),
    "navy": (30, 40, 90),
    "purple": (130, 70, 170),
    "violet": (140, 90, 200),
    "pink": (235, 150, 180),
    "magenta": (200, 60, 160),
    "white": (240, 240, 240),
    "black": (25, 25, 28),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "silver": (190, 190, 200),
    "brown": (110, 70, 40),
    "beige": (220, 205, 175),
    "cream": (245, 235, 210),
    "blonde": (225, 195, 120),
    "blond": (225, 195, 120),
    "auburn": (145, 60, 35),
    "ginger": (190, 95, 45),
    "hazel": (140, 110, 60),
}
_HAIR_WORDS = {"blonde": (225, 195, 120), "blond": (225, 195, 120), "redhead": (175, 70, 40),
               "ginger": (190, 95, 45), "brunette": (80, 50, 30), "auburn": (145, 60, 35)}  # fmt: skip
_EXPRESSION_WORDS: dict[str, Expression] = {
    "smile": "smile", "smiling": "smile", "smiles": "smile", "happy": "smile", "grin": "smile",
    "grinning": "smile", "cheerful": "smile", "joyful": "smile", "laughing": "smile",
    "serious": "serious", "stern": "serious", "frown": "serious", "frowning": "serious", "angry": "serious",
    "grim": "serious", "sad": "serious", "solemn": "serious",
    "surprised": "surprised", "surprise": "surprised", "shocked": "surprised", "amazed": "surprised",
    "astonished": "surprised", "startled": "surprised",
    "neutral": "neutral", "calm": "neutral", "relaxed": "neutral",
}  # fmt: skip
_LIGHTING_WORDS: dict[str, Lighting] = {
    "warm": "warm", "golden": "warm", "cozy": "warm", "candlelight": "warm",
    "cool": "cool", "cold": "cool", "blue-ish": "cool", "icy": "cool",
    "dramatic": "dramatic", "moody": "dramatic", "noir": "dramatic", "contrasty": "dramatic",
    "chiaroscuro": "dramatic",
    "soft": "soft", "diffuse": "soft", "diffused": "soft", "gentle": "soft", "dreamy": "soft",
}  # fmt: skip
_SCENE_WORDS: dict[str, Scene] = {
    "beach": "beach", "seaside": "beach", "ocean": "beach", "sea": "beach", "coast": "beach",
    "office": "office", "workplace": "office", "desk": "office",
    "night": "night", "midnight": "night", "starry": "night", "stars": "night", "nighttime": "night",
    "forest": "forest", "woods": "forest", "jungle": "forest", "park": "forest",
    "sunset": "sunset", "dusk": "sunset", "sunrise": "sunset", "dawn": "sunset",
    "city": "city", "street": "city", "downtown": "city", "urban": "city",
    "studio": "studio",
}  # fmt: skip
_TARGETS = {
    "background": "background", "backdrop": "background", "wall": "background", "bg": "background",
    "hair": "hair", "haired": "hair",
    "eyes": "eyes", "eyed": "eyes",
    "shirt": "clothing", "top": "clothing", "jacket": "clothing", "sweater": "clothing", "dress": "clothing",
    "clothes": "clothing", "suit": "clothing", "hoodie": "clothing", "blouse": "clothing", "coat": "clothing",
}  # fmt: skip
_WORD = re.compile(r"#[0-9a-fA-F]{6}\b|[a-zA-Z][a-zA-Z-]*")


def _colour_of(word: str) -> RGB | None:
    if word.startswith("#"):
        return (int(word[1:3], 16), int(word[3:5], 16), int(word[5:7], 16))
    return COLOURS.get(word)


def parse_prompt(prompt: str) -> Variation:
    """The variation a prompt asks for. Words it knows (anything else is ignored):

    - expression: smiling/happy/grin, serious/stern/frowning, surprised/shocked, neutral/calm;
    - scene: beach, office, night, forest, sunset, city, studio;
    - lighting: warm, cool, dramatic, soft;
    - colours (a name or ``#rrggbb``) before ``background``/``hair``/``eyes``/``shirt``... (``"red hair"``,
      ``"#204060 background"``); a colour with nothing after it colours the background; ``blonde``,
      ``brunette``, ``redhead`` colour the hair.
    """
    if not isinstance(prompt, str):
        raise InvalidArgument(f"prompt must be a string (got {type(prompt).__name__}).")
    words = [w.lower() for w in _WORD.findall(prompt)]
    found: dict[str, Any] = {}
    for i, word in enumerate(words):
        if word in _EXPRESSION_WORDS and "expression" not in found:
            found["expression"] = _EXPRESSION_WORDS[word]
        if word in _LIGHTING_WORDS and "lighting" not in found:
            found["lighting"] = _LIGHTING_WORDS[word]
        if word in _SCENE_WORDS and "scene" not in found:
            found["scene"] = _SCENE_WORDS[word]
        if word in _HAIR_WORDS and words[i + 1 : i + 2] != ["background"]:
            found.setdefault("hair", _HAIR_WORDS[word])
            continue
        colour = _colour_of(word)
        if colour is None:
            continue
        following = next((_TARGETS[w] for w in words[i + 1 : i + 3] if w in _TARGETS), None)
        # "a blue shirt and red hair": the noun right after (or one word later) says what it colours
        found.setdefault(following or "background", colour)
    if found.get("scene") == "night" and "lighting" not in found:
        found["lighting"] = "cool"
    return Variation(**found)


def seed_for(model: str, prompt: str, index: int = 0) -> int:
    """The seed used when none is given: the same model and prompt give the same image."""
    return (zlib.crc32(f"{model}\n{prompt}".encode()) + index) % (2**31)


def parse_size(size: str | tuple[int, int], *, even: bool = False) -> tuple[int, int]:
    """``"512x512"`` (or ``(512, 512)``) as (width, height); :class:`InvalidArgument` when it is not one.
    ``even=True`` also requires even sides (H.264 video)."""
    if isinstance(size, tuple) and len(size) == 2:
        width, height = size
    elif isinstance(size, str) and (m := re.fullmatch(r"\s*(\d+)\s*[xX\u00d7]\s*(\d+)\s*", size)):
        width, height = int(m[1]), int(m[2])
    else:
        raise InvalidArgument(f"size must look like '512x512' (width x height in pixels), got {size!r}.")
    if not all(isinstance(v, int) and MIN_SIDE <= v <= MAX_SIDE for v in (width, height)):
        raise InvalidArgument(f"each side of size must be {MIN_SIDE} to {MAX_SIDE} pixels (got {size!r}).")
    if even and (width % 2 or height % 2):
        raise InvalidArgument(
            f"a video's size must have even sides for H.264 (got {width}x{height}); "
            f"try {width + width % 2}x{height + height % 2}."
        )
    return width, height


# ---- palettes ---------------------------------------------------------------------------------------


def kmeans_palette(
    pixels: ByteImage | FloatImage, k: int = 6, *, seed: int = 0, iterations: int = 12, sample: int = 20000
) -> tuple[list[RGB], list[float]]:
    """The ``k`` dominant colours of ``pixels`` (any shape ending in 3) by k-means, most common first, with
    the fraction of pixels each stands for."""
    import numpy as np

    data = np.asarray(pixels, dtype=np.float32).reshape(-1, 3)
    if len(data) == 0:
        raise InvalidArgument("no pixels to take a palette from.")
    rng = np.random.default_rng(seed)
    if len(data) > sample:
        data = data[rng.choice(len(data), sample, replace=False)]
    k = max(1, min(k, len(np.unique(data.astype(np.int32), axis=0))))
    # k-means++ initialisation, then Lloyd iterations
    centres = [data[rng.integers(len(data))]]
    for _ in range(1, k):
        d2 = np.min(((data[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        total = float(d2.sum())
        centres.append(
            data[rng.choice(len(data), p=d2 / total)] if total > 0 else data[rng.integers(len(data))]
        )
    c = np.array(centres, dtype=np.float32)
    labels = np.zeros(len(data), dtype=np.int64)
    for _ in range(iterations):
        labels = ((data[:, None, :] - c[None]) ** 2).sum(-1).argmin(axis=1)
        for j in range(k):
            members = data[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    order = np.argsort(-counts)
    colours = [(round(float(c[j][0])), round(float(c[j][1])), round(float(c[j][2]))) for j in order]
    weights = [float(counts[j] / counts.sum()) for j in order]
    return colours, weights


def palette_distance(
    a: tuple[list[RGB], list[float]] | list[RGB], b: tuple[list[RGB], list[float]] | list[RGB]
) -> float:
    """How far apart two palettes are: the weighted mean distance (RGB, 0..441) from each colour to the
    nearest colour of the other palette, averaged both ways. 0 for identical palettes."""
    import numpy as np

    def parts(p: tuple[list[RGB], list[float]] | list[RGB]) -> tuple[Any, Any]:
        colours, weights = p if isinstance(p, tuple) else (p, [1.0] * len(p))
        w = np.asarray(weights, dtype=np.float64)
        return np.asarray(colours, dtype=np.float64).reshape(-1, 3), w / w.sum()

    (ca, wa), (cb, wb) = parts(a), parts(b)
    d = np.sqrt(((ca[:, None, :] - cb[None]) ** 2).sum(-1))
    return float(0.5 * ((d.min(axis=1) * wa).sum() + (d.min(axis=0) * wb).sum()))


# ---- drawing ----------------------------------------------------------------------------------------


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(float(a[0] + (b[0] - a[0]) * t)),
        round(float(a[1] + (b[1] - a[1]) * t)),
        round(float(a[2] + (b[2] - a[2]) * t)),
    )


def _shade(c: RGB, factor: float) -> RGB:
    return (min(255, int(c[0] * factor)), min(255, int(c[1] * factor)), min(255, int(c[2] * factor)))


def _vertical(
    height: int, width: int, top: RGB, bottom: RGB, start: float = 0.0, end: float = 1.0
) -> FloatImage:
    import numpy as np

    t = np.clip((np.linspace(0.0, 1.0, height, dtype=np.float32) - start) / max(1e-6, end - start), 0.0, 1.0)
    colours = (
        np.asarray(top, np.float32)[None] * (1 - t[:, None])
        + np.asarray(bottom, np.float32)[None] * t[:, None]
    )
    return np.repeat(colours[:, None, :], width, axis=1)


def _background(scene: Scene, colour: RGB, width: int, height: int, seed: int) -> FloatImage:
    """The backdrop as float RGB (0..255), drawn for ``scene`` (``plain``/``studio`` use ``colour``)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if scene in ("plain", "studio"):
        base = np.asarray(colour, np.float32)
        r = np.sqrt(((xx - width * 0.5) / width) ** 2 + ((yy - height * 0.4) / height) ** 2)
        glow = (1.12 - 0.45 * r) if scene == "studio" else (1.04 - 0.12 * r)
        plain: FloatImage = np.clip(base[None, None] * glow[..., None], 0, 255)
        return plain
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    if scene == "beach":
        sky = _vertical(height, width, (110, 180, 235), (200, 230, 248), 0.0, 0.55)
        arr = sky.copy()
        sea_top, sand_top = int(height * 0.55), int(height * 0.68)
        arr[sea_top:sand_top] = _vertical(sand_top - sea_top, width, (30, 110, 165), (60, 150, 190))
        arr[sand_top:] = _vertical(height - sand_top, width, (232, 212, 165), (215, 190, 140))
        img = Image.fromarray(arr.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        sx, sy, sr = width * 0.82, height * 0.16, min(width, height) * 0.07
        draw.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=(255, 240, 180))
    elif scene == "office":
        img = Image.fromarray(_vertical(height, width, (214, 208, 196), (186, 180, 168)).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        wx0, wy0, wx1, wy1 = width * 0.06, height * 0.08, width * 0.36, height * 0.5
        draw.rectangle(
            (wx0, wy0, wx1, wy1), fill=(170, 205, 230), outline=(240, 240, 238), width=max(2, width // 90)
        )
        draw.line(
            ((wx0 + wx1) / 2, wy0, (wx0 + wx1) / 2, wy1), fill=(240, 240, 238), width=max(2, width // 120)
        )
        for shelf in range(3):
            y = height * (0.18 + 0.14 * shelf)
            draw.rectangle((width * 0.7, y, width * 0.95, y + height * 0.015), fill=(120, 90, 60))
            for b in range(5):
                bx = width * (0.71 + 0.045 * b)
                bh = height * rng.uniform(0.05, 0.09)
                red, green, blue = (int(v) for v in rng.integers(60, 200, 3))
                draw.rectangle((bx, y - bh, bx + width * 0.035, y), fill=(red, green, blue))
        draw.rectangle((0, height * 0.82, width, height), fill=(125, 95, 65))
    elif scene == "night":
        img = Image.fromarray(_vertical(height, width, (8, 12, 34), (24, 30, 66)).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(int(width * height / 2500) + 8):
            x, y = rng.uniform(0, width), rng.uniform(0, height * 0.75)
            s = rng.uniform(0.4, 1.3) * max(1.0, width / 400)
            b = int(rng.uniform(150, 255))
            draw.ellipse((x - s, y - s, x + s, y + s), fill=(b, b, min(255, b + 20)))
        mx, my, mr = width * 0.8, height * 0.17, min(width, height) * 0.06
        draw.ellipse((mx - mr, my - mr, mx + mr, my + mr), fill=(235, 235, 215))
    elif scene == "forest":
        img = Image.fromarray(_vertical(height, width, (120, 170, 120), (40, 85, 45)).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(9):
            x, w = rng.uniform(0, width), width * rng.uniform(0.02, 0.05)
            draw.rectangle((x, 0, x + w, height), fill=(80, 60, 40))
        for _ in range(40):
            x, y, r = rng.uniform(0, width), rng.uniform(0, height * 0.6), width * rng.uniform(0.04, 0.1)
            g = int(rng.uniform(90, 150))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(40, g, 50))
    elif scene == "sunset":
        arr = _vertical(height, width, (90, 60, 140), (250, 150, 70), 0.0, 0.7)
        img = Image.fromarray(arr.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        sx, sy, sr = width * 0.25, height * 0.62, min(width, height) * 0.12
        draw.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=(255, 200, 110))
        draw.rectangle((0, height * 0.7, width, height), fill=(60, 40, 70))
    elif scene == "city":
        img = Image.fromarray(_vertical(height, width, (150, 170, 200), (210, 200, 190)).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        x = 0.0
        while x < width:
            w, h = width * rng.uniform(0.08, 0.16), height * rng.uniform(0.35, 0.8)
            tone = int(rng.uniform(70, 120))
            draw.rectangle((x, height - h, x + w, height), fill=(tone, tone, tone + 10))
            for wy in np.arange(height - h + height * 0.03, height, height * 0.05):
                for wx in np.arange(x + w * 0.15, x + w - w * 0.2, w * 0.3):
                    draw.rectangle((wx, wy, wx + w * 0.12, wy + height * 0.02), fill=(230, 220, 150))
            x += w + width * 0.01
    return np.asarray(img, dtype=np.float32)


def _lighting(lighting: Lighting, scene: Scene, width: int, height: int) -> tuple[FloatImage, float]:
    """A per-pixel RGB multiplier for ``lighting`` (a vignette always; a side light when dramatic) and a
    contrast factor (soft light flattens, dramatic light deepens)."""
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.sqrt(((xx / width) - 0.5) ** 2 + ((yy / height) - 0.45) ** 2)
    vignette = {"dramatic": 0.9, "soft": 0.2, "neutral": 0.35}.get(lighting, 0.35)
    gain = np.clip(1.0 - vignette * r**2 * 1.6, 0.0, 1.2)[..., None] * np.ones(3, np.float32)
    tint = {"warm": (1.1, 1.0, 0.82), "cool": (0.86, 0.97, 1.12)}.get(lighting, (1.0, 1.0, 1.0))
    gain = gain * np.asarray(tint, np.float32)
    if lighting == "dramatic":
        side = np.clip(1.35 - 1.05 * (xx / width), 0.3, 1.35)
        gain = gain * side[..., None]
    if scene == "night":
        gain = gain * 0.62
    contrast = {"dramatic": 1.25, "soft": 0.78}.get(lighting, 1.0)
    return gain.astype(np.float32), contrast


@dataclass(frozen=True)
class _Face:
    cx: float
    cy: float
    rx: float
    ry: float


class PortraitRenderer:
    """Draws one persona at one size, in one variation, over and over (cheap per frame: the backdrop and
    lighting are computed once). Not a diffusion model: a compositor of drawn shapes and learned colours.

    ``reference`` is the spec's reference face crop (an RGB array), blended into the face as its texture.
    """

    supersample = 2

    def __init__(
        self,
        spec: PortraitSpec,
        width: int,
        height: int,
        variation: Variation | None = None,
        *,
        seed: int = 0,
        reference: ByteImage | None = None,
    ) -> None:
        import numpy as np
        from PIL import Image

        self.spec = spec
        self.width, self.height = width, height
        self.variation = variation = variation or Variation()
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.hair = variation.hair or spec.hair
        self.eyes = variation.eyes or spec.eyes
        self.clothing = variation.clothing or spec.clothing
        # a seed moves the pose a little, so that n images of one prompt differ
        self.pose = (float(rng.normal(0, 0.01)), float(rng.normal(0, 0.006)), float(rng.normal(0, 1.5)))
        bg = variation.background or spec.background
        self._backdrop = _background(variation.scene, bg, width, height, seed)
        self._gain, self._contrast = _lighting(variation.lighting, variation.scene, width, height)
        self._grain = rng.normal(0.0, 2.0, (height, width, 1)).astype(np.float32)
        fh = spec.face_height * height
        self.face = _Face(spec.face_x * width, spec.face_y * height, fh * spec.face_aspect / 2, fh / 2)
        self._reference = self._prepare_reference(reference)
        body = np.asarray(self._draw_body().resize((width, height), Image.Resampling.BOX), dtype=np.float32)
        alpha = body[..., 3:4] / 255.0
        self._base: FloatImage = self._backdrop * (1.0 - alpha) + body[..., :3] * alpha
        self._mean = (self._base * self._gain).mean(axis=(0, 1), keepdims=True)
        everything = (slice(0, height), slice(0, width))
        self._lit = self._finish(self._base, everything)
        f, m = self.face, 0.18 * self.face.ry + 2
        self._region = (
            max(0, int(f.cx - 1.16 * f.rx - m)),
            max(0, int(f.cy - 1.14 * f.ry - m)),
            min(width, math.ceil(f.cx + 1.16 * f.rx + m)),
            min(height, math.ceil(f.cy + f.ry + m)),
        )

    # ---- fixed parts
    def _prepare_reference(self, reference: ByteImage | None) -> Image.Image | None:
        if reference is None:
            return None
        from PIL import Image, ImageFilter

        s = self.supersample
        f = self.face
        size = (max(2, int(4 * f.rx * s * 0.5)), max(2, int(4 * f.ry * s * 0.5)))
        crop = Image.fromarray(reference).convert("RGB").resize(size, Image.Resampling.BILINEAR)
        return crop.filter(ImageFilter.GaussianBlur(radius=max(1.0, f.rx * s / 14)))

    def _draw_body(self) -> Image.Image:
        """Neck and shoulders (they do not move with the head)."""
        from PIL import Image, ImageDraw

        s = self.supersample
        f = self.face
        cx, cy, rx, ry = f.cx * s, f.cy * s, f.rx * s, f.ry * s
        layer = Image.new("RGBA", (self.width * s, self.height * s), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        skin_dark = _shade(self.spec.skin, 0.82)
        draw.rectangle((cx - 0.36 * rx, cy + 0.55 * ry, cx + 0.36 * rx, cy + 1.35 * ry), fill=skin_dark)
        draw.ellipse((cx - 2.3 * rx, cy + 1.12 * ry, cx + 2.3 * rx, cy + 3.9 * ry), fill=self.clothing)
        draw.polygon(
            [(cx - 0.42 * rx, cy + 1.16 * ry), (cx + 0.42 * rx, cy + 1.16 * ry), (cx, cy + 1.55 * ry)],
            fill=skin_dark,
        )
        return layer

    # ---- one frame
    def render(
        self,
        *,
        mouth_open: float = 0.0,
        eyes_open: float = 1.0,
        head_dx: float = 0.0,
        head_dy: float = 0.0,
        tilt: float = 0.0,
    ) -> ByteImage:
        """One frame as an RGB ``uint8`` array (height, width, 3).

        ``mouth_open`` 0 (closed) to 1 (wide), ``eyes_open`` 0 (closed, a blink) to 1; ``head_dx``/``head_dy``
        move the head by that fraction of the face's width/height (at most 0.15); ``tilt`` rolls it, in
        degrees (at most 8). Only the head's box is redrawn: the backdrop and body are composed once.
        """
        import numpy as np
        from PIL import Image

        s = self.supersample
        f = self.face
        pdx, pdy, ptilt = self.pose
        x0, y0, x1, y1 = self._region
        dx = max(-0.15, min(0.15, head_dx + pdx)) * 2 * f.rx
        dy = max(-0.15, min(0.15, head_dy + pdy)) * 2 * f.ry
        angle = max(-8.0, min(8.0, tilt + ptilt))
        size = ((x1 - x0) * s, (y1 - y0) * s)
        cx, cy = (f.cx + dx - x0) * s, (f.cy + dy - y0) * s
        head = self._draw_head(size, cx, cy, min(1.0, max(0.0, mouth_open)), min(1.0, max(0.0, eyes_open)))
        if abs(angle) > 0.05:
            head = head.rotate(angle, resample=Image.Resampling.BILINEAR, center=(cx, cy + f.ry * s))
        rgba = np.asarray(head.resize((x1 - x0, y1 - y0), Image.Resampling.BOX), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        region = self._base[y0:y1, x0:x1] * (1.0 - alpha) + rgba[..., :3] * alpha
        out = self._lit.copy()
        out[y0:y1, x0:x1] = self._finish(region, (slice(y0, y1), slice(x0, x1)))
        return out

    def _finish(self, pixels: FloatImage, where: tuple[slice, slice]) -> ByteImage:
        """Lighting, contrast and grain over ``pixels`` (the part ``where`` of the frame)."""
        import numpy as np

        out = pixels * self._gain[where]
        if self._contrast != 1.0:
            out = self._mean + (out - self._mean) * self._contrast
        out = out + self._grain[where]
        done: ByteImage = np.clip(out, 0, 255).astype(np.uint8)
        return done

    def image(self, **pose: float) -> Image.Image:
        """One frame as a Pillow image (see :meth:`render`)."""
        from PIL import Image

        return Image.fromarray(self.render(**pose))

    def _draw_head(
        self, size: tuple[int, int], cx: float, cy: float, mouth: float, eyes_open: float
    ) -> Image.Image:
        """The head (hair, face, features) on a transparent layer of ``size``, centred at (cx, cy)."""
        from PIL import Image, ImageDraw

        s = self.supersample
        rx, ry = self.face.rx * s, self.face.ry * s
        spec, expression = self.spec, self.variation.expression
        skin = spec.skin
        skin_dark = _shade(skin, 0.78)
        hair = self.hair
        layer = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        # hair behind the head, ears, face
        draw.ellipse((cx - 1.14 * rx, cy - 1.12 * ry, cx + 1.14 * rx, cy + 0.55 * ry), fill=hair)
        for side in (-1, 1):
            ex = cx + side * 0.98 * rx
            draw.ellipse((ex - 0.13 * rx, cy - 0.12 * ry, ex + 0.13 * rx, cy + 0.2 * ry), fill=skin_dark)
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=skin)
        if self._reference is not None:
            mask = Image.new("L", layer.size, 0)
            ImageDraw.Draw(mask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=140)
            ref = self._reference
            box = (int(cx - ref.width / 2), int(cy - ref.height / 2))
            texture = Image.new("RGBA", layer.size, (0, 0, 0, 0))
            texture.paste(ref, box)
            texture.putalpha(mask)
            layer.alpha_composite(texture)
            draw = ImageDraw.Draw(layer)
        # fringe
        draw.chord((cx - 1.06 * rx, cy - 1.1 * ry, cx + 1.06 * rx, cy + 0.2 * ry), 180, 360, fill=hair)
        self._draw_brows(draw, cx, cy, rx, ry, expression, _shade(hair, 0.7))
        self._draw_eyes(draw, cx, cy, rx, ry, expression, eyes_open, skin_dark)
        # nose
        w = max(1, int(0.035 * ry))
        draw.line([(cx + 0.02 * rx, cy + 0.02 * ry), (cx + 0.08 * rx, cy + 0.27 * ry),
                   (cx - 0.05 * rx, cy + 0.3 * ry)], fill=skin_dark, width=w, joint="curve")  # fmt: skip
        if expression == "smile":
            blush = Image.new("RGBA", layer.size, (0, 0, 0, 0))
            bd = ImageDraw.Draw(blush)
            for side in (-1, 1):
                bx, by = cx + side * 0.55 * rx, cy + 0.28 * ry
                bd.ellipse(
                    (bx - 0.17 * rx, by - 0.09 * ry, bx + 0.17 * rx, by + 0.09 * ry), fill=(*spec.lips, 70)
                )
            layer.alpha_composite(blush)
            draw = ImageDraw.Draw(layer)
        self._draw_mouth(draw, cx, cy, rx, ry, expression, mouth)
        return layer

    @staticmethod
    def _draw_brows(
        draw: Any, cx: float, cy: float, rx: float, ry: float, expression: Expression, colour: RGB
    ) -> None:
        lift = {"surprised": -0.09, "smile": -0.02}.get(expression, 0.0) * ry
        inner = 0.06 * ry if expression == "serious" else (-0.02 * ry if expression == "surprised" else 0.0)
        width = max(1, int(0.05 * ry))
        for side in (-1, 1):
            ex = cx + side * 0.38 * rx
            y = cy - 0.3 * ry + lift
            inner_pt = (ex - side * 0.17 * rx, y + inner)
            outer_pt = (ex + side * 0.19 * rx, y + 0.01 * ry)
            mid = (ex + side * 0.01 * rx, y - (0.05 if expression == "surprised" else 0.03) * ry)
            draw.line([inner_pt, mid, outer_pt], fill=colour, width=width, joint="curve")

    def _draw_eyes(
        self, draw: Any, cx: float, cy: float, rx: float, ry: float, expression: Expression,
        openness: float, lid: RGB,
    ) -> None:  # fmt: skip
        big = {"surprised": 1.35, "smile": 0.85, "serious": 0.8}.get(expression, 1.0)
        for side in (-1, 1):
            ex, ey = cx + side * 0.38 * rx, cy - 0.08 * ry
            hw, hh = 0.17 * rx, 0.095 * ry * big * openness
            if hh < 0.02 * ry:  # closed: a lid line
                draw.line([(ex - hw, ey), (ex, ey + 0.02 * ry), (ex + hw, ey)], fill=lid,
                          width=max(1, int(0.03 * ry)), joint="curve")  # fmt: skip
                continue
            draw.ellipse((ex - hw, ey - hh, ex + hw, ey + hh), fill=(245, 243, 238))
            ir = 0.085 * rx
            ih = min(ir, hh * 0.98)
            draw.ellipse((ex - ir, ey - ih, ex + ir, ey + ih), fill=self.eyes)
            pr = 0.04 * rx
            ph = min(pr, hh * 0.9)
            draw.ellipse((ex - pr, ey - ph, ex + pr, ey + ph), fill=(15, 15, 18))
            draw.arc((ex - hw, ey - hh, ex + hw, ey + hh), 180, 360, fill=lid, width=max(1, int(0.025 * ry)))

    def _draw_mouth(
        self, draw: Any, cx: float, cy: float, rx: float, ry: float, expression: Expression, mouth: float
    ) -> None:
        lips = self.spec.lips
        y = cy + 0.52 * ry
        width = max(1, int(0.045 * ry))
        if expression == "surprised":
            mouth = max(mouth, 0.55)
        half = {"smile": 0.36, "surprised": 0.17, "serious": 0.27}.get(expression, 0.3) * rx
        if expression == "surprised":
            half *= 1.0 + 0.3 * mouth
        opening = mouth * 0.26 * ry
        if opening < 0.015 * ry:
            if expression == "smile":
                draw.arc(
                    (cx - half, y - 0.2 * ry, cx + half, y + 0.1 * ry), 15, 165, fill=lips, width=width * 2
                )
            elif expression == "serious":
                draw.line([(cx - half, y + 0.035 * ry), (cx, y - 0.005 * ry), (cx + half, y + 0.035 * ry)],
                          fill=lips, width=width * 2, joint="curve")  # fmt: skip
            else:
                draw.line([(cx - half, y), (cx, y + 0.012 * ry), (cx + half, y)], fill=lips, width=width * 2,
                          joint="curve")  # fmt: skip
            return
        dark = (70, 22, 30)
        if expression == "smile":
            box = (cx - half, y - 0.06 * ry - opening * 0.2, cx + half, y + 0.02 * ry + opening)
            draw.chord(box, 0, 180, fill=dark, outline=lips, width=width)
            teeth_h = min(opening * 0.35, 0.06 * ry)
            draw.chord((box[0] + half * 0.2, box[1] + (box[3] - box[1]) / 2 - teeth_h, box[2] - half * 0.2,
                        box[1] + (box[3] - box[1]) / 2 + teeth_h), 0, 180, fill=(240, 238, 230))  # fmt: skip
            draw.line(
                [(box[0], (box[1] + box[3]) / 2), (box[2], (box[1] + box[3]) / 2)], fill=lips, width=width
            )
        else:
            draw.ellipse((cx - half, y - opening / 2, cx + half, y + opening / 2), fill=dark, outline=lips,
                         width=width)  # fmt: skip


def mouth_box(spec: PortraitSpec, width: int, height: int) -> tuple[int, int, int, int]:
    """The pixel box (left, top, right, bottom) around the mouth of a portrait of this spec and size:
    where expressions and speech change the picture."""
    fh = spec.face_height * height
    cx, cy, rx, ry = spec.face_x * width, spec.face_y * height, fh * spec.face_aspect / 2, fh / 2
    return (int(cx - 0.45 * rx), int(cy + 0.3 * ry), int(cx + 0.45 * rx), int(cy + 0.8 * ry))


def brightness(image: ByteImage) -> float:
    """Mean luma (0..255) of an RGB array: ``night`` renders darker than ``beach``."""
    import numpy as np

    arr = np.asarray(image, dtype=np.float64)
    return float((arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114).mean())


__all__ = [
    "DEFAULT_SPEC",
    "EXPRESSIONS",
    "LIGHTINGS",
    "SCENES",
    "PortraitRenderer",
    "PortraitSpec",
    "Variation",
    "brightness",
    "kmeans_palette",
    "mouth_box",
    "palette_distance",
    "parse_prompt",
    "parse_size",
    "seed_for",
]
