"""``LocalImage``: portraits of a persona, drawn offline (the ImageGeneration protocol).

``LocalAdapter().image.generate(model="portrait", prompt="smiling on a beach, warm light")`` returns PNG
bytes inline. ``model`` is the shipped ``portrait`` (a default persona) or ``portrait:<name>``, learned by
``LocalAdapter().fine_tuning.image.train(images)`` from a persona's pictures.

What draws it is an offline **compositor**, not a diffusion model: a stylised head-and-shoulders portrait
in the learned framing and colours, varied by the prompt's expression (smiling, serious, surprised,
neutral), background (a colour, or beach, office, night, forest, sunset, city, studio), lighting (warm,
cool, dramatic, soft) and hair/eye/clothing colours; other words are ignored. See
:mod:`polyface.providers.local.portrait`. The same model, prompt, size and seed give the same pixels; with
no seed, the seed is derived from the model and prompt (reported as ``response.seed``).
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from polyface.errors import InvalidArgument
from polyface.providers.local.fine_tuning.image import load_portrait
from polyface.providers.local.portrait import PortraitRenderer, parse_prompt, parse_size, seed_for
from polyface.providers.local.runtime import to_thread
from polyface.types.image import GeneratedImage, ImageResponse
from polyface.types.usage import Usage

if TYPE_CHECKING:
    from polyface.providers.local.config import LocalConfig

MAX_IMAGES = 10
RESPONSE_FORMATS = ("png", "b64_json")
OPTIONS = frozenset({"user", "quality", "style", "negative_prompt", "output_format"})
"""Accepted for compatibility with other providers' calls and ignored (except ``output_format="png"``)."""


def _png(pixels: Any) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


class LocalImage:
    """Portrait images on this machine (an offline compositor; not a diffusion model)."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config

    def generate(
        self,
        *,
        model: str = "portrait",
        prompt: str,
        n: int = 1,
        size: str = "512x512",
        seed: int | None = None,
        response_format: str = "png",
        **options: Any,
    ) -> ImageResponse:
        """Draw ``n`` portraits (PNG, inline) of ``model`` at ``size`` (``"WxH"``, 32 to 2048 a side),
        varied by ``prompt``. ``seed`` makes them reproducible (image ``i`` uses ``seed + i``).
        Raises :class:`InvalidArgument` for a bad size, n or option, and NotFound for an unknown model."""
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise InvalidArgument(
                f"the local image model does not take {', '.join(map(repr, unknown))}; it takes prompt, n, "
                "size, seed and response_format ('png')."
            )
        if options.get("output_format") not in (None, "png"):
            raise InvalidArgument("the local image model writes PNG only: drop output_format or pass 'png'.")
        if response_format not in RESPONSE_FORMATS:
            raise InvalidArgument(
                f"response_format must be 'png' (inline PNG bytes; 'b64_json' means the same), "
                f"not {response_format!r}: the local provider has no URLs to hand out."
            )
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
            raise InvalidArgument(f"n must be a whole number from 1 to {MAX_IMAGES} (got {n!r}).")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidArgument(f"seed must be an integer (got {seed!r}).")
        width, height = parse_size(size)
        variation = parse_prompt(prompt)
        record = self.config.store.get(model, modality="image")
        spec, reference = load_portrait(record)
        first = seed if seed is not None else seed_for(model, prompt)
        with self.config.telemetry.call("generate_content", model, n=n, size=f"{width}x{height}") as call:
            images = []
            for i in range(n):
                renderer = PortraitRenderer(
                    spec, width, height, variation, seed=first + i, reference=reference
                )
                images.append(
                    GeneratedImage.from_bytes(
                        _png(renderer.render()), mime_type="image/png", index=i, width=width, height=height
                    )
                )
            response_id = f"img-local-{uuid.uuid4().hex[:16]}"
            call.finish(response_model=model, response_id=response_id, cost=0.0)
        return ImageResponse(
            id=response_id,
            provider="local",
            model=model,
            images=images,
            usage=Usage(images=n),
            cost=0.0,
            seed=first,
            created_at=int(time.time()),
            raw={"variation": asdict(variation), "renderer": "compositor"},
        )

    async def agenerate(
        self,
        *,
        model: str = "portrait",
        prompt: str,
        n: int = 1,
        size: str = "512x512",
        seed: int | None = None,
        response_format: str = "png",
        **options: Any,
    ) -> ImageResponse:
        """The async twin of :meth:`generate` (drawing runs off the event loop)."""
        return await to_thread(
            self.generate,
            model=model,
            prompt=prompt,
            n=n,
            size=size,
            seed=seed,
            response_format=response_format,
            **options,
        )


__all__ = ["LocalImage"]
