"""Modules that moved in 0.2 (the inference and command-line packages): their old import paths
still work for one release, as the same module objects, with a ``DeprecationWarning`` naming the
new path. ``import seqnn`` installs the finder; nothing else imports this module.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

#: old path -> new path
MOVED = {
    "seqnn.pretrained": "seqnn.inference.pretrained",
    "seqnn.predict": "seqnn.inference.predict",
    "seqnn.scan": "seqnn.inference.scan",
    "seqnn.variants": "seqnn.inference.variants",
    "seqnn.distributed_predict": "seqnn.inference.multi_device",
    "seqnn.ensemble": "seqnn.inference.ensemble",
    "seqnn.evaluate": "seqnn.inference.evaluate",
    "seqnn.export": "seqnn.inference.export",
    "seqnn.settings": "seqnn.cli.settings",
    "seqnn.train": "seqnn.cli.train",
    "seqnn.run_report": "seqnn.cli.run_report",
    "seqnn.tasks.outputs": "seqnn.models.outputs",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old path with the module now at the new one (one module object, so its
    classes and functions are the same objects under both names)."""

    def __init__(self) -> None:
        self._specs: dict = {}  # new path -> the module's own spec

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} has moved to {new}: import it from there ({spec.name} is kept for one "
            "release)",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        self._specs[new] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # importlib has just set the old path's spec on the module: give it back its own
        module.__spec__ = self._specs[module.__name__]


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
