"""Fake Together routes: image generation (``POST /v1/images/generations``) and the image CDN.

Images are real, decodable files at the requested size: a PNG (colour gradient) or, Together's default,
a baseline greyscale JPEG (one flat tone) carrying a comment. What they look like is decided by
``(seed, prompt, index)`` only, so the same seed gives the same bytes and another seed other bytes;
without a seed the fake draws one. ``response_format="url"`` answers with URLs on the fake itself
(``GET /presigned/images/<name>``, served without the API key, like a vendor's signed CDN link); the
bytes live in ``fake.store["images"]`` until the next reset.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
import time
import uuid
import zlib
from typing import Any, Final

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_together.core import FakeTogether, RecordedRequest, _BadRequest, route

__all__ = ["MAX_IMAGES", "MAX_SIDE", "jpeg_bytes", "png_bytes"]

MAX_SIDE: Final = 2048
"""The fake refuses larger sides (400), to keep its answers small; Together's limits depend on the model."""
MAX_IMAGES: Final = 8
"""The fake refuses a larger ``n`` (400)."""

_STORE_KEY: Final = "images"


# ---- image files ------------------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bytes(width: int, height: int, colour: tuple[int, int, int], text: str = "") -> bytes:
    """An RGB PNG of ``width`` x ``height``: ``colour`` fading down the rows; ``text`` in a tEXt chunk."""
    red, green, blue = colour
    rows = b"".join(b"\x00" + bytes((red, green, (blue + y) % 256)) * width for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", header)]
    if text:
        chunks.append(_png_chunk(b"tEXt", b"Comment\x00" + text.encode("latin-1", "replace")))
    chunks.append(_png_chunk(b"IDAT", zlib.compress(rows, 6)))
    chunks.append(_png_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


_DC_COUNTS: Final = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])  # the standard luminance DC table
_DC_VALUES: Final = bytes(range(12))


def _dc_codes() -> dict[int, tuple[int, int]]:
    """category -> (code, length) for the standard luminance DC Huffman table."""
    codes: dict[int, tuple[int, int]] = {}
    code, values = 0, iter(_DC_VALUES)
    for length, count in enumerate(_DC_COUNTS, start=1):
        for _ in range(count):
            codes[next(values)] = (code, length)
            code += 1
        code <<= 1
    return codes


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.bits = 0

    def write(self, value: int, length: int) -> None:
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.bits += length
        while self.bits >= 8:
            self.bits -= 8
            byte = (self.acc >> self.bits) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)  # byte stuffing
        self.acc &= (1 << self.bits) - 1

    def flush(self) -> bytes:
        if self.bits:
            self.write((1 << (8 - self.bits)) - 1, 8 - self.bits)  # pad with ones
        return bytes(self.out)


def _segment(marker: int, data: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(data) + 2) + data


def jpeg_bytes(width: int, height: int, grey: int, comment: str = "") -> bytes:
    """A baseline greyscale JPEG of ``width`` x ``height`` in one flat tone ``grey`` (0-255).

    Every 8x8 block holds only its DC coefficient (quantiser 1): the first block codes the tone, each
    later one a zero difference and end-of-block, so the file stays small at any size.
    """
    codes = _dc_codes()
    dc = 8 * (grey - 128)  # the DC coefficient of a flat block, level-shifted
    writer = _BitWriter()
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    previous = 0
    for _ in range(blocks):
        diff, previous = dc - previous, dc
        category = abs(diff).bit_length()
        code, length = codes[category]
        writer.write(code, length)
        if category:
            writer.write(diff if diff > 0 else diff - 1, category)
        writer.write(0, 1)  # end of block: the only code of the one-symbol AC table below
    parts = [b"\xff\xd8"]
    if comment:
        parts.append(_segment(0xFE, comment.encode("latin-1", "replace")))
    parts += [
        _segment(0xDB, b"\x00" + b"\x01" * 64),
        _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
        _segment(0xC4, b"\x00" + _DC_COUNTS + _DC_VALUES),
        _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00"),
        _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
        writer.flush(),
        b"\xff\xd9",
    ]
    return b"".join(parts)


# ---- routes -----------------------------------------------------------------------------------------------
def _int_field(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _BadRequest(f"'{name}' must be an integer from {low} to {high}", code="invalid_request_error")
    return value


@route("POST", r"/v1/images/generations")
async def generate_images(fake: FakeTogether, req: RecordedRequest, generation: int, match: Any) -> Response:
    body = fake._json_object(req)
    model = fake._known_model(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _BadRequest("'prompt' is required and must be a non-empty string", code="invalid_request_error")
    width = _int_field(body, "width", 1024, 16, MAX_SIDE)
    height = _int_field(body, "height", 1024, 16, MAX_SIDE)
    n = _int_field(body, "n", 1, 1, MAX_IMAGES)
    _int_field(body, "steps", 20, 1, 100)
    seed = body.get("seed")
    if seed is None:
        seed = random.randrange(2**31)
    elif not isinstance(seed, int) or isinstance(seed, bool):
        raise _BadRequest("'seed' must be an integer", code="invalid_request_error")
    response_format = body.get("response_format", "base64")
    output_format = body.get("output_format", "jpeg")
    if response_format not in ("base64", "url"):
        raise _BadRequest("'response_format' must be 'base64' or 'url'", code="invalid_request_error")
    if output_format not in ("jpeg", "png"):
        raise _BadRequest("'output_format' must be 'jpeg' or 'png'", code="invalid_request_error")
    for name in ("reference_images", "image_loras"):
        if name in body and not isinstance(body[name], list):
            raise _BadRequest(f"'{name}' must be a list", code="invalid_request_error")

    data: list[dict[str, Any]] = []
    for index in range(n):
        digest = hashlib.sha256(f"{seed}\x00{prompt}\x00{index}".encode()).digest()
        note = f"polyface fake: seed={seed} index={index}"
        if output_format == "png":
            image = png_bytes(width, height, (digest[0], digest[1], digest[2]), note)
        else:
            image = jpeg_bytes(width, height, digest[0], note)
        if response_format == "url":
            name = f"{uuid.uuid4().hex}.{output_format}"
            fake.store.setdefault(_STORE_KEY, {})[name] = (image, f"image/{output_format}")
            url = f"http://{fake.host}:{fake.port}/presigned/images/{name}"
            data.append({"index": index, "type": "url", "url": url})
        else:
            data.append({"index": index, "type": "b64_json", "b64_json": base64.b64encode(image).decode()})
    return JSONResponse(
        {
            "id": f"img-{uuid.uuid4().hex[:24]}",
            "model": model,
            "object": "list",
            "created": int(time.time()),
            "data": data,
        }
    )


@route("GET", r"/presigned/images/(?P<name>[0-9a-f]{32}\.(?:png|jpeg))", auth=False)
async def download_image(fake: FakeTogether, req: RecordedRequest, generation: int, match: Any) -> Response:
    stored = fake.store.get(_STORE_KEY, {}).get(match["name"])
    if stored is None:
        raise _BadRequest("The link has expired or never existed", status=404, code="not_found")
    if "authorization" in req.headers:
        raise _BadRequest(
            "Presigned links must be fetched without an Authorization header",
            status=400,
            code="invalid_request",
        )
    content, media_type = stored
    return Response(content, media_type=media_type)
