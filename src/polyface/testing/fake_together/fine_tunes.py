"""Fake Together routes: the fine-tuning API, registered with ``@route(...)``.

- ``POST /v1/fine-tunes/estimate-price``: prices the training file's tokens (about 4 bytes a token) times
  the epochs, plus evaluations, at :data:`PRICE_PER_MTOK` (LoRA) or :data:`FULL_PRICE_PER_MTOK` (full), x2.5
  for DPO; ``allowed_to_proceed`` says whether it fits the plan's ``user_limit``.
- ``POST /v1/fine-tunes`` creates a job (appended to ``fake.fine_tunes``); ``GET /v1/fine-tunes`` lists them.
- ``GET /v1/fine-tunes/<id>`` answers the job, then moves it one step along: pending -> queued -> running
  (one training step per poll, each with an ``epoch_complete`` event carrying ``step``/``total_steps`` and a
  falling loss in its message) -> compressing -> uploading -> completed (the ``model_output_name`` is then
  served by chat, also under ``strict_models``). A job planned to fail moves to ``error`` with a ``job_error``
  event holding the message. Cancelling a running job answers ``cancel_requested`` (then ``cancelled`` after
  ``cancel_polls`` polls; immediately with the default ``cancel_polls=0``).
- ``GET /v1/fine-tunes/<id>/events``, ``/checkpoints``, ``POST /v1/fine-tunes/<id>/cancel`` and
  ``GET /v1/finetune/download?ft_id=...&checkpoint=adapter|merged`` (bytes, once completed).

Tests steer jobs with :func:`plan_fine_tunes` (jobs created later) and :func:`fail_fine_tune` (a live job).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_together.core import _BadRequest, _utc_now, route
from polyface.testing.fake_together.files import files_of

if TYPE_CHECKING:
    from polyface.testing.fake_together.core import FakeTogether, RecordedRequest

PRICE_PER_MTOK = 0.48
FULL_PRICE_PER_MTOK = 0.54
DPO_FACTOR = 2.5
BYTES_PER_TOKEN = 4
ACTIVE = ("pending", "queued", "running", "compressing", "uploading")
DEFAULT_PLAN: dict[str, Any] = {
    "steps": 3,
    "fail_at": None,
    "error": "Training failed: the loss became NaN",
    "error_status": "error",
    "cancel_polls": 0,
    "user_limit": 100.0,
    "price_per_mtok": None,
}


def plan_fine_tunes(fake: FakeTogether, **plan: Any) -> None:
    """How jobs created from now on behave (until the fake is reset).

    ``steps`` (training steps, one per poll), ``fail_at`` (a status: the job fails instead of leaving it,
    e.g. ``"running"``), ``error`` (the failure message), ``error_status`` (``"error"`` or
    ``"user_error"``), ``cancel_polls`` (polls a cancel stays ``cancel_requested``), ``user_limit`` (USD the
    account may spend), ``price_per_mtok`` (overrides the estimate's price).
    """
    unknown = set(plan) - set(DEFAULT_PLAN)
    if unknown:
        raise TypeError(f"unknown fine-tune plan setting(s): {', '.join(sorted(unknown))}")
    _settings(fake).update(plan)


def fail_fine_tune(fake: FakeTogether, job_id: str, message: str, status: str = "error") -> None:
    """Make a live job fail now, with ``message`` as its ``job_error`` event."""
    job = _job(fake, job_id)
    _fail(job, message, status)


def _settings(fake: FakeTogether) -> dict[str, Any]:
    settings: dict[str, Any] = fake.store.setdefault("fine_tune_plan", dict(DEFAULT_PLAN))
    return settings


def _plans(fake: FakeTogether) -> dict[str, dict[str, Any]]:
    plans: dict[str, dict[str, Any]] = fake.store.setdefault("fine_tune_jobs", {})
    return plans


def _job(fake: FakeTogether, job_id: str) -> dict[str, Any]:
    for job in fake.fine_tunes:
        if job["id"] == job_id:
            return job
    raise _BadRequest(f"Fine-tune job {job_id} not found", status=404, code="not_found")


def _body(req: RecordedRequest) -> dict[str, Any]:
    if not isinstance(req.json, dict):
        raise _BadRequest("The request body must be a JSON object", code="invalid_request_error")
    return req.json


def _file_tokens(fake: FakeTogether, file_id: Any) -> int:
    entry = files_of(fake).get(file_id) if isinstance(file_id, str) else None
    if entry is None:
        return 1000  # an unknown file: the old tests create jobs on made-up ids
    return max(1, math.ceil(len(entry["content"]) / BYTES_PER_TOKEN))


def _event(job: dict[str, Any], kind: str, message: str, *, level: str = "info", **extra: Any) -> None:
    plan_steps = job.get("_steps", 0)
    event = {
        "object": "fine-tune-event",
        "created_at": _utc_now(),
        "level": level,
        "message": message,
        "type": kind,
        "param_count": 8_030_261_248,
        "token_count": job.get("token_count", 0),
        "total_steps": plan_steps,
        "wandb_url": "",
        "step": extra.pop("step", 0),
        "checkpoint_path": extra.pop("checkpoint_path", ""),
        "model_path": extra.pop("model_path", ""),
        "training_offset": 0,
        "hash": uuid.uuid4().hex[:16],
    }
    job["events"].append(event)
    job["updated_at"] = event["created_at"]


def _fail(job: dict[str, Any], message: str, status: str) -> None:
    job["status"] = status
    _event(job, "job_error", message, level="error")


def _check_training_type(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or value.get("type") not in ("Full", "Lora"):
        raise _BadRequest("'training_type.type' must be 'Full' or 'Lora'", code="invalid_request_error")
    if value["type"] == "Lora":
        for name in ("lora_r", "lora_alpha"):
            if not isinstance(value.get(name), int) or value[name] <= 0:
                raise _BadRequest(
                    f"'training_type.{name}' must be a positive integer", code="invalid_request_error"
                )


def _check_training_method(value: Any) -> str:
    if value is None:
        return "sft"
    if not isinstance(value, dict) or value.get("method") not in ("sft", "dpo"):
        raise _BadRequest("'training_method.method' must be 'sft' or 'dpo'", code="invalid_request_error")
    return str(value["method"])


def _price(fake: FakeTogether, body: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(fake)
    _check_training_type(body.get("training_type"))
    method = _check_training_method(body.get("training_method"))
    epochs = body.get("n_epochs") or 1
    n_evals = body.get("n_evals") or 0
    train = _file_tokens(fake, body.get("training_file")) * epochs
    evals = _file_tokens(fake, body.get("validation_file")) * n_evals if body.get("validation_file") else 0
    training_type = body.get("training_type") or {"type": "Lora"}
    per_mtok = settings["price_per_mtok"]
    if per_mtok is None:
        per_mtok = FULL_PRICE_PER_MTOK if training_type.get("type") == "Full" else PRICE_PER_MTOK
    if method == "dpo":
        per_mtok *= DPO_FACTOR
    total = (train + evals) * per_mtok / 1_000_000
    return {
        "estimated_total_price": total,
        "allowed_to_proceed": total <= settings["user_limit"],
        "user_limit": settings["user_limit"],
        "estimated_train_token_count": train,
        "estimated_eval_token_count": evals,
    }


def public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API answers it (internal ``_`` keys dropped)."""
    return {key: value for key, value in job.items() if not key.startswith("_")}


@route("POST", r"/v1/fine-tunes/estimate-price")
async def estimate_price(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    body = _body(req)
    if not isinstance(body.get("training_file"), str) or not body["training_file"]:
        raise _BadRequest("'training_file' is required and must be a string", code="invalid_request_error")
    return JSONResponse(_price(fake, body))


@route("POST", r"/v1/fine-tunes")
async def create(fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    body = _body(req)
    model = body.get("model")
    training_file = body.get("training_file")
    if not isinstance(model, str) or not model:
        raise _BadRequest("'model' is required and must be a string", code="invalid_request_error")
    if not isinstance(training_file, str) or not training_file:
        raise _BadRequest("'training_file' is required and must be a string", code="invalid_request_error")
    _check_training_type(body.get("training_type"))
    _check_training_method(body.get("training_method"))
    settings = dict(_settings(fake))
    job_id = f"ft-{uuid.uuid4()}"
    now = _utc_now()
    suffix = body.get("suffix")
    batch_size = body.get("batch_size", "max")
    job: dict[str, Any] = {
        "id": job_id,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
        "model": model,
        "training_file": training_file,
        "model_output_name": f"fake-user/{model.rsplit('/', 1)[-1]}"
        + (f"-{suffix}" if isinstance(suffix, str) and suffix else "")
        + f"-{job_id[3:11]}",
        "n_epochs": body.get("n_epochs", 1),
        "n_checkpoints": body.get("n_checkpoints", 1),
        "n_evals": body.get("n_evals", 0),
        "batch_size": batch_size if isinstance(batch_size, int) else 16,
        "learning_rate": body.get("learning_rate", 1e-5),
        "warmup_ratio": body.get("warmup_ratio", 0.0),
        "max_grad_norm": body.get("max_grad_norm", 1.0),
        "weight_decay": body.get("weight_decay", 0.0),
        "lr_scheduler": body.get("lr_scheduler")
        or {"lr_scheduler_type": "linear", "lr_scheduler_args": {"min_lr_ratio": 0.0}},
        "training_type": body.get("training_type") or {"type": "Full"},
        "training_method": body.get("training_method") or {"method": "sft", "train_on_inputs": "auto"},
        "events": [],
        "token_count": _file_tokens(fake, training_file) * (body.get("n_epochs") or 1),
        "total_price": 0,
        "user_id": "fake-user",
        "_steps": int(settings["steps"]),
        "_step": 0,
    }
    for optional in ("validation_file", "suffix", "wandb_project_name", "wandb_name", "from_checkpoint"):
        if isinstance(body.get(optional), str):
            job[optional] = body[optional]
    _event(job, "job_pending", "Fine tune request created")
    with fake._lock:
        if generation == fake._generation:
            fake._fine_tunes.append(job)
            _plans(fake)[job_id] = settings
    return JSONResponse(public(job))


@route("GET", r"/v1/fine-tunes")
async def list_jobs(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse({"data": [public(job) for job in fake.fine_tunes]})


@route("GET", r"/v1/fine-tunes/(?P<id>ft-[^/]+)")
async def retrieve(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    job = _job(fake, match["id"])
    answer = JSONResponse(public(job))
    _advance(fake, job)
    return answer


def _advance(fake: FakeTogether, job: dict[str, Any]) -> None:
    """Move a job one step along its life (called after each poll)."""
    plan = _plans(fake).get(job["id"], DEFAULT_PLAN)
    status = job["status"]
    if status == "cancel_requested":
        left = job.get("_cancel_polls", 0) - 1
        job["_cancel_polls"] = left
        if left <= 0:
            job["status"] = "cancelled"
            _event(job, "job_stopped", "Job was cancelled by the user")
        return
    if status not in ACTIVE:
        return
    if plan.get("fail_at") == status:
        _fail(job, str(plan["error"]), str(plan["error_status"]))
        return
    if status == "pending":
        job["status"] = "queued"
        _event(job, "job_start", "Job started; waiting for a GPU")
    elif status == "queued":
        job["status"] = "running"
        job["started_at"] = _utc_now()
        _event(job, "training_start", f"Training started for model {job['model']}")
    elif status == "running":
        job["_step"] += 1
        step, total = job["_step"], job["_steps"]
        loss = round(2.5 / (1 + step), 4)
        _event(job, "epoch_complete", f"Epoch completed, at step {step}/{total}: loss {loss}", step=step)
        if step >= total:
            path = f"s3://fake-together/{job['id']}/checkpoint-{step}"
            _event(
                job, "checkpoint_save", f"Checkpoint saved at step {step}", step=step, checkpoint_path=path
            )
            job["status"] = "compressing"
            _event(job, "model_compressing", "Compressing output model")
    elif status == "compressing":
        job["status"] = "uploading"
        _event(job, "model_uploading", "Uploading output model")
    elif status == "uploading":
        job["status"] = "completed"
        name = job["model_output_name"]
        _event(job, "model_upload_complete", "Model upload complete", model_path=f"s3://fake-together/{name}")
        _event(job, "job_complete", f"Fine-tuning job finished; the model is available as {name}")
        job["total_price"] = 1
        if all(entry.get("id") != name for entry in fake.models):
            base = next((m for m in fake.models if m.get("id") == job["model"]), None)
            entry = dict(base) if base is not None else {"object": "model", "created": 0, "type": "chat"}
            entry.update(id=name, display_name=name, organization="fake-user")
            fake.models.append(entry)


@route("GET", r"/v1/fine-tunes/(?P<id>ft-[^/]+)/events")
async def events(fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    return JSONResponse({"data": list(_job(fake, match["id"])["events"])})


def _checkpoints(job: dict[str, Any]) -> list[dict[str, Any]]:
    out = [
        {
            "step": e["step"],
            "path": e["checkpoint_path"],
            "created_at": e["created_at"],
            "checkpoint_type": "Intermediate",
        }
        for e in job["events"]
        if e["type"] == "checkpoint_save"
    ]
    if job["status"] == "completed":
        step = job["_step"]
        now = job["updated_at"]
        name = job["model_output_name"]
        out.append({"step": step, "path": name, "created_at": now, "checkpoint_type": "Final Merged"})
        if job["training_type"].get("type") == "Lora":
            out.append(
                {
                    "step": step,
                    "path": f"{name}-adapter",
                    "created_at": now,
                    "checkpoint_type": "Final Adapter",
                }
            )
    return out


@route("GET", r"/v1/fine-tunes/(?P<id>ft-[^/]+)/checkpoints")
async def checkpoints(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    return JSONResponse({"data": _checkpoints(_job(fake, match["id"]))})


@route("POST", r"/v1/fine-tunes/(?P<id>ft-[^/]+)/cancel")
async def cancel(fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]) -> Response:
    job = _job(fake, match["id"])
    if job["status"] in ACTIVE:
        polls = int(_plans(fake).get(job["id"], DEFAULT_PLAN).get("cancel_polls", 0))
        _event(job, "cancel_requested", "Cancellation requested by the user")
        if polls <= 0:
            job["status"] = "cancelled"
            _event(job, "job_stopped", "Job was cancelled by the user")
        else:
            job["status"] = "cancel_requested"
            job["_cancel_polls"] = polls
    return JSONResponse(public(job))


@route("GET", r"/v1/finetune/download")
async def download(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: re.Match[str]
) -> Response:
    query = {key: values[-1] for key, values in parse_qs(req.query).items()}
    job = _job(fake, query.get("ft_id", ""))
    checkpoint = query.get("checkpoint", "merged")
    if "checkpoint_step" not in query and checkpoint not in ("merged", "adapter", "model_output_path"):
        raise _BadRequest("'checkpoint' must be merged, adapter or model_output_path")
    if job["status"] != "completed":
        raise _BadRequest(f"Fine-tune job {job['id']} is {job['status']}; download it once it completed")
    if checkpoint == "adapter" and job["training_type"].get("type") != "Lora":
        raise _BadRequest("Only LoRA jobs have an adapter checkpoint; download 'merged'")
    manifest = json.dumps({"job": job["id"], "model": job["model_output_name"], "checkpoint": checkpoint})
    payload = (
        b"FAKE-TOGETHER-MODEL\n" + manifest.encode() + b"\n" + hashlib.sha256(manifest.encode()).digest() * 64
    )
    name = f"{job['model_output_name'].rsplit('/', 1)[-1]}-{checkpoint}.tar.zst"
    return Response(
        payload,
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
