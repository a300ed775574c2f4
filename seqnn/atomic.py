"""Outputs that are never half-written: write to a temp file beside the target, then rename.

An interrupted run (Ctrl-C, a crash, a full disk) leaves the old file or none, never a
truncated one; the temp file is removed on error. Python's default SIGTERM (and SIGHUP) ends
the process without unwinding, so a long writer wraps itself in :func:`signals_raise`, which
turns them into ``SystemExit`` for as long as it writes. A full disk, a read-only folder or a
folder where a file should go is an :class:`OutputError` naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from seqnn.errors import SeqnnInputError

#: write failures that mean "not here" (full, read-only, no permission), not a bug
WRITE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG)


class OutputError(SeqnnInputError):
    """An output that cannot be written where asked (names the path; nothing was written)."""


@contextlib.contextmanager
def write_errors(path: Path) -> Iterator[None]:
    """Turn a full disk, a read-only folder or a missing permission while writing ``path``
    into an :class:`OutputError` that names it."""
    try:
        yield
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        raise OutputError(
            f"{path}: cannot write it ({err.strerror}): nothing was written; free some space "
            "or give an output in a writable folder"
        ) from None


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Inside: SIGTERM and SIGHUP raise ``SystemExit(128 + signal)``, so ``finally`` blocks
    (:func:`atomic_path`'s temp-file removal) run as they do for Ctrl-C.

    Only signals left at their default action are taken over, and only in the main thread
    (the only one Python delivers signals to); the previous handlers are restored on exit.
    """
    taken: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
            if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
                taken[signum] = signal.signal(signum, _raise_exit)
    try:
        yield
    finally:
        for signum, handler in taken.items():
            signal.signal(signum, handler)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temp file name in ``path``'s folder; renamed to ``path`` on a clean exit.

    For writers that open files by name (safetensors, pyBigWig).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder: give a file name for the output")
    with write_errors(path):
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


@contextlib.contextmanager
def atomic_indexed(
    path: str | Path, index: str | Path, stale: tuple[str | Path, ...] = ()
) -> Iterator[tuple[str, str]]:
    """Yield temp names for a data file and its index (a ``.vcf.gz`` and its ``.tbi``), put
    in place so that no reader ever finds the new data beside an old index, or the reverse.

    Once both are written: the old index (and ``stale``, other index names the old file may
    have, e.g. ``.csi``) is removed, the data renamed, the index renamed last. An interruption
    in between leaves the data without an index (which readers refuse, saying how to make
    one), never a mismatched pair; an error before leaves the old files as they were.
    """
    with atomic_path(index) as index_tmp:
        with atomic_path(path) as data_tmp:
            yield data_tmp, index_tmp
            with write_errors(Path(index)):
                for old in (index, *stale):
                    Path(old).unlink(missing_ok=True)
        # here the data has its name (the inner exit); the outer exit renames the index


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; renamed to ``path`` on a clean exit, so that a
    folder of several files (a pretrained package) appears whole or not at all.

    Raises:
        FileExistsError: ``path`` exists (checked again at the rename; nothing is replaced).
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    with write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            yield tmp
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide the folder from the user's group
            if path.exists():  # appeared meanwhile: rename would replace an empty folder
                raise FileExistsError(f"{path} already exists")
            os.rename(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
