"""``polyface serve`` (the REST API, the OpenAI-compatible gateway and the studio page on one port) and
``polyface keys`` (the gateway's bearer keys).

```console
$ polyface keys create laptop --rpm 60      # prints the key once: keep it
$ polyface serve --host 0.0.0.0 --port 8000
$ polyface keys list
$ polyface keys revoke laptop               # by name or by the prefix `keys list` shows
```
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from polyface.cli.common import console, err, fail, open_studio
from polyface.server.settings import is_loopback

if TYPE_CHECKING:
    from polyface.persona.studio import Studio

keys_app = typer.Typer(
    help="Bearer keys of the OpenAI-compatible gateway: create, list, revoke.", no_args_is_help=True
)

KEEP_ALIVE_SECONDS = 30


def _auth() -> Any:
    try:
        from polyface.server import auth
    except ModuleNotFoundError as exc:
        fail(f"the server needs {exc.name!r}: run `pip install 'polyface[server]'`.")
    return auth


@contextmanager
def _keys_studio(ctx: typer.Context) -> Iterator[tuple[Studio, Any]]:
    auth = _auth()
    with open_studio(ctx) as studio:
        yield studio, auth


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for (e.g. laptop, ci).")],
    rpm: Annotated[
        float | None, typer.Option("--rpm", help="Requests per minute this key may make (default: no limit).")
    ] = None,
) -> None:
    """Make a gateway key and print it, once: only its hash is stored."""
    with _keys_studio(ctx) as (studio, auth):
        info, secret = auth.create_key(studio, name, rate_limit_rpm=rpm)
    console.print(secret, markup=False, highlight=False, soft_wrap=True)
    limit = f", {info.rate_limit_rpm:g} requests per minute" if info.rate_limit_rpm else ""
    err.print(
        f"[green]key {escape(info.name)}[/] ({escape(info.prefix)}...{limit}) created: copy it now, it "
        "is not shown again. Clients send it as 'Authorization: Bearer <key>'.",
        highlight=False,
    )


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """The gateway keys (their names and prefixes, never the secrets)."""
    with _keys_studio(ctx) as (studio, auth):
        infos = auth.list_keys(studio)
    if not infos:
        console.print("no keys yet: make one with `polyface keys create NAME`", markup=False)
        return
    table = Table(title="gateway keys")
    for column in ("name", "prefix", "rpm", "created", "last used", "status"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            escape(info.name),
            escape(info.prefix) + "...",
            f"{info.rate_limit_rpm:g}" if info.rate_limit_rpm else "-",
            f"{info.created_at:%Y-%m-%d %H:%M}" if info.created_at else "-",
            f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never",
            "[red]revoked[/]" if info.revoked else "[green]active[/]",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    name_or_prefix: Annotated[str, typer.Argument(help="The key's name, or its prefix (pf-...).")],
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    with _keys_studio(ctx) as (studio, auth):
        info = auth.revoke_key(studio, name_or_prefix)
    console.print(f"key {escape(info.name)} ({escape(info.prefix)}...) revoked", highlight=False)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every network).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the REST API (/api, docs at /docs), the OpenAI-compatible gateway (/v1), the studio page (/),
    /metrics and /healthz on one port."""
    auth = _auth()
    with open_studio(ctx) as studio:
        has_key = auth.has_active_key(studio)
        if not has_key and not is_loopback(host):
            fail(
                f"refusing to serve on {host}, reachable from other machines, without a gateway key: run "
                "`polyface keys create NAME` first (or serve on 127.0.0.1)."
            )
        if not has_key:
            err.print(
                "[yellow]note:[/] no gateway key yet: /v1 answers 401 until you run "
                "`polyface keys create NAME`.",
                highlight=False,
            )
        try:
            import uvicorn

            from polyface.server.app import create_app
            from polyface.server.settings import ServerSettings
        except ModuleNotFoundError as exc:
            fail(f"the server needs {exc.name!r}: run `pip install 'polyface[server]'`.")
        app = create_app(studio, ServerSettings(host=host, port=port))
        # Idle connections live longer here than in clients (httpx and openai drop theirs after 5 s), so the
        # server never closes one just as a client sends on it (measured: 2 of 12,000 chats lost at 5 s).
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=KEEP_ALIVE_SECONDS)
