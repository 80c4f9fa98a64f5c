"""The shared job poller: waits, reports progress, surfaces failures, times out without killing the job."""

from __future__ import annotations

import pytest

from polyface.errors import JobFailed, JobTimeout
from polyface.providers._base.jobs import Job


class ScriptedJob(Job[dict[str, object]]):
    """A job whose successive states are given up front."""

    poll_interval = 0.001

    def __init__(self, states: list[dict[str, object]]) -> None:
        super().__init__("Fake", "job-1")
        self.states = states
        self.polls = 0

    def _fetch(self) -> dict[str, object]:
        state = self.states[min(self.polls, len(self.states) - 1)]
        self.polls += 1
        return state

    async def _afetch(self) -> dict[str, object]:
        return self._fetch()

    def _status(self, info: dict[str, object]) -> str:
        return str(info["status"])

    def _done(self, info: dict[str, object]) -> bool:
        return info["status"] in ("done", "failed")

    def _succeeded(self, info: dict[str, object]) -> bool:
        return info["status"] == "done"

    def _fraction(self, info: dict[str, object]) -> float | None:
        value = info.get("progress")
        return float(value) if isinstance(value, int | float) else None

    def _failure_reason(self, info: dict[str, object]) -> str | None:
        return str(info.get("error")) if info.get("error") else None


RUNNING = [
    {"status": "queued"},
    {"status": "running", "progress": 0.5},
    {"status": "running", "progress": 0.9},
]


def test_wait_polls_until_done_and_reports_each_state() -> None:
    seen: list[object] = []
    job = ScriptedJob([*RUNNING, {"status": "done", "progress": 1.0}])
    assert job.wait(progress=seen.append) is job
    assert [s["status"] for s in seen] == ["queued", "running", "running", "done"]  # type: ignore[index]
    assert job.status == "done" and job.polls == 4


def test_failure_carries_the_vendor_reason() -> None:
    job = ScriptedJob([*RUNNING, {"status": "failed", "error": "CUDA out of memory"}])
    with pytest.raises(JobFailed, match="CUDA out of memory") as info:
        job.wait()
    assert info.value.status == "failed" and info.value.job_id == "job-1"


def test_timeout_leaves_the_job_going() -> None:
    job = ScriptedJob([{"status": "running"}])
    with pytest.raises(JobTimeout, match="re-attach"):
        job.wait(timeout=0.05)
    assert job.polls >= 1


async def test_async_wait() -> None:
    job = ScriptedJob([*RUNNING, {"status": "done"}])
    assert await job.async_wait() is job
    assert job.polls == 4
