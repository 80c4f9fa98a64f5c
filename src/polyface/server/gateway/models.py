"""``GET /v1/models`` (personas as ``persona/<name>``, providers' models as ``<provider>/<model>``) and
``GET /v1/models/{model}``."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from polyface.server.gateway.errors import model_not_found
from polyface.server.gateway.targets import list_models


async def models(request: Request) -> Response:
    found = await run_in_threadpool(list_models, request.app.state.studio)
    return JSONResponse({"object": "list", "data": found})


async def model(model_id: str, request: Request) -> Response:
    found = await run_in_threadpool(list_models, request.app.state.studio)
    match = next((m for m in found if m["id"] == model_id), None)
    if match is None:
        raise model_not_found(model_id, "GET /v1/models lists the models this gateway serves.")
    return JSONResponse(match)
