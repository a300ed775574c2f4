"""seqnn-train's run folder (``hydra.run.dir``): a folder of its own for every run, even two
started in the same second (a job array), or, on a resume, the run the checkpoint belongs to,
whose logs then go on from the checkpoint's step (:func:`continue_logs`).

``configs/hydra/default.yaml`` asks for it, and for a multirun's folder (``hydra.sweep.dir``),
through the ``seqnn_run_dir`` resolver::

    run:
      dir: ${seqnn_run_dir:${paths.log_dir}/runs/${now:%Y-%m-%d}_${now:%H-%M-%S},${ckpt_path}}
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import OmegaConf

from seqnn.atomic import atomic_open

RESOLVER = "seqnn_run_dir"


def checkpoint_run(ckpt_path: object) -> Path | None:
    """The seqnn-train run folder holding ``ckpt_path`` (``<run>/checkpoints/<name>.ckpt``,
    with Hydra's ``<run>/.hydra/config.yaml`` beside it), or None for any other path."""
    if not ckpt_path:
        return None
    path = Path(str(ckpt_path))
    run = path.parent.parent
    if path.parent.name == "checkpoints" and path.is_file():
        if (run / ".hydra" / "config.yaml").is_file():
            return run
    return None


def make_new_dir(path: Path) -> Path:
    """Create ``path``, or ``<path>_1``, ``<path>_2``... if it is taken: ``mkdir`` is atomic, so
    two processes asking for the same name at once get two folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count():
        candidate = path if n == 0 else path.with_name(f"{path.name}_{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")  # itertools.count() never ends


def run_dir(name: str, ckpt_path: object = None) -> str:
    """``hydra.run.dir``: the folder of the run that ``ckpt_path`` resumes (the same run goes
    on: its checkpoints, best score and logs), else a new folder ``name`` (made here, with a
    suffix if another run took the name first)."""
    resumed = checkpoint_run(ckpt_path)
    return str(resumed if resumed is not None else make_new_dir(Path(name)))


def register_run_dir_resolver() -> None:
    """Make ``${seqnn_run_dir:...}`` known to OmegaConf. Cached: a config resolves it once,
    however often ``hydra.run.dir`` is read, so one run makes one folder."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, run_dir, use_cache=True)


@rank_zero_only
def continue_logs(loggers: list[Any], ckpt_path: str | None) -> None:
    """Before a resumed run logs anything: its loggers go on with the run's earlier logs.

    The rows of the CSV logger's ``metrics.csv`` logged before the checkpoint's step stay
    (Lightning's CSVLogger would delete the file) and TensorBoard hides the events logged at
    or after it (``purge_step``); the resumed run logs those steps again. Loggers without
    earlier files (a resume into a new folder, or a Lightning name like ``last``) start anew.
    """
    if not ckpt_path or not Path(ckpt_path).is_file():
        return
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)
    step = int(checkpoint["global_step"])
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger) and Path(logger.log_dir).is_dir():
            logger._kwargs["purge_step"] = step  # read when the SummaryWriter is made
        elif isinstance(logger, CSVLogger):
            _keep_csv_rows(logger, step)


def _keep_csv_rows(logger: CSVLogger, step: int) -> None:
    """Keep the rows of ``logger``'s metrics.csv logged before ``step``, and its columns."""
    path = Path(logger.log_dir) / "metrics.csv"
    if not path.is_file():
        return
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [row for row in reader if row.get("step") and int(row["step"]) < step]
        columns = list(reader.fieldnames or [])
    writer = logger.experiment  # made now: it deletes the file, then appends to what is here
    with atomic_open(path, "w") as fh:
        table = csv.DictWriter(fh, fieldnames=columns)
        table.writeheader()
        table.writerows(rows)
    writer.metrics_keys = columns  # the header it appends under (it adds new columns)
