"""The data QC step of ``seqnn-train`` (``qc=warn|error|off``) and what ``seqnn-qc`` adds to
:func:`seqnn.qc.run_qc`: a pretrained model's scores on the test rows beside the baseline's,
the run's report folder, and the figures that go into the model card.

``qc=warn`` (the default) runs the checks before fitting, writes ``<run>/qc/`` (report.md,
qc.json, figures) and logs each finding; ``qc=error`` stops on an ``error`` finding (a leak
or conflicting labels) with one line naming it; ``qc=off`` skips it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from seqnn.data.encoding import decode
from seqnn.data.intervals import contig_indices
from seqnn.data.splits import STAGES
from seqnn.errors import SeqnnInputError
from seqnn.inference.predict import predict_sequences
from seqnn.qc import MODES, QCData, QCError, QCResult, QCSettings, qc_data, run_qc, write_report
from seqnn.qc.composition import (
    auroc,
    baseline_report,
    binary_columns,
    features_of,
    margin,
    regression_report,
    stratified_auroc,
)
from seqnn.qc.duplicates import reference_ranges

log = logging.getLogger("seqnn.qc")
CARD_KEYS = (
    "duplicates_across_splits",
    "rc_duplicates_across_splits",
    "near_duplicates_across_splits",
    "overlapping_intervals_across_splits",
    "conflicting_labels",
    "baseline_auroc",
    "low_order_auroc",
    "baseline_test_auroc",
    "baseline_pearson",
    "baseline_r2",
    "low_order_pearson",
    "baseline_test_pearson",
    "margin_over_baseline",
    "step_seconds",
)


class QCFailed(SeqnnInputError):
    """``qc=error`` found a leak: the message names it and the report."""


def check_mode(mode: Any) -> str:
    """``qc=`` as one of :data:`seqnn.qc.MODES` (YAML reads ``off`` as False)."""
    mode = "off" if mode is False else str(mode).lower()
    if mode not in MODES:
        raise SeqnnInputError(f"qc={mode}: give one of {', '.join(MODES)}")
    return mode


def data_of(datamodule, settings: QCSettings) -> QCData:
    """:func:`~seqnn.qc.qc_data` of ``datamodule`` with the settings' sample sizes."""
    return qc_data(datamodule, settings.sample_train, settings.sample_eval, settings.seed)


def checked(
    mode: str, settings: QCSettings, data: QCData, out: Path, drop: bool = False, datamodule=None
) -> QCResult:
    """Run the checks, write the report into ``out``, log the findings; with ``mode="error"``
    raise :class:`QCFailed` on an error finding; with ``drop`` leave the leaking rows out of
    ``datamodule``'s evaluated splits (the baseline is then refitted on what is left)."""
    result = run_qc(data, settings)
    for finding in result.findings:
        log.warning("qc: %s", finding)
    if drop and datamodule is not None:
        if data.windows is None:
            dropped = {s: datamodule.drop_rows(s, rows) for s, rows in result.leak_rows.items()}
        else:
            dropped = _drop_windows(datamodule, data, result, settings.max_gap)
        result.figures["dropped"] = dropped
        log.info("qc.drop: left out of the evaluated splits: %s", dropped)
        if any(dropped.values()) and settings.baseline:
            _refit_baseline(
                result,
                data_of(datamodule, settings),
                settings,
            )
    columns = binary_columns(data)
    labels = None if columns is None else columns[0][:, 0]
    write_report(result, out, labels)
    if mode == "error" and result.errors and not drop:
        shown = "; ".join(f.message for f in result.errors[:3])
        raise QCFailed(
            f"qc=error: {len(result.errors)} problem(s) in the data: {shown} (report: "
            f"{out / 'report.md'}; qc.drop=true leaves them out, qc=warn goes on)"
        )
    log.info("qc: %d finding(s); report: %s", len(result.findings), out / "report.md")
    return result


def _drop_windows(datamodule, data: QCData, result: QCResult, max_gap: int) -> dict[str, int]:
    """Tiled windows: leave out of each evaluated split every window that overlaps (or comes
    less than ``max_gap`` bp from) a window of an earlier split, and the sampled windows
    found copying one; how many went per split. Ranges of window numbers throughout
    (:func:`~seqnn.qc.duplicates.reference_ranges`), never one entry per window."""
    splits, dropped = data.windows, {}
    names = list(datamodule.split_rows()[0].genome.names)
    for stage in STAGES[1:]:
        if not len(splits.get(stage, ())):
            continue
        contig, lo, hi = reference_ranges(splits, stage, max_gap)
        copies = result.leak_rows.get(stage, np.zeros(0, np.int64))
        found = data.intervals.iloc[copies]  # sampled windows (their overlaps are in lo..hi)
        k = found["start"].to_numpy(np.int64) // splits[stage].stride
        contig = np.r_[contig, contig_indices(found["chrom"], names)]
        dropped[stage] = datamodule.drop_windows(stage, contig, np.r_[lo, k], np.r_[hi, k + 1])
    return dropped


def _refit_baseline(result: QCResult, data: QCData, settings: QCSettings) -> None:
    if data.label_form == "values":
        report = regression_report(data, "test", settings.folds, settings.max_rows, settings.seed)
        result.figures["baseline_test_pearson"] = report["baseline_test_pearson"]
        result.figures["baseline_test_r2"] = report["baseline_test_r2"]
        result.test_values, result.test_rows = report["test_values"], report["test_rows"]
        return
    report = baseline_report(data, "test", settings.folds, settings.max_rows, settings.seed)
    result.figures["baseline_test_auroc"] = report.get("baseline_test_auroc", {})
    result.test_curves = report.get("test_curves", {})
    result.test_rows = report.get("test_rows", result.test_rows)


def train_qc(
    mode: Any,
    settings: QCSettings | None,
    datamodule,
    out: Path,
    fast_dev_run: bool | int = False,
) -> QCResult | None:
    """``seqnn-train``'s QC step before fitting (``settings`` None: the defaults); None for
    ``qc=off``, for a ``trainer.fast_dev_run`` smoke run (one log line says so: a smoke run
    checks that the code runs, not the data), or (``qc=warn``) when the data cannot be
    checked (a warning says why)."""
    mode = check_mode(mode)
    settings = settings or QCSettings()
    if mode == "off":
        return None
    if fast_dev_run:
        log.info("qc: skipped: trainer.fast_dev_run is a smoke run (seqnn-qc checks the data)")
        return None
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        data = data_of(datamodule, settings)
        result = checked(mode, settings, data, out, settings.drop, datamodule)
    except QCError as err:
        if mode == "error":
            raise
        log.warning("qc: not checked: %s", err)
        return None
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # what the step adds to a training run (checks, report, figures): logged and kept
    result.figures["step_seconds"] = {"wall": round(wall, 2), "cpu": round(cpu, 2)}
    log.info("qc: the step took %.1f s (%.1f CPU s)", wall, cpu)
    return result


def test_margins(result: QCResult | None, metrics: dict[str, float]) -> dict[str, float]:
    """``test/margin_over_baseline[/<target>]``: the tested model's AUROC (regression: Pearson
    r) minus the composition baseline's on the same test rows (added to the run's metrics)."""
    if result is None:
        return {}
    metric = "pearson" if result.figures.get("baseline_test_pearson") else "auroc"
    baseline = result.figures.get(f"baseline_test_{metric}")
    if not baseline:
        return {}
    single = len(baseline) == 1
    model = {
        t: metrics.get(f"test/{metric}/{t}", metrics.get(f"test/{metric}") if single else None)
        for t in baseline
    }
    margins = margin({t: v for t, v in model.items() if v is not None}, baseline)
    result.figures[f"model_test_{metric}"] = {t: v for t, v in model.items() if v is not None}
    result.figures["margin_over_baseline"] = margins
    if single:
        return {"test/margin_over_baseline": next(iter(margins.values()))} if margins else {}
    return {f"test/margin_over_baseline/{t}": v for t, v in margins.items()}


def card_figures(result: QCResult | None, out: Path) -> dict[str, Any]:
    """The QC figures a model card carries (and where the report is)."""
    if result is None:
        return {}
    figures = {k: result.figures[k] for k in CARD_KEYS if k in result.figures}
    figures["findings"] = [str(f) for f in result.findings]
    figures["report"] = str(out / "report.md")
    return {"data_qc": figures}


def model_scores(model, data: QCData, rows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """A pretrained model's (len(rows), T) predictions on ``rows`` of ``data``."""
    parts = []
    for _, codes, lengths in data.chunks(rows):
        sequences = [s[:n] for s, n in zip(decode(codes), lengths, strict=True)]
        scores = predict_sequences(model, sequences, batch_size=batch_size, progress=False)
        parts.append(scores.to_numpy(np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, len(model.targets)), np.float32)


def add_model(result: QCResult, model, data: QCData) -> dict:
    """A pretrained model's AUROC on the test rows beside the baseline's on the same rows
    (``model_test_auroc``, ``margin_over_baseline``, AUROC per GC quartile
    ``model_test_auroc_by_gc``, and both AUROCs on the test rows without leaks,
    ``*_without_leaks``); returns its ROC inputs ``{target: (labels, scores)}``."""
    rows = result.test_rows
    columns = binary_columns(data)
    if columns is None or not len(rows):
        return {}
    y_all, names = columns
    scores = model_scores(model, data, rows)
    targets = [t for t in names if t in model.targets] or names[: scores.shape[1]]
    curves, model_auroc, by_gc = {}, {}, {}
    gc = features_of(data, rows, 2)[:, 1]
    for j, name in enumerate(targets):
        column = model.targets.index(name) if name in model.targets else j
        y = y_all[rows, names.index(name)]
        curves[name] = (y, scores[:, column])
        model_auroc[name] = auroc(y, scores[:, column])
        by_gc[name] = stratified_auroc(y, scores[:, column], gc)
    result.figures["model_test_auroc"] = model_auroc
    result.figures["margin_over_baseline"] = margin(
        {t: v for t, v in model_auroc.items() if v is not None},
        result.figures["baseline_test_auroc"],
    )
    result.figures["model_test_auroc_by_gc"] = by_gc
    result.figures |= _without_leaks(result, curves, y_all, names, rows)
    return curves


def _without_leaks(result: QCResult, curves: dict, y_all, names, rows) -> dict:
    """The model's and the baseline's AUROC on the test rows that copy no earlier row:
    how much of the test figure the leaks carry."""
    leaks = result.leak_rows.get("test")
    if leaks is None or not len(leaks):
        return {}
    keep = ~np.isin(rows, leaks)
    model, base = {}, {}
    for name, (y, scores) in curves.items():
        model[name] = auroc(y[keep], scores[keep])
        if name in result.test_curves:
            base_y, base_scores = result.test_curves[name]
            base[name] = auroc(base_y[keep], base_scores[keep])
    return {
        "test_rows_without_leaks": int(keep.sum()),
        "model_test_auroc_without_leaks": model,
        "baseline_test_auroc_without_leaks": base,
    }
