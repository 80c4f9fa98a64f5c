"""Together image generation (``POST /images/generations``): FLUX and friends.

Images come back inline (``response_format="base64"``, the default here) or as short-lived URLs
(``"url"``); either way ``image.save(path)`` writes the file. URLs are fetched by a plain HTTP client
that never carries the Together key. ``reference_images`` and ``image_url`` take URLs, ``data:`` URIs,
local files or bytes (files and bytes are sent as ``data:`` URIs); ``image_loras`` takes LoRA URLs with
a scale: Together's cloud routes to a persona's look, since it trains no image models itself.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyface.errors import InvalidArgument, ServerError
from polyface.providers._base.config import ProviderConfig
from polyface.types.image import GeneratedImage, ImageResponse
from polyface.types.usage import Usage
from polyface.wire.openai_images import ImageFormatError, image_from_item, image_items, sniff_image_mime

if TYPE_CHECKING:
    import httpx

    from polyface.types.models import Pricing

ImageInput = str | os.PathLike[str] | bytes
"""An image to send: an ``http(s)``/``data:`` URL, a local file's path, or the file's bytes."""

LoraInput = str | Mapping[str, Any] | tuple[str, float]
"""A LoRA: its URL (scale 1.0), ``{"path": url, "scale": 0.8}`` or ``(url, 0.8)``."""

RESPONSE_FORMATS: dict[str, str] = {"base64": "base64", "b64_json": "base64", "url": "url"}
OUTPUT_FORMATS: dict[str, str] = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png"}
DEFAULT_OUTPUT_FORMAT = "jpeg"
"""What Together sends when ``output_format`` is not given (per its spec)."""
MAX_INLINE_IMAGE_BYTES = 20 * 1024 * 1024
"""Local reference images larger than this are refused (host them and pass the URL instead)."""

_FORMAT_HINT = "The answer was not in the documented shape; try again, or report it if it persists."
_OPTIONS = frozenset({"guidance_scale", "disable_safety_checker", "extra_body"})


# ---- pure: requests ---------------------------------------------------------------------------------------
def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_reference(value: ImageInput, *, what: str = "reference image") -> str:
    """``value`` as something Together takes in an image field: a URL as is, a file or bytes as a data URI.

    Raises :class:`InvalidArgument` for an empty value, a path that cannot be read, or bytes that are
    not an image.
    """
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        if not data:
            raise InvalidArgument(f"the {what} is empty bytes; pass an image's bytes, path or URL.")
        mime = sniff_image_mime(data)
        if mime is None:
            raise InvalidArgument(
                f"the {what} bytes are not a PNG, JPEG, WebP or GIF image; "
                "pass an image's bytes, path or URL."
            )
        return _data_uri(data, mime)
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://", "data:")):
        return value.strip()
    if not isinstance(value, str | os.PathLike):
        raise InvalidArgument(f"the {what} must be a URL, a file path or bytes, not {type(value).__name__}.")
    path = Path(value)
    if not str(value).strip():
        raise InvalidArgument(f"the {what} is an empty string; pass a URL or a file path.")
    try:
        size = path.stat().st_size
        if size > MAX_INLINE_IMAGE_BYTES:
            raise InvalidArgument(
                f"the {what} {str(path)!r} is {size / 1e6:.1f} MB, too large to send inline "
                f"(limit {MAX_INLINE_IMAGE_BYTES / 1e6:.0f} MB); upload it somewhere and pass its URL."
            )
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidArgument(
            f"the {what} {str(path)!r} is not an http(s) URL and could not be read as a file ({reason}); "
            "pass a URL, or the path of an existing image file."
        ) from None
    mime = sniff_image_mime(data) or mimetypes.guess_type(path.name)[0]
    if mime is None or not mime.startswith("image/"):
        raise InvalidArgument(
            f"the {what} {str(path)!r} is not a PNG, JPEG, WebP or GIF image; pass an image file."
        )
    return _data_uri(data, mime)


def lora_entries(loras: Sequence[LoraInput] | LoraInput) -> list[dict[str, Any]]:
    """``image_loras`` as Together's ``[{"path": url, "scale": float}]``."""
    items: Sequence[Any]
    if isinstance(loras, str | Mapping) or (
        isinstance(loras, tuple) and len(loras) == 2 and isinstance(loras[0], str)
    ):
        items = [loras]
    else:
        items = loras
    entries: list[dict[str, Any]] = []
    for position, item in enumerate(items):
        path: Any
        scale: Any
        if isinstance(item, str):
            path, scale = item, 1.0
        elif isinstance(item, Mapping):
            path, scale = item.get("path"), item.get("scale", 1.0)
        elif isinstance(item, tuple | list) and len(item) == 2:
            path, scale = item
        else:
            raise InvalidArgument(
                f"image_loras #{position} must be a URL, {{'path': url, 'scale': 1.0}} or (url, scale)."
            )
        if not isinstance(path, str) or not path.strip():
            raise InvalidArgument(f"image_loras #{position} needs a 'path': the LoRA's URL.")
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise InvalidArgument(f"image_loras #{position} has a scale {scale!r}; use a number such as 1.0.")
        entries.append({"path": path.strip(), "scale": float(scale)})
    return entries


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{name} must be a whole number of at least 1 (got {value!r}).")
    return value


def _choice(name: str, value: str, choices: Mapping[str, str]) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in choices:
        allowed = ", ".join(repr(c) for c in dict.fromkeys(choices.values()))
        raise InvalidArgument(f"{name} must be one of {allowed} (got {value!r}).")
    return choices[key]


def image_body(
    model: str,
    prompt: str,
    *,
    width: int | None = None,
    height: int | None = None,
    steps: int | None = None,
    n: int | None = None,
    seed: int | None = None,
    negative_prompt: str | None = None,
    reference_images: Sequence[ImageInput] | ImageInput | None = None,
    image_url: ImageInput | None = None,
    image_loras: Sequence[LoraInput] | LoraInput | None = None,
    response_format: str = "base64",
    output_format: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``POST /images/generations`` body, checked before anything is sent.

    Together's spec sets no ranges for width, height, steps or n (they vary by model), so only what is
    always wrong is refused here: missing prompt, non-positive sizes and counts, unknown formats.
    """
    options = dict(options or {})
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise InvalidArgument(
            f"Together image generation does not take {', '.join(repr(u) for u in unknown)}. Known options: "
            "width, height, steps, n, seed, negative_prompt, reference_images, image_url, image_loras, "
            f"response_format, output_format, {', '.join(sorted(_OPTIONS))}; "
            "pass other vendor fields with extra_body={...}."
        )
    if not isinstance(model, str) or not model.strip():
        raise InvalidArgument("model must be an image model name, e.g. 'black-forest-labs/FLUX.1-schnell'.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidArgument("image generation needs a non-empty prompt describing the picture.")
    extra = options.pop("extra_body", None) or {}
    if not isinstance(extra, Mapping):
        raise InvalidArgument("extra_body must be a dict of fields to send as they are.")
    body: dict[str, Any] = dict(extra)
    body["model"] = model
    body["prompt"] = prompt
    for name, value in (("width", width), ("height", height), ("steps", steps), ("n", n)):
        if value is not None:
            body[name] = _positive(name, value)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidArgument(f"seed must be a whole number (got {seed!r}).")
        body["seed"] = seed
    if negative_prompt is not None:
        if not isinstance(negative_prompt, str):
            raise InvalidArgument("negative_prompt must be a string.")
        body["negative_prompt"] = negative_prompt
    body["response_format"] = _choice("response_format", response_format, RESPONSE_FORMATS)
    if output_format is not None:
        body["output_format"] = _choice("output_format", output_format, OUTPUT_FORMATS)
    if reference_images is not None:
        refs: Sequence[ImageInput] = (
            [reference_images]
            if isinstance(reference_images, str | bytes | bytearray | os.PathLike)
            else reference_images
        )
        body["reference_images"] = [
            image_reference(ref, what=f"reference image #{i}") for i, ref in enumerate(refs)
        ]
    if image_url is not None:
        body["image_url"] = image_reference(image_url, what="image_url")
    if image_loras is not None:
        body["image_loras"] = lora_entries(image_loras)
    guidance = options.get("guidance_scale")
    if guidance is not None:
        if isinstance(guidance, bool) or not isinstance(guidance, int | float):
            raise InvalidArgument(f"guidance_scale must be a number (got {guidance!r}).")
        body["guidance_scale"] = guidance
    safety = options.get("disable_safety_checker")
    if safety is not None:
        body["disable_safety_checker"] = bool(safety)
    return body


# ---- pure: responses --------------------------------------------------------------------------------------
def parse_image_response(data: Any, *, provider: str, model: str, body: Mapping[str, Any]) -> ImageResponse:
    """An :class:`ImageResponse` from Together's answer to ``body`` (images in ``index`` order).

    ``usage.images`` counts the images; ``usage.details["megapixels"]`` their pixels when the size was
    given. ``seed`` is the seed that was sent (Together does not echo it).
    """
    items = image_items(data)
    fmt = str(body.get("output_format") or DEFAULT_OUTPUT_FORMAT)
    width, height = body.get("width"), body.get("height")
    images: list[GeneratedImage] = []
    for position, item in enumerate(items):
        index = item.get("index", position) if isinstance(item, Mapping) else position
        index = index if isinstance(index, int) and not isinstance(index, bool) else position
        images.append(image_from_item(item, position, fmt, index=index, width=width, height=height))
    images.sort(key=lambda image: image.index)
    details: dict[str, float] = {}
    if isinstance(width, int) and isinstance(height, int):
        details["megapixels"] = width * height * len(images) / 1_000_000
    created = data.get("created")
    return ImageResponse(
        id=str(data["id"]) if data.get("id") is not None else None,
        provider=provider,
        model=str(data.get("model") or model),
        images=images,
        usage=Usage(images=len(images), details=details),
        seed=body.get("seed"),
        created_at=created if isinstance(created, int) and not isinstance(created, bool) else None,
        raw={key: value for key, value in data.items() if key != "data"},
    )


def image_cost(price: Pricing | None, usage: Usage) -> float | None:
    """The cost at a per-image price; None when the catalog knows no per-image price for the model."""
    if price is None or price.per_image <= 0:
        return None
    return price.cost(usage)


# ---- the capability -------------------------------------------------------------------------------------
class TogetherImage:
    """``adapter.image``: images from a prompt (and optionally reference images and LoRAs)."""

    path = "/images/generations"

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name

    def _parse(self, response: httpx.Response, body: Mapping[str, Any]) -> ImageResponse:
        try:
            return parse_image_response(
                response.json(), provider=self._provider, model=body["model"], body=body
            )
        except (ImageFormatError, ValueError) as exc:
            raise ServerError(
                f"the image answer could not be read: {exc}",
                provider=self.config.info.display_name,
                hint=_FORMAT_HINT,
            ) from None

    @staticmethod
    def _span_args(body: Mapping[str, Any]) -> dict[str, Any]:
        return {"seed": body.get("seed"), "choice.count": body.get("n")}

    @staticmethod
    def _finish(call: Any, reply: ImageResponse) -> None:
        call.finish(response_model=reply.model, response_id=reply.id, cost=reply.cost)

    def generate(
        self,
        *,
        model: str,
        prompt: str,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        n: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        reference_images: Sequence[ImageInput] | ImageInput | None = None,
        image_url: ImageInput | None = None,
        image_loras: Sequence[LoraInput] | LoraInput | None = None,
        response_format: str = "base64",
        output_format: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> ImageResponse:
        """Generate ``n`` images for ``prompt``; each can be ``.save(path)``-d.

        ``response_format``: ``"base64"`` (inline) or ``"url"`` (a short-lived link, fetched on save).
        ``output_format``: ``"jpeg"`` (Together's default) or ``"png"``. Further options:
        ``guidance_scale``, ``disable_safety_checker``, ``extra_body={...}``. Cost is known when the
        catalog (or ``pricing=`` on the adapter) has a per-image price for the model.
        """
        body = image_body(
            model,
            prompt,
            width=width,
            height=height,
            steps=steps,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            reference_images=reference_images,
            image_url=image_url,
            image_loras=image_loras,
            response_format=response_format,
            output_format=output_format,
            options=options,
        )
        with self.config.telemetry.call("generate_content", model, **self._span_args(body)) as call:
            response = self.config.http.request("POST", self.path, json=body, timeout=timeout)
            reply = self._parse(response, body)
            reply.cost = image_cost(self.config.catalog.pricing(model), reply.usage)
            self._finish(call, reply)
        return reply

    async def agenerate(
        self,
        *,
        model: str,
        prompt: str,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        n: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        reference_images: Sequence[ImageInput] | ImageInput | None = None,
        image_url: ImageInput | None = None,
        image_loras: Sequence[LoraInput] | LoraInput | None = None,
        response_format: str = "base64",
        output_format: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> ImageResponse:
        """The async twin of :meth:`generate`; ``await image.asave(path)`` fetches URL images without
        blocking the event loop."""
        body = image_body(
            model,
            prompt,
            width=width,
            height=height,
            steps=steps,
            n=n,
            seed=seed,
            negative_prompt=negative_prompt,
            reference_images=reference_images,
            image_url=image_url,
            image_loras=image_loras,
            response_format=response_format,
            output_format=output_format,
            options=options,
        )
        with self.config.telemetry.call("generate_content", model, **self._span_args(body)) as call:
            response = await self.config.http.arequest("POST", self.path, json=body, timeout=timeout)
            reply = self._parse(response, body)
            reply.cost = image_cost(await self.config.catalog.apricing(model), reply.usage)
            self._finish(call, reply)
        return reply


__all__ = [
    "ImageInput",
    "LoraInput",
    "TogetherImage",
    "image_body",
    "image_cost",
    "image_reference",
    "lora_entries",
    "parse_image_response",
    "sniff_image_mime",
]
