"""The exit status of a command-line tool's ``main`` run in-process (0 when it returns)."""

from __future__ import annotations

from collections.abc import Callable


def exit_status(main: Callable[[list[str]], None], *args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
