"""Outputs that are never half-written: write to a temp file beside the target, then rename.

An interrupted run (Ctrl-C, a crash, a full disk) leaves the old file or none, never a
truncated one; the temp file is removed on error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temp file name in ``path``'s folder; renamed to ``path`` on a clean exit.

    For writers that open files by name (safetensors, pyBigWig).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide outputs from the user's group
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """``open(path, mode)`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh
