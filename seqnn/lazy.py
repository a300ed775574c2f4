"""Module attributes imported on first use, so that ``import seqnn`` stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping


def lazy_getattr(
    package: str, names: Mapping[str, str], submodules: Collection[str] = ()
) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``names[attr]`` (a module path) on first access,
    and ``<package>.<attr>`` for an ``attr`` in ``submodules`` (so that ``import seqnn;
    seqnn.data.one_hot(...)`` works without importing every sub-package up front)."""

    def __getattr__(name: str) -> object:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
