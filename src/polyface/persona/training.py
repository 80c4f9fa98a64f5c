"""Training an avatar: one run per modality, recorded before it is submitted, followed, resumed.

The protocol that makes a crash harmless:

1. every run of a plan is written as ``planned`` (one transaction) before anything is sent;
2. a run is marked ``submitting`` (committed), then submitted with a marker (``<persona>-<run id>``) in
   the job's name or suffix, then its provider job id is recorded (``running``);
   Just before the job-creating request, the run records the samples it uses and ``_sent_at`` (committed):
   a ``submitting`` run without ``_sent_at`` never reached its provider's job endpoint;
3. ``resume`` finds runs a crash interrupted: ``planned`` ones are submitted; a ``submitting`` one is first
   looked up among the provider's jobs by its marker (adopted if the provider has it, submitted only if
   not); a ``running`` one whose local job died with its process is submitted again.

Providers whose jobs cannot be listed (OpenAI custom voices) are submitted in steps that each leave a
trace: the consent recording is uploaded under the run's marker (found again by name, never uploaded
twice) and its id recorded; only then ``_sent_at`` is committed and the voice made. So only a crash in
the instant between committing ``_sent_at`` and recording the voice leaves the run in doubt (``resume``
fails it with what to check); a crash before that is resumed like any other.

So no provider job is lost or duplicated, and a failed modality never undoes one that succeeded.
"""

from __future__ import annotations

import builtins
import inspect
import json
import math
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from polyface.errors import InvalidArgument, JobTimeout, PolyfaceError, ProviderTimeout, ProviderUnavailable
from polyface.persona.errors import RunNotFound
from polyface.persona.tables import Persona, TrainingRun
from polyface.persona.views import LIKENESS_USES, RunInfo
from polyface.providers._base.secrets import redact
from polyface.providers._base.telemetry import get_logger

if TYPE_CHECKING:
    from polyface.persona.plan import AvatarPlan
    from polyface.persona.studio import PersonaHandle, Studio

log = get_logger("polyface.persona")
TERMINAL = ("succeeded", "failed", "cancelled")
UNLISTABLE = {("openai", "voice")}
"""Provider jobs that cannot be looked up after a crash (OpenAI has no endpoint listing custom voices)."""
MAX_EVENTS = 200


def run_info(row: TrainingRun, persona: str) -> RunInfo:
    return RunInfo(
        id=row.id,
        persona=persona,
        batch_id=row.batch_id,
        modality=row.modality,
        provider=row.provider,
        base_model=row.base_model,
        status=row.status,
        provider_job_id=row.provider_job_id,
        result_model=row.result_model,
        estimated_cost=row.estimated_cost,
        cost=row.cost,
        error=row.error,
        events=list(row.events or []),
        parameters=dict(row.parameters or {}),
        sample_ids=[int(i) for i in row.sample_ids or []],
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def marker(persona: str, run_id: str) -> str:
    """The name a run's provider job carries, so that a resumed run finds its job."""
    return f"{persona}-{run_id[:10]}"


# ---- starting --------------------------------------------------------------------------------------------


def start_training(persona: PersonaHandle, plan: AvatarPlan, *, budget_usd: float | None = None) -> Runs:
    if plan.persona != persona.name:
        raise InvalidArgument(f"this plan is for {plan.persona!r}, not {persona.name!r}.")
    if budget_usd is not None and budget_usd < 0:
        raise InvalidArgument(f"budget_usd must be 0 or more (got {budget_usd}).")
    plan.check_budget(budget_usd)
    for item in plan.items:  # the columns' limits (PostgreSQL enforces them; SQLite would not)
        if len(item.provider) > 64 or len(item.base_model) > 200:
            raise InvalidArgument(
                f"the {item.modality} step names a provider or base model too long to record "
                f"({len(item.provider)} and {len(item.base_model)} characters; at most 64 and 200)."
            )
    for item in plan.items:  # every consent is checked before anything is sent
        if item.modality in LIKENESS_USES:
            persona.consent.require(item.modality)
    batch = uuid.uuid4().hex[:16]
    ids: list[str] = []
    with persona.studio.db.session() as session:
        for item in plan.items:
            run_id = uuid.uuid4().hex[:24]
            parameters = dict(item.parameters)
            if budget_usd is not None:
                parameters["budget_usd"] = budget_usd
            session.add(
                TrainingRun(
                    id=run_id,
                    persona_id=persona.id,
                    batch_id=batch,
                    modality=item.modality,
                    provider=item.provider,
                    base_model=item.base_model,
                    parameters=parameters,
                    status="planned",
                    estimated_cost=item.estimated_cost_usd,
                    events=[_event("planned")],
                )
            )
            ids.append(run_id)
    for run_id in ids:
        submit(persona.studio, run_id)
    return Runs(persona.studio, persona.id, ids)


def _event(message: str, **fields: Any) -> dict[str, Any]:
    return {"time": datetime.now(UTC).isoformat(), "message": message, **fields}


def _trainer(studio: Studio, provider: str, modality: str) -> Any:
    return getattr(studio.adapter(provider).fine_tuning, modality)


def _inputs(
    studio: Studio, run: TrainingRun, persona: Persona, workdir: Path
) -> tuple[dict[str, Any], list[int]]:
    """The keyword arguments of the provider's ``train`` for this run, and the samples used."""
    from polyface.persona import datasets
    from polyface.persona.consent import ConsentBook

    name = marker(persona.name, run.id)
    params = {k: v for k, v in (run.parameters or {}).items() if not k.startswith("_") and k != "budget_usd"}
    modality, provider = run.modality, run.provider
    if modality == "text":
        system = default_system_prompt(persona)
        rows, ids = datasets.text_samples(studio, persona.id, system=system)
        args: dict[str, Any] = {"dataset": rows, "base_model": run.base_model}
        return {**params, **args, ("name" if provider == "local" else "suffix"): name}, ids
    if modality == "audio":
        texts, ids = datasets.texts_for_recognizer(studio, persona.id)
        return {**params, "texts": texts, "name": name}, ids
    files_for = {"voice": datasets.audio_files, "image": datasets.image_files, "video": datasets.video_files}
    keyword = {"voice": "samples", "image": "images", "video": "clips"}[modality]
    paths, ids = files_for[modality](studio, persona.id, workdir)
    args = {**params, keyword: [str(p) for p in paths], "name": name}
    if modality == "voice" and provider == "openai":
        evidence = ConsentBook(studio, persona.id, persona.name).evidence_file("voice", workdir)
        args["consent"] = str(evidence) if evidence is not None else None
    return args, ids


def default_system_prompt(persona: Persona) -> str:
    """The system prompt the persona trains with: the same one it answers with."""
    from polyface.persona.respond import system_prompt

    return system_prompt(persona)


def submit(studio: Studio, run_id: str, *, claim_from: tuple[str, ...] = ("planned",)) -> RunInfo:
    """Submit one planned (or interrupted) run; a failure is recorded on the run, never raised.

    The run is claimed with one conditional UPDATE (``status`` must still be one of ``claim_from``), so two
    processes resuming at once never both submit it."""
    with studio.db.session() as session:
        result: Any = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.status.in_(claim_from))
            .values(status="submitting", updated_at=datetime.now(UTC))
        )
        claimed = result.rowcount
    if not claimed:
        return studio.runs.get(run_id)
    with studio.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None:
            raise RunNotFound(f"no training run {run_id!r}.")
        persona = session.get(Persona, run.persona_id)
        if persona is None:
            raise RunNotFound(f"training run {run_id!r} belongs to a deleted persona.")
        run.events = [*run.events, _event(f"submitting to {run.provider}")]
        session.expunge(persona)
    budget = (run.parameters or {}).get("budget_usd")
    # The files a trainer reads stay until the run ends (a local trainer reads them in its own thread).
    workdir = run_workdir(studio, run_id)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        args, sample_ids = _inputs(studio, run, persona, workdir)
        trainer = _trainer(studio, run.provider, run.modality)
        if budget is not None and "budget_usd" in inspect.signature(trainer.train).parameters:
            args["budget_usd"] = budget
        if (run.provider, run.modality) in UNLISTABLE:
            args = _upload_consent_once(studio, run_id, trainer, args)
        if not _mark_sending(studio, run_id, sample_ids):
            return studio.runs.get(run_id)  # cancelled meanwhile: nothing is sent
        job = trainer.train(**args)
    except (ProviderTimeout, ProviderUnavailable) as exc:
        # The request may have reached the provider: leave the run to `resume`, which looks for its job.
        _note(
            studio,
            run_id,
            f"submission interrupted ({type(exc).__name__}: {exc}); run `polyface runs resume`",
        )
        return studio.runs.get(run_id)
    except PolyfaceError as exc:
        return _fail(studio, run_id, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        return _fail(studio, run_id, f"{type(exc).__name__}: {redact(str(exc))}")
    _record_submission(studio, run_id, job.id, sample_ids, getattr(job, "estimated_cost", None))
    return studio.runs.get(run_id)


def _set_parameters(studio: Studio, run_id: str, **values: Any) -> None:
    with studio.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is not None:
            run.parameters = {**(run.parameters or {}), **values}


def _mark_sending(studio: Studio, run_id: str, sample_ids: list[int]) -> bool:
    """Commit, before the job-creating request, the samples the run uses and that the request is about to
    be sent (``_sent_at``). False when the run is no longer ``submitting`` (cancelled meanwhile)."""
    with studio.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None or run.status != "submitting":
            return False
        run.sample_ids = list(sample_ids)
        run.parameters = {**(run.parameters or {}), "_sent_at": datetime.now(UTC).isoformat()}
        return True


def _upload_consent_once(studio: Studio, run_id: str, trainer: Any, args: dict[str, Any]) -> dict[str, Any]:
    """For trainers whose jobs cannot be listed (OpenAI custom voices): upload the consent recording as its
    own step, named by the run's marker, and record its id, so that a crash before the voice is made is
    resumed by submitting again, with the consent uploaded before (found by name) rather than a second one."""
    consent, name = args.get("consent"), args.get("name")
    if not consent or not isinstance(name, str) or not hasattr(trainer, "upload_consent"):
        return args
    parameters = studio.runs.get(run_id).parameters
    consent_id = parameters.get("_consent_id")
    if consent_id is None and parameters.get("_consent_upload"):  # an upload a crash interrupted
        consent_id = next((c.id for c in trainer.consents() if c.name == name), None)
    if consent_id is None:
        _set_parameters(studio, run_id, _consent_upload=datetime.now(UTC).isoformat())
        consent_id = trainer.upload_consent(consent, name=name).id
    _set_parameters(studio, run_id, _consent_id=consent_id)
    return {**args, "consent": consent_id}


def _note(studio: Studio, run_id: str, message: str) -> None:
    with studio.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is not None:
            run.events = [*run.events, _event(message)]


def run_workdir(studio: Studio, run_id: str) -> Path:
    """Where a run's training files are written for its provider (removed when the run ends)."""
    return studio.data_dir / "runs" / run_id


def _record_submission(
    studio: Studio, run_id: str, job_id: str, sample_ids: list[int], estimate: float | None
) -> None:
    with studio.db.session() as session:
        run = session.get(TrainingRun, run_id)
        if run is None or run.status != "submitting":  # cancelled meanwhile: keep that
            return
        run.provider_job_id = job_id
        run.sample_ids = sample_ids or run.sample_ids
        run.status = "running"
        run.submitted_at = datetime.now(UTC)
        if estimate is not None:
            run.estimated_cost = estimate
        run.events = [*run.events, _event(f"submitted: {run.provider} job {job_id}")]


def _fail(studio: Studio, run_id: str, error: str) -> RunInfo:
    shutil.rmtree(run_workdir(studio, run_id), ignore_errors=True)
    with studio.db.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        run.status = "failed"
        run.error = error
        run.finished_at = datetime.now(UTC)
        run.events = [*run.events, _event(f"failed: {error}", level="error")]
        persona = session.get(Persona, run.persona_id)
        return run_info(run, persona.name if persona else "?")


# ---- following -------------------------------------------------------------------------------------------


def refresh(studio: Studio, run_id: str) -> RunInfo:
    """Ask the provider where the run's job stands and record it."""
    info = studio.runs.get(run_id)
    if info.done or info.provider_job_id is None:
        return info
    try:
        job = _trainer(studio, info.provider, info.modality).get(info.provider_job_id)
        state = job.refresh()
    except PolyfaceError as exc:
        log.warning("could not refresh run %s: %s", run_id, exc)
        return info.model_copy(update={"refresh_error": str(exc)})
    with studio.db.session() as session:
        run = session.get(TrainingRun, run_id)
        assert run is not None
        seen = {json.dumps(e, sort_keys=True) for e in run.events}
        new = []
        for event in state.events[-50:]:
            item = {"time": event.time.isoformat() if event.time else None, "message": event.message}
            for key in ("step", "total_steps", "loss", "eval_loss"):
                value = getattr(event, key)
                if value is not None and math.isfinite(value):  # PostgreSQL's JSON has no NaN
                    item[key] = value
            if json.dumps(item, sort_keys=True) not in seen:
                new.append(item)
        run.events = [*run.events, *new][-MAX_EVENTS:]
        if state.progress is not None:
            run.parameters = {**(run.parameters or {}), "_progress": state.progress}
        if state.cost is not None:
            run.cost = state.cost
        if state.done:
            shutil.rmtree(run_workdir(studio, run_id), ignore_errors=True)
            run.finished_at = datetime.now(UTC)
            if state.succeeded and state.result_model:
                run.status = "succeeded"
                run.result_model = state.result_model
            elif state.status == "cancelled":
                run.status = "cancelled"
            else:
                run.status = "failed"
                run.error = state.error or f"the {info.provider} job ended {state.raw_status or state.status}"
        else:
            run.status = "running"
        persona = session.get(Persona, run.persona_id)
        return run_info(run, persona.name if persona else "?")


def _found_by_marker(studio: Studio, run: RunInfo) -> str | None:
    """The provider job a crashed submission may have created (its name carries the run's marker)."""
    try:
        jobs = _trainer(studio, run.provider, run.modality).list()
    except PolyfaceError:
        return None
    mark = marker(run.persona, run.id)
    for job in jobs:
        text = json.dumps(job.raw, default=str) + (job.result_model or "")
        if mark in text:
            return str(job.id)
    return None


def _unlistable_message(info: RunInfo) -> str:
    return (
        f"the submission to {info.provider} was interrupted and {info.provider} cannot list its "
        f"{info.modality} jobs, so polyface cannot tell whether it was made: check your {info.provider} "
        f"account for '{marker(info.persona, info.id)}', then train again if it is not there"
    )


class Runs:
    """Training runs: of one ``avatar.train`` (``ids``), of a persona, or of the whole studio."""

    def __init__(self, studio: Studio, persona_id: int | None, ids: Iterable[str] | None = None) -> None:
        self.studio = studio
        self.persona_id = persona_id
        self.ids = list(ids) if ids is not None else None

    def _rows(
        self, session: Any, status: Iterable[str] | None = None
    ) -> builtins.list[tuple[TrainingRun, str]]:
        query = select(TrainingRun, Persona.name).join(Persona, Persona.id == TrainingRun.persona_id)
        if self.persona_id is not None:
            query = query.where(TrainingRun.persona_id == self.persona_id)
        if self.ids is not None:
            query = query.where(TrainingRun.id.in_(self.ids))
        if status is not None:
            query = query.where(TrainingRun.status.in_(list(status)))
        return [
            (r, n) for r, n in session.execute(query.order_by(TrainingRun.created_at, TrainingRun.id)).all()
        ]

    def list(self, *, persona: str | None = None, status: str | None = None) -> builtins.list[RunInfo]:
        with self.studio.db.session() as session:
            rows = self._rows(session, [status] if status else None)
            return [run_info(r, n) for r, n in rows if persona is None or n == persona]

    def get(self, run_id: str) -> RunInfo:
        with self.studio.db.session() as session:
            run = session.get(TrainingRun, run_id)
            if run is None:
                raise RunNotFound(f"no training run {run_id!r}; `polyface runs list` shows them.")
            persona = session.get(Persona, run.persona_id)
            return run_info(run, persona.name if persona else "?")

    def refresh(self) -> builtins.list[RunInfo]:
        return [refresh(self.studio, r.id) for r in self.list()]

    def wait(
        self,
        *,
        progress: bool | Callable[[RunInfo], None] = False,
        timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> builtins.list[RunInfo]:
        """Follow every run until it ends (a failed modality does not stop the others); returns them all.
        ``progress=True`` shows a bar per modality on a terminal; a callable gets each run's state."""
        deadline = None if timeout is None else time.monotonic() + timeout
        display = _Bars(progress)
        try:
            while True:
                infos = self.refresh()
                display.update(infos)
                stuck = [i for i in infos if i.status in ("planned", "submitting")]
                if stuck:
                    names = ", ".join(f"{i.modality} ({i.id})" for i in stuck)
                    raise PolyfaceError(
                        f"{names} never reached its provider (interrupted): run `polyface runs resume` "
                        "(studio.runs.resume()) to pick it up."
                    )
                if all(i.done for i in infos):
                    return infos
                if deadline is not None and time.monotonic() > deadline:
                    pending = ", ".join(f"{i.modality} ({i.status})" for i in infos if not i.done)
                    raise JobTimeout(
                        f"runs still going after {timeout} s: {pending}; they go on: wait again."
                    )
                time.sleep(poll_interval)
                poll_interval = min(poll_interval * 1.3, 5.0)
        finally:
            display.close()

    def resume(self, *, progress: bool | Callable[[RunInfo], None] = False) -> builtins.list[RunInfo]:
        """Pick up runs a crash interrupted (see the module's docstring); returns the runs touched."""
        touched: builtins.list[RunInfo] = []
        for info in self.list():
            if info.status == "planned":
                touched.append(submit(self.studio, info.id))
            elif info.status == "submitting":
                job_id = _found_by_marker(self.studio, info)
                if job_id is not None:
                    _record_submission(self.studio, info.id, job_id, [], None)
                    self._note(
                        info.id, f"resumed: found {info.provider} job {job_id} submitted before the crash"
                    )
                    touched.append(self._restart_if_dead(refresh(self.studio, info.id)))
                elif (info.provider, info.modality) in UNLISTABLE and "_sent_at" in info.parameters:
                    touched.append(
                        _fail(
                            self.studio,
                            info.id,
                            _unlistable_message(info),
                        )
                    )
                else:
                    touched.append(submit(self.studio, info.id, claim_from=("submitting",)))
            elif info.status == "running":
                touched.append(self._restart_if_dead(refresh(self.studio, info.id)))
        if progress:
            Runs(self.studio, self.persona_id, [t.id for t in touched]).wait(progress=progress)
        return touched

    def _restart_if_dead(self, state: RunInfo) -> RunInfo:
        """A local job that died with its process is trained again (a vendor's failed job never is)."""
        if (
            state.provider == "local"
            and state.status == "failed"
            and (state.error or "").startswith("interrupted")
        ):
            self._reopen(state.id)
            return submit(self.studio, state.id)
        return state

    def _note(self, run_id: str, message: str) -> None:
        with self.studio.db.session() as session:
            run = session.get(TrainingRun, run_id)
            assert run is not None
            run.events = [*run.events, _event(message)]

    def _reopen(self, run_id: str) -> None:
        with self.studio.db.session() as session:
            run = session.get(TrainingRun, run_id)
            assert run is not None
            old = run.provider_job_id
            run.status, run.error, run.finished_at, run.provider_job_id = "planned", None, None, None
            run.events = [*run.events, _event(f"resubmitting: job {old} died with its process")]

    def cancel(self, run_id: str | None = None) -> builtins.list[RunInfo]:
        """Cancel one run (or all of these that are not done) at the provider and here."""
        targets = [self.get(run_id)] if run_id else [i for i in self.list() if not i.done]
        out = []
        for info in targets:
            if info.done:
                out.append(info)
                continue
            if info.provider_job_id:
                try:
                    _trainer(self.studio, info.provider, info.modality).cancel(info.provider_job_id)
                except PolyfaceError as exc:
                    raise PolyfaceError(
                        f"{info.provider} did not cancel job {info.provider_job_id} ({exc}); the run stays "
                        f"{info.status}: try again, or cancel it in your {info.provider} account."
                    ) from exc
            with self.studio.db.session() as session:
                run = session.get(TrainingRun, info.id)
                assert run is not None
                run.status, run.finished_at = "cancelled", datetime.now(UTC)
                run.events = [*run.events, _event("cancelled")]
            out.append(self.get(info.id))
        return out

    def succeeded(self) -> builtins.list[RunInfo]:
        return [i for i in self.list() if i.status == "succeeded"]

    def __iter__(self) -> Any:
        return iter(self.list())

    def __repr__(self) -> str:
        return f"Runs({', '.join(f'{i.modality}={i.status}' for i in self.list())})"


class _Bars:
    """A Rich progress bar per run on a terminal; a callback; or nothing."""

    def __init__(self, progress: bool | Callable[[RunInfo], None]) -> None:
        self.callback = progress if callable(progress) else None
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.shown: dict[str, int] = {}
        if progress is True and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
            )
            self.bar.start()

    def update(self, infos: builtins.list[RunInfo]) -> None:
        for info in infos:
            if self.callback is not None:
                self.callback(info)
            if self.bar is None:
                continue
            if info.id not in self.tasks:
                self.tasks[info.id] = self.bar.add_task(
                    f"{info.modality} ({info.provider})", total=1.0, status=""
                )
            fraction = 1.0 if info.status == "succeeded" else float(info.parameters.get("_progress") or 0.0)
            last = next((e for e in reversed(info.events) if e.get("loss") is not None), None)
            status = info.status + (f" loss {last['loss']:.3f}" if last else "")
            self.bar.update(self.tasks[info.id], completed=fraction, status=status)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
