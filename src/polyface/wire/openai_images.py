"""Image generation answers in the OpenAI shape (``data: [{b64_json | url, ...}]``), which Together shares.

Pure: an answer item in, a :class:`GeneratedImage` out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from polyface.types.image import GeneratedImage


class ImageFormatError(ValueError):
    """The vendor's answer does not have the shape of an image response."""


def sniff_image_mime(data: bytes) -> str | None:
    """The image type of ``data`` from its signature (PNG, JPEG, WebP, GIF), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def image_items(data: Any) -> list[Any]:
    """The answer's ``data`` list, or :class:`ImageFormatError`."""
    if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
        raise ImageFormatError("the answer has no 'data' list of images")
    return list(data["data"])


def image_from_item(item: Any, position: int, fmt: str, **fields: Any) -> GeneratedImage:
    """One answer item as an image: inline base64 (its type read from its bytes) or a URL.

    An item that says its ``type`` (Together does) must hold that kind. ``fields`` go on the image.
    """
    if not isinstance(item, Mapping):
        raise ImageFormatError(f"data[{position}] is not an object")
    kind = item.get("type")
    b64, url = item.get("b64_json"), item.get("url")
    if isinstance(b64, str) and b64 and kind in (None, "b64_json"):
        try:
            head = base64.b64decode(b64[:24] + "=" * (-len(b64[:24]) % 4))
        except (binascii.Error, ValueError):
            raise ImageFormatError(f"data[{position}].b64_json is not base64") from None
        return GeneratedImage(b64_json=b64, mime_type=sniff_image_mime(head) or f"image/{fmt}", **fields)
    if isinstance(url, str) and url and kind in (None, "url"):
        return GeneratedImage(url=url, mime_type=f"image/{fmt}", **fields)
    raise ImageFormatError(f"data[{position}] holds neither b64_json nor url")
