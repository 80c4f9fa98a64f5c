"""Fake Together routes: videos (``/v2/videos``, as the real API serves them). Registered with ``@route``.

* ``POST /v2/videos`` creates a job (a ``VideoJob`` of the spec) in status ``in_progress``.
* ``GET /v2/videos/{id}`` answers the job; every poll moves it on. After
  ``fake.store["videos"]["polls_to_finish"]`` polls (default 3) it is ``completed`` with
  ``outputs: {cost, video_url}``, the URL pointing at this fake's ``/presigned/videos/...`` route.
* A prompt containing ``FAIL`` ends in ``failed`` with ``error: {code, message}`` (the message says why;
  ``fake.store["videos"]["failure"]`` overrides it as ``(code, message)``).
* ``GET /presigned/videos/{id}.mp4`` (no key, like a presigned S3 URL) serves a small MP4: a valid ``ftyp``
  box, a ``free`` box and an ``mdat`` box (not a playable video; enough for any tool that sniffs the type).

Together's spec knows the statuses ``in_progress``, ``completed`` and ``failed`` only, and the ``VideoJob``
schema has no progress field, so by default the fake sends neither ``queued``/``cancelled`` nor
``progress``. Tests that check how a client copes with more may set ``report_progress`` (adds a ``progress``
percent, which the schema's open properties allow) or edit a job's ``status`` in ``jobs`` directly.
"""

from __future__ import annotations

import re
import struct
import time
import uuid
from typing import Any

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_together.core import FakeTogether, RecordedRequest, _BadRequest, route

DEFAULT_SECONDS = "5"
DEFAULT_SIZE = (1280, 720)
DEFAULT_COST = 1
_FAIL_MESSAGE = "The prompt was flagged by the content moderation filter: generation refused"
_FORMATS = {"MP4": "mp4", "WEBM": "webm"}


def state(fake: FakeTogether) -> dict[str, Any]:
    """This area's state in ``fake.store["videos"]`` (created on first use; cleared by ``fake.reset()``).

    Keys: ``jobs`` (id -> job dict, live), ``polls_to_finish`` (int), ``cost`` (int, USD per job),
    ``report_progress`` (bool), ``failure`` (``(code, message)`` for failing prompts).
    """
    area: dict[str, Any] = fake.store.setdefault(
        "videos",
        {
            "jobs": {},
            "polls_to_finish": 3,
            "cost": DEFAULT_COST,
            "report_progress": False,
            "failure": ("content_policy_violation", _FAIL_MESSAGE),
        },
    )
    return area


def mp4_bytes(label: str) -> bytes:
    """A small file in the MP4 box layout: ``ftyp`` (isom), ``free``, ``mdat`` holding ``label``."""
    brands = b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    ftyp = struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands
    free = struct.pack(">I", 8) + b"free"
    payload = f"polyface fake video {label}".encode() + bytes(range(256)) * 4
    mdat = struct.pack(">I", 8 + len(payload)) + b"mdat" + payload
    return ftyp + free + mdat


def _string_list(value: Any, name: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise _BadRequest(f"'{name}' must be an array of URL strings", code="invalid_request_error")


def _frame_images(value: Any, name: str) -> None:
    if not isinstance(value, list):
        raise _BadRequest(f"'{name}' must be an array of objects", code="invalid_request_error")
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("input_image"), str):
            raise _BadRequest(f"each of '{name}' needs a string 'input_image'", code="invalid_request_error")
        frame = item.get("frame", 0)
        if isinstance(frame, bool) or not (isinstance(frame, int | float) or frame in ("first", "last")):
            raise _BadRequest(
                f"'{name}[].frame' must be a number, 'first' or 'last'", code="invalid_request_error"
            )


def _check_body(body: dict[str, Any]) -> tuple[str, str, int, int, str]:
    """Validate a create request like the real API would; (model, seconds, width, height, extension)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("'model' is required and must be a string", code="invalid_request_error")
    prompt = body.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not 1 <= len(prompt) <= 32000):
        raise _BadRequest("'prompt' must be a string of 1 to 32000 characters", code="invalid_request_error")
    seconds = body.get("seconds", DEFAULT_SECONDS)
    try:
        ok = isinstance(seconds, str) and float(seconds) > 0
    except ValueError:
        ok = False
    if not ok:
        raise _BadRequest(
            "'seconds' must be a string holding a positive number", code="invalid_request_error"
        )
    for name in ("width", "height", "fps", "seed", "steps", "output_quality", "guidance_scale"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise _BadRequest(f"'{name}' must be an integer", code="invalid_request_error")
    steps = body.get("steps")
    if steps is not None and not 10 <= steps <= 50:
        raise _BadRequest("'steps' must be between 10 and 50", code="invalid_request_error")
    output_format = body.get("output_format", "MP4")
    if output_format not in _FORMATS:
        raise _BadRequest("'output_format' must be 'MP4' or 'WEBM'", code="invalid_request_error")
    media = body.get("media", {})
    if not isinstance(media, dict):
        raise _BadRequest("'media' must be an object", code="invalid_request_error")
    if "reference_images" in media:
        _string_list(media["reference_images"], "media.reference_images")
    if "frame_images" in media:
        _frame_images(media["frame_images"], "media.frame_images")
    if "audio_inputs" in media:
        audio = [a["audio"] if isinstance(a, dict) else a for a in media["audio_inputs"] or [None]]
        _string_list(audio, "media.audio_inputs")
    if "reference_images" in body:
        _string_list(body["reference_images"], "reference_images")
    if "frame_images" in body:
        _frame_images(body["frame_images"], "frame_images")
    width, height = body.get("width") or DEFAULT_SIZE[0], body.get("height") or DEFAULT_SIZE[1]
    return model, str(seconds), int(width), int(height), _FORMATS[str(output_format)]


def _public(job: dict[str, Any], area: dict[str, Any]) -> dict[str, Any]:
    """The job as the API shows it (internal bookkeeping keys start with ``_``)."""
    shown = {key: value for key, value in job.items() if not key.startswith("_")}
    if area["report_progress"] and job["status"] == "in_progress":
        shown["progress"] = min(99, round(100 * job["_polls"] / max(1, area["polls_to_finish"])))
    return shown


@route("POST", r"/v2/videos")
async def create_video(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    if not isinstance(req.json, dict):
        raise _BadRequest("The request body must be a JSON object", code="invalid_request_error")
    model, seconds, width, height, extension = _check_body(req.json)
    area = state(fake)
    job_id = f"video-{uuid.uuid4()}"
    job: dict[str, Any] = {
        "id": job_id,
        "object": "video",
        "model": model,
        "status": "in_progress",
        "created_at": round(time.time(), 3),
        "size": f"{width}x{height}",
        "seconds": seconds,
        "_polls": 0,
        "_fails": "FAIL" in str(req.json.get("prompt") or ""),
        "_extension": extension,
        "_host": req.headers.get("host", f"{fake.host}:{fake.port}"),
    }
    area["jobs"][job_id] = job
    return JSONResponse(_public(job, area))


@route("GET", r"/v2/videos/(?P<id>[^/]+)")
async def retrieve_video(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    area = state(fake)
    job = area["jobs"].get(match["id"])
    if job is None:
        raise _BadRequest(f"Video {match['id']} not found", status=404, code="not_found")
    if job["status"] == "in_progress":
        job["_polls"] += 1
        if job["_polls"] >= area["polls_to_finish"]:
            job["completed_at"] = round(time.time(), 3)
            if job["_fails"]:
                code, message = area["failure"]
                job["status"] = "failed"
                job["error"] = {"code": code, "message": message}
            else:
                job["status"] = "completed"
                job["outputs"] = {
                    "cost": area["cost"],
                    "video_url": f"http://{job['_host']}/presigned/videos/{job['id']}.{job['_extension']}"
                    "?X-Amz-Expires=3600&X-Amz-Signature=fake",
                }
    return JSONResponse(_public(job, area))


@route("GET", r"/presigned/videos/(?P<id>[^/]+)\.(?P<ext>mp4|webm)", auth=False)
async def download_video(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    job = state(fake)["jobs"].get(match["id"])
    if job is None or job["status"] != "completed":
        return Response(
            "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
            status_code=404,
            media_type="application/xml",
        )
    media_type = "video/mp4" if match["ext"] == "mp4" else "video/webm"
    return Response(mp4_bytes(job["id"]), media_type=media_type)
