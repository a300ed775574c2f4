"""Score a pretrained model on labelled data (``seqnn-evaluate``): the test metrics of training.

A table of sequences with truth columns, or a FASTA + regions whose file carries them, goes
through the model (:func:`seqnn.predict.predict_sequences` / ``predict_regions``) and into the
metrics ``seqnn-train`` logs for the model's task (:func:`seqnn.tasks.metrics.default_metrics`,
at the model's decision threshold): AUROC, AUPRC, MCC, sensitivity, specificity ... for
classifiers, Pearson, Spearman, R² for regression. Examples::

    seqnn-evaluate model=cv_ensemble table=other_organism.csv            # a `sequence` column
    seqnn-evaluate model=ecoli-sigma70 fasta=genome.fa regions=labelled.bed out=metrics.json

The truth columns are named like the model's targets (``truth=a,b`` names others; a
multiclass model takes one column of class indices). Missing or non-numeric truth is an error
that names the file, the column and the row.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqnn.data.datasets import read_table
from seqnn.predict import PredictError, predict_regions, predict_sequences
from seqnn.pretrained import PretrainedModel, load_pretrained
from seqnn.tasks.metrics import default_metrics, metric_inputs

SCORED_TASKS = ("binary", "multilabel", "multiclass", "regression")
RC_SETTINGS = {"true": True, "false": False, "mean": "mean", "max": "max"}


def score(model: PretrainedModel, predictions: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The model's task metrics of ``predictions`` (N, T) against ``truth`` (N, T), or (N,)
    class indices for a multiclass model."""
    task = model.spec.task
    if task not in SCORED_TASKS:
        raise PredictError(
            f"evaluate: the model's task is {task!r}; only {', '.join(SCORED_TASKS)} models "
            "are scored"
        )
    n_targets = len(model.targets)
    threshold = model.threshold if task in ("binary", "multilabel") else 0.5
    metrics = default_metrics(task, n_targets, model.targets, threshold)
    preds = torch.from_numpy(np.array(predictions, dtype=np.float32))  # a copy: writable
    preds, target = metric_inputs(task, n_targets, preds, torch.from_numpy(np.array(truth)))
    metrics.update(preds, target)
    return {name: float(value) for name, value in metrics.compute().items()}


def truth_of(
    table: pd.DataFrame, model: PretrainedModel, columns: Sequence[str] | None, source: str
) -> np.ndarray:
    """The truth columns of ``table`` as numbers (errors name ``source``, column and row)."""
    multiclass = model.spec.task == "multiclass"
    if columns is None:
        if multiclass:
            raise PredictError(
                f"{source}: a multiclass model needs truth=<column> (the class-index column)"
            )
        columns = model.targets
    columns = list(columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PredictError(
            f"{source}: no truth column(s) {missing} (the model's targets are "
            f"{model.targets}): add them, or name the truth columns with truth=a,b"
        )
    if multiclass and len(columns) != 1:
        raise PredictError(f"{source}: a multiclass model takes one truth column, got {columns}")
    if not multiclass and len(columns) != len(model.targets):
        raise PredictError(
            f"{source}: {len(columns)} truth column(s) {columns} for "
            f"{len(model.targets)} target(s) {model.targets}"
        )
    values = table[columns].apply(pd.to_numeric, errors="coerce")
    bad = values.isna().any(axis=1).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise PredictError(
            f"{source}: row {row + 1}: truth {table[columns].iloc[row].tolist()} is not a "
            "number (every row needs a value in each truth column)"
        )
    truth = values.to_numpy(np.float32)
    return truth[:, 0] if multiclass else truth


def evaluate_table(
    model: PretrainedModel,
    table: pd.DataFrame | str | Path,
    truth: Sequence[str] | None = None,
    sequence_column: str = "sequence",
    rc: bool | str = False,
    batch_size: int = 256,
) -> dict[str, float]:
    """Score ``model`` on a table of sequences (a CSV / TSV path or a DataFrame)."""
    source = str(table) if not isinstance(table, pd.DataFrame) else "the table"
    frame = read_table(table) if not isinstance(table, pd.DataFrame) else table
    if sequence_column not in frame.columns:
        raise PredictError(
            f"{source}: no {sequence_column!r} column (columns: {list(frame.columns)}); "
            "name it with sequence_column=..."
        )
    expected = truth_of(frame, model, truth, source)
    sequences = frame[sequence_column].astype(str).tolist()
    predicted = predict_sequences(model, sequences, batch_size=batch_size, rc=rc).to_numpy()
    return score(model, predicted, expected)


def evaluate_regions(
    model: PretrainedModel,
    genome,
    regions: str | Path,
    truth: Sequence[str] | None = None,
    rc: bool | str = False,
    batch_size: int = 256,
    **predict_kwargs,
) -> dict[str, float]:
    """Score ``model`` on the regions of a BED / TSV / CSV file whose columns hold the truth
    (``predict_kwargs``: the options of :func:`seqnn.predict.predict_regions`)."""
    table = predict_regions(model, genome, regions, batch_size=batch_size, rc=rc, **predict_kwargs)
    # predict_regions names a prediction <target>_pred when the file already has <target>
    columns = [f"{t}_pred" if f"{t}_pred" in table.columns else t for t in model.targets]
    clash = [c for c in (truth or model.targets) if c in columns]
    if clash:  # the file has no such column: these are the new predictions
        raise PredictError(
            f"{regions}: no truth column(s) {clash} (the model's targets are {model.targets}): "
            "add them, or name the truth columns with truth=a,b"
        )
    predicted = table[columns]
    expected = truth_of(table, model, truth, str(regions))
    return score(model, predicted.to_numpy(np.float32), expected)


def main(argv: list[str] | None = None) -> None:
    """``seqnn-evaluate model=<m> (table=<csv|tsv> | fasta=<fa> regions=<bed>) [truth=a,b]
    [sequence_column=sequence] [rc=true] [out=metrics.json]``."""
    from seqnn.atomic import atomic_open
    from seqnn.errors import exit_on_bad_input

    argv = sys.argv[1:] if argv is None else argv
    settings = dict(a.split("=", 1) for a in argv if "=" in a)
    known = {"model", "table", "fasta", "regions", "truth", "sequence_column", "rc", "out"}
    unknown = (set(settings) - known) | {a for a in argv if "=" not in a}
    usage = (
        "usage: seqnn-evaluate model=<folder|name> (table=<csv|tsv> | fasta=<fa> "
        "regions=<bed>) [truth=a,b] [sequence_column=sequence] [rc=true] [out=metrics.json]"
    )
    with exit_on_bad_input("seqnn-evaluate", also=(ValueError, OSError)):
        has_table = "table" in settings
        region_keys = {"fasta", "regions"} & set(settings)
        if (
            unknown
            or "model" not in settings
            or has_table == bool(region_keys)
            or (region_keys and len(region_keys) < 2)
        ):
            extra = f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""
            raise ValueError(usage + extra)
        truth = [t for t in settings.get("truth", "").split(",") if t] or None
        rc = RC_SETTINGS.get(settings.get("rc", "false").lower())
        if rc is None:
            raise ValueError(f"rc={settings['rc']}: give true, false, mean or max")
        model = load_pretrained(settings["model"])
        if has_table:
            metrics = evaluate_table(
                model, settings["table"], truth, settings.get("sequence_column", "sequence"), rc
            )
        else:
            metrics = evaluate_regions(model, settings["fasta"], settings["regions"], truth, rc)
        if "out" in settings:
            with atomic_open(settings["out"]) as fh:
                json.dump(metrics, fh, indent=2)
                fh.write("\n")
    for name, value in metrics.items():
        print(f"{name}\t{value:.4f}")


if __name__ == "__main__":
    main()
