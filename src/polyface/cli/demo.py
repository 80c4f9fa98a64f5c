"""``polyface demo``: a persona from nothing, offline, on this machine, in a few minutes.

On the embedded defaults (SQLite and the ``local`` provider, in a demo data folder: ``--data-dir`` or
``<user data>/demo``) it

1. makes Rex Harbor's samples from data shipped with polyface (:mod:`polyface.cli.demo_assets`): his
   dialogue, voice recordings synthesized with a known eSpeak NG profile, drawn portraits, talking clips;
2. creates the persona ``rex`` (an earlier demo's ``rex`` is deleted first, so it runs again cleanly),
   imports every sample and records a consent;
3. plans every modality on ``local``, trains them all with a progress bar each, activates the avatar;
4. asks Rex two questions and gets answers in text, voice (WAV) and video (MP4), printing where each is.

``polyface demo --providers`` is the older showcase of the provider layer against a local Together fake.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

if TYPE_CHECKING:
    from polyface.cli.demo_assets import RexSamples
    from polyface.persona.studio import PersonaHandle, Studio


ANSWER_TOKENS = 60
"""The most tokens of an answer: a sentence or two, so that voice and video stay short."""


def default_url(folder: Path) -> str:
    """The demo's database: SQLite in its folder (whatever POLYFACE_DATABASE_URL says)."""
    return f"sqlite:///{folder / 'polyface.db'}"


EVERY_MODALITY_LOCAL = {
    "text": "local",
    "voice": "local",
    "image": "local",
    "video": "local",
    "audio": "local",
}


def demo_folder(data_dir: Path | None) -> Path:
    """``data_dir``, else ``<user data folder>/demo`` (``POLYFACE_HOME/demo`` where that is set)."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    from polyface.providers.local.config import default_data_dir

    return default_data_dir() / "demo"


def step(console: Console, number: int, title: str) -> None:
    console.print(f"\n[bold cyan]{number}.[/] [bold]{escape(title)}[/]")


def fresh_persona(studio: Studio, samples: RexSamples, console: Console) -> PersonaHandle:
    """The persona ``rex``, created anew (an earlier demo's is deleted with everything it stored)."""
    profile = samples.profile
    name = profile["name"]
    if name in studio.personas.names():
        studio.personas.delete(name)
        console.print(f"  [dim]deleted the persona {name!r} an earlier demo made[/]")
    persona = studio.personas.create(
        name,
        description=profile["description"],
        style_notes=profile["style_notes"],
        system_prompt=profile["system_prompt"],
    )
    console.print(f"  created persona [bold]{name}[/]: {escape(profile['description'])}")
    return persona


def import_samples(persona: PersonaHandle, samples: RexSamples, console: Console) -> None:
    from polyface.cli.persona import import_all, reports_table

    sources = [
        ("text", str(samples.dialogue)),
        ("audio", str(samples.folder / "voice" / "*.wav")),
        ("image", str(samples.folder / "portraits" / "*.png")),
        ("video", str(samples.folder / "clips" / "*.mp4")),
    ]
    reports = import_all(persona, sources)
    console.print(reports_table(reports))
    for report in reports:
        for problem in report.rejected:
            console.print(f"  [red]rejected[/] {escape(problem.source)}: {escape(problem.reason)}")


def run(
    console: Console | None = None, *, data_dir: Path | None = None, database: str | None = None
) -> list[Any]:
    """Run the demo (see the module's docstring); returns the two answers (``PersonaResponse``)."""
    from polyface.cli.avatar import follow, report_runs
    from polyface.cli.demo_assets import make_rex_samples
    from polyface.errors import PolyfaceError
    from polyface.persona.studio import Studio

    console = console or Console()
    started = time.monotonic()
    folder = demo_folder(data_dir)
    hint = f"polyface --data-dir {folder}"
    if database or os.environ.get("POLYFACE_DATABASE_URL"):
        hint += f" --database {database or default_url(folder)}"
    database = database or default_url(folder)
    console.print(
        Panel.fit(
            "polyface demo: a persona from nothing, offline, on this machine\n"
            "[dim]SQLite + the local provider (no key, no network); Rex Harbor is fictional[/]",
            style="bold",
        )
    )
    console.print(f"[dim]data folder: {escape(str(folder))}[/]")

    step(console, 1, "Rex's samples, made from data shipped with polyface")
    with console.status("synthesizing his voice, drawing his portrait, encoding clips"):
        samples = make_rex_samples(folder / "rex-samples")
    voice = samples.profile["voice"]
    console.print(
        f"  dialogue: {escape(samples.dialogue.name)} (shipped); voice: {len(samples.voice)} WAV files from "
        f"eSpeak NG en-us+{voice['variant']} at pitch {voice['pitch']}, rate {voice['rate']} wpm; "
        f"{len(samples.images)} portraits; {len(samples.clips)} talking clips"
    )

    with Studio(database, data_dir=folder) as studio:
        step(console, 2, "the persona, its samples and its consent")
        persona = fresh_persona(studio, samples, console)
        import_samples(persona, samples, console)
        consent = samples.profile["consent"]
        recorded = persona.consent.record(
            consent["subject"], consent["uses"], evidence=samples.consent, note=consent["note"]
        )
        console.print(f"  consent recorded: {escape(recorded.subject)} for {', '.join(recorded.uses)}")

        step(console, 3, "plan every modality on the local provider")
        plan = persona.avatar.plan(**EVERY_MODALITY_LOCAL)
        console.print(plan.table())

        step(console, 4, "train (one run per modality, all on this machine)")
        runs = persona.avatar.train(plan)
        infos = follow(runs)
        report_runs(infos)
        failed = [i for i in infos if i.status != "succeeded"]
        if failed:
            raise PolyfaceError(
                f"the demo stops here: {', '.join(i.modality for i in failed)} did not train "
                f"(reasons above). What it made is in {folder}."
            )

        step(console, 5, "activate the avatar")
        version = persona.set_avatar(runs, note="polyface demo")
        for modality, ref in version.models.items():
            console.print(
                f"  {modality:<6} {escape(str(ref.get('provider')))}:{escape(str(ref.get('model')))}"
            )
        fitted = fitted_voice(studio, version.models.get("voice"))
        if fitted:
            console.print(f"  [dim]voice fit: {escape(fitted)} (recorded with pitch {voice['pitch']}, "
                          f"rate {voice['rate']})[/]")  # fmt: skip

        step(console, 6, "ask Rex (text + voice + video)")
        answers: list[Any] = []
        for question in samples.profile["questions"]:
            console.print(f"\n  [bold]you:[/] {escape(question)}")
            with console.status("Rex is answering (text, then his voice, then the talking head)"):
                answer = persona.respond(
                    question, output_modalities=["text", "voice", "video"], max_tokens=ANSWER_TOKENS
                )
            console.print(f"  [bold]rex:[/] {escape(answer.text)}", highlight=False)
            for kind in ("voice", "video"):
                output = getattr(answer, kind)
                if output is not None:
                    console.print(
                        f"  [dim]{kind}:[/] {escape(str(output.path))}", highlight=False, soft_wrap=True
                    )
            answers.append(answer)

    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    console.print(
        f"\n[green]Done[/] in {minutes} min {seconds} s. Ask Rex more:\n"
        f'  [bold]{escape(hint)} respond rex "Tell me about your truck." --out text,voice,video[/]'
    )
    return answers


def fitted_voice(studio: Studio, ref: dict[str, Any] | None) -> str | None:
    """What the voice fit found (variant, pitch, rate), when the voice model is a local one."""
    if not ref or ref.get("provider") != "local":
        return None
    from polyface.errors import PolyfaceError

    try:
        params = studio.adapter("local").model(str(ref.get("model"))).params
    except PolyfaceError:  # the summary line is optional
        return None
    parts = [f"{k} {params[k]}" for k in ("variant", "pitch", "range", "rate") if k in params]
    return ", ".join(parts) or None
