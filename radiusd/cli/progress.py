"""Progress bars for long commands (imports, a large ``pool add``, ``usage rebuild``, exports to
a file): drawn with rich on stderr when stderr is a terminal, nothing at all otherwise, so a
script, a pipe or a log file never gets progress noise. Bars are transient: once the work is
done the line goes away and only the command's own output remains.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

#: set (to anything) to turn progress bars off even on a terminal
ENV_OFF = "RADIUSD_NO_PROGRESS"


class Tick(Protocol):
    """What a command drives: ``advance`` by items done, ``step`` to a named phase."""

    def advance(self, n: int = 1) -> None: ...
    def step(self, what: str) -> None: ...


class _Quiet:
    def advance(self, n: int = 1) -> None:
        pass

    def step(self, what: str) -> None:
        pass


#: a Tick that does nothing
QUIET: Tick = _Quiet()


def wanted() -> bool:
    """True when bars are drawn: stderr is a terminal (not dumb) and RADIUSD_NO_PROGRESS unset."""
    if os.environ.get(ENV_OFF) or os.environ.get("TERM") == "dumb":
        return False
    err = sys.stderr
    return bool(getattr(err, "isatty", None)) and err.isatty()


@contextmanager
def progress(description: str, total: int | None = None, *, console: Console | None = None) -> Iterator[Tick]:
    """A bar (``total`` known) or a spinner with a count (``total`` None) while the block runs;
    a no-op Tick when :func:`wanted` is false and no ``console`` is given (tests pass one)."""
    if console is None and not wanted():
        yield QUIET
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed:,}")]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console or Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)

        class _Rich:
            def advance(self, n: int = 1) -> None:
                bar.advance(task, n)

            def step(self, what: str) -> None:
                bar.update(task, description=f"{description}: {what}", advance=1)

        yield _Rich()
