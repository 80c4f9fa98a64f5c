"""OpenAI images against the fake OpenAI server (every request checked against OpenAI's spec)."""

from __future__ import annotations

import asyncio
import base64
import struct
from pathlib import Path

import pytest

from polyface import OpenAIAdapter
from polyface.capabilities import ImageGeneration
from polyface.errors import InvalidArgument
from polyface.providers.openai.image import image_cost, image_size, parse_image_response
from polyface.testing.fake_openai.images import png
from polyface.types.models import Pricing
from polyface.types.usage import Usage


def _adapter(fake: object, **kw: object) -> OpenAIAdapter:
    return OpenAIAdapter(api_key=fake.api_key, base_url=fake.base_url, **kw)  # type: ignore[attr-defined]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def test_gpt_image_generates_real_pngs_with_token_cost(fake_openai) -> None:
    price = Pricing(input_per_mtok=10.0, output_per_mtok=40.0, per_image=0.5)
    with _adapter(fake_openai, pricing={"gpt-image-1": price}) as openai:
        assert isinstance(openai.image, ImageGeneration)
        reply = openai.image.generate(
            model="gpt-image-1", prompt="a gruff driver", width=1536, height=1024, n=2
        )
    body = fake_openai.requests[-1].json
    assert body["size"] == "1536x1024" and body["n"] == 2 and "width" not in body
    assert len(reply.images) == 2
    data = reply.images[0].bytes()
    assert _png_size(data) == (1536, 1024) and reply.images[0].mime_type == "image/png"
    assert reply.images[0].width == 1536 and reply.images[1].bytes() != data
    usage = reply.usage
    assert usage.images == 2 and usage.output_tokens > 0 and usage.input_tokens > 0
    assert reply.cost == pytest.approx((usage.input_tokens * 10 + usage.output_tokens * 40) / 1e6)


def test_dall_e_3_answers_a_url_and_costs_per_image(fake_openai, tmp_path: Path) -> None:
    with _adapter(fake_openai, pricing={"dall-e-3": Pricing(per_image=0.04)}) as openai:
        reply = openai.image.generate(
            model="dall-e-3", prompt="a car at sunset", size="1792x1024", style="natural"
        )
    image = reply.images[0]
    assert image.url is not None and image.b64_json is None
    assert image.revised_prompt and "a car at sunset" in image.revised_prompt
    assert _png_size(image.save(tmp_path / "car.png").read_bytes()) == (1792, 1024)
    assert reply.cost == pytest.approx(0.04)


def test_sizes_are_mapped_or_refused_with_the_list(fake_openai) -> None:
    assert image_size("dall-e-2", 512, 512, None) == "512x512"
    assert image_size("gpt-image-2", 1536, 864, None) == "1536x864"
    with pytest.raises(InvalidArgument, match="1024x1024, 1536x1024, 1024x1536"):
        image_size("gpt-image-1", 800, 600, None)
    with pytest.raises(InvalidArgument, match="divisible by 16"):
        image_size("gpt-image-2", 1000, 600, None)
    with _adapter(fake_openai) as openai:
        with pytest.raises(InvalidArgument, match="1792x1024"):
            openai.image.generate(model="dall-e-3", prompt="x", width=1536, height=1024)
        with pytest.raises(InvalidArgument, match="n=1"):
            openai.image.generate(model="dall-e-3", prompt="x", n=2)
        with pytest.raises(InvalidArgument, match="GPT image models only"):
            openai.image.generate(model="dall-e-3", prompt="x", background="transparent")
        with pytest.raises(InvalidArgument, match="png' or 'webp"):
            openai.image.generate(
                model="gpt-image-1", prompt="x", background="transparent", output_format="jpeg"
            )
        with pytest.raises(InvalidArgument, match="does not take 'seed'"):
            openai.image.generate(model="gpt-image-1", prompt="x", seed=3)
    assert fake_openai.requests == []


def test_reference_images_route_to_a_multipart_edit(fake_openai, tmp_path: Path) -> None:
    face = tmp_path / "face.png"
    face.write_bytes(png(64, 64, (200, 150, 120)))
    outfit = png(32, 32, (10, 20, 30))
    with _adapter(fake_openai) as openai:
        reply = openai.image.generate(
            model="gpt-image-1",
            prompt="the same man at a race track",
            reference_images=[face, outfit],
            input_fidelity="high",
            size="1024x1024",
        )
        other = openai.image.edit(model="gpt-image-1", prompt="the same man at a race track", images=outfit)
    first, second = [r for r in fake_openai.requests if r.path != "/v1/models"]
    assert first.path == "/v1/images/edits" and first.headers["content-type"].startswith(
        "multipart/form-data"
    )
    assert first.body.count(b'name="image[]"') == 2 and b'name="input_fidelity"' in first.body
    assert second.body.count(b'name="image"') == 1
    assert fake_openai.store["images"][0]["references"] == 2
    assert _png_size(reply.images[0].bytes()) == (1024, 1024)
    assert reply.images[0].bytes() != other.images[0].bytes()  # the result depends on the references
    assert reply.usage.details["input_image_tokens"] > 0


def test_edit_inputs_are_checked_before_sending(fake_openai, tmp_path: Path) -> None:
    with _adapter(fake_openai) as openai:
        with pytest.raises(InvalidArgument, match="URL"):
            openai.image.edit(model="gpt-image-1", prompt="x", images="https://example.com/a.png")
        with pytest.raises(InvalidArgument, match="could not be read"):
            openai.image.edit(model="gpt-image-1", prompt="x", images=tmp_path / "missing.png")
        with pytest.raises(InvalidArgument, match="not a PNG"):
            openai.image.edit(model="gpt-image-1", prompt="x", images=b"not an image")
        with pytest.raises(InvalidArgument, match="at most 16"):
            openai.image.edit(model="gpt-image-1", prompt="x", images=[png(2, 2, (0, 0, 0))] * 17)
        with pytest.raises(InvalidArgument, match="cannot edit"):
            openai.image.edit(model="dall-e-3", prompt="x", images=png(2, 2, (0, 0, 0)))
        with pytest.raises(InvalidArgument, match="need reference_images"):
            openai.image.generate(model="gpt-image-1", prompt="x", mask=png(2, 2, (0, 0, 0)))
    assert fake_openai.requests == []


def test_async_generate_and_edit(fake_openai) -> None:
    async def main() -> tuple[int, int]:
        async with _adapter(fake_openai) as openai:
            made = await openai.image.agenerate(model="gpt-image-1-mini", prompt="a dog", quality="low")
            edited = await openai.image.aedit(
                model="gpt-image-1",
                prompt="a dog",
                images=[made.images[0].bytes()],
                mask=png(1024, 1024, (0, 0, 0)),
            )
            return len(made.images), len(edited.images)

    assert asyncio.run(main()) == (1, 1)
    assert fake_openai.store["images"][1]["mask"] is True


def test_pure_parsing_and_cost() -> None:
    b64 = base64.b64encode(png(4, 4, (1, 2, 3))).decode()
    reply = parse_image_response(
        {
            "created": 1,
            "data": [{"b64_json": b64}],
            "size": "1024x1536",
            "usage": {"input_tokens": 5, "output_tokens": 7},
        },
        provider="openai",
        model="gpt-image-1",
        body={},
    )
    assert reply.images[0].height == 1536 and reply.usage.total_tokens == 12
    assert image_cost(None, reply.usage) is None
    assert image_cost(Pricing(per_image=0.1), Usage(images=3)) == pytest.approx(0.3)
    assert image_cost(Pricing(), Usage(images=3)) is None
