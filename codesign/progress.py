"""Progress that works in a log: the part of rich's Progress API codesign uses, as one plain line per step.

On a terminal the CLI shows rich bars; piped to a file (nohup, CI, a cluster job) rich draws nothing until the
end, so `plain_or_rich` returns `PlainProgress` there: every add_task/update/advance prints one line with the
count, the elapsed time and an ETA.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def _count(value: float) -> str:
    """A count as a person reads it: 3, or 1.7 of a fractional total (a descent counts trials in epochs)."""
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0
    start: float = field(default_factory=time.monotonic)


class PlainProgress:
    def __init__(self, write):
        self._write = write
        self._tasks: list[_Task] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **_) -> int:
        self._tasks.append(_Task(description, total, completed))
        self._line(len(self._tasks) - 1)
        return len(self._tasks) - 1

    def update(self, task_id: int, *, advance: float | None = None, completed: float | None = None,
               description: str | None = None, total: float | None = None, **_) -> None:
        task = self._tasks[task_id]
        before = task.completed
        task.completed = completed if completed is not None else task.completed + (advance or 0)
        task.description = description or task.description
        task.total = total if total is not None else task.total
        if task.completed != before or description:
            self._line(task_id)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _line(self, task_id: int) -> None:
        task = self._tasks[task_id]
        elapsed = time.monotonic() - task.start
        count = f"{_count(task.completed)}/{_count(task.total)}" if task.total else _count(task.completed)
        eta = ""
        if task.total and 0 < task.completed < task.total:
            eta = f", ETA {_clock(elapsed / task.completed * (task.total - task.completed))}"
        self._write(f"{task.description}: {count} ({_clock(elapsed)} elapsed{eta})")


def plain_or_rich(console):
    """Rich bars (with ETA) on a terminal, plain lines elsewhere."""
    if not console.is_terminal:
        return PlainProgress(lambda line: console.print(line, highlight=False, soft_wrap=True))
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=False)
