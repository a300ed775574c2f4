"""Rows read out of a file at many offsets with ``pread``: the batch path of the caches.

The genome's code cache and the coverage stores are read a batch of windows at a time, each
window a few hundred bytes to a few kB at a random place in a file of up to gigabytes. Read
with one ``pread`` per window, a window is a copy out of the page cache: nothing is mapped,
so the cost per window and the process's resident set stay flat in the file's size, where a
gather from a memory map faults in a fresh page per window and keeps what it mapped
(measured with 1M random 1-kb windows of a code cache: 229k windows/s at 0.1 Gb and 71k at
3.1 Gb from the map, 569k and 482k read this way). The loop below runs once per window, but
each step is the system call itself.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

#: False where the OS has no ``pread`` (Windows): the callers read their memory map instead
HAVE_PREAD = hasattr(os, "pread")


def read_rows(fh: BinaryIO, offsets: np.ndarray, size: int) -> bytearray | None:
    """``size`` bytes at each of ``offsets`` (bytes into the open file ``fh``), end to end.

    Args:
        fh: a file opened for reading (``open(path, "rb", buffering=0)``).
        offsets: (k,) int64 byte offsets.
        size: bytes per row.

    Returns:
        A writable buffer of ``k * size`` bytes (view it with ``np.frombuffer``), or None when
        a row ran past the end of the file (a truncated or replaced file: the caller names it).
    """
    fd = fh.fileno()
    data = bytearray(b"".join([os.pread(fd, size, offset) for offset in offsets.tolist()]))
    return data if len(data) == len(offsets) * size else None
