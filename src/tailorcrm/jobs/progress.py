"""Progress reporting for jobs: a callback type and a Rich implementation for the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

# step name, units done, units in all (None when unknown)
ProgressFn = Callable[[str, int, int | None], None]


def no_progress(step: str, done: int, total: int | None) -> None:
    """A progress callback that reports nothing (library default)."""


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[ProgressFn]:
    """A progress callback drawing one Rich bar per step, for the CLI."""
    progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=False)
    tasks: dict[str, TaskID] = {}

    def report(step: str, done: int, total: int | None) -> None:
        if step not in tasks:
            tasks[step] = progress.add_task(step, total=total)
        progress.update(tasks[step], completed=done, total=total)

    with progress:
        yield report
