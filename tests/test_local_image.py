"""The local provider's images: the offline portrait compositor, prompt variations, and learning a portrait
from sample pictures (``fine_tuning.image``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from polyface.capabilities import FineTuning, ImageGeneration
from polyface.errors import InvalidArgument, NotFound
from polyface.providers.local.portrait import (
    DEFAULT_SPEC,
    brightness,
    kmeans_palette,
    mouth_box,
    palette_distance,
    parse_prompt,
)

SAMPLE_PALETTE = {"skin": (150, 100, 70), "hair": (200, 40, 40), "bg": (240, 200, 60), "shirt": (60, 150, 70)}
"""A persona unlike the default one: red hair, yellow backdrop, green shirt."""


def drawn_face(
    *,
    size: tuple[int, int] = (320, 400),
    face: tuple[float, float, float, float] = (0.5, 0.45, 0.22, 0.2),
    mouth: float = 0.0,
    skin: tuple[int, int, int] = SAMPLE_PALETTE["skin"],
) -> Image.Image:
    """A flat drawing of a head and shoulders. ``face``: centre x, y (fractions of the frame), half width
    (of the frame's width), half height (of its height); ``mouth``: 0 shut to 1 open."""
    w, h = size
    im = Image.new("RGB", size, SAMPLE_PALETTE["bg"])
    d = ImageDraw.Draw(im)
    cx, cy, rx, ry = face[0] * w, face[1] * h, face[2] * w, face[3] * h
    d.ellipse((cx - 2.2 * rx, cy + 1.1 * ry, cx + 2.2 * rx, cy + 3.5 * ry), fill=SAMPLE_PALETTE["shirt"])
    d.rectangle(
        (cx - 0.35 * rx, cy + 0.6 * ry, cx + 0.35 * rx, cy + 1.2 * ry),
        fill=tuple(int(c * 0.85) for c in skin),
    )
    d.ellipse((cx - 1.1 * rx, cy - 1.15 * ry, cx + 1.1 * rx, cy + 0.4 * ry), fill=SAMPLE_PALETTE["hair"])
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=skin)
    d.chord(
        (cx - 1.05 * rx, cy - 1.12 * ry, cx + 1.05 * rx, cy + 0.1 * ry), 180, 360, fill=SAMPLE_PALETTE["hair"]
    )
    for side in (-1, 1):
        ex, ey = cx + side * 0.38 * rx, cy - 0.08 * ry
        d.ellipse((ex - 0.16 * rx, ey - 0.08 * ry, ex + 0.16 * rx, ey + 0.08 * ry), fill=(250, 250, 250))
        d.ellipse((ex - 0.07 * rx, ey - 0.07 * ry, ex + 0.07 * rx, ey + 0.07 * ry), fill=(40, 90, 160))
    my, opening = cy + 0.52 * ry, mouth * 0.25 * ry
    d.ellipse((cx - 0.3 * rx, my - 0.03 * ry - opening / 2, cx + 0.3 * rx, my + 0.03 * ry + opening / 2),
              fill=(120, 30, 40))  # fmt: skip
    return im


def save_samples(folder: Path) -> list[Path]:
    paths = []
    for i, face in enumerate([(0.5, 0.45, 0.22, 0.2), (0.46, 0.5, 0.2, 0.18), (0.53, 0.43, 0.24, 0.21)]):
        path = folder / f"sample_{i}.png"
        drawn_face(face=face, mouth=0.3 * i).save(path)
        paths.append(path)
    return paths


def pixels(response: Any, index: int = 0) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(response.images[index].bytes())).convert("RGB"))


# ---- the shipped portrait --------------------------------------------------------------------------


def test_generate_returns_pngs_at_the_asked_size(local: Any) -> None:
    assert isinstance(local.image, ImageGeneration)
    response = local.image.generate(model="portrait", prompt="a portrait", n=2, size="320x240", seed=5)
    assert response.provider == "local" and response.model == "portrait" and response.cost == 0.0
    assert response.seed == 5 and response.usage.images == 2 and len(response.images) == 2
    for i, image in enumerate(response.images):
        assert image.mime_type == "image/png" and image.bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (image.width, image.height, image.index) == (320, 240, i)
        assert Image.open(io.BytesIO(image.bytes())).size == (320, 240)
    assert not np.array_equal(pixels(response, 0), pixels(response, 1))  # seeds 5 and 6 differ
    again = local.image.generate(model="portrait", prompt="a portrait", size="320x240", seed=5)
    assert again.images[0].bytes() == response.images[0].bytes()  # deterministic for a seed


def test_expression_changes_the_mouth_region(local: Any) -> None:
    smiling = pixels(local.image.generate(prompt="a smiling portrait", size="256x256", seed=1)).astype(float)
    serious = pixels(local.image.generate(prompt="a serious portrait", size="256x256", seed=1)).astype(float)
    x0, y0, x1, y1 = mouth_box(DEFAULT_SPEC, 256, 256)
    mouth_change = np.abs(smiling[y0:y1, x0:x1] - serious[y0:y1, x0:x1]).mean()
    corner_change = np.abs(smiling[:40, :40] - serious[:40, :40]).mean()
    assert mouth_change > 4.0, mouth_change  # measured 6.2
    assert corner_change < 0.5, corner_change  # the backdrop is the same: only the face changed


def test_scene_and_lighting_words_change_the_image(local: Any) -> None:
    def render(prompt: str) -> np.ndarray:
        return pixels(local.image.generate(prompt=prompt, size="192x192", seed=3)).astype(float)

    night, beach = render("at night"), render("on the beach")
    assert brightness(night) < brightness(beach) - 40, (brightness(night), brightness(beach))
    warm, cool = render("warm light"), render("cool light")
    assert warm[..., 0].mean() - warm[..., 2].mean() > cool[..., 0].mean() - cool[..., 2].mean() + 20
    dramatic = render("dramatic lighting")
    left, right = dramatic[:, :64].mean(), dramatic[:, -64:].mean()
    assert left > right + 30  # a side light
    red = render("red background")
    assert red[:20, :20, 0].mean() > red[:20, :20, 2].mean() + 80


def test_parse_prompt_words() -> None:
    v = parse_prompt("Surprised persona with blonde hair, a green shirt, in an office, soft light")
    assert (v.expression, v.scene, v.lighting) == ("surprised", "office", "soft")
    assert v.hair == (225, 195, 120) and v.clothing == (70, 150, 80) and v.background is None
    assert parse_prompt("#102030 background").background == (16, 32, 48)
    plain = parse_prompt("just a person")
    assert (plain.expression, plain.scene, plain.lighting, plain.background) == (
        "neutral",
        "plain",
        "neutral",
        None,
    )


def test_generate_refuses_bad_arguments(local: Any) -> None:
    with pytest.raises(InvalidArgument, match="size must look like"):
        local.image.generate(prompt="x", size="512")
    with pytest.raises(InvalidArgument, match="32 to 2048"):
        local.image.generate(prompt="x", size="8x8")
    with pytest.raises(InvalidArgument, match="n must be"):
        local.image.generate(prompt="x", n=0)
    with pytest.raises(InvalidArgument, match="response_format"):
        local.image.generate(prompt="x", response_format="url")
    with pytest.raises(InvalidArgument, match="does not take 'steps'"):
        local.image.generate(prompt="x", steps=20)
    with pytest.raises(NotFound, match="portrait"):
        local.image.generate(model="portrait:nobody", prompt="x")


async def test_agenerate(local: Any) -> None:
    response = await local.image.agenerate(prompt="smiling", size="64x64", seed=2)
    assert pixels(response).shape == (64, 64, 3)


# ---- learning a portrait -----------------------------------------------------------------------------


def test_training_learns_the_samples_palette_and_framing(local: Any, tmp_path: Path) -> None:
    paths = save_samples(tmp_path)
    assert isinstance(local.fine_tuning.image, FineTuning)
    job = local.fine_tuning.image.train([*paths[:2], paths[2].read_bytes()], name="rex")
    job.wait(timeout=60)
    assert job.status == "succeeded" and job.result_model == "portrait:rex"
    steps = [e for e in job.events() if e.step is not None]
    assert len(steps) == 4 and "sample_0.png" in steps[0].message  # one event per image, then the check
    model = local.model("portrait:rex")
    assert model.kind == "portrait" and model.base_model == "portrait"
    assert model.metrics["palette_distance"] < model.metrics["palette_distance_default"] / 2
    assert "portrait:rex" in [m.id for m in local.models()]
    spec = model.params["portrait"]
    assert abs(spec["face_x"] - 0.5) < 0.05 and abs(spec["face_y"] - 0.46) < 0.05
    assert abs(spec["face_height"] - 0.39) < 0.08
    assert np.abs(np.subtract(spec["hair"], SAMPLE_PALETTE["hair"])).max() < 20
    assert np.abs(np.subtract(spec["background"], SAMPLE_PALETTE["bg"])).max() < 10
    assert (Path(model.path) / "reference.png").is_file()

    # measured here, independently of the trainer's own metric
    target = kmeans_palette(
        np.concatenate([np.asarray(Image.open(p).convert("RGB")).reshape(-1, 3) for p in paths])
    )
    trained = pixels(local.image.generate(model="portrait:rex", prompt="portrait", size="256x320", seed=0))
    default = pixels(local.image.generate(model="portrait", prompt="portrait", size="256x320", seed=0))
    trained_distance = palette_distance(kmeans_palette(trained), target)
    default_distance = palette_distance(kmeans_palette(default), target)
    assert trained_distance < default_distance / 2, (trained_distance, default_distance)
    # the learned portrait still takes prompt variations
    night = pixels(local.image.generate(model="portrait:rex", prompt="at night", size="256x320", seed=0))
    assert brightness(night) < brightness(trained) - 30


def test_training_reads_a_face_found_without_skin_tone(local: Any, tmp_path: Path) -> None:
    path = tmp_path / "green.png"
    drawn_face(skin=(90, 200, 90)).save(path)  # no skin-tone pixels: the central colour cluster is the face
    job = local.fine_tuning.image.train([path], name="alien").wait(timeout=60)
    assert "found by centre" in job.events()[0].message
    spec = local.model(job.result_model).params["portrait"]
    assert np.abs(np.subtract(spec["skin"], (90, 200, 90))).max() < 10


def test_training_refuses_bad_images_before_starting(local: Any, tmp_path: Path) -> None:
    good = save_samples(tmp_path)[0]
    broken = tmp_path / "broken.png"
    broken.write_text("this is not a picture")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (40, 40), (255, 0, 0)).save(tiny)
    with pytest.raises(InvalidArgument, match=r"broken\.png.*not a picture"):
        local.fine_tuning.image.train([good, broken])
    with pytest.raises(InvalidArgument, match=r"tiny\.png.*40x40.*at least 64"):
        local.fine_tuning.image.train([good, tiny])
    with pytest.raises(InvalidArgument, match=r"missing\.png.*does not exist"):
        local.fine_tuning.image.train([tmp_path / "missing.png"])
    with pytest.raises(InvalidArgument, match=r"images\[1\].*not a picture"):
        local.fine_tuning.image.train([good, b"\x00\x01garbage"])
    with pytest.raises(InvalidArgument, match="list"):
        local.fine_tuning.image.train(str(good))
    with pytest.raises(InvalidArgument, match="empty"):
        local.fine_tuning.image.train([])
    with pytest.raises(InvalidArgument, match="model name"):
        local.fine_tuning.image.train([good], name="bad name!")
    assert local.fine_tuning.image.list() == []  # no job was started
