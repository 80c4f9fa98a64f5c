"""Image generation: a prompt in, one or more images (inline data or a URL) out."""

from __future__ import annotations

import base64
import binascii
import builtins
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pydantic import Field, model_validator

from polyface.types._base import PolyfaceModel
from polyface.types.usage import Usage


def fetch_url_bytes(url: str, *, timeout: float = 60.0) -> builtins.bytes:
    """The bytes behind ``url``: ``data:`` and ``file:`` URLs are read here, others fetched with httpx.

    Shared by every media result that may hold a URL instead of data (images, videos).
    """
    scheme = urlparse(url).scheme.lower()
    if scheme == "data":
        header, _, payload = url.partition(",")
        if header.endswith(";base64"):
            return base64.b64decode(payload)
        return unquote(payload).encode()
    if scheme == "file":
        return Path(unquote(urlparse(url).path)).read_bytes()
    import httpx  # imported here so that importing polyface.types stays cheap

    response = httpx.get(url, timeout=timeout, follow_redirects=True)
    response.raise_for_status()
    return response.content


async def afetch_url_bytes(url: str, *, timeout: float = 60.0) -> builtins.bytes:
    """The async twin of :func:`fetch_url_bytes` (a fresh client with no provider credentials)."""
    if urlparse(url).scheme.lower() in ("data", "file"):
        return fetch_url_bytes(url, timeout=timeout)
    import httpx

    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.content


class GeneratedImage(PolyfaceModel):
    """One image: inline base64 data or a URL to fetch it from (vendors' URLs usually expire)."""

    b64_json: str | None = Field(default=None, repr=False)
    url: str | None = None
    mime_type: str | None = None
    """``image/png``, ``image/jpeg``, ``image/webp``...; None when the provider did not say."""
    index: int = 0
    width: int | None = None
    height: int | None = None
    revised_prompt: str | None = None
    """The prompt the vendor actually used, when it rewrote it (OpenAI's dall-e-3 does)."""

    @model_validator(mode="after")
    def _has_content(self) -> GeneratedImage:
        if self.b64_json is None and self.url is None:
            raise ValueError("an image needs b64_json or url; the provider returned neither")
        return self

    @classmethod
    def from_bytes(
        cls, data: builtins.bytes, *, mime_type: str | None = None, **fields: Any
    ) -> GeneratedImage:
        """An image holding ``data`` inline."""
        return cls(b64_json=base64.b64encode(data).decode("ascii"), mime_type=mime_type, **fields)

    def bytes(self, *, timeout: float = 60.0) -> builtins.bytes:
        """The image's bytes: decoded from ``b64_json``, or fetched from ``url``."""
        if self.b64_json is not None:
            try:
                return base64.b64decode(self.b64_json, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"the image's b64_json is not valid base64: {exc}") from exc
        assert self.url is not None  # guaranteed by _has_content
        return fetch_url_bytes(self.url, timeout=timeout)

    def save(self, path: str | Path, *, timeout: float = 60.0) -> Path:
        """Write the image to ``path`` (parent folders are created) and return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.bytes(timeout=timeout))
        return target

    async def abytes(self, *, timeout: float = 60.0) -> builtins.bytes:
        """The async twin of :meth:`bytes`: a URL is fetched without blocking the event loop."""
        if self.b64_json is not None:
            return self.bytes()
        assert self.url is not None  # guaranteed by _has_content
        return await afetch_url_bytes(self.url, timeout=timeout)

    async def asave(self, path: str | Path, *, timeout: float = 60.0) -> Path:
        """The async twin of :meth:`save`."""
        import asyncio

        data = await self.abytes(timeout=timeout)
        target = Path(path)

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

        await asyncio.to_thread(write)
        return target


class ImageResponse(PolyfaceModel):
    """The images one generation call made."""

    id: str | None = None
    provider: str
    model: str
    images: list[GeneratedImage]
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    """USD, from the provider's catalog pricing; None when the catalog has no price for the model."""
    seed: int | None = None
    """The seed used, when the provider reports it (rerun with it to reproduce the images)."""
    created_at: int | None = None
    """Unix seconds, as the vendor reported it."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)
