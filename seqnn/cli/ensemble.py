"""``seqnn-ensemble models=<a>,<b>[,...] out=<folder>``: average pretrained packages into one
(settings and their documentation: ``configs/ensemble.yaml``).

Bad input prints one ``seqnn-ensemble: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

import glob
from pathlib import Path

from seqnn.atomic import atomic_folder
from seqnn.cli.settings import run_cli, split_names
from seqnn.inference.ensemble import ensemble_pretrained
from seqnn.inference.pretrained import PretrainedError, save_pretrained


def run(cfg) -> list[Path]:
    """``seqnn-ensemble`` with its settings (``configs/ensemble.yaml``): the folder written."""
    out = Path(cfg.out)
    if out.exists():
        raise PretrainedError(
            f"seqnn-ensemble: out {out} already exists: give a new folder (or delete it)"
        )
    names = model_list(cfg.models)
    threshold = cfg.get("threshold")
    model = ensemble_pretrained(names, None if threshold is None else float(threshold))
    with atomic_folder(out) as tmp:
        save_pretrained(model, tmp)
    print(f"seqnn-ensemble: {len(names)} members: {', '.join(names)}")
    return [out]


def model_list(value: object) -> list[str]:
    """``a,b,c``, ``[a,b,c]`` (a list, from the command line) -> the names; a glob pattern
    (``runs/*/model``) is expanded, sorted.

    Raises:
        PretrainedError: a pattern that matches nothing.
    """
    names = []
    for item in split_names(value):
        if not item:
            continue
        if any(c in item for c in "*?["):  # a glob pattern
            found = sorted(glob.glob(item))
            if not found:
                raise PretrainedError(f"seqnn-ensemble: models pattern {item!r} matches nothing")
            names.extend(found)
        else:
            names.append(item)
    return names


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-ensemble models=<a>,<b>[,...] out=<folder>`` (settings:
    ``configs/ensemble.yaml``); bad input prints one error line and exits with status 2."""
    run_cli("seqnn-ensemble", argv, "ensemble.yaml", run, PretrainedError, (ValueError, OSError))


if __name__ == "__main__":
    main()
