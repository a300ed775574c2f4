"""All the checks on one dataset: :func:`run_qc` -> :class:`QCResult` (figures + findings).

Findings have a level: ``error`` for leaks (rows of an evaluated split that copy, nearly copy
or overlap a reference row; identical sequences with conflicting labels), which make a test
figure wrong, and ``warning`` for shortcuts and confounders (a composition-only baseline that
separates the classes, a per-class distribution gap, a skewed class balance), which make it
easy. ``seqnn-train qc=error`` and ``seqnn-qc qc=error`` stop on an ``error`` finding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from seqnn.qc.composition import baseline_report, binary_columns, regression_report
from seqnn.qc.confounders import class_balance, distributions, row_stats
from seqnn.qc.duplicates import (
    check_labels_exist,
    conflicting_labels,
    exact_leaks,
    hash_rows,
    interval_leaks,
    near_leaks,
)
from seqnn.qc.sources import QCData

MODES = ("warn", "error", "off")


@dataclass
class QCSettings:
    """What the checks look for, and how hard.

    Args:
        near: run the near-duplicate search.
        k: k-mer length of the near-duplicate sets (canonical k-mers; 10: a random pair of
            1 kb sequences shares ~0.1% of them).
        n_bands, rows_per_band: MinHash LSH bands (``n_bands * rows_per_band`` hashes, a
            power of 2): a pair of Jaccard similarity J becomes a candidate with probability
            1 - (1 - J ** rows_per_band) ** n_bands (0.5: 0.87; 0.6: 0.99 at 32 x 4).
        threshold: Jaccard similarity of k-mer sets from which a pair is a near duplicate
            (0.5 at k = 10: about 96% identity by scattered substitutions).
        max_candidates: reference rows checked per evaluated row and band.
        max_gap: intervals less than this many bp from a reference interval leak (0: they
            must overlap).
        baseline: fit the composition baseline.
        folds: its cross-validation folds on the training rows.
        max_rows: training rows it is fitted on (a seeded sample beyond; None: all).
        shortcut_auroc: the AUROC of length, GC, CpG and N fraction alone from which a
            shortcut is flagged.
        shortcut_pearson: regression targets: the cross-validated Pearson r of length, GC,
            CpG and N fraction alone from which a shortcut is flagged.
        effect_size: KS D / Cramér's V from which a distribution gap is flagged.
        min_class_ratio: a minority : majority ratio of the training rows below which the
            balance is flagged (0.05 = 1:20).
        max_index_bytes: the most memory the near-duplicate index may take.
        n_examples: examples listed per kind of leak.
        drop: ``seqnn-train``: leave the leaking rows out of the validation and test splits
            before fitting (the figures then say how many went; tiled windows: every
            window within ``max_gap`` of an earlier split's, cut from the runs).
        sample_train, sample_eval: tiled genome windows (``data=peaks``): the checks other
            than the interval overlaps (which count every window) read a seeded random
            sample of at most ``sample_train`` training windows and ``sample_eval`` windows
            of each evaluated split; the report states the sample.
        seed: seed of the hashes, the sample and the folds.
    """

    near: bool = True
    k: int = 10
    n_bands: int = 32
    rows_per_band: int = 4
    threshold: float = 0.5
    max_candidates: int = 16
    max_gap: int = 0
    baseline: bool = True
    folds: int = 5
    max_rows: int | None = 200_000
    shortcut_auroc: float = 0.75
    shortcut_pearson: float = 0.5
    effect_size: float = 0.3
    min_class_ratio: float = 0.05
    max_index_bytes: int = 4 * 2**30
    n_examples: int = 5
    drop: bool = False
    seed: int = 0
    sample_train: int = 100_000
    sample_eval: int = 20_000


@dataclass
class Finding:
    """One problem the checks found: its check, level and a sentence naming it."""

    check: str
    level: Literal["error", "warning"]
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.check}: {self.message}"


@dataclass
class QCResult:
    """The figures (``figures``: JSON-ready), the findings, and what the report draws.

    Attributes:
        figures: ``duplicates_across_splits``, ``rc_duplicates_across_splits``,
            ``near_duplicates_across_splits``, ``overlapping_intervals_across_splits`` (and
            for each, ``_per_split`` and ``_by_class``: positives / negatives of the first
            target),
            ``conflicting_labels``, ``baseline_auroc``, ``baseline_test_auroc`` (regression:
            ``baseline_pearson``, ``baseline_r2``, ``baseline_test_pearson`` ...),
            ``distributions``, ``class_balance``, ``examples``, ``settings``, ``seconds``.
        findings: the problems, errors first.
        leak_rows: each evaluated stage's leaking rows (any kind), for ``drop``.
        gc: per-row GC fraction, labels and split of the rows drawn in the report.
        curves: per target, the baseline's (labels, cross-validated scores) on the training
            rows; test_curves: the same on the test rows (``test_rows``), from the baseline
            fitted on all training rows.
        test_values: regression targets' (values, ridge predictions) on the test rows.
    """

    figures: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    leak_rows: dict[str, np.ndarray] = field(default_factory=dict)
    gc: dict[str, np.ndarray] = field(default_factory=dict)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    test_curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    test_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    test_values: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


def run_qc(data: QCData, settings: QCSettings | None = None) -> QCResult:
    """Every check on ``data`` (see the module docstring and :class:`QCSettings`).

    Raises:
        QCError: no rows, an empty training split, a target with one class in the training
            rows, or a near-duplicate index beyond ``max_index_bytes``.
    """
    s = settings or QCSettings()
    data.check()
    check_labels_exist(data)
    started = time.perf_counter()
    figures: dict[str, Any] = {"source": data.source, "rows": _split_sizes(data)}
    if data.sample is not None:
        figures["sample"] = data.sample
    fwd, rev = hash_rows(data)
    exact, rc = exact_leaks(data, fwd, rev)
    leaks = {"duplicates": exact, "rc_duplicates": rc}
    if s.near:
        copies = np.concatenate([*exact.rows.values(), *rc.rows.values(), np.zeros(0, np.int64)])
        leaks["near_duplicates"] = near_leaks(
            data, copies, s.k, s.n_bands, s.rows_per_band, s.threshold, s.max_candidates,
            s.seed, s.max_index_bytes,
        )  # fmt: skip
    if data.intervals is not None:
        leaks["overlapping_intervals"] = interval_leaks(data, s.max_gap)
    columns = binary_columns(data)
    for kind, found in leaks.items():
        figures[f"{kind}_across_splits"] = found.count
        figures[f"{kind}_per_split"] = found.per_stage()
        if columns is not None:  # which class leaks, by the first target
            rows = np.concatenate([*found.rows.values(), np.zeros(0, np.int64)])
            positive = int(columns[0][rows, 0].sum())
            figures[f"{kind}_by_class"] = {"positive": positive, "negative": len(rows) - positive}
    figures["near_duplicates_across_splits"] = figures.get("near_duplicates_across_splits")
    groups, rows = conflicting_labels(data, fwd, rev)
    figures["conflicting_labels"] = {"groups": groups, "rows": rows}
    figures["examples"] = {kind: found.examples(s.n_examples) for kind, found in leaks.items()}
    result = QCResult(figures)
    result.leak_rows = _leak_rows(leaks)
    _baseline(data, s, result)
    drawn = np.concatenate([data.split[st] for st in ("train", "val", "test")])
    stats = row_stats(data, drawn)
    figures["distributions"] = distributions(data, s.effect_size, stats)
    figures["class_balance"] = class_balance(data)
    result.gc = {"gc": stats["gc"], "rows": drawn}
    figures["settings"] = {k: v for k, v in vars(s).items()}
    figures["seconds"] = round(time.perf_counter() - started, 3)
    result.findings = findings(figures, s)
    figures["findings"] = [vars(f) for f in result.findings]
    return result


def _split_sizes(data: QCData) -> dict[str, int]:
    return {st: int(len(r)) for st, r in data.split.items()}


def _leak_rows(leaks: dict) -> dict[str, np.ndarray]:
    stages = {st for found in leaks.values() for st in found.rows}
    none = np.zeros(0, np.int64)
    return {
        st: np.unique(np.concatenate([f.rows.get(st, none) for f in leaks.values()]))
        for st in stages
    }


def _baseline(data: QCData, s: QCSettings, result: QCResult) -> None:
    figures = result.figures
    figures["baseline_auroc"], figures["baseline_test_auroc"] = {}, {}
    figures["low_order_auroc"] = {}
    if not s.baseline:
        return
    if data.label_form == "values":
        _regression_baseline(data, s, result)
        return
    report = baseline_report(data, "test", s.folds, s.max_rows, s.seed)
    if not report:
        figures["baseline_note"] = "no targets: not fitted"
        return
    figures["baseline_auroc"] = _rounded(report["baseline_auroc"])
    figures["baseline_test_auroc"] = _rounded(report["baseline_test_auroc"])
    figures["low_order_auroc"] = _rounded(report["low_order_auroc"])
    figures["baseline_train_rows"] = report["train_rows"]
    if len(report["baseline_auroc"]) > 1:  # multilabel / multiclass: the mean over targets
        for key in ("baseline_auroc", "baseline_test_auroc"):
            values = [v for v in figures[key].values() if v is not None]
            figures[f"{key}_mean"] = round(float(np.mean(values)), 4) if values else None
    result.curves = report["curves"]
    result.test_curves = report["test_curves"]
    result.test_rows = report["test_rows"]


REGRESSION_KEYS = (
    "baseline_pearson",
    "baseline_r2",
    "low_order_pearson",
    "baseline_test_pearson",
    "baseline_test_r2",
)


def _regression_baseline(data: QCData, s: QCSettings, result: QCResult) -> None:
    """The ridge baseline of regression targets (:func:`regression_report`)."""
    report = regression_report(data, "test", s.folds, s.max_rows, s.seed)
    for key in REGRESSION_KEYS:
        result.figures[key] = _rounded(report[key])
    result.figures["baseline_train_rows"] = report["train_rows"]
    result.test_values = report["test_values"]
    result.test_rows = report["test_rows"]


def _rounded(values: dict) -> dict:
    return {k: None if v is None else round(v, 4) for k, v in values.items()}


LEAK_TEXT = {
    "duplicates": "identical to a row of an earlier split",
    "rc_duplicates": "the reverse complement of a row of an earlier split",
    "near_duplicates": "near copies (k-mer Jaccard >= {threshold}) of a row of an earlier split",
    "overlapping_intervals": "intervals less than {max_gap} bp from (0: overlapping) an "
    "interval of an earlier split",
}


def findings(figures: dict[str, Any], s: QCSettings) -> list[Finding]:
    """The problems in ``figures`` (errors first)."""
    out = []
    for kind, text in LEAK_TEXT.items():
        count = figures.get(f"{kind}_across_splits")
        if count:
            per = ", ".join(f"{n} {st}" for st, n in figures[f"{kind}_per_split"].items() if n)
            what = text.format(threshold=s.threshold, max_gap=s.max_gap)
            rows = "evaluated rows"
            if "sample" in figures:  # tiled windows: overlaps count them all, the rest a sample
                rows = (
                    "evaluated windows"
                    if kind == "overlapping_intervals"
                    else ("of the sampled evaluated windows")
                )
            out.append(Finding(kind, "error", f"{count} {rows} ({per}) are {what}"))
    conflicts = figures["conflicting_labels"]
    if conflicts["groups"]:
        out.append(
            Finding(
                "conflicting_labels",
                "error",
                f"{conflicts['groups']} identical sequences (either strand; {conflicts['rows']} "
                "rows) carry different labels",
            )
        )
    for target, value in figures["low_order_auroc"].items():
        if value is not None and value >= s.shortcut_auroc:
            full = figures["baseline_auroc"].get(target)
            out.append(
                Finding(
                    "shortcut",
                    "warning",
                    f"target {target!r}: length, GC, CpG and N fraction alone separate the "
                    f"classes (cross-validated AUROC {value:.3f} on the training rows; with "
                    f"the k-mer spectrum k <= 4: {full:.3f})",
                )
            )
    for target, value in figures.get("low_order_pearson", {}).items():
        if value is not None and value >= s.shortcut_pearson:
            full = figures["baseline_pearson"].get(target)
            out.append(
                Finding(
                    "shortcut",
                    "warning",
                    f"target {target!r}: length, GC, CpG and N fraction alone predict it "
                    f"(cross-validated Pearson r {value:.3f} on the training rows; with the "
                    f"k-mer spectrum k <= 4: {_num(full)})",
                )
            )
    for target, tests in figures["distributions"].items():
        for stat, test in tests.items():
            if test["flagged"]:
                name = "KS D" if test["test"] == "ks" else "Cramér's V"
                out.append(
                    Finding(
                        "confounder",
                        "warning",
                        f"target {target!r}: {stat} differs between positives and negatives "
                        f"({name} {test['statistic']:.3f}, p {test['p_value']:.1e})",
                    )
                )
    train = figures["class_balance"].get("train", {})
    for target, balance in train.items():
        ratio = balance["ratio"]
        if ratio is not None and ratio < s.min_class_ratio:
            out.append(
                Finding(
                    "class_balance",
                    "warning",
                    f"target {target!r}: {balance['positive']} positive vs {balance['negative']} "
                    f"negative training rows (1:{1 / max(ratio, 1e-9):.0f})",
                )
            )
    return out


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
