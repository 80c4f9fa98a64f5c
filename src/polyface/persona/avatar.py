"""Avatar versions: one model per modality, one active version per persona, activate and roll back.

A version is made from finished training runs (``persona.set_avatar(runs)``), from run ids, or from a
mapping ``{"text": "together:<model>", "voice": "local:espeak-ng:rex"}`` (``provider:model``). Versions are
never edited: a new one is made, and ``activate``/``rollback`` move the active mark.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from polyface.errors import InvalidArgument
from polyface.persona.errors import NoAvatar
from polyface.persona.tables import Avatar, TrainingRun
from polyface.persona.views import MODALITIES, AvatarVersion

if TYPE_CHECKING:
    from polyface.persona.plan import AvatarPlan
    from polyface.persona.studio import PersonaHandle
    from polyface.persona.training import Runs


def version_view(row: Avatar, persona: str) -> AvatarVersion:
    return AvatarVersion(
        id=row.id,
        persona=persona,
        version=row.version,
        active=row.active,
        models=dict(row.models),
        note=row.note,
        created_at=row.created_at,
    )


def parse_model_ref(modality: str, ref: str) -> dict[str, Any]:
    """``"provider:model"`` -> ``{"provider": ..., "model": ...}`` (the model may contain ``:``)."""
    provider, sep, model = ref.partition(":")
    if not sep or not provider or not model:
        raise InvalidArgument(
            f"{modality}={ref!r}: name the provider and the model, e.g. 'local:smollm2-135m-instruct' or "
            "'together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference'."
        )
    return {"provider": provider, "model": model}


class AvatarManager:
    """``persona.avatar``: plan and train, then versions (create, list, activate, rollback)."""

    def __init__(self, persona: PersonaHandle) -> None:
        self.persona = persona
        self._studio = persona.studio

    # ---- planning and training (polyface.persona.plan / training) -------------------------------------
    def plan(self, **choices: Any) -> AvatarPlan:
        """Per modality, the provider (``"local"``) or provider and base model (``"together:<model>"``),
        the samples it will train on and the estimated cost. Keywords: text, voice, image, video, audio."""
        from polyface.persona.plan import make_plan

        return make_plan(self.persona, choices)

    def train(self, plan: AvatarPlan, *, budget_usd: float | None = None) -> Runs:
        """Submit one training run per modality of ``plan`` (each recorded before it is submitted)."""
        from polyface.persona.training import start_training

        return start_training(self.persona, plan, budget_usd=budget_usd)

    @property
    def runs(self) -> Runs:
        from polyface.persona.training import Runs

        return Runs(self._studio, self.persona.id)

    # ---- versions ---------------------------------------------------------------------------------------
    def _models_from(self, source: Any) -> tuple[dict[str, dict[str, Any]], builtins.list[str]]:
        """(modality -> model reference, warnings) from runs, run ids or a mapping."""
        from polyface.persona.training import Runs

        if isinstance(source, Mapping):
            models: dict[str, dict[str, Any]] = {}
            for modality, ref in source.items():
                if modality not in MODALITIES:
                    raise InvalidArgument(f"unknown modality {modality!r}; use {', '.join(MODALITIES)}.")
                models[modality] = (
                    dict(ref) if isinstance(ref, Mapping) else parse_model_ref(modality, str(ref))
                )
            return models, []
        if isinstance(source, Runs):
            run_ids = source.ids if source.ids is not None else [r.id for r in source.list()]
        else:
            run_ids = [str(source)] if isinstance(source, str) else [str(r) for r in source]
        if not run_ids:
            raise InvalidArgument("no runs given: pass the runs from avatar.train(), run ids, or a mapping.")
        models, warnings = {}, []
        with self._studio.db.session() as session:
            for run_id in run_ids:
                run = session.get(TrainingRun, run_id)
                if run is None or run.persona_id != self.persona.id:
                    raise InvalidArgument(f"persona {self.persona.name!r} has no training run {run_id!r}.")
                if run.status != "succeeded" or not run.result_model:
                    warnings.append(f"{run.modality} ({run.id}) is {run.status}: left out")
                    continue
                models[run.modality] = {"provider": run.provider, "model": run.result_model, "run_id": run.id}
        if not models:
            raise NoAvatar(
                f"none of the runs finished successfully ({'; '.join(warnings)}); wait for them "
                "(`polyface runs watch`) or train again."
            )
        return models, warnings

    def create_version(self, source: Any, *, note: str = "", activate: bool = True) -> AvatarVersion:
        """A new version from ``source``; modalities it lacks are carried over from the active version."""
        models, warnings = self._models_from(source)
        with self._studio.db.session() as session:
            current = self._active_row(session)
            merged = {**(dict(current.models) if current is not None else {}), **models}
            number = (
                session.scalar(select(func.max(Avatar.version)).where(Avatar.persona_id == self.persona.id))
                or 0
            ) + 1
            row = Avatar(
                persona_id=self.persona.id,
                version=number,
                models=merged,
                note="; ".join(filter(None, [note, *warnings])),
                active=False,
            )
            session.add(row)
            session.flush()
            if activate:
                self._activate_row(session, row)
            return version_view(row, self.persona.name)

    def _active_row(self, session: Any) -> Avatar | None:
        return session.scalar(  # type: ignore[no-any-return]
            select(Avatar).where(Avatar.persona_id == self.persona.id, Avatar.active.is_(True))
        )

    def _activate_row(self, session: Any, row: Avatar) -> None:
        for other in session.scalars(
            select(Avatar).where(Avatar.persona_id == self.persona.id, Avatar.active.is_(True))
        ):
            other.active = False
        session.flush()
        row.active = True
        session.flush()

    def versions(self) -> builtins.list[AvatarVersion]:
        with self._studio.db.session() as session:
            rows = session.scalars(
                select(Avatar).where(Avatar.persona_id == self.persona.id).order_by(Avatar.version)
            ).all()
            return [version_view(r, self.persona.name) for r in rows]

    def active(self) -> AvatarVersion | None:
        with self._studio.db.session() as session:
            row = self._active_row(session)
            return version_view(row, self.persona.name) if row is not None else None

    def require_active(self) -> AvatarVersion:
        version = self.active()
        if version is None:
            raise NoAvatar(
                f"persona {self.persona.name!r} has no avatar yet: train one (persona.avatar.train(plan)) "
                "and "
                "activate it (persona.set_avatar(runs)), or set models directly: "
                "persona.set_avatar({'text': 'local:smollm2-135m-instruct'})."
            )
        return version

    def activate(self, version: int) -> AvatarVersion:
        with self._studio.db.session() as session:
            row = session.scalar(
                select(Avatar).where(Avatar.persona_id == self.persona.id, Avatar.version == version)
            )
            if row is None:
                known = [v.version for v in self.versions()]
                raise InvalidArgument(
                    f"persona {self.persona.name!r} has no avatar version {version} (has {known})."
                )
            self._activate_row(session, row)
            return version_view(row, self.persona.name)

    def rollback(self) -> AvatarVersion:
        """Activate the version before the active one."""
        active = self.require_active()
        earlier = [v.version for v in self.versions() if v.version < active.version]
        if not earlier:
            raise InvalidArgument(
                f"version {active.version} is the first avatar of {self.persona.name!r}: "
                "nothing to roll back to."
            )
        return self.activate(max(earlier))


def model_for(version: AvatarVersion, modality: str) -> dict[str, Any]:
    ref = version.models.get(modality)
    if ref is None:
        raise NoAvatar(
            f"avatar version {version.version} of {version.persona!r} has no {modality} model; train one "
            f"or set it: persona.set_avatar({{'{modality}': 'local:...'}})."
        )
    return ref
