"""``polyface runs``: every persona's training runs: list, watch (progress bars), resume, cancel.

```console
$ polyface runs list --persona rex
$ polyface runs watch                 # every run still going, a bar per modality
$ polyface runs resume                # after a crash: nothing lost, nothing duplicated
$ polyface runs cancel 3f2a...
```
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from polyface.cli.avatar import follow, report_runs
from polyface.cli.common import console, fail, open_studio

runs_app = typer.Typer(
    help="Training runs of every persona: list, watch, resume, cancel.", no_args_is_help=True
)


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    persona: Annotated[str | None, typer.Option(help="Only this persona's runs.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only runs in this state (running, succeeded, failed...).")
    ] = None,
) -> None:
    """The training runs (as recorded; `runs watch` asks the providers for news)."""
    with open_studio(ctx) as studio:
        if persona is not None:
            studio.personas.get(persona)  # a clean error for an unknown name
        infos = studio.runs.list(persona=persona, status=status)
    if not infos:
        console.print("no training runs" + (f" for {escape(persona)}" if persona else ""))
        return
    report_runs(infos)


@runs_app.command("watch")
def watch(
    ctx: typer.Context,
    run_ids: Annotated[
        list[str] | None, typer.Argument(help="Runs to follow (default: all not done).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop watching after this many seconds.")] = None,
) -> None:
    """Follow runs until they finish, with a progress bar per run (the runs go on if you stop)."""
    from polyface.persona.training import Runs

    with open_studio(ctx) as studio:
        ids = list(run_ids or [])
        for run_id in ids:
            studio.runs.get(run_id)  # a clean error for an unknown id
        if not ids:
            ids = [i.id for i in studio.runs.list() if not i.done]
        if not ids:
            console.print("no runs are going; `polyface runs list` shows the finished ones")
            return
        infos = follow(Runs(studio, None, ids), timeout=timeout)
    report_runs(infos)
    if any(i.status == "failed" for i in infos):
        fail("some runs failed (the reasons are above).")


@runs_app.command("resume")
def resume(
    ctx: typer.Context,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the resumed runs to the end.")
    ] = True,
) -> None:
    """Pick up runs a crash interrupted; nothing is lost or sent twice.

    Unsent runs are submitted, half-sent ones are found at the provider, dead local jobs start again."""
    from polyface.persona.training import Runs

    with open_studio(ctx) as studio:
        touched = studio.runs.resume()
        if not touched:
            console.print("nothing to resume: every run was submitted and is followed")
            return
        console.print(f"resumed {len(touched)} run(s)")
        infos = touched
        local = [t.id for t in touched if t.provider == "local" and not t.done]
        if wait:
            infos = follow(Runs(studio, None, [t.id for t in touched]))
        elif local:
            console.print("[dim]local runs train inside this command: following them[/]")
            done = {i.id: i for i in follow(Runs(studio, None, local))}
            infos = [done.get(t.id, t) for t in touched]
    report_runs(infos)


@runs_app.command("cancel")
def cancel(ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="The run to cancel.")]) -> None:
    """Cancel a run at its provider and here."""
    with open_studio(ctx) as studio:
        infos = studio.runs.cancel(run_id)
    for info in infos:
        console.print(f"run {escape(info.id)} ({info.modality}) is [yellow]{escape(info.status)}[/]")
