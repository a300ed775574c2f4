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

from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import CheckpointIO
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
def continue_logs(loggers: list[Any], step: int | None) -> None:
    """Before a resumed run logs anything: its loggers go on with the run's earlier logs.

    The rows of the CSV logger's ``metrics.csv`` logged before the checkpoint's step stay
    (Lightning's CSVLogger would delete the file) and TensorBoard hides the events logged at
    or after it (``purge_step``); the resumed run logs those steps again. Loggers without
    earlier files (a resume into a new folder, or a Lightning name like ``last``) start anew.

    Args:
        loggers: the run's loggers.
        step: the resumed checkpoint's ``global_step`` (None: not a resume from a file).
    """
    if step is None:
        return
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger) and Path(logger.log_dir).is_dir():
            logger._kwargs["purge_step"] = step  # read when the SummaryWriter is made
        elif isinstance(logger, CSVLogger):
            _keep_csv_rows(logger, step)


class CheckedCheckpointIO(CheckpointIO):
    """The strategy's checkpoint IO on a resume: ``fit(ckpt_path=path)`` gets the checkpoint
    seqnn-train has already read and checked (``weights_only=True``), so the file is read
    once, and a file swapped in after the check (or an environment that turns torch's safe
    load off) never reaches Lightning's unpickler. Saving, and loading any other path (the
    best checkpoint for the test), go to ``inner``.

    Args:
        inner: the strategy's own checkpoint IO.
        path: the path given to ``Trainer.fit``.
        checkpoint: its contents, handed over once (then freed, as Lightning frees its own).
    """

    def __init__(self, inner: CheckpointIO, path: str, checkpoint: dict[str, Any]) -> None:
        self.inner, self.path, self._checkpoint = inner, path, checkpoint

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        if self._checkpoint is not None and str(path) == self.path:
            checkpoint, self._checkpoint = self._checkpoint, None
            return checkpoint
        kwargs = {} if map_location is None else {"map_location": map_location}
        return self.inner.load_checkpoint(path, weights_only=weights_only, **kwargs)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options=None) -> None:
        self.inner.save_checkpoint(checkpoint, path, storage_options=storage_options)

    def remove_checkpoint(self, path: Any) -> None:
        self.inner.remove_checkpoint(path)

    def teardown(self) -> None:
        self.inner.teardown()


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
