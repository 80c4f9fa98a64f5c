"""Rich progress bars for training runs (one bar per modality) and a runs table.

``with RunProgress(console) as bars: runs.wait(progress=bars.update)``: each ``RunInfo`` the wait hands
over moves that run's bar (from its latest event's step, or its progress fraction) and shows its status.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from polyface.cli.common import money

if TYPE_CHECKING:
    from types import TracebackType

    from polyface.persona.views import RunInfo

STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "submitted": "cyan",
    "submitting": "blue",
    "planned": "blue",
}


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{escape(status)}[/]"


def run_fraction(info: RunInfo) -> float | None:
    """How far ``info`` is, 0..1, from its status and latest events (None when nothing says)."""
    if info.status == "succeeded":
        return 1.0
    direct = info.parameters.get("_progress")
    if isinstance(direct, int | float) and not isinstance(direct, bool):
        return max(0.0, min(1.0, float(direct)))
    for event in reversed(info.events):
        for key in ("progress", "fraction"):
            value = event.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return max(0.0, min(1.0, float(value)))
        step, total = event.get("step"), event.get("total_steps")
        if isinstance(step, int | float) and isinstance(total, int | float) and total > 0:
            return max(0.0, min(1.0, float(step) / float(total)))
    return None


def last_message(info: RunInfo) -> str:
    """The run's error, else its latest event's message or loss, for the bar's right-hand side."""
    if info.error:
        return info.error
    for event in reversed(info.events):
        message = event.get("message")
        loss = event.get("loss")
        if isinstance(loss, int | float) and not isinstance(loss, bool):
            return f"loss {loss:.3f}" + (f" - {message}" if message else "")
        if message:
            return str(message)
    return ""


class RunProgress:
    """One Rich progress bar per training run; :meth:`update` is the ``progress=`` callback of ``wait``."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[label]}", table_column=Column(no_wrap=True, min_width=12)),
            BarColumn(bar_width=20),
            TextColumn("{task.percentage:>3.0f}%", table_column=Column(no_wrap=True, min_width=4)),
            TextColumn("{task.fields[status]}", table_column=Column(no_wrap=True, min_width=9)),
            TimeElapsedColumn(),
            TextColumn(
                "[dim]{task.fields[detail]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)
            ),
            console=console,
            transient=False,
            expand=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def add(self, info: RunInfo) -> None:
        """A bar for ``info`` (before its first update, so that every modality shows from the start)."""
        if info.id not in self._tasks:
            label = f"{info.modality:<5} {info.provider}"
            self._tasks[info.id] = self._progress.add_task(
                label, total=1.0, label=escape(label), status=styled_status(info.status), detail=""
            )
        self.update(info)

    def update(self, info: RunInfo) -> None:
        if info.id not in self._tasks:
            self.add(info)
            return
        fraction = run_fraction(info)
        detail = last_message(info)
        fields: dict[str, Any] = {
            "status": styled_status(info.status),
            "detail": escape(detail[:60]),
        }
        if fraction is not None:
            fields["completed"] = fraction
        task = self._tasks[info.id]
        self._progress.update(task, **fields)
        if info.done:
            self._progress.stop_task(task)  # its clock stops at the end


def runs_table(runs: Iterable[RunInfo], title: str = "training runs", *, wide: bool | None = None) -> Table:
    """Runs as a table: id, modality, provider, status, result model; on a wide console (or ``wide``) also
    the persona, the base model, the cost and each error (else print errors apart: :func:`run_errors`)."""
    runs = list(runs)
    if wide is None:
        from polyface.cli.common import console

        wide = console.width >= 140
    table = Table(title=title)
    columns = ["run", "modality", "provider", "status", "result model"]
    if wide:
        columns[1:1] = ["persona"]
        columns[4:4] = ["base model"]
        columns.append("cost")
    for column in columns:
        table.add_column(column, no_wrap=column in ("run", "modality", "status"), overflow="fold")
    for run in runs:
        cost = run.cost if run.cost is not None else run.estimated_cost
        estimated = " (est.)" if run.cost is None and run.estimated_cost is not None else ""
        status = styled_status(run.status)
        if wide and run.error:
            status += f"\n[red]{escape(run.error[:200])}[/]"
        cells = {
            "run": escape(run.id if wide else run.id[:10]),
            "persona": escape(run.persona),
            "modality": run.modality,
            "provider": escape(run.provider),
            "base model": escape(run.base_model),
            "status": status,
            "result model": escape(run.result_model or "-"),
            "cost": money(cost) + estimated,
        }
        table.add_row(*(cells[c] for c in columns))
    return table


def run_errors(runs: Iterable[RunInfo]) -> list[str]:
    """One line per failed run: ``<modality> (<run id>) failed: <error>`` (Rich markup, escaped)."""
    return [
        f"[red]{r.modality} ({escape(r.id[:10])}) failed:[/] {escape(r.error or 'no reason given')}"
        for r in runs
        if r.status == "failed"
    ]
