"""The QC report a person reads: ``DIR/report.md`` with its figures (``gc.png``: GC histograms
per class and split; ``roc.png``: the composition baseline's ROC curve beside the model's) and
``DIR/qc.json`` with every figure. Each file is written to a temp file and renamed
(:mod:`seqnn.atomic`), ``qc.json`` last, so a reader never sees half a report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from seqnn.atomic import atomic_open, atomic_path
from seqnn.data.splits import STAGES
from seqnn.qc.checks import QCResult
from seqnn.qc.composition import auroc

JSON_FILE, REPORT_FILE, GC_FIGURE, ROC_FIGURE = "qc.json", "report.md", "gc.png", "roc.png"
MAX_CURVES = 4  # targets drawn in roc.png


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars as numbers, NaN / inf as null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def qc_json(result: QCResult) -> dict[str, Any]:
    """The figures of ``result`` as plain JSON values."""
    return _clean(result.figures)


def write_report(
    result: QCResult,
    out: str | Path,
    labels: np.ndarray | None = None,
    model_curves: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[Path]:
    """Write ``report.md``, ``gc.png``, ``roc.png`` and ``qc.json`` into folder ``out``.

    Args:
        result: :func:`~seqnn.qc.checks.run_qc`'s result.
        out: the report folder (made if missing; files already there are replaced).
        labels: (n_rows,) 0/1 labels of the first target for the GC histograms (None: one
            histogram per split).
        model_curves: per target, a model's (labels, scores) on the test rows, drawn beside
            the baseline's on the same rows.

    Returns:
        The paths written.
    """
    out = Path(out)
    written = [_gc_figure(result, out / GC_FIGURE, labels)]
    if result.curves:
        written.append(_roc_figure(result, out / ROC_FIGURE, model_curves or {}))
    with atomic_open(out / REPORT_FILE) as fh:
        fh.write(markdown(result, [p.name for p in written]))
    with atomic_open(out / JSON_FILE) as fh:
        json.dump(qc_json(result), fh, indent=2)
        fh.write("\n")
    return [*written, out / REPORT_FILE, out / JSON_FILE]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a training node
    import matplotlib.pyplot as plt

    return plt


def _gc_figure(result: QCResult, path: Path, labels: np.ndarray | None) -> Path:
    plt = _pyplot()
    gc, rows = result.gc["gc"], result.gc["rows"]
    split = np.concatenate(
        [np.full(n, i) for i, n in enumerate(result.figures["rows"][s] for s in STAGES)]
    )
    fig, axes = plt.subplots(1, 3, figsize=(11, 3), sharex=True)
    bins = np.linspace(0, 1, 41)
    for i, (stage, ax) in enumerate(zip(STAGES, axes, strict=True)):
        mine = split == i
        classes = [("all", mine)] if labels is None else [
            ("negative", mine & (labels[rows] == 0)), ("positive", mine & (labels[rows] == 1))
        ]  # fmt: skip
        for name, pick in classes:
            values = gc[pick]
            values = values[np.isfinite(values)]
            if len(values):
                ax.hist(values, bins, alpha=0.5, density=True, label=f"{name} ({len(values)})")
        ax.set_title(stage)
        ax.set_xlabel("GC fraction")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("density")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def _roc_figure(result: QCResult, path: Path, model_curves: dict) -> Path:
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    targets = list(result.curves)[:MAX_CURVES]
    fig, axes = plt.subplots(1, len(targets), figsize=(3.6 * len(targets), 3.4), squeeze=False)
    for target, ax in zip(targets, axes[0], strict=True):
        shown = [("baseline, cv on train", *result.curves[target])]
        if target in result.test_curves:
            shown.append(("baseline, test rows", *result.test_curves[target]))
        if target in model_curves:
            shown.append(("model, test rows", *model_curves[target]))
        for name, y, scores in shown:
            value = auroc(y, scores)
            if value is None:
                continue
            fpr, tpr, _ = roc_curve(y, scores)
            ax.plot(fpr, tpr, label=f"{name} ({value:.3f})")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_title(str(target))
        ax.set_xlabel("false positive rate")
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("true positive rate")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def markdown(result: QCResult, figures: list[str]) -> str:
    """The report's text: findings, leaks, baseline, distributions, balance, figures."""
    f = result.figures
    lines = [f"# Data QC: {f['source']}", ""]
    lines += [f"Rows: {', '.join(f'{s} {n:,}' for s, n in f['rows'].items())}.", ""]
    if "sample" in f:
        drawn = ", ".join(f"{s} {d['rows']:,} of {d['of']:,}" for s, d in f["sample"].items())
        lines += [
            f"Tiled windows: the interval overlaps count every window; the other checks read "
            f"a seeded random sample of the windows ({drawn}).",
            "",
        ]
    lines += ["## Findings", ""]
    lines += [f"- **{x.level}** ({x.check}): {x.message}" for x in result.findings] or [
        "None: no leak, shortcut or confounder passed its threshold."
    ]
    lines += ["", "## Dependent examples across splits", ""]
    lines += ["| kind | val | test | total | positive / negative |", "|---|---|---|---|---|"]
    for key in ("duplicates", "rc_duplicates", "near_duplicates", "overlapping_intervals"):
        if f.get(f"{key}_per_split") is None:
            continue
        per = f[f"{key}_per_split"]
        total = f[f"{key}_across_splits"]
        by = f.get(f"{key}_by_class")
        classes = f"{by['positive']} / {by['negative']}" if by else "-"
        lines.append(
            f"| {key} | {per.get('val', 0)} | {per.get('test', 0)} | {total} | {classes} |"
        )
    groups = f["conflicting_labels"]
    lines += ["", f"Conflicting labels: {groups['groups']} sequences ({groups['rows']} rows).", ""]
    if "dropped" in f:
        went = ", ".join(f"{s} {n:,}" for s, n in f["dropped"].items()) or "none"
        lines += [f"Dropped from the evaluated splits (`qc_settings.drop`): {went}.", ""]
    lines += _baseline_lines(f)
    lines += _distribution_lines(f)
    lines += [f"![{name}]({name})" for name in figures]
    lines += ["", f"Checks took {f['seconds']} s; settings and every figure: `qc.json`.", ""]
    return "\n".join(lines)


def _regression_lines(f: dict) -> list[str]:
    lines = ["## Composition baseline (ridge regression: length, GC, CpG, k-mers k <= 4)", ""]
    lines += [
        "| target | Pearson r, cv on train | R², cv on train | length + GC + CpG + N only | "
        "Pearson r, test rows | model, test rows | margin |",
        "|---|---|---|---|---|---|---|",
    ]
    margins, model = f.get("margin_over_baseline", {}), f.get("model_test_pearson", {})
    for target, value in f["baseline_pearson"].items():
        cells = [value, f["baseline_r2"].get(target), f["low_order_pearson"].get(target)]
        cells += [f["baseline_test_pearson"].get(target), model.get(target)]
        cells.append(margins.get(target))
        lines.append(f"| {target} | " + " | ".join(_num(c) for c in cells) + " |")
    return [*lines, ""]


def _baseline_lines(f: dict) -> list[str]:
    if f.get("baseline_pearson"):
        return _regression_lines(f)
    if not f["baseline_auroc"]:
        return [f.get("baseline_note", "Composition baseline: not run."), ""]
    lines = ["## Composition baseline (logistic regression: length, GC, CpG, k-mers k <= 4)", ""]
    lines += [
        "| target | AUROC, cv on train | length + GC + CpG + N only | AUROC, test rows | "
        "model, test rows | margin |",
        "|---|---|---|---|---|---|",
    ]
    margins, model = f.get("margin_over_baseline", {}), f.get("model_test_auroc", {})
    for target, value in f["baseline_auroc"].items():
        test, low = f["baseline_test_auroc"].get(target), f["low_order_auroc"].get(target)
        lines.append(
            f"| {target} | {_num(value)} | {_num(low)} | {_num(test)} | "
            f"{_num(model.get(target))} | {_num(margins.get(target))} |"
        )
    if "test_rows_without_leaks" in f:
        model, base = f["model_test_auroc_without_leaks"], f["baseline_test_auroc_without_leaks"]
        for target in model:
            lines.append(
                f"On the {f['test_rows_without_leaks']} test rows that copy no earlier row: "
                f"model AUROC {_num(model[target])}, baseline {_num(base.get(target))} "
                f"({target})."
            )
    return [*lines, ""]


def _distribution_lines(f: dict) -> list[str]:
    lines = ["## Positives vs negatives", "", "| target | statistic | test | value | p |"]
    lines.append("|---|---|---|---|---|")
    for target, tests in f["distributions"].items():
        for stat, t in tests.items():
            mark = " (flagged)" if t["flagged"] else ""
            lines.append(
                f"| {target} | {stat} | {t['test']} | {t['statistic']:.3f}{mark} | "
                f"{t['p_value']:.1e} |"
            )
    lines += ["", "## Class balance", "", "| split | target | positive | negative |"]
    lines.append("|---|---|---|---|")
    for stage, per in f["class_balance"].items():
        for target, b in per.items():
            lines.append(f"| {stage} | {target} | {b['positive']} | {b['negative']} |")
    return [*lines, ""]


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"
