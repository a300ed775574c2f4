"""Progress bars for seqnn's long loops (predict, scan, variants, evaluate).

One helper, :func:`progress_bar`, used by every verb that loops over batches: a rich bar on
stderr with the count done, the rate and the time left; nothing at all when stderr is not a
terminal (a pipe, a log file, a test) or when the verb is called with ``progress=False``.
Training's bar is Lightning's ``RichProgressBar``; this is the same look for inference.
Example::

    with progress_bar(len(windows), "predict", unit="windows") as advance:
        for batch in batches:
            ...
            advance(len(batch))

This module imports only rich and the standard library (the bottom layer of seqnn).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def console() -> Console:
    """The console the bars draw on: stderr, so that stdout stays for results."""
    return Console(stderr=True)


class _RateColumn(ProgressColumn):
    """``1,234 windows/s`` (rich's own speed column counts bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = "?" if speed is None else f"{speed:,.0f}"
        return Text(f"{shown} {self.unit}/s", style="progress.data.speed")


@contextlib.contextmanager
def progress_bar(
    total: int | None, description: str, enabled: bool = True, unit: str = "windows"
) -> Iterator[Callable[[int], None]]:
    """A progress bar over ``total`` items; yields ``advance(n)``, to call after each batch.

    Args:
        total: the number of items the loop will process (None: unknown).
        description: what the loop does, shown left of the bar (e.g. ``"scan chr1"``).
        enabled: False draws nothing; True draws when stderr is a terminal.
        unit: what an item is, for the rate (``"windows"``, ``"variants"``).

    Yields:
        ``advance(n)``: mark ``n`` more items done (a no-op when no bar is drawn).
    """
    out = console() if enabled else None
    if out is None or not out.is_terminal:
        yield lambda n: None
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
    )
    # transient=False: the finished bar stays, as a record of how long the step took
    with Progress(*columns, console=out) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def line_total(path: str | Path) -> int | None:
    """The number of lines of a plain text file, as the total of a streamed file's bar (one
    pass of ``bytes.count`` over 16 MiB blocks: ~10 ms for 30 MB); None for a gzip file, a
    pipe or anything that cannot be read twice (the bar then shows no total)."""
    try:
        path = Path(path)
        if not path.is_file():
            return None
        with open(path, "rb") as fh:
            if fh.peek(2)[:2] == b"\x1f\x8b":
                return None
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b""))
    except OSError:
        return None
