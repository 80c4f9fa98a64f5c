"""``POST /v1/embeddings``: forwarded to ``<provider>/<model>``; vectors as floats or base64 (little-endian
float32, what the official clients ask for by default)."""

from __future__ import annotations

import base64
import struct
from functools import partial
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from polyface.server.gateway.schemas import EmbeddingsRequest
from polyface.server.gateway.shapes import cost_headers
from polyface.server.gateway.targets import plain_target
from polyface.server.ops import metrics_of


def encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def _embed(studio: Any, body: EmbeddingsRequest) -> Any:
    target = plain_target(studio, body.model, "embeddings")
    options: dict[str, Any] = {"model": target.model, "inputs": body.inputs()}
    if body.dimensions is not None:
        options["dimensions"] = body.dimensions
    return studio.adapter(target.provider).embeddings.embed(**options)


async def embeddings(body: EmbeddingsRequest, request: Request) -> Response:
    made = await run_in_threadpool(partial(_embed, request.app.state.studio, body))
    metrics_of(request.app).record_usage(body.model, made.usage, made.cost)
    tokens = made.usage.input_tokens or made.usage.total_tokens
    payload = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(v, body.encoding_format)}
            for i, v in enumerate(made.vectors)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": made.usage.total_tokens or tokens},
    }
    return JSONResponse(payload, headers=cost_headers(made.cost))
