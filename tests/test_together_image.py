"""TogetherAdapter.image against the local Together fake (requests checked against the spec)."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyface import TogetherAdapter
from polyface.capabilities import ImageGeneration
from polyface.errors import InvalidArgument, InvalidRequest, ProviderUnavailable
from polyface.providers.together.image import image_body, parse_image_response
from polyface.testing.fake_together import FakeTogether
from polyface.types.models import Pricing
from together_spec import validate_together_response

FLUX = "black-forest-labs/FLUX.1-schnell"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def sent(fake: FakeTogether) -> list[Any]:
    return [r.json for r in fake.requests if r.path == "/v1/images/generations"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_base64_png_images_save_as_valid_files(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as together:
        reply = together.image.generate(
            model=FLUX, prompt="a hero on a rooftop", width=64, height=48, n=2, seed=7, output_format="png"
        )
    assert reply.provider == "together" and reply.model == FLUX and reply.id
    assert [image.index for image in reply.images] == [0, 1]
    assert all(image.b64_json and image.url is None for image in reply.images)
    assert all(image.mime_type == "image/png" for image in reply.images)
    paths = [image.save(tmp_path / "out" / f"hero{i}.png") for i, image in enumerate(reply.images)]
    data = [path.read_bytes() for path in paths]
    assert all(d.startswith(PNG_SIGNATURE) for d in data)
    assert png_size(data[0]) == (64, 48)
    assert data[0] != data[1], "each image of a call is different"
    assert reply.seed == 7
    assert reply.usage.images == 2 and reply.usage.details["megapixels"] == pytest.approx(2 * 64 * 48 / 1e6)
    assert reply.cost is None, "the catalog has no per-image price for FLUX"
    assert sent(fake_together) == [
        {
            "model": FLUX,
            "prompt": "a hero on a rooftop",
            "width": 64,
            "height": 48,
            "n": 2,
            "seed": 7,
            "response_format": "base64",
            "output_format": "png",
        }
    ]


def test_the_seed_decides_the_images(fake_together: FakeTogether) -> None:
    def first_image(together: TogetherAdapter, seed: int) -> bytes:
        reply = together.image.generate(model=FLUX, prompt="same prompt", width=32, height=32, seed=seed)
        return reply.images[0].bytes()

    with adapter_for(fake_together) as together:
        one, again, other = first_image(together, 1), first_image(together, 1), first_image(together, 2)
    assert one == again and one != other
    assert one.startswith(JPEG_SIGNATURE), "Together's default output format is JPEG"


def test_url_images_are_downloaded_without_the_api_key(fake_together: FakeTogether, tmp_path: Path) -> None:
    with adapter_for(fake_together) as together:
        reply = together.image.generate(
            model=FLUX, prompt="a cat", width=32, height=16, response_format="url", output_format="png"
        )
    image = reply.images[0]
    assert image.b64_json is None and image.url is not None and "/presigned/images/" in image.url
    saved = image.save(tmp_path / "cat.png").read_bytes()
    assert saved.startswith(PNG_SIGNATURE) and png_size(saved) == (32, 16)
    downloads = [r for r in fake_together.requests if r.path.startswith("/presigned/")]
    assert len(downloads) == 1 and "authorization" not in downloads[0].headers
    assert fake_together.api_key not in image.url


async def test_async_generate_and_save(fake_together: FakeTogether, tmp_path: Path) -> None:
    pricing = {FLUX: Pricing(per_image=0.003)}
    async with adapter_for(fake_together, pricing=pricing) as together:
        reply = await together.image.agenerate(model=FLUX, prompt="a dog", n=3, response_format="url")
        path = await reply.images[2].asave(tmp_path / "dog.jpg")
        inline = await together.image.agenerate(model=FLUX, prompt="a dog", width=16, height=16)
        inline_bytes = await inline.images[0].abytes()
    assert len(reply.images) == 3 and path.read_bytes().startswith(JPEG_SIGNATURE)
    assert reply.images[2].mime_type == "image/jpeg"
    assert reply.cost == pytest.approx(3 * 0.003)
    assert inline_bytes.startswith(JPEG_SIGNATURE) and inline.cost == pytest.approx(0.003)


def test_reference_images_and_loras_reach_the_wire(fake_together: FakeTogether, tmp_path: Path) -> None:
    local = tmp_path / "face.png"
    local.write_bytes(TINY_PNG)
    with adapter_for(fake_together) as together:
        together.image.generate(
            model="black-forest-labs/FLUX.1-kontext-pro",
            prompt="the same person, smiling",
            reference_images=["https://example.com/me.jpg", local, TINY_PNG],
            image_url=str(local),
            image_loras=["https://huggingface.co/a/lora", ("https://huggingface.co/b/lora", 0.5)],
            negative_prompt="blurry",
            steps=4,
            guidance_scale=3.5,
            disable_safety_checker=True,
        )
    body = sent(fake_together)[0]
    data_uri = "data:image/png;base64," + base64.b64encode(TINY_PNG).decode()
    assert body["reference_images"] == ["https://example.com/me.jpg", data_uri, data_uri]
    assert body["image_url"] == data_uri
    assert body["image_loras"] == [
        {"path": "https://huggingface.co/a/lora", "scale": 1.0},
        {"path": "https://huggingface.co/b/lora", "scale": 0.5},
    ]
    assert body["negative_prompt"] == "blurry" and body["steps"] == 4
    assert body["guidance_scale"] == 3.5 and body["disable_safety_checker"] is True


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt": "  "}, "non-empty prompt"),
        ({"width": 0}, "width must be a whole number of at least 1"),
        ({"height": -64}, "height must be"),
        ({"n": 0}, "n must be"),
        ({"steps": "20"}, "steps must be"),
        ({"seed": 1.5}, "seed must be"),
        ({"response_format": "gif"}, "response_format must be one of 'base64', 'url'"),
        ({"output_format": "bmp"}, "output_format must be one of 'jpeg', 'png'"),
        ({"reference_images": ["missing/face.png"]}, "'missing/face.png' is not an http"),
        ({"reference_images": [b"not an image"]}, "not a PNG, JPEG"),
        ({"image_loras": [{"scale": 1.0}]}, "needs a 'path'"),
        ({"image_loras": [("https://x/l", "strong")]}, "scale 'strong'"),
        ({"styles": ["noir"]}, "does not take 'styles'"),
    ],
)
def test_bad_inputs_fail_before_sending(
    fake_together: FakeTogether, options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"model": FLUX, "prompt": "a cat", **options}
    with adapter_for(fake_together) as together, pytest.raises(InvalidArgument, match=message):
        together.image.generate(**arguments)
    assert fake_together.requests == []


def test_a_reference_file_that_is_not_an_image_is_refused(
    fake_together: FakeTogether, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with adapter_for(fake_together) as together, pytest.raises(InvalidArgument, match=r"notes\.txt"):
        together.image.generate(model=FLUX, prompt="x", reference_images=notes)
    assert fake_together.requests == []


def test_vendor_errors_are_mapped(fake_together: FakeTogether) -> None:
    fake_together.fail(
        "/v1/images/generations",
        400,
        body={"error": {"message": "width must be a multiple of 16", "type": "invalid_request_error"}},
    )
    fake_together.fail("/v1/images/generations", 503, times=5)
    with adapter_for(fake_together, max_retries=0) as together:
        with pytest.raises(InvalidRequest, match="multiple of 16") as bad:
            together.image.generate(model=FLUX, prompt="x", width=100)
        with pytest.raises(ProviderUnavailable):
            together.image.generate(model=FLUX, prompt="x")
    assert bad.value.status == 400 and bad.value.request_id


def test_supports_per_model_and_protocol(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        assert together.supports(FLUX, "image") is True
        assert together.supports("BAAI/bge-base-en-v1.5", "image") is False
        assert isinstance(together.image, ImageGeneration)


def test_fake_answers_match_the_spec(fake_together: FakeTogether) -> None:
    """The fake's image, embeddings and rerank answers have the shapes Together documents."""
    calls = [
        ("/images/generations", {"model": FLUX, "prompt": "a", "width": 16, "height": 16, "n": 2}),
        ("/images/generations", {"model": FLUX, "prompt": "a", "response_format": "url", "width": 16}),
        ("/embeddings", {"model": "BAAI/bge-base-en-v1.5", "input": ["a b", "c"]}),
        ("/rerank", {"model": "m", "query": "a", "documents": ["a", "b"], "return_documents": True}),
    ]
    headers = {"Authorization": f"Bearer {fake_together.api_key}"}
    with httpx.Client(base_url=fake_together.base_url, headers=headers) as client:
        for path, body in calls:
            response = client.post(path, json=body)
            assert response.status_code == 200, response.text
            validate_together_response(
                fake_together.requests[-1], response.status_code, dict(response.headers), response.content
            )


# ---- the pure translation --------------------------------------------------------------------------------
def test_image_body_and_parse_are_pure() -> None:
    body = image_body(FLUX, "p", width=8, height=8, response_format="b64_json", output_format="JPG")
    assert body == {
        "model": FLUX,
        "prompt": "p",
        "width": 8,
        "height": 8,
        "response_format": "base64",
        "output_format": "jpeg",
    }
    answer = {
        "id": "img-1",
        "model": FLUX,
        "object": "list",
        "data": [
            {"index": 1, "type": "url", "url": "https://cdn.example/1.jpeg"},
            {"index": 0, "type": "b64_json", "b64_json": base64.b64encode(TINY_PNG).decode()},
        ],
    }
    reply = parse_image_response(answer, provider="together", model=FLUX, body=body)
    assert [i.index for i in reply.images] == [0, 1]
    assert reply.images[0].mime_type == "image/png", "inline data is sniffed, not assumed"
    assert reply.images[1].mime_type == "image/jpeg" and reply.images[1].url == "https://cdn.example/1.jpeg"
    assert reply.usage.images == 2
