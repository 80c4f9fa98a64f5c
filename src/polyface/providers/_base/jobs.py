"""Long-running provider jobs (fine-tunes, videos): poll until done, show progress, re-attach by id.

A provider's job handle subclasses :class:`Job` and says how to fetch its state and
read it; waiting, backoff between polls, progress display and timeouts live here once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

from polyface.errors import JobFailed, JobTimeout

Info = TypeVar("Info")
ProgressCallback = Callable[[Any], None]


class _Display:
    """A Rich progress bar on a terminal; a callback; or nothing."""

    def __init__(self, progress: bool | ProgressCallback, title: str) -> None:
        self.callback = progress if callable(progress) else None
        self.bar: Any = None
        self.task: Any = None
        self.finished = False
        if progress is True and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                transient=False,
            )
            self.task = self.bar.add_task(title, total=1.0, status="")
            self.bar.start()

    def update(self, info: Any, fraction: float | None, status: str) -> None:
        if self.callback is not None:
            self.callback(info)
        if self.bar is not None:
            self.bar.update(self.task, completed=fraction or 0.0, status=status)

    def __enter__(self) -> _Display:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            if self.finished:
                self.bar.update(self.task, completed=1.0)
            self.bar.stop()


class Job(Generic[Info]):
    """A handle on one provider job. Subclasses implement the ``_fetch``/``_afetch`` and ``_read`` hooks."""

    poll_interval: float = 2.0
    max_poll_interval: float = 15.0

    def __init__(self, provider: str, job_id: str, info: Info | None = None) -> None:
        self.provider = provider
        self.id = job_id
        self.info = info

    # ---- hooks -------------------------------------------------------------------------------
    def _fetch(self) -> Info:
        raise NotImplementedError

    async def _afetch(self) -> Info:
        raise NotImplementedError

    def _status(self, info: Info) -> str:
        raise NotImplementedError

    def _done(self, info: Info) -> bool:
        raise NotImplementedError

    def _succeeded(self, info: Info) -> bool:
        raise NotImplementedError

    def _fraction(self, info: Info) -> float | None:
        return None

    def _failure_reason(self, info: Info) -> str | None:
        return None

    # ---- public --------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """The status when last fetched (``refresh()`` fetches it anew)."""
        if self.info is None:
            self.refresh()
        assert self.info is not None
        return self._status(self.info)

    def refresh(self) -> Info:
        self.info = self._fetch()
        return self.info

    async def arefresh(self) -> Info:
        self.info = await self._afetch()
        return self.info

    def _check(self, info: Info) -> None:
        if not self._succeeded(info):
            raise JobFailed(self.provider, self.id, self._status(info), self._failure_reason(info))

    def _after_poll(self, info: Info, display: _Display, deadline: float | None, interval: float) -> bool:
        """Show ``info``; True when the job is over (raising if it failed), False to poll again."""
        display.update(info, self._fraction(info), self._status(info))
        if self._done(info):
            display.finished = True
            self._check(info)
            return True
        if deadline is not None and time.monotonic() + interval > deadline:
            raise JobTimeout(
                f"{self.provider} job {self.id} is still {self._status(info)!r} after the timeout; "
                "it goes on: wait again or re-attach later by its id."
            )
        return False

    def wait(
        self,
        *,
        progress: bool | ProgressCallback = False,
        timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> Self:
        """Poll until the job ends; return self. ``progress=True`` shows a bar on a terminal; a callable
        gets each state. Raises :class:`JobFailed` with the vendor's reason if it failed or was cancelled,
        :class:`JobTimeout` after ``timeout`` seconds (the job itself goes on)."""
        interval = poll_interval or self.poll_interval
        deadline = None if timeout is None else time.monotonic() + timeout
        with _Display(progress, f"{self.provider} {self.id}") as display:
            while not self._after_poll(self.refresh(), display, deadline, interval):
                time.sleep(interval)
                interval = min(interval * 1.5, self.max_poll_interval)
        return self

    async def async_wait(
        self,
        *,
        progress: bool | ProgressCallback = False,
        timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> Self:
        """The async twin of :meth:`wait` (``await`` being a keyword, there is no ``await()``)."""
        interval = poll_interval or self.poll_interval
        deadline = None if timeout is None else time.monotonic() + timeout
        with _Display(progress, f"{self.provider} {self.id}") as display:
            while not self._after_poll(await self.arefresh(), display, deadline, interval):
                await asyncio.sleep(interval)
                interval = min(interval * 1.5, self.max_poll_interval)
        return self

    def __repr__(self) -> str:
        status = self._status(self.info) if self.info is not None else "?"
        return f"{type(self).__name__}(id={self.id!r}, status={status!r})"
