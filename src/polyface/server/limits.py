"""A size limit on ``/api`` and ``/v1`` request bodies that are not multipart uploads, applied before
anything reads them (authentication included): a declared ``Content-Length`` over the limit is refused at
once, a body sent in chunks is refused as soon as it passes the limit (413; ``too_large`` in the API's
error shape, ``request_too_large`` in OpenAI's on the gateway).

Multipart uploads have their own per-file limits (:mod:`polyface.server.api.uploads`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from starlette.exceptions import HTTPException

MAX_JSON_BYTES: Final = 1024 * 1024
"""The largest JSON body of an ``/api`` request."""
MAX_ROWS_JSON_BYTES: Final = 16 * 1024 * 1024
"""The largest JSON body of ``POST /api/personas/{name}/samples/text`` (dialogue rows)."""
MAX_GATEWAY_JSON_BYTES: Final = 20 * 1024 * 1024
"""The largest JSON body of a gateway (``/v1``) request (a chat may carry base64 images)."""
_ROWS_PATH = re.compile(r"^/api/personas/[^/]+/samples/text/?$")


def body_limit(path: str) -> int:
    if path.startswith("/v1/"):
        return MAX_GATEWAY_JSON_BYTES
    return MAX_ROWS_JSON_BYTES if _ROWS_PATH.match(path) else MAX_JSON_BYTES


def _message(limit: int) -> str:
    return (
        f"the request body is over {limit // 1024} KiB, the most this endpoint reads; send less "
        "(large files go as multipart/form-data uploads)."
    )


class BodyLimitMiddleware:
    """Refuses ``/api`` and ``/v1`` bodies (other than ``multipart/form-data``) over :func:`body_limit`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/v1/")):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit, gateway=scope["path"].startswith("/v1/"))
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _message(limit))
            return message

        await self.app(scope, limited, send)


async def _refuse(send: Any, limit: int, *, gateway: bool) -> None:
    error: dict[str, Any] = (
        {
            "message": _message(limit),
            "type": "invalid_request_error",
            "param": None,
            "code": "request_too_large",
        }
        if gateway
        else {"code": "too_large", "message": _message(limit), "limit_bytes": limit}
    )
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
