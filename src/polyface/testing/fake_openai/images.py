"""Fake OpenAI routes: images, registered with ``@route(..., server=FakeOpenAI)``.

- ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart, ``image`` or ``image[]``
  and an optional ``mask``): real PNGs of the requested size (``auto`` is 1024x1024), one flat colour
  derived from the prompt (and, for edits, the average of the first reference image's bytes, so an edit
  depends on its input). GPT image models answer ``b64_json`` with token ``usage``; DALL-E models answer a
  ``url`` (a ``data:`` URL, so no extra route is needed) unless ``response_format`` is ``b64_json``.
  Sizes a model does not make, ``n`` out of range and options of the other model family are 400s.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import time
import zlib
from collections.abc import Mapping
from typing import Any, Final

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_openai.core import FakeOpenAI
from polyface.testing.fake_together.audio import parse_multipart
from polyface.testing.fake_together.core import RecordedRequest, _BadRequest, route

SIZES: Final[dict[str, tuple[str, ...]]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image": ("auto", "1024x1024", "1536x1024", "1024x1536"),
}
TOKENS_PER_IMAGE: Final = {"low": 272, "medium": 1056, "high": 4160, "auto": 1056}


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, valid PNG of one flat colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 6))
        + chunk(b"IEND", b"")
    )


def _family(model: str) -> str:
    if model.startswith(("gpt-image", "chatgpt-image")):
        return "gpt-image"
    return model if model in ("dall-e-2", "dall-e-3") else "gpt-image"


def _colour(prompt: str, salt: bytes = b"") -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode() + salt).digest()
    return digest[0], digest[1], digest[2]


def _answer(params: Mapping[str, Any], salt: bytes = b"", edit: bool = False) -> dict[str, Any]:
    model = str(params.get("model") or ("gpt-image-1.5" if edit else "dall-e-2"))
    prompt = params.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _BadRequest("'prompt' is required", code="invalid_request_error")
    kind = _family(model)
    size = str(params.get("size") or ("auto" if kind == "gpt-image" else "1024x1024"))
    if size not in SIZES[kind] and not (model.startswith("gpt-image-2") and re.fullmatch(r"\d+x\d+", size)):
        raise _BadRequest(
            f"Invalid size '{size}'. Supported sizes are {', '.join(SIZES[kind])}.", code="invalid_value"
        )
    n = int(params.get("n") or 1)
    if not 1 <= n <= 10 or (kind == "dall-e-3" and n != 1):
        raise _BadRequest("'n' must be between 1 and 10 (1 for dall-e-3)", code="invalid_value")
    if kind != "gpt-image":
        for name in ("background", "output_format", "output_compression", "moderation", "input_fidelity"):
            if params.get(name) is not None:
                raise _BadRequest(f"'{name}' is not supported with {model}", code="invalid_request_error")
    elif params.get("response_format") is not None:
        raise _BadRequest(f"'response_format' is not supported with {model}", code="invalid_request_error")
    width, height = (1024, 1024) if size == "auto" else (int(v) for v in size.split("x"))
    images = [png(width, height, _colour(f"{prompt}#{i}", salt)) for i in range(n)]
    answer: dict[str, Any] = {"created": int(time.time())}
    if kind == "gpt-image":
        quality = str(params.get("quality") or "auto")
        answer["data"] = [{"b64_json": base64.b64encode(image).decode()} for image in images]
        output = TOKENS_PER_IMAGE.get(quality, 1056) * n
        text_tokens = max(1, len(prompt.split()))
        image_tokens = 323 if edit else 0
        answer.update(
            background=params.get("background")
            if params.get("background") in ("transparent", "opaque")
            else "opaque",
            output_format=params.get("output_format") or "png",
            quality=quality if quality in ("low", "medium", "high") else "medium",
            usage={
                "input_tokens": text_tokens + image_tokens,
                "output_tokens": output,
                "total_tokens": text_tokens + image_tokens + output,
                "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
            },
        )
        if size != "auto":
            answer["size"] = size
    elif params.get("response_format") == "b64_json":
        answer["data"] = [{"b64_json": base64.b64encode(image).decode()} for image in images]
    else:
        answer["data"] = [
            {"url": "data:image/png;base64," + base64.b64encode(image).decode()} for image in images
        ]
    if kind == "dall-e-3":
        for item in answer["data"]:
            item["revised_prompt"] = f"A detailed picture of {prompt}"
    return answer


@route("POST", r"/v1/images/generations", server=FakeOpenAI)
async def generations(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    answer = _answer(fake._json_object(req))
    fake.store.setdefault("images", []).append({"endpoint": "generations", "count": len(answer["data"])})
    return JSONResponse(answer)


@route("POST", r"/v1/images/edits", server=FakeOpenAI)
async def edits(fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    fields = parse_multipart(req)
    uploads = [v for v in fields.get("image", []) + fields.get("image[]", []) if isinstance(v, tuple)]
    if not uploads:
        raise _BadRequest("'image' is required: one or more image files", code="invalid_request_error")
    for filename, data in uploads:
        if not data.startswith((b"\x89PNG", b"\xff\xd8\xff")) and data[8:12] != b"WEBP":
            raise _BadRequest(
                f"Invalid image file {filename}: use png, webp or jpg", code="invalid_image_format"
            )
    params = {k: v[-1] for k, v in fields.items() if v and isinstance(v[-1], str)}
    answer = _answer(params, salt=hashlib.sha256(uploads[0][1]).digest(), edit=True)
    fake.store.setdefault("images", []).append(
        {
            "endpoint": "edits",
            "count": len(answer["data"]),
            "references": len(uploads),
            "mask": "mask" in fields,
        }
    )
    return JSONResponse(answer)


__all__ = ["png"]
