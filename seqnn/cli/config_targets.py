"""What a training config may build: every ``_target_`` is checked before anything is built.

Hydra's ``instantiate`` calls whatever a ``_target_`` names, so a config value such as
``data.table={_target_:shutil.copyfile,src:...,dst:...}`` would run that function. ``seqnn-train``
builds only **classes** under the packages below (networks, data modules, losses, optimisers,
metrics, Lightning's trainer, callbacks and loggers) and the few seqnn **functions** that
configs use to load shipped data; anything else is refused, naming the key and the list.

A lab's own networks or callbacks: name their packages in the environment of the run, which a
config cannot set: ``SEQNN_TRUSTED_TARGETS=mylab.models,mylab.callbacks seqnn-train ...``
(their classes, not their functions, may then be built).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig

from seqnn.errors import SeqnnInputError

#: packages whose classes a config may build (a prefix ends at a dot: no look-alike packages)
ALLOWED_CLASS_PREFIXES = (
    "seqnn.data.",
    "seqnn.models.",
    "seqnn.tasks.",
    "seqnn.callbacks.",
    "seqnn.qc.",  # QCSettings: what the data checks before training look for
    "torch.nn.",
    "torch.optim.",
    "torchmetrics.",
    "lightning.pytorch.",
    "pytorch_lightning.",
)
#: the environment variable naming further packages whose classes a config may build
TRUSTED_ENV = "SEQNN_TRUSTED_TARGETS"
#: functions a config may call (they load the shipped data sets or a user's FASTA files, or
#: tile a genome)
ALLOWED_FUNCTIONS = (
    "seqnn.data.embedded.ecoli_fasta",
    "seqnn.data.embedded.ecoli_promoter_intervals",
    "seqnn.data.embedded.cnnprom_table",
    "seqnn.data.embedded.ctcf_table",
    "seqnn.data.labelled.fasta_table",  # data=fasta: labelled FASTA files (read, never run)
    "seqnn.data.tiling.tile_genome",
    "seqnn.data.tiling.tile_windows",
    # model=finetune: a package's network (checked as load_pretrained checks it), new head
    "seqnn.inference.finetune.finetune_network",
)


class ConfigTargetError(SeqnnInputError):
    """A ``_target_`` that seqnn will not build (names the key, the target and the list)."""


def targets(cfg: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(key, _target_)`` pair in a config, nested ones included."""
    if isinstance(cfg, DictConfig | dict):
        items = cfg.items_ex(resolve=False) if isinstance(cfg, DictConfig) else cfg.items()
        for name, value in items:
            where = f"{key}.{name}" if key else str(name)
            if name == "_target_":
                yield key or "<root>", value
            else:
                yield from targets(value, where)
    elif isinstance(cfg, ListConfig | list | tuple):
        for i, value in enumerate(cfg):
            yield from targets(value, f"{key}[{i}]")


def check_targets(cfg: Any) -> None:
    """Refuse a config that would build anything outside the allow-lists.

    Raises:
        ConfigTargetError: naming the key, its ``_target_`` and what is allowed.
    """
    own = {k: v for k, v in cfg.items() if k != "hydra"} if isinstance(cfg, DictConfig) else cfg
    for key, target in targets(own):  # Hydra's own node (its launcher, sweeper) is Hydra's
        if not _allowed(target):
            raise ConfigTargetError(
                f"{key}._target_={target!r}: seqnn-train builds only classes under "
                f"{', '.join(p + '*' for p in trusted_prefixes())} and the functions "
                f"{', '.join(ALLOWED_FUNCTIONS)}: give one of those, or trust your own "
                f"package in the run's environment ({TRUSTED_ENV}=mylab.models)"
            )


def trusted_prefixes() -> tuple[str, ...]:
    """:data:`ALLOWED_CLASS_PREFIXES` and the packages named in ``SEQNN_TRUSTED_TARGETS``."""
    extra = os.environ.get(TRUSTED_ENV, "")
    named = [p.strip().rstrip(".") + "." for p in extra.split(",") if p.strip().strip(".")]
    return (*ALLOWED_CLASS_PREFIXES, *named)


def _allowed(target: Any) -> bool:
    if not isinstance(target, str):
        return False
    if target in ALLOWED_FUNCTIONS:
        return True
    if not target.startswith(trusted_prefixes()):
        return False  # checked before anything is imported
    try:
        obj = get_object(target)
    except Exception:  # noqa: BLE001 -- an unimportable name is refused like a foreign one
        return False
    return inspect.isclass(obj)
