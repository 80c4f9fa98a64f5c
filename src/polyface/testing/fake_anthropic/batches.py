"""Fake Anthropic routes: Message Batches (``/v1/messages/batches``: create, get, list, cancel, results,
delete).

Each request of a batch is answered at creation as ``POST /v1/messages`` would answer it (an invalid one is
``errored``); the batch stays ``in_progress`` for :attr:`FakeAnthropic.batch_polls` reads of it, then
``ends``. A batch canceled before it ended ends with every request ``canceled``.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_anthropic.core import FakeAnthropic
from polyface.testing.fake_anthropic.messages import INVALID, answer, page
from polyface.testing.fake_together.core import RecordedRequest, _BadRequest, route

CUSTOM_ID: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ID: Final = r"(?P<batch_id>[^/]+)"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _batches(fake: FakeAnthropic) -> dict[str, dict[str, Any]]:
    batches: dict[str, dict[str, Any]] = fake.store.setdefault("batches", {})
    return batches


def _find(fake: FakeAnthropic, batch_id: str) -> dict[str, Any]:
    batch = _batches(fake).get(batch_id)
    if batch is None:
        raise _BadRequest(f"message_batch_id: no batch {batch_id!r}", status=404, code="not_found_error")
    return batch


def _end(fake: FakeAnthropic, batch: dict[str, Any]) -> None:
    info = batch["info"]
    if batch["canceled"]:
        batch["results"] = [
            {"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in batch["results"]
        ]
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    for result in batch["results"]:
        counts[result["result"]["type"]] += 1
    info["request_counts"] = counts
    info["processing_status"] = "ended"
    info["ended_at"] = _iso(_now())
    info["results_url"] = f"{fake.base_url}/v1/messages/batches/{info['id']}/results"


@route("POST", r"/v1/messages/batches", server=FakeAnthropic)
async def create_batch(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    body = req.json
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise _BadRequest("requests: at least one request is required", code=INVALID)
    seen: set[str] = set()
    results = []
    for i, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise _BadRequest(f"requests.{i}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$", code=INVALID)
        if custom_id in seen:
            raise _BadRequest(f"requests.{i}.custom_id: {custom_id!r} is not unique", code=INVALID)
        seen.add(custom_id)
        try:
            result: dict[str, Any] = {"type": "succeeded", "message": answer(item.get("params"))}
        except _BadRequest as exc:
            error = {
                "type": "error",
                "error": {"type": exc.code or INVALID, "message": exc.message},
                "request_id": None,
            }
            result = {"type": "errored", "error": error}
        results.append({"custom_id": custom_id, "result": result})
    created = _now()
    batch_id = "msgbatch_01" + uuid.uuid4().hex[:22]
    info = {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": "in_progress",
        "request_counts": {
            "processing": len(results),
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": _iso(created),
        "expires_at": _iso(created + timedelta(hours=24)),
        "ended_at": None,
        "cancel_initiated_at": None,
        "archived_at": None,
        "results_url": None,
    }
    _batches(fake)[batch_id] = {"info": info, "results": results, "polls": 0, "canceled": False}
    return JSONResponse(info)


@route("GET", r"/v1/messages/batches", server=FakeAnthropic)
async def list_batches(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    newest_first = [b["info"] for b in reversed(_batches(fake).values())]
    return JSONResponse(page(newest_first, req.query, cap=fake.page_limit))


@route("GET", rf"/v1/messages/batches/{ID}", server=FakeAnthropic)
async def get_batch(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    batch = _find(fake, match["batch_id"])
    if batch["info"]["processing_status"] != "ended":
        batch["polls"] += 1
        if batch["polls"] > fake.batch_polls:
            _end(fake, batch)
    return JSONResponse(batch["info"])


@route("POST", rf"/v1/messages/batches/{ID}/cancel", server=FakeAnthropic)
async def cancel_batch(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    batch = _find(fake, match["batch_id"])
    info = batch["info"]
    if info["processing_status"] == "in_progress":
        batch["canceled"] = True
        info["processing_status"] = "canceling"
        info["cancel_initiated_at"] = _iso(_now())
    return JSONResponse(info)


@route("GET", rf"/v1/messages/batches/{ID}/results", server=FakeAnthropic)
async def batch_results(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    batch = _find(fake, match["batch_id"])
    if batch["info"]["processing_status"] != "ended":
        raise _BadRequest(
            "The batch is still processing; its results are available once it ended.", code=INVALID
        )
    lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in batch["results"])
    return Response(lines, media_type="application/x-jsonl")


@route("DELETE", rf"/v1/messages/batches/{ID}", server=FakeAnthropic)
async def delete_batch(fake: FakeAnthropic, req: RecordedRequest, generation: int, match: Any) -> Response:
    batch = _find(fake, match["batch_id"])
    if batch["info"]["processing_status"] != "ended":
        raise _BadRequest("A batch must end (or be canceled) before it can be deleted.", code=INVALID)
    del _batches(fake)[match["batch_id"]]
    return JSONResponse({"id": match["batch_id"], "type": "message_batch_deleted"})
