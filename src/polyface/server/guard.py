"""Protection for a server other web pages can reach through the user's browser: a request that changes
something must come from this server's own pages (its ``Origin``, when a browser sends one, names this
host), and a loopback server answers only to loopback host names (no DNS rebinding)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]", "testserver"]


class SameOriginMiddleware:
    """Refuses (403 ``cross_origin``) a state-changing request whose ``Origin`` is another site."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != headers.get("host", ""):
                body = json.dumps(
                    {
                        "error": {
                            "code": "cross_origin",
                            "message": "requests that change something must come from this server's own "
                            "pages or from a client that sends no Origin (an SDK, curl)",
                        }
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
