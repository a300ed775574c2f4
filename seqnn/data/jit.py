"""``njit``: numba's ``njit``, applied when a module's first kernel is first called.

Importing numba loads LLVM (about 110 MB of resident memory and 0.4 s per process). The
paths a training or prediction process runs on every batch (fetching intervals from the
genome's code cache, one-hot on the device) are plain numpy and torch, so a DataLoader worker
or DDP rank that only fetches intervals never loads it. The compiled kernels (string
encoding, the FASTA scan, dinucleotide shuffles) still compile once and are cached on disk
(``cache=True``) as before. A ``parallel=True`` kernel writes its loop over threads with this
module's :data:`prange`.

On the first call of any kernel of a module, every kernel that module defined with this
decorator is compiled (in definition order) and replaces its lazy stand-in in the module's
namespace, so kernels that call each other see numba dispatchers.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable

_PENDING: dict[str, list[tuple[str, Callable, dict]]] = {}

#: ``numba.prange`` inside a kernel: plain ``range`` until the module's kernels compile, when
#: the module's ``prange`` becomes numba's (a ``parallel=True`` kernel's loop over threads)
prange = range
_LOCK = threading.Lock()


def njit(**options) -> Callable[[Callable], Callable]:
    """``@njit(cache=True, nogil=True)``: as ``numba.njit(**options)``, compiled on first use."""

    def wrap(func: Callable) -> Callable:
        module = func.__module__
        _PENDING.setdefault(module, []).append((func.__name__, func, options))

        @functools.wraps(func)
        def call(*args):
            _compile(module)
            return vars(sys.modules[module])[func.__name__](*args)

        return call

    return wrap


def _compile(module: str) -> None:
    with _LOCK:  # a second thread waits until the namespace holds the dispatchers
        pending = _PENDING.pop(module, None)
        if pending is None:  # already compiled (the stand-in was imported elsewhere)
            return
        import numba

        namespace = vars(sys.modules[module])
        if namespace.get("prange") is prange:
            namespace["prange"] = numba.prange
        for name, func, options in pending:
            namespace[name] = numba.njit(**options)(func)
