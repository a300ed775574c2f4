"""A cheap hyper-parameter search with ``seqnn-train``: a cross-validated objective per trial
and the best trial's package exported when the search ends.

``seqnn-train hparams_search=tf_binding data=table data.table=mine.csv`` runs Hydra's Optuna
sweeper (configs/hparams_search/): each trial is one ``seqnn-train`` job with the trial's
settings. With ``search_folds: k`` (set by the search configs) a job trains folds
``0 .. k-1`` of a stratified k-fold cross-validation of the table (``data.folds=k``), each
in ``<trial>/fold<i>``, and returns the mean of the monitored metric over the folds'
held-out rows (:func:`cross_validated`): the trial's objective. Choosing on held-out rows makes
the best trial's own figure optimistic; judge the chosen settings on rows the search never
saw (``data.test_table=``). :class:`ExportBest`, a Hydra callback, copies the best trial's
package (its fold-0 model, with ``search_best.json``: the trial, its settings, the value) to
``<sweep>/best_model`` when the sweep ends.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from seqnn.cli.run_report import write_json_atomic
from seqnn.errors import SeqnnInputError

log = logging.getLogger("seqnn.search")
# each trial's objective, beside its fold folders
OBJECTIVE_FILE = "objective.json"


def held_out_metric(monitor: str) -> str:
    """The held-out (``test/``) name of a monitored ``val/`` metric."""
    return "test/" + monitor.split("/", 1)[1] if monitor.startswith("val/") else monitor


def cross_validated(cfg: DictConfig, train: Callable[[DictConfig], dict[str, float]]) -> float:
    """Train ``cfg`` on each fold of a ``cfg.search_folds``-fold cross-validation and return
    the mean of the monitored metric over the folds' held-out rows; writes
    ``objective.json`` (the value, the metric, each fold's figure) in the run folder.

    Raises:
        SeqnnInputError: fewer than 2 folds, or data that is not a table (folds split a
            table's rows).
    """
    folds = int(cfg.search_folds)
    if folds < 2 or "folds" not in cfg.data:
        raise SeqnnInputError(
            f"search_folds={cfg.search_folds}: give 2 or more, with data=table (the folds "
            "split a table's rows)"
        )
    out = Path(cfg.paths.output_dir)
    metric = held_out_metric(cfg.monitor.metric)
    figures = []
    for fold in range(folds):
        run = cfg.copy()
        with open_dict(run):
            run.data.folds, run.data.fold = folds, fold
            run.paths.output_dir = str(out / f"fold{fold}")
        figures.append(float(train(run).get(metric, math.nan)))
        log.info("search fold %d of %d: %s %.4f", fold + 1, folds, metric, figures[-1])
    value = sum(figures) / folds
    write_json_atomic(out / OBJECTIVE_FILE, {"value": value, "metric": metric, "folds": figures})
    return value


class ExportBest(Callback):
    """When a search (``-m``) ends, copy the best trial's package to ``<sweep>/best_model``
    and write ``search_best.json`` there (trial folder, its command-line settings, value).

    Args:
        mode: ``max`` or ``min``: which objective is best (the search's direction).
    """

    def __init__(self, mode: str = "max") -> None:
        self.mode = mode

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        trials = []
        for path in sorted(sweep.glob(f"*/{OBJECTIVE_FILE}")):
            value = json.loads(path.read_text())["value"]
            if math.isfinite(value):
                trials.append((value, path.parent))
        if not trials:
            log.warning("search: no trial under %s finished with a finite objective", sweep)
            return
        value, trial = (max if self.mode == "max" else min)(trials, key=lambda t: t[0])
        export_trial(trial, sweep / "best_model", value)


def export_trial(trial: Path, dest: Path, value: float) -> None:
    """Copy ``trial``'s fold-0 package (or its own, without folds) to ``dest`` with a
    ``search_best.json``; the copy is made beside ``dest`` and renamed into place."""
    package = next((p for p in (trial / "fold0" / "model", trial / "model") if p.is_dir()), None)
    if package is None:
        raise SeqnnInputError(f"{trial}: the best trial exported no model (test: false?)")
    overrides = trial / ".hydra" / "overrides.yaml"
    settings = OmegaConf.to_container(OmegaConf.load(overrides)) if overrides.exists() else []
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".best_model-") as tmp:
        copy = Path(tmp) / "model"
        shutil.copytree(package, copy)
        write_json_atomic(
            copy / "search_best.json",
            {"trial": str(trial), "settings": settings, "objective": value},
        )
        if dest.exists():
            shutil.rmtree(dest)
        copy.rename(dest)
    log.info("search: best trial %s (objective %.4f), its package: %s", trial, value, dest)
