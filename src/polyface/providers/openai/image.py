"""OpenAI images: ``POST /images/generations`` (JSON) and ``POST /images/edits`` (multipart).

GPT image models (``gpt-image-1``, ``gpt-image-1-mini``, ``gpt-image-1.5``, ``gpt-image-2``...) always answer
inline base64 and report token ``usage``; ``dall-e-2``/``dall-e-3`` answer a URL (valid 60 minutes) unless
``response_format="b64_json"``. ``width``/``height`` are mapped to the ``size`` strings each model accepts
(or refused with the list). ``reference_images=`` on :meth:`OpenAIImage.generate` routes to the edits
endpoint: the way to keep a persona's look (``input_fidelity="high"`` keeps faces closest).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, cast

from polyface.errors import InvalidArgument, ServerError
from polyface.providers._base.config import ProviderConfig
from polyface.types.image import GeneratedImage, ImageResponse
from polyface.types.usage import Usage
from polyface.wire.openai_images import ImageFormatError, image_from_item, image_items, sniff_image_mime

if TYPE_CHECKING:
    import httpx

    from polyface.types.models import Pricing

ImageInput = str | os.PathLike[str] | bytes | IO[bytes]
"""A local image to upload: a file path, its bytes or an open binary file (OpenAI's edits take uploads)."""

GENERATIONS_PATH: Final = "/images/generations"
EDITS_PATH: Final = "/images/edits"

GPT_IMAGE_SIZES: Final = ("1024x1024", "1536x1024", "1024x1536")
SIZES: Final[dict[str, tuple[str, ...]]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
}
"""The sizes each DALL-E model accepts; GPT image models take :data:`GPT_IMAGE_SIZES` (``gpt-image-2`` any
``WxH`` with both sides divisible by 16, aspect 1:3 to 3:1, at most 3840x2160)."""
MAX_FREE_SIZE: Final = (3840, 2160)
QUALITIES: Final[dict[str, tuple[str, ...]]] = {
    "gpt-image": ("low", "medium", "high", "auto"),
    "dall-e-3": ("standard", "hd", "auto"),
    "dall-e-2": ("standard", "auto"),
}
OUTPUT_FORMATS: Final = ("png", "jpeg", "webp")
BACKGROUNDS: Final = ("transparent", "opaque", "auto")
MAX_EDIT_IMAGES: Final = 16
MAX_GPT_IMAGE_BYTES: Final = 50 * 1024 * 1024
MAX_DALL_E_2_BYTES: Final = 4 * 1024 * 1024

_FORMAT_HINT = "The answer was not in the documented shape; try again, or report it if it persists."
_SIZE = re.compile(r"^(\d+)x(\d+)$")


# ---- pure: requests ---------------------------------------------------------------------------------------
def family(model: str) -> str:
    """``gpt-image`` (every GPT image model), ``dall-e-3``, ``dall-e-2``, or ``other``."""
    name = model.lower()
    if name.startswith(("gpt-image", "chatgpt-image")):
        return "gpt-image"
    if name.startswith("dall-e-3"):
        return "dall-e-3"
    if name.startswith("dall-e-2"):
        return "dall-e-2"
    return "other"


def _free_size(model: str) -> bool:
    return model.lower().startswith("gpt-image-2")


def allowed_sizes(model: str) -> tuple[str, ...]:
    """The ``size`` strings ``model`` takes (besides ``auto`` for GPT image models)."""
    kind = family(model)
    return SIZES.get(kind, GPT_IMAGE_SIZES)


def image_size(model: str, width: int | None, height: int | None, size: str | None) -> str | None:
    """The ``size`` to send: ``size`` as given, or ``f"{width}x{height}"`` when the model takes it.
    InvalidArgument with the allowed sizes otherwise (OpenAI does not resize to arbitrary sizes)."""
    if size is not None and (width is not None or height is not None):
        raise InvalidArgument("pass either size='1024x1024' or width=/height=, not both.")
    if size is None and width is None and height is None:
        return None
    if size is None:
        if width is None or height is None:
            raise InvalidArgument("OpenAI needs both width and height (or size='WxH').")
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"{name} must be a whole number of pixels (got {value!r}).")
        size = f"{width}x{height}"
    if not isinstance(size, str):
        raise InvalidArgument(f"size must be a string such as '1024x1024' (got {size!r}).")
    kind = family(model)
    if size == "auto" and kind in ("gpt-image", "other"):
        return size
    allowed = allowed_sizes(model)
    if size in allowed or kind == "other":
        return size
    if _free_size(model):
        match = _SIZE.match(size)
        if match:
            w, h = int(match[1]), int(match[2])
            long_edge, short_edge = max(w, h), min(w, h)
            if (
                w % 16 == 0
                and h % 16 == 0
                and long_edge <= 3 * short_edge
                and long_edge <= MAX_FREE_SIZE[0]
                and short_edge <= MAX_FREE_SIZE[1]
            ):
                return size
        raise InvalidArgument(
            f"{model} takes sizes 'WxH' with both sides divisible by 16, an aspect ratio between 1:3 and "
            f"3:1 and at most {MAX_FREE_SIZE[0]}x{MAX_FREE_SIZE[1]} (got {size!r}), or one of "
            f"{', '.join(allowed)}."
        )
    raise InvalidArgument(
        f"{model} cannot make {size} images; choose one of {', '.join(allowed)}"
        + (" or 'auto'" if kind == "gpt-image" else "")
        + " (resize afterwards if you need another size)."
    )


def _choice(name: str, value: Any, allowed: Sequence[str], model: str) -> str:
    if value not in allowed:
        raise InvalidArgument(f"{name} for {model} must be one of {', '.join(allowed)} (got {value!r}).")
    return str(value)


def _only_gpt_image(model: str, **values: Any) -> None:
    given = [name for name, value in values.items() if value is not None]
    if given and family(model) not in ("gpt-image", "other"):
        raise InvalidArgument(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} supported by the GPT image models only "
            f"(e.g. gpt-image-1), not {model}."
        )


def _common(
    model: str,
    prompt: str,
    *,
    n: int | None,
    size: str | None,
    quality: str | None,
    background: str | None,
    output_format: str | None,
    output_compression: int | None,
    response_format: str | None,
    input_fidelity: str | None = None,
    edit: bool = False,
) -> dict[str, Any]:
    if not isinstance(model, str) or not model.strip():
        raise InvalidArgument("model must be an OpenAI image model, e.g. 'gpt-image-1' or 'dall-e-3'.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidArgument("image generation needs a non-empty prompt describing the picture.")
    kind = family(model)
    limit = {"dall-e-2": 1000, "dall-e-3": 4000}.get(kind, 32000)
    if len(prompt) > limit:
        raise InvalidArgument(f"{model} takes prompts of at most {limit} characters (got {len(prompt)}).")
    if edit and kind == "dall-e-3":
        raise InvalidArgument("dall-e-3 cannot edit images; use gpt-image-1 (or dall-e-2) for edits.")
    body: dict[str, Any] = {"model": model, "prompt": prompt}
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
            raise InvalidArgument(f"n must be a whole number from 1 to 10 (got {n!r}).")
        if kind == "dall-e-3" and n != 1:
            raise InvalidArgument("dall-e-3 makes one image per request (n=1); call it several times.")
        body["n"] = n
    if size is not None:
        body["size"] = size
    if quality is not None:
        allowed = QUALITIES.get(kind, ("standard", "hd", "low", "medium", "high", "auto"))
        if edit and kind == "gpt-image":
            allowed = ("standard", *allowed)
        body["quality"] = _choice("quality", quality, allowed, model)
    _only_gpt_image(
        model,
        background=background,
        output_format=output_format,
        output_compression=output_compression,
        input_fidelity=input_fidelity,
    )
    if background is not None:
        body["background"] = _choice("background", background, BACKGROUNDS, model)
    if output_format is not None:
        fmt = "jpeg" if output_format == "jpg" else output_format
        body["output_format"] = _choice("output_format", fmt, OUTPUT_FORMATS, model)
    if background == "transparent" and body.get("output_format", "png") == "jpeg":
        raise InvalidArgument(
            "a transparent background needs output_format='png' or 'webp' (JPEG has no alpha)."
        )
    if output_compression is not None:
        if isinstance(output_compression, bool) or not isinstance(output_compression, int):
            raise InvalidArgument("output_compression must be a whole number from 0 to 100.")
        if not 0 <= output_compression <= 100:
            raise InvalidArgument(f"output_compression must be from 0 to 100 (got {output_compression}).")
        if body.get("output_format", "png") == "png":
            raise InvalidArgument("output_compression applies to output_format='jpeg' or 'webp' only.")
        body["output_compression"] = output_compression
    if input_fidelity is not None:
        body["input_fidelity"] = _choice("input_fidelity", input_fidelity, ("high", "low"), model)
    if response_format is not None:
        fmt = {"base64": "b64_json"}.get(response_format, response_format)
        if kind == "gpt-image":
            if fmt != "b64_json":
                raise InvalidArgument(f"{model} always answers inline base64; leave response_format out.")
        else:
            body["response_format"] = _choice("response_format", fmt, ("url", "b64_json"), model)
    return body


def generation_body(
    model: str,
    prompt: str,
    *,
    width: int | None = None,
    height: int | None = None,
    size: str | None = None,
    n: int | None = None,
    quality: str | None = None,
    background: str | None = None,
    output_format: str | None = None,
    output_compression: int | None = None,
    response_format: str | None = None,
    style: str | None = None,
    moderation: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """The ``POST /images/generations`` JSON body, checked before anything is sent."""
    body = _common(
        model,
        prompt,
        n=n,
        size=image_size(model, width, height, size),
        quality=quality,
        background=background,
        output_format=output_format,
        output_compression=output_compression,
        response_format=response_format,
    )
    if style is not None:
        if family(model) not in ("dall-e-3", "other"):
            raise InvalidArgument(f"style is supported by dall-e-3 only, not {model}.")
        body["style"] = _choice("style", style, ("vivid", "natural"), model)
    if moderation is not None:
        _only_gpt_image(model, moderation=moderation)
        body["moderation"] = _choice("moderation", moderation, ("low", "auto"), model)
    if user is not None:
        body["user"] = str(user)
    return body


def _read_image(value: ImageInput, what: str) -> tuple[str, bytes, str]:
    """(filename, bytes, mime) of a local image; InvalidArgument for URLs, missing files, non-images."""
    name: str | None = None
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str) and value.strip().lower().startswith(("http://", "https://", "data:")):
        raise InvalidArgument(
            f"the {what} is a URL; OpenAI's image edits take uploaded files: download it and pass the path "
            "or the bytes."
        )
    elif isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidArgument(
                f"the {what} {str(path)!r} could not be read ({exc.strerror or type(exc).__name__}); "
                "pass the path of an existing PNG, JPEG or WebP file."
            ) from None
        name = path.name
    elif hasattr(value, "read"):
        data = value.read()
        raw_name = getattr(value, "name", None)
        name = Path(raw_name).name if isinstance(raw_name, str) else None
    else:
        raise InvalidArgument(
            f"the {what} must be a file path, bytes or an open file, not {type(value).__name__}."
        )
    if not data:
        raise InvalidArgument(f"the {what} is empty; pass an image file.")
    mime = sniff_image_mime(data)
    if mime not in ("image/png", "image/jpeg", "image/webp"):
        raise InvalidArgument(f"the {what} is not a PNG, JPEG or WebP image; OpenAI edits take only those.")
    extension = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[mime]
    return name or f"{what.replace(' ', '_').replace('#', '')}.{extension}", data, mime


def edit_form(
    model: str,
    prompt: str,
    images: Sequence[ImageInput] | ImageInput,
    *,
    mask: ImageInput | None = None,
    width: int | None = None,
    height: int | None = None,
    size: str | None = None,
    n: int | None = None,
    quality: str | None = None,
    background: str | None = None,
    output_format: str | None = None,
    output_compression: int | None = None,
    response_format: str | None = None,
    input_fidelity: str | None = None,
    user: str | None = None,
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
    """(form fields, files) of ``POST /images/edits``. Several images go as ``image[]`` (OpenAI's form
    convention for arrays), one as ``image``."""
    fields = _common(
        model,
        prompt,
        n=n,
        size=image_size(model, width, height, size),
        quality=quality,
        background=background,
        output_format=output_format,
        output_compression=output_compression,
        response_format=response_format,
        input_fidelity=input_fidelity,
        edit=True,
    )
    if user is not None:
        fields["user"] = str(user)
    items: Sequence[ImageInput] = (
        [cast(ImageInput, images)]
        if isinstance(images, str | bytes | bytearray | os.PathLike) or hasattr(images, "read")
        else images
    )
    if not items:
        raise InvalidArgument("an edit needs at least one image (the reference of the look to keep).")
    kind = family(model)
    if len(items) > (1 if kind == "dall-e-2" else MAX_EDIT_IMAGES):
        limit = 1 if kind == "dall-e-2" else MAX_EDIT_IMAGES
        raise InvalidArgument(f"{model} takes at most {limit} image(s) per edit (got {len(items)}).")
    uploads = [_read_image(item, f"reference image #{i}") for i, item in enumerate(items)]
    limit_bytes = MAX_DALL_E_2_BYTES if kind == "dall-e-2" else MAX_GPT_IMAGE_BYTES
    for filename, data, mime in uploads:
        if len(data) > limit_bytes:
            raise InvalidArgument(
                f"{filename} is {len(data) / 1e6:.1f} MB; {model} takes images under "
                f"{limit_bytes // (1024 * 1024)} MB. Shrink it first."
            )
        if kind == "dall-e-2" and mime != "image/png":
            raise InvalidArgument("dall-e-2 edits take a square PNG; convert the image first.")
    key = "image[]" if len(uploads) > 1 else "image"
    files: list[tuple[str, tuple[str, bytes, str]]] = [(key, upload) for upload in uploads]
    if mask is not None:
        filename, data, mime = _read_image(mask, "mask")
        if mime != "image/png":
            raise InvalidArgument("the mask must be a PNG whose transparent pixels mark where to edit.")
        files.append(("mask", (filename, data, mime)))
    return {k: str(v) for k, v in fields.items()}, files


# ---- pure: responses --------------------------------------------------------------------------------------
def _dimensions(size: Any) -> tuple[int | None, int | None]:
    match = _SIZE.match(size) if isinstance(size, str) else None
    return (int(match[1]), int(match[2])) if match else (None, None)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def image_usage(data: Mapping[str, Any], images: int) -> Usage:
    """Images made, and the token counts GPT image models report (input text/image tokens in details)."""
    usage = data.get("usage")
    if not isinstance(usage, Mapping):
        return Usage(images=images)
    details: dict[str, float] = {}
    for prefix in ("input", "output"):
        block = usage.get(f"{prefix}_tokens_details")
        if isinstance(block, Mapping):
            for key, value in block.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    details[f"{prefix}_{key}"] = float(value)
    inputs, outputs = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    return Usage(
        images=images,
        input_tokens=inputs,
        output_tokens=outputs,
        total_tokens=_int(usage.get("total_tokens")) or inputs + outputs,
        details=details,
    )


def parse_image_response(data: Any, *, provider: str, model: str, body: Mapping[str, Any]) -> ImageResponse:
    """An :class:`ImageResponse` from OpenAI's answer to ``body`` (images in answer order)."""
    items = image_items(data)
    fmt = str(data.get("output_format") or body.get("output_format") or "png")
    width, height = _dimensions(data.get("size") or body.get("size"))
    images: list[GeneratedImage] = []
    for position, item in enumerate(items):
        revised = item.get("revised_prompt") if isinstance(item, Mapping) else None
        images.append(
            image_from_item(
                item,
                position,
                fmt,
                index=position,
                width=width,
                height=height,
                revised_prompt=revised if isinstance(revised, str) else None,
            )
        )
    created = data.get("created")
    return ImageResponse(
        provider=provider,
        model=model,
        images=images,
        usage=image_usage(data, len(images)),
        created_at=created if isinstance(created, int) and not isinstance(created, bool) else None,
        raw={key: value for key, value in data.items() if key != "data"},
    )


def image_cost(price: Pricing | None, usage: Usage) -> float | None:
    """USD: from the token counts at token prices when both are known (GPT image models), else per image;
    None when the price table has neither for the model."""
    if price is None:
        return None
    if (usage.input_tokens or usage.output_tokens) and (price.input_per_mtok or price.output_per_mtok):
        return (usage.input_tokens * price.input_per_mtok + usage.output_tokens * price.output_per_mtok) / 1e6
    if price.per_image > 0:
        return usage.images * price.per_image
    return None


# ---- the capability -------------------------------------------------------------------------------------
def _span(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"choice.count": body.get("n")}


class OpenAIImage:
    """``adapter.image``: images from a prompt (``generate``), or from reference images (``edit``)."""

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

    def _send(
        self, path: str, body: Mapping[str, Any], timeout: float | None, **request: Any
    ) -> ImageResponse:
        model = str(body["model"])
        with self.config.telemetry.call("generate_content", model, **_span(body)) as call:
            response = self.config.http.request("POST", path, idempotent=False, timeout=timeout, **request)
            reply = self._parse(response, body)
            reply.cost = image_cost(self.config.catalog.pricing(model), reply.usage)
            call.finish(response_model=reply.model, cost=reply.cost)
        return reply

    async def _asend(
        self, path: str, body: Mapping[str, Any], timeout: float | None, **request: Any
    ) -> ImageResponse:
        model = str(body["model"])
        with self.config.telemetry.call("generate_content", model, **_span(body)) as call:
            response = await self.config.http.arequest(
                "POST", path, idempotent=False, timeout=timeout, **request
            )
            reply = self._parse(response, body)
            reply.cost = image_cost(await self.config.catalog.apricing(model), reply.usage)
            call.finish(response_model=reply.model, cost=reply.cost)
        return reply

    @staticmethod
    def _split(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(generation options, edit-only options) from ``**options``; unknown names are refused."""
        gen_only = {"style", "moderation", "user"}
        edit_only = {"mask", "input_fidelity"}
        unknown = sorted(set(options) - gen_only - edit_only)
        if unknown:
            raise InvalidArgument(
                f"OpenAI image generation does not take {', '.join(repr(u) for u in unknown)}; it takes "
                "width/height or size, n, quality, background, output_format, output_compression, "
                "response_format, style, moderation, user, reference_images (+ mask, input_fidelity)."
            )
        return {k: v for k, v in options.items() if k in gen_only}, {
            k: v for k, v in options.items() if k in edit_only
        }

    def _generation(
        self, model: str, prompt: str, reference_images: Any, args: dict[str, Any], options: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(path, body for parsing, request kwargs) for generate/agenerate."""
        gen, edit = self._split(options)
        if reference_images is None:
            if edit:
                raise InvalidArgument(f"{', '.join(sorted(edit))} need reference_images=[...] (an edit).")
            body = generation_body(model, prompt, **args, **gen)
            return GENERATIONS_PATH, body, {"json": body}
        if gen.get("style") is not None or gen.get("moderation") is not None:
            raise InvalidArgument("style and moderation do not apply to edits (reference_images).")
        fields, files = edit_form(model, prompt, reference_images, **args, **edit, user=gen.get("user"))
        return EDITS_PATH, fields, {"data": fields, "files": files}

    def generate(
        self,
        *,
        model: str,
        prompt: str,
        width: int | None = None,
        height: int | None = None,
        size: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        response_format: str | None = None,
        reference_images: Sequence[ImageInput] | ImageInput | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> ImageResponse:
        """Generate ``n`` images for ``prompt``; each can be ``.save(path)``-d.

        ``width``/``height`` (or ``size``) must be a size the model makes (``gpt-image-1``: 1024x1024,
        1536x1024, 1024x1536; ``dall-e-3``: 1024x1024, 1792x1024, 1024x1792). ``quality``: low/medium/high
        (GPT image), standard/hd (dall-e-3). ``background``, ``output_format``, ``output_compression``:
        GPT image models only. ``reference_images=[...]`` (local files or bytes) makes this an edit that
        keeps their look (see :meth:`edit`). Options: ``style`` (dall-e-3), ``moderation``, ``user``,
        and for edits ``mask``, ``input_fidelity``. Cost uses token usage where the model reports it and
        the price table has token prices, else the per-image price.
        """
        args = dict(
            width=width,
            height=height,
            size=size,
            n=n,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            response_format=response_format,
        )
        path, body, request = self._generation(model, prompt, reference_images, args, options)
        return self._send(path, body, timeout, **request)

    async def agenerate(
        self,
        *,
        model: str,
        prompt: str,
        width: int | None = None,
        height: int | None = None,
        size: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        response_format: str | None = None,
        reference_images: Sequence[ImageInput] | ImageInput | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> ImageResponse:
        """The async twin of :meth:`generate`."""
        args = dict(
            width=width,
            height=height,
            size=size,
            n=n,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            response_format=response_format,
        )
        path, body, request = self._generation(model, prompt, reference_images, args, options)
        return await self._asend(path, body, timeout, **request)

    def edit(
        self,
        *,
        model: str,
        prompt: str,
        images: Sequence[ImageInput] | ImageInput,
        mask: ImageInput | None = None,
        width: int | None = None,
        height: int | None = None,
        size: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        response_format: str | None = None,
        input_fidelity: str | None = None,
        user: str | None = None,
        timeout: float | None = None,
    ) -> ImageResponse:
        """New images from ``prompt`` and reference ``images`` (up to 16 PNG/JPEG/WebP files or bytes for
        GPT image models; one square PNG for dall-e-2): a persona's face or outfit carried into a new
        scene. ``mask``: a PNG whose transparent pixels mark where the first image may change.
        ``input_fidelity="high"`` keeps faces and details closest (gpt-image-1 and later)."""
        fields, files = edit_form(
            model,
            prompt,
            images,
            mask=mask,
            width=width,
            height=height,
            size=size,
            n=n,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            response_format=response_format,
            input_fidelity=input_fidelity,
            user=user,
        )
        return self._send(EDITS_PATH, fields, timeout, data=fields, files=files)

    async def aedit(
        self,
        *,
        model: str,
        prompt: str,
        images: Sequence[ImageInput] | ImageInput,
        mask: ImageInput | None = None,
        width: int | None = None,
        height: int | None = None,
        size: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        output_compression: int | None = None,
        response_format: str | None = None,
        input_fidelity: str | None = None,
        user: str | None = None,
        timeout: float | None = None,
    ) -> ImageResponse:
        """The async twin of :meth:`edit`."""
        fields, files = edit_form(
            model,
            prompt,
            images,
            mask=mask,
            width=width,
            height=height,
            size=size,
            n=n,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            response_format=response_format,
            input_fidelity=input_fidelity,
            user=user,
        )
        return await self._asend(EDITS_PATH, fields, timeout, data=fields, files=files)


__all__ = [
    "ImageInput",
    "OpenAIImage",
    "allowed_sizes",
    "edit_form",
    "family",
    "generation_body",
    "image_cost",
    "image_size",
    "image_usage",
    "parse_image_response",
]
