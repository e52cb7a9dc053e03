"""Terminal rendering shared by the commands: progress bars and amounts."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from boveda.demo import Progress as DemoProgress
from boveda.money import format_btc

# Not a terminal (a file, a pipe, a test): lines are not wrapped, so a printed command can be copied whole.
console = Console(soft_wrap=not sys.stdout.isatty(), width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


def btc(amount_sat: int) -> str:
    return format_btc(amount_sat)


class BarProgress(DemoProgress):
    """Draws one bar per stage on stderr (so stdout stays clean for --json).

    The bars start with the first stage: a command refused before any work prints its one line of
    error on stderr and nothing else.
    """

    def __init__(self) -> None:
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        )
        self._task = None
        self._started = False

    def __enter__(self) -> BarProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self._bars.stop()

    def stage(self, name: str, total: int | None = None) -> None:
        if not self._started:
            self._bars.start()
            self._started = True
        if self._task is not None:
            task = self._bars.tasks[-1]
            self._bars.update(self._task, completed=task.total or task.completed)
        self._task = self._bars.add_task(name, total=total)

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._bars.update(self._task, completed=done)
