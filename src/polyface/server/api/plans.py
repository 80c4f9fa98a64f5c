"""``POST /api/personas/{name}/plan``: per modality the provider, base model, samples and estimated cost.

The body names a provider per modality (``"local"``) or a provider and base model
(``"together:meta-llama/..."``), plus optional ``parameters`` per modality (``{"text": {"n_epochs": 1}}``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from polyface.persona.plan import AvatarPlan
from polyface.persona.studio import PersonaHandle
from polyface.server.api.deps import persona

router = APIRouter(tags=["training"])


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    voice: str | None = None
    audio: str | None = None
    image: str | None = None
    video: str | None = None
    parameters: dict[str, dict[str, Any]] | None = None


def plan_json(plan: AvatarPlan) -> dict[str, Any]:
    data: dict[str, Any] = plan.model_dump(mode="json")
    data["total_usd"] = plan.total_usd
    data["modalities"] = plan.modalities
    return data


def make_plan(handle: PersonaHandle, choices: dict[str, Any]) -> AvatarPlan:
    return handle.avatar.plan(**choices)


@router.post("/personas/{name}/plan")
def plan_avatar(name: str, body: PlanRequest, request: Request) -> dict[str, Any]:
    """Check and price a plan; nothing is submitted."""
    return plan_json(make_plan(persona(request, name), body.model_dump(exclude_none=True)))
