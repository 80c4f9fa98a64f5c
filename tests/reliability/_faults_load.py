"""Load for the fault tests: many calls at once (threads, or tasks in one event loop), each outcome sorted
into ok / failed with a polyface error / lost, and a one-line summary per fault.

A call is LOST when it neither returned a valid result nor raised a polyface error: it raised anything
else (a raw ``JSONDecodeError``, an ``httpx`` error, a pydantic error), returned something invalid, or hung
past the deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from polyface.errors import PolyfaceError
from polyface.testing.fake_together import FakeServer

HANG_S = 20.0
"""A call still running this long after the load started counts as lost (hung)."""


@dataclass
class Tally:
    """What happened to ``calls`` calls under one fault."""

    fault: str
    calls: int
    ok: int = 0
    failed: list[PolyfaceError] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    client_sent: int = 0
    """Requests the client sent (``HttpEngine.stats``), retries included."""
    client_retried: int = 0
    fake_seen: int = 0
    """Requests to the faulty path as the fake recorded them (plus any it abandoned mid-body)."""
    faults_served: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        kinds = sorted({type(e).__name__ for e in self.failed})
        return (
            f"[fault] {self.fault:<38} calls={self.calls:<3} sent={self.client_sent:<4} "
            f"seen={self.fake_seen:<4} injected={self.faults_served:<4} retried={self.client_retried:<4} "
            f"ok={self.ok:<3} failed={len(self.failed):<3} lost={len(self.lost)} "
            f"{','.join(kinds) or '-'} {self.seconds:.2f}s"
        )

    def assert_no_loss(self) -> None:
        assert not self.lost, f"{self.fault}: {len(self.lost)} call(s) lost: {self.lost[:3]}"
        assert self.ok + len(self.failed) == self.calls, self.line()


class Counter:
    """Client-side and fake-side counts before and after a load."""

    def __init__(self, adapter: Any, fake: FakeServer, path: str) -> None:
        self.http = adapter.config.http
        self.fake = fake
        self.path = path
        self.start = self._now()

    def _now(self) -> tuple[int, int, int, int]:
        seen = sum(r.path == self.path for r in self.fake.requests)
        seen += sum(r.path == self.path for r in self.fake.abandoned_requests)
        served = sum(self.fake.faults_served.values())
        return self.http.stats["requests"], self.http.stats["retries"], seen, served

    def fill(self, tally: Tally) -> Tally:
        now = self._now()
        tally.client_sent, tally.client_retried, tally.fake_seen, tally.faults_served = (
            b - a for a, b in zip(self.start, now, strict=True)
        )
        return tally


def _sort(tally: Tally, i: int, outcome: Any, valid: Callable[[int, Any], bool]) -> None:
    if isinstance(outcome, PolyfaceError):
        tally.failed.append(outcome)
    elif isinstance(outcome, BaseException):
        tally.lost.append(f"call {i}: {type(outcome).__module__}.{type(outcome).__name__}: {outcome}")
    elif valid(i, outcome):
        tally.ok += 1
    else:
        tally.lost.append(f"call {i}: invalid result {outcome!r:.200}")


def in_threads(
    fault: str, calls: int, call: Callable[[int], Any], valid: Callable[[int, Any], bool]
) -> Tally:
    """``call(i)`` for i in range(calls), each in its own thread, all at once."""
    tally = Tally(fault, calls)
    start = time.monotonic()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=calls, thread_name_prefix="load")
    futures = [pool.submit(call, i) for i in range(calls)]
    for i, future in enumerate(futures):
        try:
            outcome = future.result(timeout=max(0.0, start + HANG_S - time.monotonic()))
        except concurrent.futures.TimeoutError:
            tally.lost.append(f"call {i}: hung for more than {HANG_S} s")
            continue
        except BaseException as exc:  # sorted below: a polyface error or a loss
            outcome = exc
        _sort(tally, i, outcome, valid)
    pool.shutdown(wait=False, cancel_futures=True)
    tally.seconds = time.monotonic() - start
    return tally


def in_tasks(
    fault: str,
    calls: int,
    call: Callable[[int], Awaitable[Any]],
    valid: Callable[[int, Any], bool],
    *,
    setup: Callable[[], Awaitable[Any]] | None = None,
    teardown: Callable[[], Awaitable[Any]] | None = None,
) -> Tally:
    """``await call(i)`` for i in range(calls), as tasks of one new event loop, all at once."""
    tally = Tally(fault, calls)

    async def main() -> list[Any]:
        if setup is not None:
            await setup()
        try:

            async def guarded(i: int) -> Any:
                try:
                    return await asyncio.wait_for(call(i), HANG_S)
                except TimeoutError:
                    return TimeoutError(f"hung for more than {HANG_S} s")
                except BaseException as exc:  # sorted by the caller
                    return exc

            return await asyncio.gather(*(guarded(i) for i in range(calls)))
        finally:
            if teardown is not None:
                await teardown()

    start = time.monotonic()
    outcomes = asyncio.run(main())
    tally.seconds = time.monotonic() - start
    for i, outcome in enumerate(outcomes):
        _sort(tally, i, outcome, valid)
    return tally


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` (work the fake finishes after the client gave up) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def says_what_to_do(error: PolyfaceError, *phrases: str) -> bool:
    """The message names the failure and carries the hint (what to do), including each of ``phrases``."""
    text = str(error)
    hint = getattr(error, "hint", "")
    return bool(hint) and hint in text and all(p in text for p in phrases)
