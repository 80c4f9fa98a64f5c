"""The runs feed ends with an ``error`` event when the providers stay unreachable, instead of polling
for ever, and keeps going while any of them still answers."""

from __future__ import annotations

import json
from typing import Any

from polyface.persona.views import RunInfo
from polyface.server.api import runs as runs_api


class _Request:
    async def is_disconnected(self) -> bool:
        return False


class _Runs:
    """Runs whose provider fails ``failures`` refreshes (None: always), then reports success."""

    def __init__(self, failures: int | None) -> None:
        self.failures = failures
        self.polls = 0

    def refresh(self) -> list[RunInfo]:
        self.polls += 1
        base = RunInfo(
            id="run-1",
            persona="rex",
            batch_id="b",
            modality="text",
            provider="together",
            base_model="m",
            status="running",
            provider_job_id="ft-1",
        )
        if self.failures is None or self.polls <= self.failures:
            return [base.model_copy(update={"refresh_error": "Together: HTTP 503 (ProviderUnavailable)"})]
        return [base.model_copy(update={"status": "succeeded", "result_model": "m:rex"})]


async def _events(runs: _Runs) -> list[tuple[str, dict[str, Any]]]:
    out = []
    async for chunk in runs_api.run_events(_Request(), runs, 0.0):  # type: ignore[arg-type]
        lines = chunk.decode().strip().splitlines()
        if lines and lines[0].startswith("event: "):
            out.append((lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: "))))
    return out


async def test_the_feed_ends_with_an_error_when_providers_stay_unreachable() -> None:
    runs = _Runs(failures=None)
    events = await _events(runs)
    assert runs.polls == runs_api.MAX_FAILED_POLLS
    assert [e for e, _ in events] == ["run", "error"]
    assert events[0][1]["refresh_error"].startswith("Together: HTTP 503")
    error = events[-1][1]
    assert error["runs"] == ["run-1"]
    assert (
        "could not be reached for 20 polls" in error["message"] and "open the feed again" in error["message"]
    )


async def test_a_provider_that_recovers_in_time_ends_the_feed_with_done() -> None:
    runs = _Runs(failures=runs_api.MAX_FAILED_POLLS - 1)
    events = await _events(runs)
    assert [e for e, _ in events] == ["run", "run", "done"]
    assert events[-1][1]["statuses"] == {"run-1": "succeeded"}
