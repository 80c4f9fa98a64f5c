"""``polyface``: providers, models and chat from the shell; personas, their avatars and the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from polyface._version import __version__
from polyface.cli.avatar import avatar_app, respond
from polyface.cli.common import CliSettings
from polyface.cli.gc import gc
from polyface.cli.persona import consent_app, persona_app, samples_app
from polyface.cli.runs import runs_app
from polyface.cli.serve import keys_app, serve

app = typer.Typer(
    name="polyface",
    help="One interface over AI providers for every modality, and persona avatars.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"polyface {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Persona database URL (default: POLYFACE_DATABASE_URL, else SQLite in the data folder).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Data folder: media, local models (default: POLYFACE_HOME or the user's)."
        ),
    ] = None,
) -> None:
    """polyface: one typed interface over AI providers."""
    ctx.obj = CliSettings(database=database, data_dir=data_dir)


def _adapter(name: str, api_key: str | None, base_url: str | None) -> Any:
    from polyface.providers.registry import provider

    return provider(name, api_key=api_key, base_url=base_url)


def _fail(exc: Exception) -> None:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
    raise typer.Exit(1)


ProviderArg = Annotated[str, typer.Argument(help="Provider name, e.g. together (see `polyface providers`).")]
KeyOpt = Annotated[
    str | None, typer.Option("--api-key", help="API key (default: the provider's env variable).")
]
UrlOpt = Annotated[str | None, typer.Option("--base-url", help="Base URL (default: the provider's).")]


@app.command()
def providers() -> None:
    """Each provider and the capabilities it offers."""
    from polyface.capability_table import capability_rows

    rows = capability_rows()
    table = Table(title="polyface providers")
    table.add_column("capability")
    names = list(rows[0].keys())[1:] if rows else []
    for name in names:
        table.add_column(name, justify="center")
    for row in rows:
        table.add_row(str(row["capability"]), *["[green]yes[/]" if row[n] else "[dim]-[/]" for n in names])
    console.print(table)


@app.command()
def models(
    provider_name: ProviderArg,
    api_key: KeyOpt = None,
    base_url: UrlOpt = None,
    modality: Annotated[
        str | None, typer.Option(help="Only this modality (text, image, embeddings, ...).")
    ] = None,
) -> None:
    """The provider's model catalog with prices (USD per million tokens)."""
    from polyface.errors import PolyfaceError

    try:
        with _adapter(provider_name, api_key, base_url) as adapter:
            catalog = adapter.models()
    except PolyfaceError as exc:
        _fail(exc)
        return
    table = Table(title=f"{provider_name} models")
    table.add_column("model", no_wrap=True)
    for col in ("modality", "context", "input $/Mtok", "output $/Mtok"):
        table.add_column(col, justify="right" if "$" in col or col == "context" else "left")
    for m in sorted(catalog, key=lambda m: (m.modality, m.id)):
        if modality and m.modality != modality:
            continue
        price = m.pricing
        table.add_row(
            m.id,
            m.modality,
            str(m.context_length or ""),
            f"{price.input_per_mtok:g}" if price else "",
            f"{price.output_per_mtok:g}" if price else "",
        )
    console.print(table)


@app.command()
def chat(
    provider_name: ProviderArg,
    model: Annotated[str, typer.Argument(help="Model id, e.g. meta-llama/Llama-3.3-70B-Instruct-Turbo.")],
    prompt: Annotated[str, typer.Argument(help="What to say ('-' reads standard input).")],
    system: Annotated[str | None, typer.Option(help="A system prompt.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Most tokens to generate.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    stream: Annotated[
        bool, typer.Option("--stream/--no-stream", help="Print the reply as it arrives.")
    ] = True,
    api_key: KeyOpt = None,
    base_url: UrlOpt = None,
) -> None:
    """Send one message and print the reply, its usage and its cost."""
    from polyface.errors import PolyfaceError

    text = sys.stdin.read() if prompt == "-" else prompt
    options: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
    try:
        with _adapter(provider_name, api_key, base_url) as adapter:
            if stream:
                handle = adapter.text.stream(model=model, messages=text, system=system, **options)
                for delta in handle:
                    console.print(delta.text, end="", highlight=False, markup=False, soft_wrap=True)
                console.print()
                usage, cost = handle.usage, handle.cost
            else:
                reply = adapter.text.generate(model=model, messages=text, system=system, **options)
                console.print(reply.text, highlight=False, markup=False)
                usage, cost = reply.usage, reply.cost
    except PolyfaceError as exc:
        _fail(exc)
        return
    if usage is not None:
        price = f"${cost:.6f}" if cost is not None else "cost unknown"
        err.print(
            f"[dim]{usage.input_tokens} in + {usage.output_tokens} out tokens, {price}[/]", highlight=False
        )


@app.command()
def demo(
    ctx: typer.Context,
    providers: Annotated[
        bool,
        typer.Option(
            "--providers", help="Instead: the provider-layer showcase against a local Together fake."
        ),
    ] = False,
) -> None:
    """The offline persona demo: Rex, trained here in every modality, answers in text, voice, video.

    No key, no network. Uses --data-dir (default: <user data>/demo); run again, it starts Rex afresh."""
    if providers:
        from polyface.cli.demo_providers import run as showcase

        showcase(console)
        return
    from polyface.cli.common import clean_errors, settings
    from polyface.cli.demo import run

    options = settings(ctx)
    with clean_errors():
        run(console, data_dir=options.data_dir, database=options.database)


app.add_typer(persona_app, name="persona")
app.add_typer(samples_app, name="samples")
app.add_typer(consent_app, name="consent")
app.add_typer(avatar_app, name="avatar")
app.add_typer(runs_app, name="runs")
app.command("respond")(respond)
app.add_typer(keys_app, name="keys")
app.command("serve")(serve)
app.command("gc")(gc)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
