"""``polyface avatar`` (plan, train, status, set, activate, rollback) and ``polyface respond``.

```console
$ polyface avatar plan rex --text together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference --voice openai
$ polyface avatar train rex --text local --voice local --image local --video local --budget 5
$ polyface avatar status rex
$ polyface respond rex "What matters most?" --out text,voice,video
```
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from polyface.cli.common import console, fail, money, open_studio, quiet_library_warnings, split_list
from polyface.cli.progress import RunProgress, run_errors, runs_table

if TYPE_CHECKING:
    from polyface.persona.respond import PersonaResponse
    from polyface.persona.training import Runs
    from polyface.persona.views import AvatarVersion, MediaOutput, RunInfo

avatar_app = typer.Typer(help="Plan and train a persona's avatar; its versions.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The persona's name.")]
ChoiceHelp = "'local', a provider ('openai'), or provider:base-model ('together:<model>')."
TextOpt = Annotated[str | None, typer.Option("--text", help=f"Text model: {ChoiceHelp}")]
VoiceOpt = Annotated[str | None, typer.Option("--voice", help=f"Voice (speech): {ChoiceHelp}")]
ImageOpt = Annotated[str | None, typer.Option("--image", help=f"Portrait: {ChoiceHelp}")]
VideoOpt = Annotated[str | None, typer.Option("--video", help=f"Talking head: {ChoiceHelp}")]
AudioOpt = Annotated[str | None, typer.Option("--audio", help=f"Listening (recognition): {ChoiceHelp}")]
AllOpt = Annotated[
    str | None,
    typer.Option("--all", help="Every modality not chosen otherwise on this provider (e.g. local)."),
]


def choices_of(
    text: str | None,
    voice: str | None,
    image: str | None,
    video: str | None,
    audio: str | None,
    every: str | None,
) -> dict[str, str]:
    """The modality -> provider choices given on the command line (``--all`` fills the rest)."""
    given = {"text": text, "voice": voice, "image": image, "video": video, "audio": audio}
    choices = {k: v if v is not None else every for k, v in given.items()}
    chosen = {k: v for k, v in choices.items() if v}
    if not chosen:
        fail(
            "choose at least one modality and where to train it, e.g. --text local --voice local "
            "(or --all local)."
        )
    return chosen


@avatar_app.command("plan")
def plan(
    ctx: typer.Context,
    name: NameArg,
    text: TextOpt = None,
    voice: VoiceOpt = None,
    image: ImageOpt = None,
    video: VideoOpt = None,
    audio: AudioOpt = None,
    every: AllOpt = None,
) -> None:
    """Per modality: the provider, the base model, the samples used and the estimated cost."""
    choices = choices_of(text, voice, image, video, audio, every)
    with open_studio(ctx) as studio:
        made = studio.personas.get(name).avatar.plan(**choices)
    console.print(made.table())
    console.print(f"estimated total: [bold]{money(made.total_usd)}[/]")


def follow(runs: Runs, *, timeout: float | None = None) -> list[RunInfo]:
    """Wait for ``runs`` with a progress bar per modality; the final state of each."""
    quiet_library_warnings()
    try:
        with RunProgress(console) as bars:
            for info in runs.list():
                bars.add(info)
            return runs.wait(progress=bars.update, timeout=timeout)
    except KeyboardInterrupt:
        console.print(
            "[yellow]stopped following:[/] runs on a vendor go on (polyface runs watch); local runs stopped "
            "with this command (polyface runs resume trains them again)."
        )
        raise


def report_runs(infos: list[RunInfo]) -> None:
    """The runs' table, then each failure's reason."""
    console.print(runs_table(infos))
    for line in run_errors(infos):
        console.print(line)


@avatar_app.command("train")
def train(
    ctx: typer.Context,
    name: NameArg,
    text: TextOpt = None,
    voice: VoiceOpt = None,
    image: ImageOpt = None,
    video: VideoOpt = None,
    audio: AudioOpt = None,
    every: AllOpt = None,
    budget: Annotated[
        float | None, typer.Option("--budget", help="Refuse if the estimate is over this many USD.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the runs until they finish.")] = True,
    activate: Annotated[
        bool,
        typer.Option("--activate/--no-activate", help="Make the finished models the active avatar."),
    ] = True,
) -> None:
    """Train one model per chosen modality, with a progress bar each.

    A failed modality does not undo the others. With --wait (the default) the finished models become a
    new active avatar version."""
    choices = choices_of(text, voice, image, video, audio, every)
    with open_studio(ctx) as studio:
        persona = studio.personas.get(name)
        made = persona.avatar.plan(**choices)
        console.print(made.table())
        local = [i.modality for i in made.items if i.provider == "local"]
        if local and not wait:
            fail(
                f"local training ({', '.join(local)}) runs inside this command and would stop when it ends: "
                "leave out --no-wait (or train those modalities on a vendor)."
            )
        runs = persona.avatar.train(made, budget_usd=budget)
        ids = runs.ids or []
        console.print(f"submitted {len(ids)} run(s): {', '.join(ids)}")
        if not wait:
            console.print("[dim]follow them with: polyface runs watch " + " ".join(ids) + "[/]")
            return
        infos = follow(runs)
        report_runs(infos)
        succeeded = [i for i in infos if i.status == "succeeded"]
        if activate and succeeded:
            version = persona.set_avatar(runs)
            console.print(f"[green]avatar v{version.version} is active[/]: {models_text(version)}")
        elif succeeded:
            console.print(
                f"[dim]activate with: polyface avatar set {name} {' '.join(i.id for i in succeeded)}[/]"
            )
    if len(succeeded) < len(infos):
        failed = ", ".join(i.modality for i in infos if i.status != "succeeded")
        fail(f"{failed} did not train (the reasons are above); the other runs are kept.")


def models_text(version: AvatarVersion) -> str:
    return escape(", ".join(f"{m} {r.get('provider')}:{r.get('model')}" for m, r in version.models.items()))


@avatar_app.command("status")
def status(ctx: typer.Context, name: NameArg) -> None:
    """The persona's avatar versions (which is active) and its training runs."""
    with open_studio(ctx) as studio:
        persona = studio.personas.get(name)
        versions = persona.avatar.versions()
        runs = persona.avatar.runs.list()
    if versions:
        table = Table(title=f"avatar versions of {escape(name)}")
        for column in ("version", "active", "models", "note", "created"):
            table.add_column(column, overflow="fold")
        for v in versions:
            table.add_row(
                f"v{v.version}",
                "[green]active[/]" if v.active else "",
                "\n".join(escape(f"{m}: {r.get('provider')}:{r.get('model')}") for m, r in v.models.items()),
                escape(v.note),
                v.created_at.strftime("%Y-%m-%d %H:%M") if v.created_at else "",
            )
        console.print(table)
    else:
        console.print(
            f"persona {escape(name)} has no avatar yet: polyface avatar train {escape(name)} --all local"
        )
    if runs:
        console.print(runs_table(runs, title=f"training runs of {escape(name)}"))
        for line in run_errors(runs):
            console.print(line)


@avatar_app.command("set")
def set_avatar(
    ctx: typer.Context,
    name: NameArg,
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Finished run ids, or modality=provider:model (e.g. text=local:smollm2-135m-instruct)."
        ),
    ],
    note: Annotated[str, typer.Option(help="A note kept with the version.")] = "",
) -> None:
    """Make a new active avatar version from finished runs or named models.

    Modalities not given are kept from the active version."""
    mapping = dict(s.split("=", 1) for s in sources if "=" in s)
    run_ids = [s for s in sources if "=" not in s]
    if mapping and run_ids:
        fail("give run ids or modality=provider:model pairs, not both in one call.")
    with open_studio(ctx) as studio:
        version = studio.personas.get(name).set_avatar(mapping or run_ids, note=note)
    console.print(f"[green]avatar v{version.version} is active[/]: {models_text(version)}")


@avatar_app.command("activate")
def activate_version(
    ctx: typer.Context, name: NameArg, version: Annotated[int, typer.Argument(help="The version number.")]
) -> None:
    """Make VERSION the active avatar."""
    with open_studio(ctx) as studio:
        active = studio.personas.get(name).avatar.activate(version)
    console.print(f"[green]avatar v{active.version} is active[/]: {models_text(active)}")


@avatar_app.command("rollback")
def rollback(ctx: typer.Context, name: NameArg) -> None:
    """Activate the version before the active one."""
    with open_studio(ctx) as studio:
        active = studio.personas.get(name).avatar.rollback()
    console.print(f"[green]rolled back: avatar v{active.version} is active[/]: {models_text(active)}")


# ---- respond -----------------------------------------------------------------------------------------

EXTENSIONS = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3", "video/mp4": ".mp4",
              "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}  # fmt: skip


def saved_path(output: MediaOutput, folder: Path | None, stem: str) -> Path:
    """Where ``output`` is: copied (or written) into ``folder`` when given, else its stored file (written
    to the current folder when the store is remote)."""
    if folder is None and output.path is not None:
        return output.path
    target_dir = folder or Path.cwd()
    target_dir.mkdir(parents=True, exist_ok=True)
    suffix = output.path.suffix if output.path is not None else EXTENSIONS.get(output.mime_type, ".bin")
    target = target_dir / f"{stem}-{output.kind}{suffix}"
    if output.path is not None:
        shutil.copyfile(output.path, target)
    else:
        target.write_bytes(output.data)
    return target


def print_response(answer: PersonaResponse, folder: Path | None, stem: str) -> None:
    """The answer's text, then where each media output is."""
    if answer.text is not None:
        console.print(escape(answer.text), highlight=False, soft_wrap=True)
    for kind in ("voice", "video", "image"):
        output = getattr(answer, kind, None)
        if output is not None:
            path = saved_path(output, folder, stem)
            console.print(f"[dim]{kind}:[/] {escape(str(path))}", highlight=False, soft_wrap=True)


def respond(
    ctx: typer.Context,
    name: NameArg,
    text: Annotated[str, typer.Argument(help="What to say to the persona ('-' reads standard input).")],
    out: Annotated[str, typer.Option("--out", help="Comma-separated: text, voice, video, image.")] = "text",
    conversation: Annotated[
        int | None, typer.Option(help="Continue this conversation (its id) instead of a new one.")
    ] = None,
    save_to: Annotated[
        Path | None, typer.Option("--save-to", help="Also copy the outputs into this folder.")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Most tokens of the text answer.")] = None,
) -> None:
    """The persona answers in character: text, and where each output is.

    Each modality of --out is made: the text, the voice (WAV), the talking head (MP4), a portrait."""
    modalities = split_list(out) or ["text"]
    message = sys.stdin.read() if text == "-" else text
    with open_studio(ctx) as studio:
        persona = studio.personas.get(name)
        rendering = ", ".join(m for m in modalities if m != "text")
        with console.status(
            f"{escape(name)} is answering" + (f" (rendering {rendering})" if rendering else "")
        ):
            options = {"max_tokens": max_tokens} if max_tokens is not None else {}
            answer = persona.respond(
                message, output_modalities=modalities, conversation=conversation, **options
            )
        print_response(answer, save_to, f"{name}-{answer_id(answer)}")


def answer_id(answer: PersonaResponse) -> str:
    for field in ("turn_id", "turn", "id"):
        value = getattr(answer, field, None)
        if isinstance(value, int | str):
            return str(value)
    return "answer"
