"""Score a pretrained model on labelled data (``seqnn-evaluate``): the test metrics of training.

A table of sequences with truth columns, or a FASTA + regions whose file carries them, goes
through the model (:func:`seqnn.inference.predict.predict_sequences` /
``predict_regions``) and into the
metrics ``seqnn-train`` logs for the model's task (:func:`seqnn.tasks.metrics.default_metrics`,
at the model's decision threshold): AUROC, AUPRC, MCC, sensitivity, specificity ... for
classifiers, Pearson, Spearman, R² for regression. ``baseline=True`` adds the
composition-only baseline's AUROC on the same rows (:mod:`seqnn.qc.composition`, cross-validated
on them; regression: a ridge baseline's Pearson r and R²) and ``margin_over_baseline``;
``by="gc"`` the AUROC within each GC quartile; for
regions, ``gc_matched=True`` the AUROC of the positives against random genome windows drawn
to follow their GC histogram (:func:`seqnn.data.background.random_background_intervals`).
Examples::

    seqnn-evaluate model=cv_ensemble table=other_organism.csv            # a `sequence` column
    seqnn-evaluate model=ecoli-sigma70 fasta=genome.fa regions=labelled.bed out=metrics.json

The truth columns are named like the model's targets (``truth=a,b`` names others; a
multiclass model takes one column of class indices); labels are 0..1 (soft labels count as
positive above 0.5, as in training). Missing, non-numeric or out-of-range truth is an error
that names the file's line and the column.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqnn.data.background import random_background_intervals
from seqnn.data.datasets import read_table
from seqnn.data.encoding import IUPAC, encode
from seqnn.data.intervals import LINE, resize
from seqnn.inference.predict import (
    PredictError,
    predict_regions,
    predict_sequences,
    prediction_columns,
    prepare_regions,
)
from seqnn.inference.pretrained import PretrainedModel
from seqnn.kinds import TaskKind
from seqnn.qc.composition import (
    auroc,
    baseline,
    composition_features,
    pearson,
    r2,
    ridge_baseline,
    stratified_auroc,
)
from seqnn.qc.sources import QCError, encode_padded
from seqnn.tasks.metrics import SCORED_KINDS, default_metrics, metric_inputs
from seqnn.tasks.threshold import tune_threshold

SCORED_TASKS = tuple(k.name for k in SCORED_KINDS)


def score(model: PretrainedModel, predictions: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The model's task metrics of ``predictions`` (N, T) against ``truth`` (N, T), or (N,)
    class indices for a multiclass model."""
    task, kind = model.spec.task, model.kind
    if kind not in SCORED_KINDS:
        raise PredictError(
            f"evaluate: the model's task is {task!r}; only {', '.join(SCORED_TASKS)} models "
            "are scored"
        )
    n_targets = len(model.targets)
    threshold = model.threshold if kind.calls else 0.5
    metrics = default_metrics(task, n_targets, model.targets, threshold)
    preds = torch.from_numpy(np.array(predictions, dtype=np.float32))  # a copy: writable
    truth = np.array(truth)  # a copy: writable
    preds, target = metric_inputs(task, n_targets, preds, torch.from_numpy(truth))
    metrics.update(preds, target)
    with warnings.catch_warnings():  # torchmetrics' one-class warning: handled below
        warnings.filterwarnings("ignore", message=".*(positive|negative) samples.*")
        values = {name: float(value) for name, value in metrics.compute().items()}
    return _undefined_ranking(values, kind, model.targets, truth)


def bootstrap_interval(
    model: PretrainedModel | Sequence[PretrainedModel],
    parts: Sequence[tuple[np.ndarray, np.ndarray]],
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Percentile bootstrap interval of every metric of :func:`score`, averaged over ``parts``
    (``(predictions, truth)`` of each test fold of a cross-validation; one part: one test
    set): each of ``resamples`` replicates draws every part's rows with replacement and
    scores it, with ``model`` (or the part's own model, one per part: e.g. each fold's
    decision threshold). Returns ``<metric>/ci_low`` and ``<metric>/ci_high``; replicates where a
    ranking metric is undefined (one class drawn) are left out of its interval.

    Raises:
        PredictError: ``level`` outside (0, 1) or fewer than 2 ``resamples``.
    """
    if not 0 < level < 1 or resamples < 2:
        raise PredictError(
            f"bootstrap interval: level {level} must lie in (0, 1) (e.g. ci=0.95) and "
            f"resamples {resamples} must be at least 2"
        )
    models = [model] * len(parts) if isinstance(model, PretrainedModel) else list(model)
    if len(models) != len(parts):
        raise PredictError(f"bootstrap interval: {len(models)} models for {len(parts)} parts")
    rng = np.random.default_rng(seed)
    draws: list[dict[str, float]] = []
    with warnings.catch_warnings():  # a one-class replicate: NaN ranking, left out below
        warnings.simplefilter("ignore")
        for _ in range(resamples):
            scored = []
            for part_model, (predictions, truth) in zip(models, parts, strict=True):
                rows = rng.integers(0, len(truth), len(truth))
                drawn = np.asarray(predictions)[rows], np.asarray(truth)[rows]
                scored.append(score(part_model, *drawn))
            draws.append({k: float(np.mean([m[k] for m in scored])) for k in scored[0]})
    tail = (1 - level) / 2 * 100
    interval = {}
    for name in draws[0]:
        values = np.array([d[name] for d in draws])
        low, high = np.nanpercentile(values, [tail, 100 - tail])
        interval[f"{name}/ci_low"], interval[f"{name}/ci_high"] = float(low), float(high)
    return interval


RANKING = ("auroc", "auprc")


def _undefined_ranking(
    values: dict[str, float], kind: TaskKind, targets: Sequence[str], truth: np.ndarray
) -> dict[str, float]:
    """AUROC / AUPRC of a target whose truth holds one class only are undefined: NaN (null
    in JSON) with a warning, not torchmetrics' 0."""
    if kind.targets != "labels":
        return values
    positive = truth.reshape(len(truth), -1) > 0.5
    one_class = [
        t for t, col in zip(targets, positive.T, strict=True) if col.all() or not col.any()
    ]
    if not one_class:
        return values
    warnings.warn(
        f"evaluate: the truth of {', '.join(one_class)} holds one class only: its AUROC and "
        "AUPRC are undefined (NaN)",
        stacklevel=3,
    )
    for name in RANKING:
        if kind.one_target:
            values[name] = float("nan")
            continue
        for target in one_class:
            values[f"{name}/{target}"] = float("nan")
        per_target = [values[f"{name}/{t}"] for t in targets]
        values[name] = (
            float(np.nanmean(per_target)) if not np.isnan(per_target).all() else float("nan")
        )
    return values


def truth_of(
    table: pd.DataFrame,
    model: PretrainedModel,
    columns: Sequence[str] | None,
    source: str,
    where: Callable[[int], str] | None = None,
) -> np.ndarray:
    """The truth columns of ``table`` as checked numbers: 0..1 for binary / multilabel (soft
    labels count as positive above 0.5, as in training), a class index in [0, C) for
    multiclass, finite for regression. Errors name ``where(row)`` (default ``source``, row)."""
    where = where or (lambda i: f"{source}: row {i + 1}")
    task, classes = model.spec.task, model.kind.targets == "classes"
    if columns is None:
        if classes:
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
    expected = 1 if classes else len(model.targets)
    if len(columns) != expected:
        raise PredictError(
            f"{source}: {len(columns)} truth column(s) {columns} for a {task} model with "
            f"target(s) {model.targets}: give {expected}"
        )
    if table.empty:
        raise PredictError(f"{source}: no rows to evaluate")
    values = table[columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if classes:
        n = len(model.targets)
        ok = np.isfinite(values) & (values == np.round(values)) & (values >= 0) & (values < n)
        rule = f"a class index 0..{n - 1}"
    elif model.kind.targets == "values":
        ok, rule = np.isfinite(values), "a finite number"
    else:
        ok = np.isfinite(values) & (values >= 0) & (values <= 1)
        rule = "a label in [0, 1]"
    if not ok.all():
        row, col = (int(k[0]) for k in np.nonzero(~ok))
        value = table[columns[col]].iloc[row]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise PredictError(
            f"{where(row)}: truth column {columns[col]!r} holds {shown}, not {rule}"
        )
    truth = values.astype(np.float32)
    return truth[:, 0] if classes else truth


def evaluate_table(
    model: PretrainedModel,
    table: pd.DataFrame | str | Path,
    truth: Sequence[str] | None = None,
    sequence_column: str = "sequence",
    rc: bool | str = False,
    batch_size: int = 256,
    ci: float | None = None,
    progress: bool = True,
    baseline: bool = False,
    by: str | None = None,
) -> dict[str, float]:
    """Score ``model`` on a table of sequences (a CSV / TSV path or a DataFrame); errors name
    the file's line (the header is line 1). ``ci`` (e.g. 0.95) adds each metric's bootstrap
    interval (:func:`bootstrap_interval`, 1,000 resamples); ``progress`` shows a progress bar
    of the predictions on stderr (only when it is a terminal); ``baseline`` and ``by="gc"``:
    :func:`composition_figures`."""
    if isinstance(table, pd.DataFrame):
        frame, source = table.reset_index(drop=True), "the table"
        where = lambda i: f"the table: row {i + 1}"  # noqa: E731
    else:
        frame, source = read_table(table), str(table)
        where = lambda i: f"{source}:{i + 2}"  # noqa: E731
    if sequence_column not in frame.columns:
        raise PredictError(
            f"{source}: no {sequence_column!r} column (columns: {list(frame.columns)}); "
            "name it with sequence_column=..."
        )
    expected = truth_of(frame, model, truth, source, where)
    column = frame[sequence_column]
    sequences = column.astype(str)
    empty = (column.isna() | (sequences.str.len() == 0)).to_numpy()
    if empty.any():
        raise PredictError(f"{where(int(np.flatnonzero(empty)[0]))}: no sequence")
    # letters checked before the centring, so the error names the file's line and the position
    # in the sequence as written (encode raises on the first row that holds a non-DNA letter)
    not_dna = sequences.str.contains(f"[^{IUPAC}{IUPAC.lower()}]").to_numpy()
    for row in np.flatnonzero(not_dna)[:1]:
        encode(sequences.iloc[row], names=[where(int(row))])
    predicted = predict_sequences(
        model, sequences.tolist(), batch_size=batch_size, rc=rc, progress=progress
    ).to_numpy()
    metrics = score_with_interval(model, predicted, expected, ci)
    if baseline or by:
        codes, lengths = encode_padded(sequences.tolist(), source)
        metrics |= composition_figures(model, codes, lengths, expected, predicted, baseline, by)
    return metrics


def best_threshold(
    model: PretrainedModel,
    table: pd.DataFrame,
    source: str = "validation rows",
    rule: str = "best_mcc",
) -> float:
    """``model``'s (one model or an ensemble) decision threshold on a table's rows (a
    ``sequence`` column and the model's target columns) by ``rule``: ``best_mcc`` or
    ``calibrated`` (:mod:`seqnn.tasks.threshold`). What :class:`seqnn.callbacks.TuneThreshold`
    does in training, for saved models."""
    predicted = predict_sequences(model, table["sequence"].tolist()).to_numpy()
    return tune_threshold(truth_of(table, model, None, source), predicted, rule)


def evaluate_regions(
    model: PretrainedModel,
    genome,
    regions: str | Path | pd.DataFrame,
    truth: Sequence[str] | None = None,
    rc: bool | str = False,
    batch_size: int = 256,
    on_invalid: str = "error",
    ci: float | None = None,
    baseline: bool = False,
    by: str | None = None,
    gc_matched: bool = False,
    **predict_kwargs,
) -> dict[str, float]:
    """Score ``model`` on regions (a BED / TSV / CSV file or a DataFrame with chrom, start,
    end) whose columns hold the truth (``predict_kwargs``: the other options of
    :func:`seqnn.inference.predict.predict_regions`, ``progress`` among them); errors name the
    file's line. ``ci``, ``baseline`` and ``by`` as in :func:`evaluate_table`; ``gc_matched``
    adds :func:`gc_matched_auroc`."""
    genome, table = prepare_regions(genome, regions, on_invalid)
    source = "the regions" if isinstance(regions, pd.DataFrame) else str(regions)
    lines = table[LINE].to_numpy() if LINE in table.columns else None
    where = (lambda i: f"{source}:{lines[i]}") if lines is not None else None
    expected = truth_of(table, model, truth, source, where)
    predicted = predict_regions(
        model, genome, table, batch_size=batch_size, rc=rc, on_invalid=on_invalid,
        **predict_kwargs,
    )  # fmt: skip
    values = predicted[prediction_columns(model.targets)].to_numpy(np.float32)
    metrics = score_with_interval(model, values, expected, ci)
    if baseline or by:
        windows = resize(table, model.input_length)
        starts = windows["start"].to_numpy(np.int64)
        chroms = windows["chrom"].astype(str).to_numpy(object)
        codes = genome.fetch_codes(chroms, starts, starts + model.input_length)
        metrics |= composition_figures(model, codes, None, expected, values, baseline, by)
    if gc_matched:
        metrics |= gc_matched_auroc(model, genome, table, expected, values, rc, batch_size)
    return metrics


def _suffix(model: PretrainedModel, target: str) -> str:
    return "" if len(model.targets) == 1 else f"/{target}"


def composition_figures(
    model: PretrainedModel,
    codes: np.ndarray,
    lengths: np.ndarray | None,
    truth: np.ndarray,
    predicted: np.ndarray,
    baseline_on: bool = True,
    by: str | None = None,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """The composition baseline's AUROC on the evaluated rows (logistic regression on length,
    GC, CpG and the k-mer spectrum k <= 4, ``folds``-fold cross-validated on these rows) and
    the model's margin over it (``baseline_auroc``, ``margin_over_baseline``; ``/<target>``
    per target of a multi-target model), and with ``by="gc"`` the model's AUROC within each
    GC quartile (``gc[lo,hi)/auroc``). Regression models get the ridge baseline's Pearson r
    (``baseline_pearson``, ``baseline_r2``) and the model's Pearson r minus it
    (``margin_over_baseline``); multiclass nothing. A target with fewer than 2 rows of a
    class is left out with a warning."""
    if model.kind.targets == "values":
        if not baseline_on:
            return {}
        return regression_figures(model, composition_features(codes, lengths), truth, predicted)
    if model.kind.targets != "labels":
        return {}
    if by not in (None, "gc"):
        raise PredictError(f"by={by}: give gc (AUROC within each GC quartile) or leave it out")
    features = composition_features(codes, lengths)
    y_all = truth.reshape(len(truth), -1) > 0.5
    out = {}
    for j, target in enumerate(model.targets):
        y, scores, name = y_all[:, j], predicted[:, j], _suffix(model, target)
        if baseline_on:
            try:
                cv = baseline(features, y.astype(np.int8), None, folds, seed, target)[0]
            except QCError as err:
                warnings.warn(f"evaluate: no composition baseline: {err}", stacklevel=2)
            else:
                out[f"baseline_auroc{name}"] = auroc(y, cv) or float("nan")
                out[f"margin_over_baseline{name}"] = (auroc(y, scores) or float("nan")) - out[
                    f"baseline_auroc{name}"
                ]
        if by == "gc":
            strata = stratified_auroc(y, scores, features[:, 1])
            nan = float("nan")
            out |= {f"{s}/auroc{name}": nan if v is None else v for s, v in strata.items()}
    return out


def regression_figures(
    model: PretrainedModel,
    features: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """The ridge composition baseline of a regression model's targets, cross-validated on the
    evaluated rows (``baseline_pearson``, ``baseline_r2``), and ``margin_over_baseline``: the
    model's Pearson r minus the baseline's (``/<target>`` per target of several)."""
    y = truth.reshape(len(truth), -1).astype(np.float64)
    values = predicted.reshape(len(predicted), -1)
    try:
        cv = ridge_baseline(features, y, None, folds, seed)[0]
    except QCError as err:
        warnings.warn(f"evaluate: no composition baseline: {err}", stacklevel=2)
        return {}
    out, nan = {}, float("nan")
    for j, target in enumerate(model.targets[: y.shape[1]]):
        name = _suffix(model, target)
        base = pearson(y[:, j], cv[:, j])
        mine = pearson(y[:, j], values[:, j])
        out[f"baseline_pearson{name}"] = nan if base is None else base
        out[f"baseline_r2{name}"] = nan if (fit := r2(y[:, j], cv[:, j])) is None else fit
        out[f"margin_over_baseline{name}"] = nan if None in (base, mine) else mine - base
    return out


def gc_matched_auroc(
    model: PretrainedModel,
    genome,
    regions: pd.DataFrame,
    truth: np.ndarray,
    predicted: np.ndarray,
    rc: bool | str = False,
    batch_size: int = 256,
    seed: int = 0,
) -> dict[str, float]:
    """``auroc_gc_matched``: the model's AUROC of the positive regions (first target) against
    as many random genome windows, drawn away from every region and to follow the positives'
    GC histogram: what is left of the AUROC once GC cannot tell the classes apart.

    Raises:
        PredictError: a model with several targets, or no positive region.
    """
    if len(model.targets) != 1 or model.kind.targets != "labels":
        raise PredictError("gc_matched=true: give a model with one binary target")
    positive = truth.reshape(len(truth), -1)[:, 0] > 0.5
    if not positive.any():
        raise PredictError("gc_matched=true: the regions hold no positive")
    length = model.input_length
    background = random_background_intervals(
        genome,
        int(positive.sum()),
        length,
        exclude=regions,
        gc_match=regions[positive],
        seed=seed,
    )
    negative = predict_regions(model, genome, background, batch_size=batch_size, rc=rc)
    scores = negative[prediction_columns(model.targets)].to_numpy(np.float32)[:, 0]
    y = np.r_[np.ones(int(positive.sum())), np.zeros(len(scores))]
    value = auroc(y, np.r_[predicted[positive, 0], scores])
    return {"auroc_gc_matched": float("nan") if value is None else value}


def score_with_interval(
    model: PretrainedModel, predictions: np.ndarray, truth: np.ndarray, ci: float | None
) -> dict[str, float]:
    """:func:`score`, plus each metric's bootstrap interval at level ``ci`` when given."""
    values = score(model, predictions, truth)
    if ci is None:
        return values
    return values | bootstrap_interval(model, [(predictions, truth)], level=ci)
