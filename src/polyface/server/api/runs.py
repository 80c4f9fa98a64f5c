"""Training runs: ``POST /api/personas/{name}/train``, ``/api/runs`` (list, show, cancel, resume), and
``GET /api/runs/events``, a server-sent events feed of run state changes.

Training takes the plan ``POST .../plan`` returned (or the same choices) and a budget; the plan is checked
and priced again on the server, so an edited estimate cannot slip past the budget.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool

from polyface.errors import InvalidArgument
from polyface.persona.plan import AvatarPlan
from polyface.persona.training import Runs, refresh
from polyface.persona.views import RunInfo
from polyface.server.api.deps import persona, studio_of
from polyface.server.api.plans import make_plan, plan_json

router = APIRouter(tags=["training"])

HEARTBEAT_S: Final = 15.0
"""A comment line is sent at least this often, so proxies keep an idle feed open."""
STUCK: Final = ("planned", "submitting")
MAX_FAILED_POLLS: Final = 20
"""The feed ends with an ``error`` event when every run still going failed this many polls in a row."""


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: dict[str, Any]
    """The plan from ``POST .../plan`` (its ``items``), or the choices themselves (``{"voice": "local"}``)."""
    budget_usd: float | None = None


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persona: str | None = None


def run_json(info: RunInfo) -> dict[str, Any]:
    data: dict[str, Any] = info.model_dump(mode="json")
    data["done"] = info.done
    data["progress"] = 1.0 if info.status == "succeeded" else info.parameters.get("_progress")
    return data


def _choices(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan's choices (provider:base_model and parameters per modality)."""
    if "items" not in plan:
        return dict(plan)
    try:
        parsed = AvatarPlan.model_validate({k: v for k, v in plan.items() if k in ("persona", "items")})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InvalidArgument(
            f"the plan is not one POST /plan returned ({where}: {first['msg']}); ask for a new plan."
        ) from None
    choices: dict[str, Any] = {i.modality: f"{i.provider}:{i.base_model}" for i in parsed.items}
    parameters = {i.modality: i.parameters for i in parsed.items if i.parameters}
    if parameters:
        choices["parameters"] = parameters
    return choices


@router.post("/personas/{name}/train", status_code=201)
def train(name: str, body: TrainRequest, request: Request) -> dict[str, Any]:
    """Start one run per modality of the plan (consent and budget are checked before anything starts)."""
    handle = persona(request, name)
    plan = make_plan(handle, _choices(body.plan))
    runs = handle.avatar.train(plan, budget_usd=body.budget_usd)
    infos = runs.list()
    return {
        "batch_id": infos[0].batch_id if infos else None,
        "plan": plan_json(plan),
        "runs": [run_json(i) for i in infos],
    }


@router.get("/runs")
def list_runs(
    request: Request, persona: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    studio = studio_of(request)
    if persona is not None:
        studio.personas.get(persona)  # 404 for an unknown persona rather than an empty list
    return [run_json(i) for i in studio.runs.list(persona=persona, status=status)]


@router.post("/runs/resume")
def resume_runs(request: Request, body: ResumeRequest | None = None) -> list[dict[str, Any]]:
    """Pick up runs a crash interrupted (planned, submitting, or local jobs that died)."""
    studio = studio_of(request)
    runs = studio.personas.get(body.persona).avatar.runs if body and body.persona else studio.runs
    return [run_json(i) for i in runs.resume()]


# ---- the live feed ------------------------------------------------------------------------------------


def _state(info: RunInfo) -> tuple[Any, ...]:
    return (info.status, len(info.events), info.parameters.get("_progress"), info.result_model, info.error)


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def run_events(request: Request, runs: Runs, interval: float) -> AsyncIterator[bytes]:
    """``run`` per change of a run, then ``done`` when all ended (or ``stalled`` when the only runs left
    never reached their provider: resume them; or ``error`` when their providers could not be asked for
    :data:`MAX_FAILED_POLLS` polls in a row). Stops early when the client goes away."""
    sent: dict[str, tuple[Any, ...]] = {}
    quiet = 0.0
    failed_polls = 0
    yield b"retry: 2000\n\n"
    while True:
        infos = await run_in_threadpool(runs.refresh)
        for info in infos:
            state = _state(info)
            if sent.get(info.id) != state:
                sent[info.id] = state
                quiet = 0.0
                yield _sse("run", run_json(info))
        pending = [i for i in infos if not i.done]
        if not pending:
            yield _sse("done", {"runs": len(infos), "statuses": {i.id: i.status for i in infos}})
            return
        if all(i.status in STUCK for i in pending):
            ids = ", ".join(f"{i.modality} ({i.id})" for i in pending)
            yield _sse(
                "stalled",
                {
                    "runs": [i.id for i in pending],
                    "message": f"{ids} never reached its provider: POST /api/runs/resume to pick it up.",
                },
            )
            return
        unreachable = [i for i in pending if i.refresh_error]
        failed_polls = failed_polls + 1 if len(unreachable) == len(pending) else 0
        if failed_polls >= MAX_FAILED_POLLS:
            yield _sse(
                "error",
                {
                    "runs": [i.id for i in pending],
                    "message": f"the providers could not be reached for {failed_polls} polls in a row "
                    f"({unreachable[0].refresh_error}); the runs go on there: open the feed again later.",
                },
            )
            return
        if quiet >= HEARTBEAT_S:
            quiet = 0.0
            yield b": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(interval)
        quiet += interval


@router.get("/runs/events")
def events(
    request: Request,
    persona: str | None = None,
    ids: str | None = Query(None, description="comma-separated run ids (default: every run)"),
    interval: float = Query(1.0, ge=0.5, le=30.0, description="seconds between polls of the providers"),
) -> StreamingResponse:
    """Server-sent events (``text/event-stream``): one ``run`` event (the run as JSON) per state change of
    each run, then ``done``. Filter by persona and/or run ids."""
    studio = studio_of(request)
    persona_id = studio.personas.get(persona).id if persona else None
    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    if wanted:
        for run_id in wanted:
            studio.runs.get(run_id)  # 404 for an unknown run
    runs = Runs(studio, persona_id, wanted)
    return StreamingResponse(
        run_events(request, runs, interval),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/runs/{run_id}")
def get_run(run_id: str, request: Request) -> dict[str, Any]:
    """The run, refreshed from its provider."""
    return run_json(refresh(studio_of(request), run_id))


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: str, request: Request) -> dict[str, Any]:
    (info,) = studio_of(request).runs.cancel(run_id)
    return run_json(info)
