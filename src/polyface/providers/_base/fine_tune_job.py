"""The fine-tuning job handle every provider shares: status, progress, events, checkpoints, cancel.

A provider's job class subclasses :class:`FineTuneJobHandle` and gives it an *owner* (its fine-tuning
capability) that knows the vendor's endpoints (:class:`FineTuneJobSource`); polling, the progress display
(new events printed above the bar), failure reasons and the read-only properties live here once. The
provider adds what only it has (Together's weight download, OpenAI's pause/resume).
"""

from __future__ import annotations

import builtins
from typing import Protocol

from polyface.providers._base.jobs import Job, _Display
from polyface.types.fine_tuning import (
    FineTuneCheckpoint,
    FineTuneEvent,
    FineTuneJobInfo,
    FineTuneStatus,
    PriceEstimate,
)


class FineTuneJobSource(Protocol):
    """What a job handle asks its provider's fine-tuning capability for (all by job id)."""

    def _retrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo: ...

    async def _aretrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo: ...

    def _events(self, job_id: str) -> builtins.list[FineTuneEvent]: ...

    async def _aevents(self, job_id: str) -> builtins.list[FineTuneEvent]: ...

    def _checkpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]: ...

    async def _acheckpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]: ...

    def cancel(self, job_id: str) -> FineTuneJobInfo: ...

    async def acancel(self, job_id: str) -> FineTuneJobInfo: ...


class FineTuneJobHandle(Job[FineTuneJobInfo]):
    """A fine-tuning job. ``wait()``/``async_wait()`` poll it; the other methods have ``a``-prefixed twins."""

    poll_interval = 5.0
    max_poll_interval = 30.0

    def __init__(
        self,
        provider: str,
        owner: FineTuneJobSource,
        job_id: str,
        info: FineTuneJobInfo | None = None,
        *,
        estimate: PriceEstimate | None = None,
    ) -> None:
        super().__init__(provider, job_id, info)
        self._owner = owner
        self.estimate = estimate if estimate is not None else (info.estimate if info else None)
        """The price estimated before the job started (None for a re-attached job)."""
        self._events_shown = 0

    # ---- Job hooks --------------------------------------------------------------------------------
    def _fetch(self) -> FineTuneJobInfo:
        return self._owner._retrieve(self.id, self.estimate)

    async def _afetch(self) -> FineTuneJobInfo:
        return await self._owner._aretrieve(self.id, self.estimate)

    def _status(self, info: FineTuneJobInfo) -> str:
        return info.status

    def _done(self, info: FineTuneJobInfo) -> bool:
        return info.done

    def _succeeded(self, info: FineTuneJobInfo) -> bool:
        return info.succeeded

    def _fraction(self, info: FineTuneJobInfo) -> float | None:
        return info.progress

    def _after_poll(
        self, info: FineTuneJobInfo, display: _Display, deadline: float | None, interval: float
    ) -> bool:
        # On a terminal, print the job's new events above the progress bar as they arrive.
        if display.bar is not None:
            for event in info.events[self._events_shown :]:
                display.bar.console.print(event.message, markup=False, highlight=False)
        self._events_shown = len(info.events)
        return super()._after_poll(info, display, deadline, interval)

    def _failure_reason(self, info: FineTuneJobInfo) -> str | None:
        if info.status == "cancelled":
            return "the job was cancelled"
        return info.error

    # ---- what a caller reads ---------------------------------------------------------------------------
    def _info(self) -> FineTuneJobInfo:
        if self.info is None:
            self.refresh()
        assert self.info is not None
        return self.info

    @property
    def status(self) -> FineTuneStatus:
        """polyface's status at the last refresh (vendor synonyms mapped; an unknown word is ``"unknown"``,
        see :attr:`raw_status`)."""
        return self._info().status

    @property
    def raw_status(self) -> str | None:
        """The vendor's own status word at the last refresh."""
        return self._info().raw_status

    @property
    def result_model(self) -> str | None:
        """The model to call once the job succeeded: ``adapter.text.generate(model=job.result_model)``."""
        return self._info().result_model

    @property
    def estimated_cost(self) -> float | None:
        """USD the job was estimated at before it started (None for a re-attached job)."""
        return self.estimate.total_usd if self.estimate is not None else None

    # ---- actions ------------------------------------------------------------------------------------
    def events(self) -> builtins.list[FineTuneEvent]:
        """The job's log, oldest first (metrics events carry ``step``, ``loss``...)."""
        return self._owner._events(self.id)

    async def aevents(self) -> builtins.list[FineTuneEvent]:
        return await self._owner._aevents(self.id)

    def checkpoints(self) -> builtins.list[FineTuneCheckpoint]:
        return self._owner._checkpoints(self.id)

    async def acheckpoints(self) -> builtins.list[FineTuneCheckpoint]:
        return await self._owner._acheckpoints(self.id)

    def cancel(self) -> FineTuneJobInfo:
        """Ask the vendor to stop the job."""
        self.info = self._owner.cancel(self.id)
        return self.info

    async def acancel(self) -> FineTuneJobInfo:
        self.info = await self._owner.acancel(self.id)
        return self.info


__all__ = ["FineTuneJobHandle", "FineTuneJobSource"]
