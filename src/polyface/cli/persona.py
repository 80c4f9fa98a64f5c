"""``polyface persona``, ``polyface samples`` and ``polyface consent``: who the persona is and its data.

```console
$ polyface persona create rex --description "A gruff long-haul driver" --system-prompt "You are Rex..."
$ polyface samples add rex --text dialogue/ --audio voice/*.wav --images face/ --video clips/
$ polyface consent record rex --subject "Rex Harbor" --uses voice,image,video --evidence consent.pdf
$ polyface persona show rex
```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from polyface.cli.common import console, fail, open_studio, split_list

if TYPE_CHECKING:
    from polyface.persona.studio import PersonaHandle
    from polyface.persona.views import ImportReport

persona_app = typer.Typer(help="Create, list, show and delete personas.", no_args_is_help=True)
samples_app = typer.Typer(
    help="Add a persona's training samples (text, audio, images, video).", no_args_is_help=True
)
consent_app = typer.Typer(help="Record who consents to which uses of their likeness.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The persona's name (lowercase letters, digits, - or _).")]


# ---- persona -----------------------------------------------------------------------------------------


@persona_app.command("create")
def create(
    ctx: typer.Context,
    name: NameArg,
    description: Annotated[str, typer.Option(help="Who the persona is.")] = "",
    style_notes: Annotated[str, typer.Option(help="How it talks.")] = "",
    system_prompt: Annotated[str | None, typer.Option(help="The text model's system prompt.")] = None,
) -> None:
    """Create a persona (empty: add samples next)."""
    with open_studio(ctx) as studio:
        persona = studio.personas.create(
            name, description=description, style_notes=style_notes, system_prompt=system_prompt
        )
        info = persona.info()
    console.print(f"[green]created[/] persona [bold]{escape(info.name)}[/] (id {info.id})")
    console.print(f"[dim]next: polyface samples add {info.name} --text dialogue.jsonl --audio voice/[/]")


@persona_app.command("list")
def list_personas(ctx: typer.Context) -> None:
    """Every persona with its samples per modality and active avatar version."""
    with open_studio(ctx) as studio:
        infos = studio.personas.list()
    if not infos:
        console.print("no personas yet: [bold]polyface persona create NAME[/] (or [bold]polyface demo[/])")
        return
    table = Table(title="personas")
    for column in ("name", "description", "samples", "avatar", "created"):
        table.add_column(column)
    for info in infos:
        samples = ", ".join(f"{k} {v}" for k, v in sorted(info.samples.items())) or "-"
        avatar = f"v{info.active_version}" if info.active_version is not None else "-"
        created = info.created_at.strftime("%Y-%m-%d %H:%M") if info.created_at else ""
        table.add_row(escape(info.name), escape(info.description[:60]), samples, avatar, created)
    console.print(table)


@persona_app.command("show")
def show(ctx: typer.Context, name: NameArg) -> None:
    """The persona: description, prompt, samples, consents and its active avatar's models."""
    with open_studio(ctx) as studio:
        persona = studio.personas.get(name)
        info = persona.info()
        consents = persona.consent.list()
        active = persona.avatar.active()
    lines = [f"[bold]{escape(info.name)}[/]  (id {info.id})"]
    if info.description:
        lines.append(escape(info.description))
    if info.style_notes:
        lines.append(f"[dim]style:[/] {escape(info.style_notes)}")
    if info.system_prompt:
        lines.append(f"[dim]system prompt:[/] {escape(info.system_prompt)}")
    samples = ", ".join(f"{k} {v}" for k, v in sorted(info.samples.items())) or "none yet"
    lines.append(f"[dim]samples:[/] {samples}")
    if consents:
        for c in consents:
            lines.append(f"[dim]consent {c.id}:[/] {escape(c.subject)} for {', '.join(c.uses)}")
    else:
        lines.append("[dim]consent:[/] none recorded")
    if active is not None:
        models = ", ".join(
            f"{m} {ref.get('provider')}:{ref.get('model')}" for m, ref in active.models.items()
        )
        lines.append(f"[dim]avatar:[/] v{active.version}: {escape(models)}")
    else:
        lines.append("[dim]avatar:[/] none yet (polyface avatar train ...)")
    console.print(Panel("\n".join(lines), title="persona", expand=False))


@persona_app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the persona with its samples, consents, runs, avatars and conversations."""
    with open_studio(ctx) as studio:
        studio.personas.get(name)  # a clean error before asking
        if not yes:
            typer.confirm(f"Delete persona {name!r} and everything stored with it?", abort=True)
        studio.personas.delete(name)
    console.print(f"[green]deleted[/] persona [bold]{escape(name)}[/]")


# ---- samples -----------------------------------------------------------------------------------------

PathsOpt = Annotated[list[str] | None, typer.Option(help="A file, folder or glob (repeat for more).")]


def import_all(persona: PersonaHandle, sources: list[tuple[str, str]]) -> list[ImportReport]:
    """Import each ``(modality, source)`` with a progress bar per source (files checked of files found);
    a source that cannot be read at all is reported as rejected (the others are still imported)."""
    from polyface.errors import PolyfaceError
    from polyface.persona.views import ImportReport, SampleProblem

    adders: dict[str, Callable[..., ImportReport]] = {
        "text": persona.samples.add_text,
        "audio": persona.samples.add_audio,
        "image": persona.samples.add_images,
        "video": persona.samples.add_video,
    }
    reports: list[ImportReport] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("importing {task.fields[modality]:<5} [bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        for modality, source in sources:
            task = progress.add_task(escape(source[-50:]), total=None, modality=modality)

            def moved(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            try:
                reports.append(adders[modality](source, progress=moved))
            except PolyfaceError as exc:
                problem = SampleProblem(source=source, reason=str(exc))
                reports.append(ImportReport(modality=modality, rejected=[problem]))
            progress.update(task, visible=False)
    return reports


def reports_table(reports: list[ImportReport]) -> Table:
    table = Table(title="samples imported")
    for column in ("modality", "added", "already stored", "rejected"):
        table.add_column(column, justify="left" if column == "modality" else "right")
    merged: dict[str, list[int]] = {}
    for report in reports:
        counts = merged.setdefault(report.modality, [0, 0, 0])
        counts[0] += len(report.added)
        counts[1] += len(report.duplicates)
        counts[2] += len(report.rejected)
    for modality, (added, duplicates, rejected) in merged.items():
        table.add_row(modality, str(added), str(duplicates), f"[red]{rejected}[/]" if rejected else "0")
    return table


@samples_app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    text: PathsOpt = None,
    audio: PathsOpt = None,
    images: PathsOpt = None,
    video: PathsOpt = None,
) -> None:
    """Import samples: dialogue, audio, images, video (files, folders, globs).

    Dialogue is JSONL, JSON, CSV or a plain script. Each file is checked; a bad one is listed with the
    reason and the rest are kept."""
    sources = [
        *(("text", s) for s in text or []),
        *(("audio", s) for s in audio or []),
        *(("image", s) for s in images or []),
        *(("video", s) for s in video or []),
    ]
    if not sources:
        fail("nothing to add: pass --text, --audio, --images or --video with a file, folder or glob.")
    with open_studio(ctx) as studio:
        persona = studio.personas.get(name)
        reports = import_all(persona, sources)
    console.print(reports_table(reports))
    problems = [p for r in reports for p in r.rejected]
    for problem in problems:
        console.print(f"[red]rejected[/] {escape(problem.source)}: {escape(problem.reason)}")
    kept = sum(len(r.added) + len(r.duplicates) for r in reports)
    if problems and not kept:
        fail("nothing was imported: every source was rejected (the reasons are above).")


@samples_app.command("list")
def list_samples(
    ctx: typer.Context,
    name: NameArg,
    modality: Annotated[str | None, typer.Option(help="Only text, audio, image or video.")] = None,
) -> None:
    """The persona's samples: modality, source, duration, text and where each is stored."""
    with open_studio(ctx) as studio:
        samples = studio.personas.get(name).samples.list(modality=modality)
    if not samples:
        console.print(
            f"persona {escape(name)} has no {escape(modality or '')} samples yet".replace("  ", " ")
        )
        return
    table = Table(title=f"samples of {escape(name)}")
    for column in ("id", "modality", "source", "duration", "text", "stored"):
        table.add_column(column, overflow="fold")
    for s in samples:
        table.add_row(
            str(s.id),
            s.modality,
            escape(s.source),
            f"{s.duration:.1f} s" if s.duration is not None else "",
            escape((s.text or "")[:60]),
            escape(str(s.path) if s.path else (s.media_sha256 or "")[:12]),
        )
    console.print(table)


# ---- consent -----------------------------------------------------------------------------------------


@consent_app.command("record")
def record(
    ctx: typer.Context,
    name: NameArg,
    subject: Annotated[str, typer.Option(help="Who consents (the person whose likeness it is).")],
    uses: Annotated[str, typer.Option(help="Comma-separated: voice, image, video.")] = "voice,image,video",
    evidence: Annotated[
        Path | None, typer.Option(help="The signed form or recorded statement (stored with it).")
    ] = None,
    note: Annotated[str, typer.Option(help="A note kept with the consent.")] = "",
) -> None:
    """Record that SUBJECT consents to USES of their likeness.

    Training a voice, portrait or talking head needs one."""
    with open_studio(ctx) as studio:
        info = studio.personas.get(name).consent.record(
            subject, split_list(uses), evidence=evidence, note=note
        )
    stored = f", evidence {info.evidence_sha256[:12]}" if info.evidence_sha256 else ""
    console.print(
        f"[green]recorded[/] consent {info.id}: {escape(info.subject)} for {', '.join(info.uses)}{stored}"
    )


@consent_app.command("list")
def list_consents(
    ctx: typer.Context,
    name: NameArg,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked consents.")] = False,
) -> None:
    """The persona's consents."""
    with open_studio(ctx) as studio:
        infos = studio.personas.get(name).consent.list(include_revoked=all_)
    table = Table(title=f"consents of {escape(name)}")
    for column in ("id", "subject", "uses", "evidence", "recorded", "revoked"):
        table.add_column(column)
    for c in infos:
        table.add_row(
            str(c.id),
            escape(c.subject),
            ", ".join(c.uses),
            (c.evidence_sha256 or "-")[:12],
            c.recorded_at.strftime("%Y-%m-%d %H:%M") if c.recorded_at else "",
            c.revoked_at.strftime("%Y-%m-%d %H:%M") if c.revoked_at else "",
        )
    console.print(table)


@consent_app.command("revoke")
def revoke(
    ctx: typer.Context, name: NameArg, consent_id: Annotated[int, typer.Argument(help="The id.")]
) -> None:
    """Revoke a consent (training that needs it is refused from now on)."""
    with open_studio(ctx) as studio:
        info = studio.personas.get(name).consent.revoke(consent_id)
    console.print(f"[yellow]revoked[/] consent {info.id} of {escape(info.subject)}")
