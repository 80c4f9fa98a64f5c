"""Together video: a generation job at ``/v2/videos``, polled until done, its MP4 fetched from a URL.

``together.video.generate(model=..., prompt=..., seconds=5)`` returns a :class:`TogetherVideoJob` at once;
``job.wait(progress=True)`` polls until it ends (raising :class:`~polyface.errors.JobFailed` with Together's
reason), ``job.download("clip.mp4")`` saves the video. ``together.video.get(job_id)`` re-attaches to a job
after a restart. Every method has an async twin (``agenerate``, ``aget``, ``arefresh``, ``async_wait``,
``aresult``, ``adownload``).

Together serves video under ``/v2`` while everything else is under ``/v1``: the URL is built from the
adapter's base URL (``.../v1`` -> ``.../v2``). The finished video lives on a third-party host (a presigned
URL); it is fetched with a plain client that never sends the Together key.

What Together's API does not offer: progress (``info.progress`` stays None unless a response carries one),
and cancelling a video job (``cancel()`` says so).
"""

from __future__ import annotations

import base64
import math
import mimetypes
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import quote, urlsplit

from polyface.errors import CapabilityNotSupported, InvalidArgument, JobNotFinished, PolyfaceError
from polyface.providers._base.download import adownload_url, download_url, target_path
from polyface.providers._base.jobs import Job
from polyface.types.usage import Usage
from polyface.types.video import VideoJobInfo, VideoJobStatus, VideoResult

if TYPE_CHECKING:
    from polyface.providers._base.config import ProviderConfig

MediaInput = str | os.PathLike[str] | bytes
"""An image or audio input: an ``http(s)://`` or ``data:`` URL, a local file path, or the file's bytes."""

FrameInput = MediaInput | tuple[MediaInput, "int | float | str"] | Mapping[str, Any]
"""A keyframe: an image (placed by Together's heuristics), ``(image, frame)``, or
``{"input_image": image, "frame": 0 | 48 | "first" | "last"}``."""

VIDEOS_PATH = "/videos"
MAX_PROMPT_CHARS = 32000
DOWNLOAD_TIMEOUT = 300.0

_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
)
_AUDIO_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"WAVE", 8, "audio/wav"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\xff\xfb", 0, "audio/mpeg"),
    (b"\xff\xf3", 0, "audio/mpeg"),
    (b"\xff\xf2", 0, "audio/mpeg"),
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
    (b"ftypM4A", 4, "audio/mp4"),
)


VideoNotReady = JobNotFinished
"""Kept as an alias: the video was asked for before its job completed."""


# ---- requests (pure) ---------------------------------------------------------------------------------


def videos_url(base_url: str) -> str:
    """Together's video endpoint for an adapter's base URL: ``https://api.together.xyz/v1`` ->
    ``https://api.together.xyz/v2/videos`` (a base URL without ``/v1`` gets ``/v2/videos`` appended)."""
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return f"{base}/v2{VIDEOS_PATH}"


def _sniff(data: bytes, table: tuple[tuple[bytes, int, str], ...]) -> str | None:
    for magic, offset, mime in table:
        if data[offset : offset + len(magic)] == magic:
            return mime
    return None


def media_uri(value: MediaInput, *, what: str, kind: Literal["image", "audio"]) -> str:
    """An input as Together accepts it: URLs pass through; files and bytes become ``data:`` URIs.

    Raises :class:`InvalidArgument` for a path that does not exist, an empty file, or bytes that are not
    a known image (PNG, JPEG, WebP, GIF) or audio (WAV, MP3, FLAC, OGG, M4A) format.
    """
    path: Path | None = None
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str) and value.lower().startswith(("http://", "https://", "data:")):
        return value
    elif isinstance(value, str | os.PathLike):
        path = Path(os.fspath(value)).expanduser()
        if not path.is_file():
            raise InvalidArgument(
                f"{what} {os.fspath(value)!r} is neither a URL (http://, https://, data:) nor an existing "
                "file; check the path."
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"{what} {str(path)!r} could not be read: {exc.strerror or exc}.") from None
    else:
        raise InvalidArgument(f"{what} must be a URL, a file path or bytes, not {type(value).__name__}.")
    where = f"{what} {str(path)!r}" if path is not None else what
    if not data:
        raise InvalidArgument(f"{where} is empty.")
    mime = _sniff(data, _IMAGE_MAGIC if kind == "image" else _AUDIO_MAGIC)
    if mime is None and path is not None:
        guessed = mimetypes.guess_type(path.name)[0]
        mime = guessed if guessed and guessed.startswith(f"{kind}/") else None
    if mime is None:
        known = "PNG, JPEG, WebP or GIF" if kind == "image" else "WAV, MP3, FLAC, OGG or M4A"
        raise InvalidArgument(f"{where} is not a {known} {kind}; convert it or pass a URL.")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _frame(value: Any, what: str) -> int | float | str:
    if value in ("first", "last"):
        return cast(str, value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return value
    raise InvalidArgument(f"{what} must be a frame number >= 0, 'first' or 'last' (got {value!r}).")


def frame_image(item: FrameInput, index: int) -> dict[str, Any]:
    """One ``VideoFrameImageInput`` (``{"input_image": ..., "frame": ...}``)."""
    what = f"frame_images[{index}]"
    if isinstance(item, Mapping):
        unknown = set(item) - {"input_image", "frame"}
        if "input_image" not in item or unknown:
            raise InvalidArgument(
                f"{what} must look like "
                "{'input_image': <url, path or bytes>, 'frame': 0 | 'first' | 'last'}"
                + (f"; unknown keys: {sorted(unknown)}" if unknown else "")
                + "."
            )
        image, frame = item["input_image"], item.get("frame")
    elif isinstance(item, tuple):
        if len(item) != 2:
            raise InvalidArgument(f"{what} as a tuple must be (image, frame).")
        image, frame = item
    else:
        image, frame = item, None
    entry: dict[str, Any] = {"input_image": media_uri(image, what=f"{what} image", kind="image")}
    if frame is not None:
        entry["frame"] = _frame(frame, f"{what} frame")
    return entry


def _audio_input(item: MediaInput | Mapping[str, Any], index: int) -> str | dict[str, str]:
    what = f"audio_inputs[{index}]"
    if isinstance(item, Mapping):
        if set(item) != {"audio"}:
            raise InvalidArgument(f"{what} as a dict must be {{'audio': <url, path or bytes>}}.")
        return {"audio": media_uri(item["audio"], what=what, kind="audio")}
    return media_uri(item, what=what, kind="audio")


def _positive_int(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{name} must be an integer >= {minimum} (got {value!r}).")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name} must be an integer <= {maximum} (got {value!r}).")
    return value


def seconds_text(seconds: Any) -> str:
    """Together's ``seconds`` is a string: ``5`` -> ``"5"``, ``2.5`` -> ``"2.5"``; must be positive."""
    try:
        number = float(seconds) if not isinstance(seconds, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise InvalidArgument(f"seconds must be a positive number of seconds (got {seconds!r}).")
    return str(int(number)) if number.is_integer() else repr(number)


def _media_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, str | bytes | bytearray | os.PathLike | Mapping) or not isinstance(value, Sequence):
        raise InvalidArgument(
            f"{name} must be a list (got {type(value).__name__}); wrap a single item: [item]."
        )
    return list(value)


def build_video_request(
    model: str,
    prompt: str,
    *,
    seconds: float | int | str | None = None,
    width: int | None = None,
    height: int | None = None,
    fps: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    guidance_scale: int | float | None = None,
    negative_prompt: str | None = None,
    output_format: str | None = None,
    output_quality: int | None = None,
    generate_audio: bool | None = None,
    resolution: str | None = None,
    ratio: str | None = None,
    reference_images: Sequence[MediaInput] | None = None,
    frame_images: Sequence[FrameInput] | None = None,
    audio_inputs: Sequence[MediaInput | Mapping[str, Any]] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v2/videos`` (Together's ``CreateVideoBody``). Pure; raises InvalidArgument."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidArgument("model must be a video model id, e.g. 'google/veo-3.0'.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidArgument("prompt must be a non-empty string describing the video.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidArgument(
            f"prompt is {len(prompt)} characters; Together takes at most {MAX_PROMPT_CHARS}."
        )
    body: dict[str, Any] = {"model": model, "prompt": prompt}
    if seconds is not None:
        body["seconds"] = seconds_text(seconds)
    for name, value in (
        ("width", width),
        ("height", height),
        ("fps", fps),
        ("output_quality", output_quality),
    ):
        if value is not None:
            body[name] = _positive_int(name, value)
    if steps is not None:
        body["steps"] = _positive_int("steps", steps, minimum=10, maximum=50)
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InvalidArgument(f"seed must be an integer (got {seed!r}).")
        body["seed"] = seed
    if guidance_scale is not None:
        if isinstance(guidance_scale, float) and not guidance_scale.is_integer():
            raise InvalidArgument(
                f"guidance_scale must be a whole number for Together (got {guidance_scale}); try 7 or 8."
            )
        body["guidance_scale"] = _positive_int("guidance_scale", guidance_scale, minimum=0)
    if negative_prompt is not None:
        if not isinstance(negative_prompt, str):
            raise InvalidArgument("negative_prompt must be a string.")
        body["negative_prompt"] = negative_prompt
    if output_format is not None:
        fmt = str(output_format).upper()
        if fmt not in ("MP4", "WEBM"):
            raise InvalidArgument(f"output_format must be 'mp4' or 'webm' (got {output_format!r}).")
        body["output_format"] = fmt
    if generate_audio is not None:
        body["generate_audio"] = bool(generate_audio)
    for name, text in (("resolution", resolution), ("ratio", ratio)):
        if text is not None:
            body[name] = str(text)
    media: dict[str, Any] = {}
    if reference_images is not None:
        items = _media_list("reference_images", reference_images)
        media["reference_images"] = [
            media_uri(image, what=f"reference_images[{i}]", kind="image") for i, image in enumerate(items)
        ]
    if frame_images is not None:
        frames = _media_list("frame_images", frame_images)
        media["frame_images"] = [frame_image(item, i) for i, item in enumerate(frames)]
    if audio_inputs is not None:
        audio = _media_list("audio_inputs", audio_inputs)
        media["audio_inputs"] = [_audio_input(item, i) for i, item in enumerate(audio)]
    if media:
        body["media"] = media
    if extra_body:
        body.update(extra_body)
    return body


# ---- responses (pure) --------------------------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, UTC)
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parse_video_job(data: Any, *, provider: str = "together") -> VideoJobInfo:
    """A ``VideoJob`` response as :class:`VideoJobInfo`. Unknown statuses become ``unknown``; a
    ``progress`` (0-100 or 0-1), should a response carry one, becomes a fraction."""
    if not isinstance(data, Mapping) or not data.get("id"):
        raise PolyfaceError(f"{provider} answered a video request without a job id: {str(data)[:200]!r}")
    error = data.get("error")
    message: str | None = None
    code: str | None = None
    if isinstance(error, Mapping):
        message = str(error["message"]) if error.get("message") else None
        code = str(error["code"]) if error.get("code") else None
    elif isinstance(error, str) and error:
        message = error
    raw_outputs = data.get("outputs")
    outputs: Mapping[str, Any] = raw_outputs if isinstance(raw_outputs, Mapping) else {}
    progress = _number(data.get("progress"))
    if progress is not None:
        progress = min(1.0, max(0.0, progress / 100 if progress > 1 else progress))
    status = data.get("status")
    return VideoJobInfo(
        id=str(data["id"]),
        provider=provider,
        model=str(data["model"]) if data.get("model") else None,
        status=str(status) if status is not None else None,
        progress=progress,
        size=str(data["size"]) if data.get("size") else None,
        seconds=_number(data.get("seconds")),
        created_at=_timestamp(data.get("created_at")),
        completed_at=_timestamp(data.get("completed_at")),
        output_url=str(outputs["video_url"]) if outputs.get("video_url") else None,
        error=message,
        error_code=code,
        cost=_number(outputs.get("cost")),
        raw=dict(data),
    )


def _size(size: str | None) -> tuple[int | None, int | None]:
    width, _, height = (size or "").lower().partition("x")
    if width.strip().isdigit() and height.strip().isdigit():
        return int(width), int(height)
    return None, None


def _format(url: str) -> Literal["mp4", "webm", "mov", "gif"]:
    suffix = Path(urlsplit(url).path).suffix.lower().lstrip(".")
    return (
        cast(Literal["mp4", "webm", "mov", "gif"], suffix)
        if suffix in ("mp4", "webm", "mov", "gif")
        else "mp4"
    )


def video_result(info: VideoJobInfo) -> VideoResult:
    """The finished video of a completed job (its URL, size, duration, usage and cost)."""
    if info.output_url is None:
        raise PolyfaceError(
            f"{info.provider} says video job {info.id} is {info.status} but gave no video URL; "
            "refresh the job later or report it to the provider."
        )
    width, height = _size(info.size)
    return VideoResult(
        job_id=info.id,
        provider=info.provider,
        model=info.model,
        url=info.output_url,
        format=_format(info.output_url),
        duration_seconds=info.seconds,
        width=width,
        height=height,
        usage=Usage(video_seconds=info.seconds or 0.0),
        cost=info.cost,
    )


# ---- the job handle ------------------------------------------------------------------------------------


class TogetherVideoJob(Job[VideoJobInfo]):
    """A Together video job. ``id``, ``status``, ``info`` (the last :class:`VideoJobInfo`), ``refresh()``,
    ``wait()``, ``result()``, ``download(path)``, and the async twins."""

    poll_interval = 5.0
    max_poll_interval = 20.0

    def __init__(self, video: TogetherVideo, job_id: str, info: VideoJobInfo | None = None) -> None:
        super().__init__(video.config.info.display_name, job_id, info)
        self._video = video

    # ---- Job hooks
    def _fetch(self) -> VideoJobInfo:
        return self._video._retrieve(self.id)

    async def _afetch(self) -> VideoJobInfo:
        return await self._video._aretrieve(self.id)

    def _status(self, info: VideoJobInfo) -> str:
        return info.status

    def _done(self, info: VideoJobInfo) -> bool:
        return info.done

    def _succeeded(self, info: VideoJobInfo) -> bool:
        return info.succeeded

    def _fraction(self, info: VideoJobInfo) -> float | None:
        return 1.0 if info.succeeded else info.progress

    def _failure_reason(self, info: VideoJobInfo) -> str | None:
        if info.error and info.error_code:
            return f"{info.error} (code: {info.error_code})"
        return info.error or (f"Together reported the job {info.raw_status!r}" if info.raw_status else None)

    # ---- public
    @property
    def status(self) -> VideoJobStatus:
        """The status when last fetched (``refresh()`` fetches it anew): queued, in_progress, completed,
        failed, cancelled or unknown."""
        if self.info is None:
            self.refresh()
        assert self.info is not None
        return self.info.status

    @property
    def output_url(self) -> str | None:
        """The finished video's (expiring) URL, once completed."""
        return self.info.output_url if self.info is not None else None

    def _not_ready(self, info: VideoJobInfo) -> VideoNotReady:
        return VideoNotReady(
            f"Together video job {self.id} is still {info.status!r}; "
            "call job.wait() first (or pass wait=True)."
        )

    def result(self, *, wait: bool = False) -> VideoResult:
        """The finished video (URL, size, duration, usage, cost). Raises VideoNotReady if the job has not
        completed (``wait=True`` waits for it), JobFailed with Together's reason if it failed."""
        info = self.info if self.info is not None and self.info.done else self.refresh()
        if not info.done:
            if not wait:
                raise self._not_ready(info)
            info = self.wait().info or info
        self._check(info)
        return video_result(info)

    async def aresult(self, *, wait: bool = False) -> VideoResult:
        """The async twin of :meth:`result`."""
        info = self.info if self.info is not None and self.info.done else await self.arefresh()
        if not info.done:
            if not wait:
                raise self._not_ready(info)
            info = (await self.async_wait()).info or info
        self._check(info)
        return video_result(info)

    def download(
        self, path: str | os.PathLike[str], *, wait: bool = False, timeout: float = DOWNLOAD_TIMEOUT
    ) -> Path:
        """Save the finished video to ``path`` (a folder gets ``<job id>.mp4``); return the path written.

        The file comes from Together's presigned URL with a plain HTTP client: the Together key is not sent.
        Raises VideoNotReady if the job has not completed (``wait=True`` waits), JobFailed if it failed.
        """
        result = self.result(wait=wait)
        assert result.url is not None
        target = target_path(path, f"{result.job_id}.{result.format}")
        provider = self._video.config.info.display_name
        return download_url(
            result.url, target, provider=provider, what="the video", timeout=timeout, hint=EXPIRED_HINT
        )

    async def adownload(
        self, path: str | os.PathLike[str], *, wait: bool = False, timeout: float = DOWNLOAD_TIMEOUT
    ) -> Path:
        """The async twin of :meth:`download`."""
        result = await self.aresult(wait=wait)
        assert result.url is not None
        target = target_path(path, f"{result.job_id}.{result.format}")
        provider = self._video.config.info.display_name
        return await adownload_url(
            result.url, target, provider=provider, what="the video", timeout=timeout, hint=EXPIRED_HINT
        )

    def cancel(self) -> VideoJobInfo:
        """Together's API has no way to cancel a video job: this raises CapabilityNotSupported."""
        raise CapabilityNotSupported(
            "Together AI",
            "video job cancellation",
            offered_by=("openai",),
            reason="Together AI's API offers no way to cancel a video job (it runs to its end and is billed)",
        )

    async def acancel(self) -> VideoJobInfo:
        return self.cancel()


EXPIRED_HINT = "Together's video URLs expire: refresh the job (job.refresh()) for a fresh URL and try again."


# ---- the capability ------------------------------------------------------------------------------------


class TogetherVideo:
    """``together.video``: text/image/audio-to-video generation jobs on Together AI."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name

    @property
    def url(self) -> str:
        """The absolute ``.../v2/videos`` URL (Together serves video under v2)."""
        return videos_url(self.config.base_url)

    # ---- transport
    def _info(self, data: Any) -> VideoJobInfo:
        return parse_video_job(data, provider=self._provider)

    def _price(self, info: VideoJobInfo) -> float | None:
        """USD from the catalog's per-second price, when Together did not say the cost itself."""
        if info.cost is not None or not info.succeeded or info.model is None or not info.seconds:
            return None
        pricing = self.config.catalog.pricing(info.model)
        if pricing is None or pricing.per_video_second <= 0:
            return None
        return pricing.cost(Usage(video_seconds=info.seconds))

    async def _aprice(self, info: VideoJobInfo) -> float | None:
        if info.cost is not None or not info.succeeded or info.model is None or not info.seconds:
            return None
        pricing = await self.config.catalog.apricing(info.model)
        if pricing is None or pricing.per_video_second <= 0:
            return None
        return pricing.cost(Usage(video_seconds=info.seconds))

    def _retrieve(self, job_id: str) -> VideoJobInfo:
        response = self.config.http.request("GET", f"{self.url}/{_job_id(job_id)}")
        info = self._info(response.json())
        if (cost := self._price(info)) is not None:
            info.cost = cost
        return info

    async def _aretrieve(self, job_id: str) -> VideoJobInfo:
        response = await self.config.http.arequest("GET", f"{self.url}/{_job_id(job_id)}")
        info = self._info(response.json())
        if (cost := await self._aprice(info)) is not None:
            info.cost = cost
        return info

    # ---- public
    def generate(
        self,
        *,
        model: str,
        prompt: str,
        seconds: float | int | str | None = None,
        width: int | None = None,
        height: int | None = None,
        reference_images: Sequence[MediaInput] | None = None,
        frame_images: Sequence[FrameInput] | None = None,
        audio_inputs: Sequence[MediaInput | Mapping[str, Any]] | None = None,
        fps: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        output_format: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TogetherVideoJob:
        """Start a video job and return its handle at once (``job.wait()``, then ``job.download(path)``).

        ``seconds`` (sent as Together's string), ``width``/``height`` in pixels, ``reference_images``
        (appearance to keep, e.g. a persona's face), ``frame_images`` (keyframes: an image, ``(image,
        frame)`` or ``{"input_image", "frame"}``; frame a number, ``"first"`` or ``"last"``), ``audio_inputs``
        (e.g. a voice track to lip-sync): URLs, local paths or bytes (files are sent as ``data:`` URIs).
        Also ``fps``, ``steps`` (10-50), ``seed``, ``negative_prompt``, ``output_format`` ("mp4"/"webm"),
        and in ``options``: ``guidance_scale``, ``output_quality``, ``generate_audio``, ``resolution``,
        ``ratio``, ``extra_body={...}``. The create request is never retried after it may have reached
        Together (a retry could start and bill a second job); a 429 is retried.
        """
        body = self._body(
            model, prompt, seconds, width, height, reference_images, frame_images, audio_inputs,
            fps, steps, seed, negative_prompt, output_format, options,
        )  # fmt: skip
        with self.config.telemetry.call("generate_video", model, seconds=body.get("seconds")) as call:
            response = self.config.http.request(
                "POST", self.url, json=body, idempotent=False, timeout=timeout
            )
            info = self._info(response.json())
            call.finish(response_model=info.model, response_id=info.id)
        return TogetherVideoJob(self, info.id, info)

    async def agenerate(
        self,
        *,
        model: str,
        prompt: str,
        seconds: float | int | str | None = None,
        width: int | None = None,
        height: int | None = None,
        reference_images: Sequence[MediaInput] | None = None,
        frame_images: Sequence[FrameInput] | None = None,
        audio_inputs: Sequence[MediaInput | Mapping[str, Any]] | None = None,
        fps: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        negative_prompt: str | None = None,
        output_format: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> TogetherVideoJob:
        """The async twin of :meth:`generate` (use ``await job.async_wait()``, ``await job.adownload()``)."""
        body = self._body(
            model, prompt, seconds, width, height, reference_images, frame_images, audio_inputs,
            fps, steps, seed, negative_prompt, output_format, options,
        )  # fmt: skip
        with self.config.telemetry.call("generate_video", model, seconds=body.get("seconds")) as call:
            response = await self.config.http.arequest(
                "POST", self.url, json=body, idempotent=False, timeout=timeout
            )
            info = self._info(response.json())
            call.finish(response_model=info.model, response_id=info.id)
        return TogetherVideoJob(self, info.id, info)

    def get(self, job_id: str) -> TogetherVideoJob:
        """Re-attach to a job started earlier (after a restart, say) by its id; fetches its state now."""
        job = TogetherVideoJob(self, _job_id(job_id))
        job.refresh()
        return job

    async def aget(self, job_id: str) -> TogetherVideoJob:
        job = TogetherVideoJob(self, _job_id(job_id))
        await job.arefresh()
        return job

    _OPTIONS = frozenset(
        {"guidance_scale", "output_quality", "generate_audio", "resolution", "ratio", "extra_body"}
    )

    def _body(
        self,
        model: str,
        prompt: str,
        seconds: float | int | str | None,
        width: int | None,
        height: int | None,
        reference_images: Sequence[MediaInput] | None,
        frame_images: Sequence[FrameInput] | None,
        audio_inputs: Sequence[MediaInput | Mapping[str, Any]] | None,
        fps: int | None,
        steps: int | None,
        seed: int | None,
        negative_prompt: str | None,
        output_format: str | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        unknown = sorted(set(options) - self._OPTIONS)
        if unknown:
            raise InvalidArgument(
                f"Together video generation does not take {', '.join(repr(u) for u in unknown)}; it takes "
                "seconds, width, height, reference_images, frame_images, audio_inputs, fps, steps, seed, "
                f"negative_prompt, output_format, {', '.join(sorted(self._OPTIONS))}."
            )
        return build_video_request(
            model,
            prompt,
            seconds=seconds,
            width=width,
            height=height,
            reference_images=reference_images,
            frame_images=frame_images,
            audio_inputs=audio_inputs,
            fps=fps,
            steps=steps,
            seed=seed,
            negative_prompt=negative_prompt,
            output_format=output_format,
            **options,
        )


def _job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not job_id.strip() or "/" in job_id:
        raise InvalidArgument(f"a video job id is a non-empty string without '/' (got {job_id!r}).")
    return quote(job_id.strip(), safe="")


__all__ = [
    "TogetherVideo",
    "TogetherVideoJob",
    "VideoNotReady",
    "build_video_request",
    "media_uri",
    "parse_video_job",
    "video_result",
    "videos_url",
]
