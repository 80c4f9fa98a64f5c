"""What every persona command shares: the global options, the Studio they open, and clean errors.

``polyface --database URL --data-dir DIR <command>``: the database is ``--database``, else
``POLYFACE_DATABASE_URL``, else SQLite in the data folder; the data folder (media, local models) is
``--data-dir``, else ``POLYFACE_HOME``, else the user's data folder. A :class:`~polyface.errors.PolyfaceError`
is printed in red as one message and the command exits with status 1 (never a traceback).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from polyface.persona.studio import Studio

console = Console()
err = Console(stderr=True)


@dataclass
class CliSettings:
    """The root command's options, handed to every sub-command through ``ctx.obj``."""

    database: str | None = None
    data_dir: Path | None = None


def settings(ctx: typer.Context) -> CliSettings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliSettings) else CliSettings()


def fail(message: str) -> NoReturn:
    """Print ``message`` as an error (red, on standard error) and exit with status 1."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(1)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn polyface's errors into a red message and exit status 1; Ctrl-C exits with 130. Anything else
    is a bug: one line saying so (``POLYFACE_DEBUG=1`` shows the traceback instead)."""
    from polyface.errors import PolyfaceError

    try:
        yield
    except PolyfaceError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if os.environ.get("POLYFACE_DEBUG"):
            raise
        from polyface.providers._base.secrets import redact

        fail(
            f"unexpected {type(exc).__name__}: {redact(str(exc))[:300]} (a bug in polyface: please report "
            "it; POLYFACE_DEBUG=1 shows the traceback)."
        )


@contextmanager
def open_studio(ctx: typer.Context) -> Iterator[Studio]:
    """The Studio on the global options, closed afterwards; errors inside come out clean."""
    with clean_errors():
        from polyface.persona.studio import Studio

        options = settings(ctx)
        studio = Studio(options.database, data_dir=options.data_dir)
        try:
            yield studio
        finally:
            studio.close()


def quiet_library_warnings() -> None:
    """Hide third-party deprecation notices (transformers' FutureWarnings while training) from the
    command's output: they are not the user's to act on."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|torch)(\.|$)")


def split_list(value: str | None) -> list[str]:
    """``"text, voice,video"`` -> ``["text", "voice", "video"]`` (empty for None)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"
