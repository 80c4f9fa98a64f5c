"""Fake OpenAI routes: fine-tuning jobs, registered with ``@route(..., server=FakeOpenAI)``.

- ``POST /v1/fine_tuning/jobs`` checks the body (the training and validation files must exist with purpose
  ``fine-tune``; ``method`` supervised or dpo) and creates a job in ``validating_files``.
- ``GET /v1/fine_tuning/jobs/<id>`` answers the job, then moves it one step along: validating_files ->
  queued -> running (one training step per poll, each with a ``metrics`` event carrying ``step``,
  ``total_steps`` and a falling ``train_loss``, and a checkpoint) -> succeeded, with ``fine_tuned_model``
  ``ft:<model>:org::<id>`` (or ``ft:<model>:org:<suffix>:<id>``), then served by chat even under
  ``strict_models``. A training file that is not JSONL fails the job while validating
  (``invalid_training_file``, naming the line); a job planned to fail (:func:`plan_fine_tunes`
  ``fail_at=``) or failed by a test (:func:`fail_fine_tune`) moves to ``failed`` with ``error`` set and an
  ``error`` event.
- ``POST .../cancel`` (any live job), ``.../pause`` (a running job: it stops moving) and ``.../resume``
  (a paused one); ``GET .../events`` and ``.../checkpoints`` (newest first, ``limit``/``after`` pages);
  ``GET /v1/fine_tuning/jobs`` (newest first, ``limit``/``after``).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_openai.core import FakeOpenAI
from polyface.testing.fake_openai.files import files_of, query_of
from polyface.testing.fake_together.core import _BadRequest, route

if TYPE_CHECKING:
    from polyface.testing.fake_together.core import FakeServer, RecordedRequest

ORGANIZATION = "org"
#: Aliases the fake resolves to a dated snapshot, as OpenAI does when a job is created.
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}
DEFAULT_PLAN: dict[str, Any] = {
    "steps": 3,
    "fail_at": None,
    "error": "The job failed due to an internal error.",
    "error_code": "server_error",
}
ACTIVE = ("validating_files", "queued", "running", "paused")
PUBLIC_FIELDS = (
    "object", "id", "model", "created_at", "finished_at", "fine_tuned_model", "organization_id",
    "result_files", "status", "validation_file", "training_file", "hyperparameters", "trained_tokens",
    "error", "seed", "estimated_finish", "integrations", "method", "metadata", "user_provided_suffix",
)  # fmt: skip


def plan_fine_tunes(fake: FakeServer, **plan: Any) -> None:
    """How jobs created from now on behave (until the fake is reset): ``steps`` (training steps, one per
    poll), ``fail_at`` (a status the job fails in instead of leaving it, e.g. ``"running"``), ``error`` and
    ``error_code`` (the failure's message and code)."""
    unknown = set(plan) - set(DEFAULT_PLAN)
    if unknown:
        raise TypeError(f"unknown fine-tuning plan setting(s): {', '.join(sorted(unknown))}")
    _settings(fake).update(plan)


def fail_fine_tune(fake: FakeServer, job_id: str, message: str, code: str = "server_error") -> None:
    """Make a live job fail now with ``message`` (its ``error`` and a last ``error`` event)."""
    _fail(_job(fake, job_id), message, code)


def jobs_of(fake: FakeServer) -> dict[str, dict[str, Any]]:
    """The fake's jobs by id, oldest first (live dicts: the job fields plus ``events``, ``checkpoints``,
    ``plan`` and ``step``)."""
    jobs: dict[str, dict[str, Any]] = fake.store.setdefault("fine_tuning_jobs", {})
    return jobs


def _settings(fake: FakeServer) -> dict[str, Any]:
    settings: dict[str, Any] = fake.store.setdefault("fine_tuning_plan", dict(DEFAULT_PLAN))
    return settings


def _job(fake: FakeServer, job_id: str) -> dict[str, Any]:
    job = jobs_of(fake).get(job_id)
    if job is None:
        raise _BadRequest(f"Could not find fine-tune: {job_id}", status=404, code="fine_tune_not_found")
    return job


def public(job: dict[str, Any]) -> dict[str, Any]:
    return {key: job[key] for key in PUBLIC_FIELDS if key in job}


def _event(job: dict[str, Any], message: str, level: str = "info", **data: Any) -> None:
    job["events"].append(
        {
            "object": "fine_tuning.job.event",
            "id": f"ftevent-{secrets.token_hex(12)}",
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "data": data,
            "type": "metrics" if data else "message",
        }
    )


def _fail(job: dict[str, Any], message: str, code: str, param: str | None = None) -> None:
    job.update(status="failed", finished_at=int(time.time()), estimated_finish=None)
    job["error"] = {"code": code, "message": message, "param": param}
    _event(job, message, level="error")


def _resolve_auto(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}
    resolved.update({k: v for k, v in hyperparameters.items() if v != "auto"})
    return resolved


def _bad_lines(content: bytes) -> list[int]:
    bad = []
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            if not isinstance(json.loads(line), dict):
                bad.append(number)
        except ValueError:
            bad.append(number)
    return bad


def _file(fake: FakeServer, file_id: Any, param: str) -> dict[str, Any]:
    entry = files_of(fake).get(file_id) if isinstance(file_id, str) else None
    if entry is None:
        raise _BadRequest(f"invalid {param}: {file_id}", code="invalid_request_error")
    if entry["purpose"] != "fine-tune":
        raise _BadRequest(
            f"File {file_id} has purpose {entry['purpose']!r}; fine-tuning needs purpose 'fine-tune'",
            code="invalid_request_error",
        )
    return entry


@route("POST", r"/v1/fine_tuning/jobs", server=FakeOpenAI)
async def create_job(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    body = fake._json_object(req)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("'model' is required", code="invalid_request_error")
    training = _file(fake, body.get("training_file"), "training_file")
    if body.get("validation_file") is not None:
        _file(fake, body["validation_file"], "validation_file")
    method = body.get("method") or {"type": "supervised", "supervised": {}}
    kind = method.get("type") if isinstance(method, dict) else None
    if kind not in ("supervised", "dpo"):
        raise _BadRequest(
            "method.type must be 'supervised' or 'dpo' in this fake", code="invalid_request_error"
        )
    settings = dict(_settings(fake))
    hyperparameters = (method.get(kind) or {}).get("hyperparameters") or body.get("hyperparameters") or {}
    resolved = _resolve_auto(hyperparameters)
    if kind == "dpo":
        resolved.setdefault("beta", 0.1)
    job_id = f"ftjob-{secrets.token_hex(12)}"
    suffix = body.get("suffix") or ""
    model = SNAPSHOTS.get(model, model)
    job = {
        "object": "fine_tuning.job",
        "id": job_id,
        "model": model,
        "created_at": int(time.time()),
        "finished_at": None,
        "fine_tuned_model": None,
        "organization_id": f"{ORGANIZATION}-fake",
        "result_files": [],
        "status": "validating_files",
        "validation_file": body.get("validation_file"),
        "training_file": training["id"],
        "hyperparameters": {k: v for k, v in resolved.items() if k != "beta"} if kind == "supervised" else {},
        "trained_tokens": None,
        "error": None,
        "seed": body["seed"] if isinstance(body.get("seed"), int) else secrets.randbelow(2**31),
        "estimated_finish": None,
        "integrations": [],
        "method": {"type": kind, kind: {"hyperparameters": resolved}},
        "metadata": body.get("metadata"),
        "user_provided_suffix": suffix or None,
        # fake-only state
        "events": [],
        "checkpoints": [],
        "plan": settings,
        "step": 0,
        "output": f"ft:{model}:{ORGANIZATION}:{suffix}:{secrets.token_hex(4)}",
        "bad_lines": _bad_lines(training["content"]),
        "tokens": max(1, len(training["content"]) // 4),
    }
    _event(job, "Created fine-tuning job")
    _event(job, f"Validating training file: {training['id']}")
    jobs_of(fake)[job_id] = job
    return JSONResponse(public(job))


def _advance(fake: FakeOpenAI, job: dict[str, Any]) -> None:
    """One step along the job's life (nothing for a paused or finished job)."""
    status, plan = job["status"], job["plan"]
    if status not in ("validating_files", "queued", "running"):
        return
    if plan["fail_at"] == status:
        _fail(job, plan["error"], plan["error_code"])
        return
    if status == "validating_files":
        if job["bad_lines"]:
            lines = ", ".join(map(str, job["bad_lines"][:5]))
            message = f"The job failed due to an invalid training file. Invalid file format. Line(s) {lines}."
            _fail(job, message, "invalid_training_file", "training_file")
            return
        job["status"] = "queued"
        _event(job, "Files validated, moving job to queued state")
        return
    if status == "queued":
        job.update(status="running", estimated_finish=int(time.time()) + 60)
        _event(job, "Fine-tuning job started")
        return
    total = plan["steps"]
    if job["step"] < total:
        job["step"] += 1
        step = job["step"]
        loss = round(2.0 / (1 + step), 4)
        _event(
            job,
            f"Step {step}/{total}: training loss={loss}",
            step=step,
            total_steps=total,
            train_loss=loss,
            train_mean_token_accuracy=round(1 - loss / 3, 4),
        )
        job["checkpoints"].append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": f"ftckpt_{secrets.token_hex(12)}",
                "created_at": int(time.time()),
                "fine_tuned_model_checkpoint": f"{job['output']}:ckpt-step-{step}",
                "fine_tuning_job_id": job["id"],
                "metrics": {"step": float(step), "train_loss": loss},
                "step_number": step,
            }
        )
        return
    job.update(
        status="succeeded",
        fine_tuned_model=job["output"],
        finished_at=int(time.time()),
        estimated_finish=None,
        trained_tokens=job["tokens"] * job["method"][job["method"]["type"]]["hyperparameters"]["n_epochs"],
        result_files=[f"file-{secrets.token_hex(11)}"],
    )
    _event(job, f"New fine-tuned model created: {job['output']}")
    _event(job, "The job has successfully completed")
    if all(entry.get("id") != job["output"] for entry in fake.models):
        fake.models.append(
            {
                "id": job["output"],
                "object": "model",
                "created": job["finished_at"],
                "owned_by": job["organization_id"],
            }
        )


@route("GET", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)", server=FakeOpenAI)
async def retrieve_job(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    job = _job(fake, match["id"])
    answer = public(job)
    _advance(fake, job)
    return JSONResponse(answer)


def _page(items: list[dict[str, Any]], req: RecordedRequest, default: int) -> dict[str, Any]:
    """Newest first, from after the ``after`` id, at most ``limit``."""
    query = query_of(req)
    limit = query.get("limit")
    size = int(limit) if limit and limit.isdigit() and int(limit) > 0 else default
    newest = list(reversed(items))
    after = query.get("after")
    if after is not None:
        ids = [item["id"] for item in newest]
        newest = newest[ids.index(after) + 1 :] if after in ids else []
    page = newest[:size]
    return {"object": "list", "data": page, "has_more": len(newest) > size}


@route("GET", r"/v1/fine_tuning/jobs", server=FakeOpenAI)
async def list_jobs(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    body = _page([public(job) for job in jobs_of(fake).values()], req, 20)
    return JSONResponse(body)


@route("GET", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/events", server=FakeOpenAI)
async def list_events(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse(_page(_job(fake, match["id"])["events"], req, 20))


@route("GET", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/checkpoints", server=FakeOpenAI)
async def list_checkpoints(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    body = _page(_job(fake, match["id"])["checkpoints"], req, 10)
    body["first_id"] = body["data"][0]["id"] if body["data"] else None
    body["last_id"] = body["data"][-1]["id"] if body["data"] else None
    return JSONResponse(body)


@route("POST", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/cancel", server=FakeOpenAI)
async def cancel_job(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    job = _job(fake, match["id"])
    if job["status"] not in ACTIVE:
        raise _BadRequest(f"Job has already {job['status']}", code="invalid_request_error")
    job.update(status="cancelled", finished_at=int(time.time()), estimated_finish=None)
    _event(job, "Fine-tuning job cancelled")
    return JSONResponse(public(job))


@route("POST", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/pause", server=FakeOpenAI)
async def pause_job(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    job = _job(fake, match["id"])
    if job["status"] != "running":
        raise _BadRequest(
            f"Only a running job can be paused; this one is {job['status']}", code="invalid_request_error"
        )
    job["status"] = "paused"
    _event(job, "Fine-tuning job paused")
    return JSONResponse(public(job))


@route("POST", r"/v1/fine_tuning/jobs/(?P<id>[^/]+)/resume", server=FakeOpenAI)
async def resume_job(
    fake: FakeOpenAI, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    job = _job(fake, match["id"])
    if job["status"] != "paused":
        raise _BadRequest(
            f"Only a paused job can be resumed; this one is {job['status']}", code="invalid_request_error"
        )
    job["status"] = "running"
    _event(job, "Fine-tuning job resumed")
    return JSONResponse(public(job))
