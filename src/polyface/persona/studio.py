"""``Studio``: the persona workflow over one database and one media store.

```python
studio = Studio()                                   # SQLite + media folder in the user's data folder
rex = studio.personas.create("rex", description="A gruff driver who lives by family and loyalty.")
rex.samples.add_text("dialogue/*.jsonl"); rex.samples.add_audio("voice/")
rex.consent.record(subject="Rex Harbor", uses=["voice", "image", "video"], evidence="consent.pdf")
plan = rex.avatar.plan(text="local", voice="local", image="local", video="local", audio="local")
runs = rex.avatar.train(plan, budget_usd=5); runs.wait(progress=True)
rex.set_avatar(runs)
answer = rex.respond("What matters most?", output_modalities=["text", "voice", "video"])
```
"""

from __future__ import annotations

import builtins
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from polyface.errors import InvalidArgument
from polyface.persona.consent import ConsentBook
from polyface.persona.db import Database, default_url
from polyface.persona.errors import PersonaExists, PersonaNotFound
from polyface.persona.media import MediaStore
from polyface.persona.store import collect_garbage, delete_files
from polyface.persona.tables import Avatar, Persona, Sample
from polyface.persona.views import GarbageReport, PersonaInfo

if TYPE_CHECKING:
    from polyface.persona.avatar import AvatarManager
    from polyface.persona.respond import PersonaResponse
    from polyface.persona.samples import SampleSet
    from polyface.persona.training import Runs
    from polyface.persona.views import AvatarVersion

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def check_persona_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"persona name {name!r} is not usable: use 1-40 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit (it names models and files)."
        )
    return name


def persona_info(session: Any, row: Persona) -> PersonaInfo:
    counts = dict(
        session.execute(
            select(Sample.modality, func.count()).where(Sample.persona_id == row.id).group_by(Sample.modality)
        ).all()
    )
    active = session.scalar(
        select(Avatar.version).where(Avatar.persona_id == row.id, Avatar.active.is_(True))
    )
    return PersonaInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        style_notes=row.style_notes,
        system_prompt=row.system_prompt,
        created_at=row.created_at,
        samples={str(k): int(v) for k, v in counts.items()},
        active_version=active,
    )


class PersonaHandle:
    """One persona: its samples, consent, avatar (plan, train, versions), and answers."""

    def __init__(self, studio: Studio, row_id: int, name: str) -> None:
        self.studio = studio
        self.id = row_id
        self.name = name

    # ---- what it is ------------------------------------------------------------------------
    def info(self) -> PersonaInfo:
        with self.studio.db.session() as session:
            row = session.get(Persona, self.id)
            if row is None:
                raise PersonaNotFound(self.name, self.studio.personas.names())
            return persona_info(session, row)

    @property
    def description(self) -> str:
        return self.info().description

    @property
    def system_prompt(self) -> str | None:
        return self.info().system_prompt

    def update(
        self,
        *,
        description: str | None = None,
        style_notes: str | None = None,
        system_prompt: str | None = None,
    ) -> PersonaInfo:
        with self.studio.db.session() as session:
            row = session.get(Persona, self.id)
            if row is None:
                raise PersonaNotFound(self.name, self.studio.personas.names())
            if description is not None:
                row.description = description
            if style_notes is not None:
                row.style_notes = style_notes
            if system_prompt is not None:
                row.system_prompt = system_prompt
            session.flush()
            return persona_info(session, row)

    # ---- parts ---------------------------------------------------------------------------------
    @property
    def samples(self) -> SampleSet:
        from polyface.persona.samples import SampleSet

        return SampleSet(self.studio, self.id, self.name)

    @property
    def consent(self) -> ConsentBook:
        return ConsentBook(self.studio, self.id, self.name)

    @property
    def avatar(self) -> AvatarManager:
        from polyface.persona.avatar import AvatarManager

        return AvatarManager(self)

    def set_avatar(self, source: Any, *, note: str = "") -> AvatarVersion:
        """Make a new avatar version from finished training runs (``runs`` from ``avatar.train``, run ids)
        or a mapping ``{modality: "provider:model"}``, and make it the active one (the seed's setAvatar)."""
        return self.avatar.create_version(source, note=note, activate=True)

    def respond(
        self,
        input: Any,
        *,
        output_modalities: builtins.list[str] | tuple[str, ...] = ("text",),
        conversation: int | None = None,
        **options: Any,
    ) -> PersonaResponse:
        """Answer ``input`` (text, or an audio file to transcribe) in character, in each asked modality:
        text (the avatar's text model), voice (its voice speaking that text), video (the talking head with
        that voice), image (the persona). Every output is stored with the turn."""
        from polyface.persona.respond import respond

        return respond(self, input, output_modalities=output_modalities, conversation=conversation, **options)

    async def arespond(
        self,
        input: Any,
        *,
        output_modalities: builtins.list[str] | tuple[str, ...] = ("text",),
        conversation: int | None = None,
        **options: Any,
    ) -> PersonaResponse:
        import asyncio

        return await asyncio.to_thread(
            self.respond, input, output_modalities=output_modalities, conversation=conversation, **options
        )

    def __repr__(self) -> str:
        return f"Persona({self.name!r})"


class Personas:
    """``studio.personas``: create, get, list, delete."""

    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def create(
        self, name: str, *, description: str = "", style_notes: str = "", system_prompt: str | None = None
    ) -> PersonaHandle:
        check_persona_name(name)
        with self._studio.db.session() as session:
            if session.scalar(select(Persona.id).where(Persona.name == name)) is not None:
                raise PersonaExists(name)
            row = Persona(
                name=name, description=description, style_notes=style_notes, system_prompt=system_prompt
            )
            session.add(row)
            session.flush()
            return PersonaHandle(self._studio, row.id, row.name)

    def get(self, name: str) -> PersonaHandle:
        with self._studio.db.session() as session:
            row_id = session.scalar(select(Persona.id).where(Persona.name == name))
        if row_id is None:
            raise PersonaNotFound(name, self.names())
        return PersonaHandle(self._studio, row_id, name)

    def get_or_create(self, name: str, **fields: Any) -> PersonaHandle:
        try:
            return self.get(name)
        except PersonaNotFound:
            return self.create(name, **fields)

    def names(self) -> builtins.list[str]:
        with self._studio.db.session() as session:
            return list(session.scalars(select(Persona.name).order_by(Persona.name)))

    def list(self) -> builtins.list[PersonaInfo]:
        with self._studio.db.session() as session:
            return [persona_info(session, r) for r in session.scalars(select(Persona).order_by(Persona.name))]

    def delete(self, name: str) -> None:
        """Delete the persona, its samples, consents, runs, avatars and conversations; media no other row
        uses is removed with it. Models trained on providers are not deleted there."""
        persona = self.get(name)
        from polyface.persona.tables import TrainingRun

        active = [r for r in persona.avatar.runs.list() if not r.done]
        if active:
            raise InvalidArgument(
                f"{name!r} has training runs still going ({', '.join(r.modality for r in active)}): "
                "cancel them first (`polyface runs cancel <id>`), so no provider job is left running "
                "untracked."
            )
        with self._studio.db.session() as session:
            query = select(TrainingRun.id).where(TrainingRun.persona_id == persona.id)
            run_ids = list(session.scalars(query))
            row = session.get(Persona, persona.id)
            session.delete(row)
            session.flush()
            unused = collect_garbage(session)
        delete_files(self._studio.media, unused)
        import shutil

        for run_id in run_ids:  # the training files copied for its runs
            shutil.rmtree(self._studio.data_dir / "runs" / run_id, ignore_errors=True)


class Studio:
    """The persona workflow. ``Studio(database_url=None, media=None)``.

    ``database_url``: any SQLAlchemy URL (else ``POLYFACE_DATABASE_URL``, else SQLite in the data folder).
    ``media``: a folder or fsspec URL for the media store (else ``POLYFACE_MEDIA_URL``, else
    ``<data>/media``). ``providers``: adapters to use by name (``{"together": TogetherAdapter(...)}``);
    others are built with :func:`polyface.provider` on first use (``local`` on this data folder).
    """

    def __init__(
        self,
        database_url: str | None = None,
        media: str | os.PathLike[str] | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        providers: Mapping[str, Any] | None = None,
    ) -> None:
        from polyface.providers.local.config import default_data_dir

        self.data_dir = Path(data_dir).expanduser() if data_dir else default_data_dir()
        self.db = Database(database_url or default_url(self.data_dir))
        self.media = MediaStore(media or os.environ.get("POLYFACE_MEDIA_URL") or self.data_dir / "media")
        self._adapters: dict[str, Any] = dict(providers or {})
        self._adapter_lock = threading.Lock()
        self.personas = Personas(self)

    @property
    def runs(self) -> Runs:
        """Training runs of every persona: list, resume, cancel, wait."""
        from polyface.persona.training import Runs

        return Runs(self, None)

    def adapter(self, name: str) -> Any:
        """The adapter for provider ``name`` (built once)."""
        with self._adapter_lock:
            adapter = self._adapters.get(name)
            if adapter is None:
                if name == "local":
                    from polyface.providers.local import LocalAdapter

                    adapter = LocalAdapter(data_dir=self.data_dir)
                else:
                    from polyface.providers.registry import provider

                    adapter = provider(name)
                self._adapters[name] = adapter
            return adapter

    def collect_garbage(self, *, older_than: float = 3600.0) -> GarbageReport:
        """Remove what nothing refers to: media rows no sample, consent or turn uses (and their files),
        files in the media store without a row and unfinished writes (what a killed import leaves), and
        the work folders of training runs that ended. Files younger than ``older_than`` seconds are kept
        (an import in another process may be about to commit their rows)."""
        from polyface.persona.store import known_names
        from polyface.persona.tables import TrainingRun
        from polyface.persona.training import TERMINAL

        report = GarbageReport()
        with self.db.session() as session:
            unused = collect_garbage(session)
        delete_files(self.media, unused)
        report.blobs = sorted(sha for sha, _mime in unused)
        with self.db.session() as session:
            keep = known_names(session, self.media)
        report.files = self.media.sweep(keep, older_than=older_than)
        runs_dir = self.data_dir / "runs"
        if runs_dir.is_dir():
            with self.db.session() as session:
                going = set(
                    session.scalars(select(TrainingRun.id).where(TrainingRun.status.not_in(TERMINAL)))
                )
            import shutil
            import time

            cutoff = time.time() - older_than  # a folder younger than that may be a run committed meanwhile
            for folder in sorted(runs_dir.iterdir()):
                if folder.is_dir() and folder.name not in going and folder.stat().st_mtime <= cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
                    report.workdirs.append(folder.name)
        return report

    def close(self) -> None:
        for adapter in self._adapters.values():
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
        self.db.close()

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Studio(database={self.db!r}, media={self.media.url!r})"
