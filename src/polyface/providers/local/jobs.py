"""Training jobs that run on this machine: a background thread per job, its state in a JSON file.

A local job behaves like a vendor's: ``train`` returns a handle at once, ``wait(progress=True)`` follows
it (loss per step arrives as events), ``get(job_id)`` re-attaches from any process, ``cancel`` stops it
between steps. The state file is rewritten atomically at every event, so another process reads a
consistent snapshot; a job whose process died mid-way reads as ``failed`` ("interrupted"), and the
model it was writing never appears (trainers write to a staging folder committed only at the end).
"""

from __future__ import annotations

import builtins
import os
import threading
import traceback
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from polyface.errors import InvalidArgument, NotFound
from polyface.providers._base.fine_tune_job import FineTuneJobHandle
from polyface.providers._base.telemetry import get_logger
from polyface.providers.local.runtime import pid_alive, to_thread
from polyface.providers.local.store import LocalModel, LocalStore, write_json
from polyface.types.fine_tuning import (
    FineTuneCheckpoint,
    FineTuneEvent,
    FineTuneJobInfo,
    FineTuneModality,
    Hyperparameters,
    PriceEstimate,
)

if TYPE_CHECKING:
    from polyface.providers.local.config import LocalConfig

log = get_logger("polyface.providers.local")

_RUNNING = threading.Semaphore(1)
"""Local jobs train one at a time per process: on a few CPU cores, two trainings side by side each run
far slower than twice as long (their thread pools spin against each other)."""


class Cancelled(Exception):
    """Raised inside a trainer when its job was cancelled (caught by the runner)."""


class TrainingContext:
    """What a trainer gets: where to write its files, and how to report progress."""

    def __init__(self, jobs: LocalJobs, job_id: str, staging: Path) -> None:
        self._jobs = jobs
        self.job_id = job_id
        self.staging = staging
        """The folder the trained model's files go into; it becomes the model's folder on success."""

    def event(self, message: str, **fields: Any) -> None:
        """Record an event (``step``, ``total_steps``, ``loss``, ``eval_loss``... as keywords)."""
        known = set(FineTuneEvent.model_fields) - {"time", "message", "data"}
        data = {k: v for k, v in fields.items() if k not in known}
        event = FineTuneEvent(
            time=datetime.now(UTC),
            message=message,
            data=data,
            **{k: v for k, v in fields.items() if k in known},
        )
        progress = None
        if event.step is not None and event.total_steps:
            progress = min(1.0, event.step / event.total_steps)
        self._jobs._update(self.job_id, event=event, progress=progress)

    def progress(self, fraction: float) -> None:
        self._jobs._update(self.job_id, progress=max(0.0, min(1.0, fraction)))

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the job was asked to stop (call between steps)."""
        if self._jobs._cancel_requested(self.job_id):
            raise Cancelled


Trainer = Callable[[TrainingContext], LocalModel]
"""Trains, writes its files into ``ctx.staging`` and returns the model to commit (its ``id`` is the
wanted ``base:name``; the store picks a free one)."""


class LocalJobs:
    """Starts, tracks and cancels the local training jobs of one data folder."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._live: dict[str, FineTuneJobInfo] = {}
        self._cancel: set[str] = set()
        self._threads: dict[str, threading.Thread] = {}

    # ---- state -------------------------------------------------------------------------------
    def _path(self, job_id: str) -> Path:
        if not job_id.replace("-", "").isalnum():
            raise InvalidArgument(f"{job_id!r} is not a local job id (they look like ftjob-local-...).")
        return self.store.jobs_dir / f"{job_id}.json"

    def _save(self, info: FineTuneJobInfo) -> None:
        data = info.model_dump(mode="json")
        data["raw"] = {"pid": os.getpid(), **{k: v for k, v in info.raw.items() if k != "pid"}}
        write_json(self._path(info.id), data)

    def _update(
        self,
        job_id: str,
        *,
        event: FineTuneEvent | None = None,
        progress: float | None = None,
        **fields: Any,
    ) -> FineTuneJobInfo:
        with self._lock:
            info = self._live[job_id]
            update: dict[str, Any] = {"updated_at": datetime.now(UTC), **fields}
            if event is not None:
                update["events"] = [*info.events, event]
            if progress is not None:
                update["progress"] = progress
            info = self._live[job_id] = info.model_copy(update=update)
            self._save(info)
            return info

    def _cancel_requested(self, job_id: str) -> bool:
        return job_id in self._cancel

    def info(self, job_id: str) -> FineTuneJobInfo:
        with self._lock:
            live = self._live.get(job_id)
            if live is not None:
                return live
        path = self._path(job_id)
        if not path.is_file():
            raise NotFound(
                f"no local training job {job_id!r} in {self.store.jobs_dir}.",
                provider="local",
                hint="List jobs with LocalAdapter().fine_tuning.<modality>.list().",
            )
        import json

        data = json.loads(path.read_text(encoding="utf-8"))
        pid = int((data.get("raw") or {}).get("pid") or 0)
        info = FineTuneJobInfo.model_validate(data)
        if not info.done and (pid == os.getpid() or not pid_alive(pid)):
            committed = self.store.by_job(job_id)
            if committed is not None:
                # killed after its model was committed, before it recorded so: the model is whole
                return info.model_copy(
                    update={
                        "status": "succeeded",
                        "raw_status": "succeeded",
                        "result_model": committed.id,
                        "progress": 1.0,
                        "finished_at": committed.created_at,
                    }
                )
            # Its process is gone (or this process restarted and forgot it): it will never finish.
            info = info.model_copy(
                update={
                    "status": "failed",
                    "raw_status": "interrupted",
                    "error": "interrupted: the process training it stopped before it finished; train again",
                }
            )
        return info

    def list(
        self, *, modality: FineTuneModality | None = None, limit: int | None = None
    ) -> list[FineTuneJobInfo]:
        if not self.store.jobs_dir.is_dir():
            return []
        ids = [p.stem for p in self.store.jobs_dir.glob("ftjob-local-*.json")]
        infos = [self.info(i) for i in ids]
        infos = [i for i in infos if modality is None or i.modality == modality]
        infos.sort(key=lambda i: i.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return infos[:limit] if limit else infos

    # ---- running -----------------------------------------------------------------------------
    def start(
        self,
        *,
        modality: FineTuneModality,
        base_model: str,
        trainer: Trainer,
        hyperparameters: Hyperparameters | None = None,
        training_file: str | None = None,
        estimate: PriceEstimate | None = None,
        name: str | None = None,
    ) -> FineTuneJobInfo:
        job_id = f"ftjob-local-{uuid.uuid4().hex[:16]}"
        now = datetime.now(UTC)
        info = FineTuneJobInfo(
            id=job_id,
            provider="local",
            modality=modality,
            base_model=base_model,
            status="queued",
            created_at=now,
            updated_at=now,
            training_file=training_file,
            hyperparameters=hyperparameters or Hyperparameters(),
            estimate=estimate,
            cost=0.0,
            progress=0.0,
            raw={"name": name} if name else {},
        )
        with self._lock:
            self._live[job_id] = info
            self._save(info)
        thread = threading.Thread(
            target=self._run, args=(job_id, trainer), name=f"polyface-{job_id}", daemon=True
        )
        self._threads[job_id] = thread
        thread.start()
        return info

    def _run(self, job_id: str, trainer: Trainer) -> None:
        if not _RUNNING.acquire(blocking=False):
            self._update(
                job_id,
                event=FineTuneEvent(
                    time=datetime.now(UTC), message="waiting for another local job to finish"
                ),
            )
            _RUNNING.acquire()
        try:
            self._run_now(job_id, trainer)
        finally:
            _RUNNING.release()

    def _run_now(self, job_id: str, trainer: Trainer) -> None:
        staging = self.store.staging()
        self._update(job_id, status="running", started_at=datetime.now(UTC))
        ctx = TrainingContext(self, job_id, staging)
        try:
            ctx.check_cancelled()
            model = trainer(ctx)
            model = model.model_copy(update={"job_id": job_id})
            stored = self.store.commit(model, staging)
        except Cancelled:
            self.store.discard(staging)
            self._update(job_id, status="cancelled", finished_at=datetime.now(UTC))
        except BaseException as exc:
            self.store.discard(staging)
            log.debug("local job %s failed:\n%s", job_id, traceback.format_exc())
            message = f"{type(exc).__name__}: {exc}"
            self._update(
                job_id,
                status="failed",
                error=message,
                finished_at=datetime.now(UTC),
                event=FineTuneEvent(time=datetime.now(UTC), level="error", message=message),
            )
        else:
            self._update(
                job_id,
                status="succeeded",
                result_model=stored.id,
                progress=1.0,
                finished_at=datetime.now(UTC),
                event=FineTuneEvent(
                    time=datetime.now(UTC),
                    message=f"saved {stored.id}",
                    type="model_saved",
                    data=dict(stored.metrics),
                ),
            )
        finally:
            with self._lock:
                self._live.pop(job_id, None)
                self._cancel.discard(job_id)
                self._threads.pop(job_id, None)

    def cancel(self, job_id: str) -> FineTuneJobInfo:
        with self._lock:
            if job_id in self._live:
                self._cancel.add(job_id)
                return self._update(job_id, status="cancel_requested")
        return self.info(job_id)

    def join(self, job_id: str, timeout: float | None = None) -> None:
        """Block until the job's thread ends (if it runs in this process)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)


class LocalFineTuneJob(FineTuneJobHandle):
    """A local training job; polls its state file every fraction of a second."""

    poll_interval = 0.2
    max_poll_interval = 1.0


class LocalFineTuningBase:
    """What every local ``fine_tuning.<modality>`` shares: start, re-attach, list, cancel.

    Subclasses implement ``train`` (validate the input now, in the caller's thread, then
    :meth:`_start` a trainer) and set ``modality``.
    """

    modality: ClassVar[FineTuneModality]

    def __init__(self, config: LocalConfig) -> None:
        self.config = config

    @property
    def _jobs(self) -> LocalJobs:
        return self.config.jobs

    def _start(
        self,
        *,
        base_model: str,
        trainer: Trainer,
        hyperparameters: Hyperparameters | None = None,
        training_file: str | None = None,
        budget_usd: float | None = None,
        name: str | None = None,
    ) -> LocalFineTuneJob:
        estimate = PriceEstimate(
            provider="local", total_usd=0.0, exact=True, note="runs on this machine: no charge"
        )
        estimate.check_budget(budget_usd, f"local {self.modality} training")
        info = self._jobs.start(
            modality=self.modality,
            base_model=base_model,
            trainer=trainer,
            hyperparameters=hyperparameters,
            training_file=training_file,
            estimate=estimate,
            name=name,
        )
        return LocalFineTuneJob("local", self, info.id, info, estimate=estimate)

    def train(self, *args: Any, **kwargs: Any) -> LocalFineTuneJob:
        raise NotImplementedError

    async def atrain(self, *args: Any, **kwargs: Any) -> LocalFineTuneJob:
        """The async twin of ``train`` (validation runs off the event loop; training in its thread)."""
        return await to_thread(self.train, *args, **kwargs)

    def get(self, job_id: str) -> LocalFineTuneJob:
        """Re-attach to a job by id (from this process or an earlier one)."""
        info = self._jobs.info(job_id)
        if info.modality != self.modality:
            raise InvalidArgument(
                f"{job_id} trains {info.modality}, not {self.modality}: "
                f"use fine_tuning.{info.modality}.get()."
            )
        return LocalFineTuneJob("local", self, job_id, info)

    def list(self, *, limit: int | None = None) -> builtins.list[FineTuneJobInfo]:
        """This modality's jobs, newest first."""
        return self._jobs.list(modality=self.modality, limit=limit)

    def cancel(self, job_id: str) -> FineTuneJobInfo:
        return self._jobs.cancel(job_id)

    async def acancel(self, job_id: str) -> FineTuneJobInfo:
        return self._jobs.cancel(job_id)

    # ---- FineTuneJobSource ------------------------------------------------------------------------
    def _retrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo:
        info = self._jobs.info(job_id)
        if estimate is not None and info.estimate is None:
            info = info.model_copy(update={"estimate": estimate})
        return info

    async def _aretrieve(self, job_id: str, estimate: PriceEstimate | None = None) -> FineTuneJobInfo:
        return self._retrieve(job_id, estimate)

    def _events(self, job_id: str) -> builtins.list[FineTuneEvent]:
        return list(self._jobs.info(job_id).events)

    async def _aevents(self, job_id: str) -> builtins.list[FineTuneEvent]:
        return self._events(job_id)

    def _checkpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]:
        info = self._jobs.info(job_id)
        if info.result_model is None:
            return []
        return [FineTuneCheckpoint(id=info.result_model, path=info.result_model, type="final")]

    async def _acheckpoints(self, job_id: str) -> builtins.list[FineTuneCheckpoint]:
        return self._checkpoints(job_id)

    def model(self, model_id: str) -> LocalModel:
        """A trained model's record (files, metrics, parameters)."""
        return self.config.store.get(model_id)
