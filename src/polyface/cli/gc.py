"""``polyface gc``: remove what nothing refers to any more (a killed import's files, unused media,
finished runs' work folders).

```console
$ polyface gc                     # files younger than an hour are kept (an import may be committing)
$ polyface gc --older-than 0      # no import or training is running anywhere: sweep everything
```
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from polyface.cli.common import console, fail, open_studio


def gc(
    ctx: typer.Context,
    older_than: Annotated[
        float,
        typer.Option(
            help="Keep stray files younger than this many seconds (another process may be about to "
            "record them); 0 when nothing else is running."
        ),
    ] = 3600.0,
) -> None:
    """Remove unused media, files a crash left in the media store, and ended runs' work folders.

    Nothing a persona, sample, consent, turn or going training run refers to is ever removed."""
    if older_than < 0:
        fail(f"--older-than must be 0 or more seconds (got {older_than:g}).")
    with open_studio(ctx) as studio:
        report = studio.collect_garbage(older_than=older_than)
    lines = [
        (len(report.blobs), "unused media item(s)"),
        (len(report.files), "stray file(s) in the media store"),
        (len(report.workdirs), "work folder(s) of ended training runs"),
    ]
    if not any(count for count, _ in lines):
        console.print("nothing to remove")
        return
    for count, what in lines:
        if count:
            console.print(f"removed {count} {what}")
    for name in report.files:
        console.print(f"  [dim]{escape(name)}[/]")
