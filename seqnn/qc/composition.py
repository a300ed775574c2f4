"""The composition-only baseline: how well length and base composition alone separate the
classes, the number a sequence model must beat.

Features of a row (:func:`composition_features`, one compiled pass over its codes): length, GC
fraction, CpG observed / expected, N fraction, and the k-mer spectrum for k = 1..4 (the
frequency of each of the 4 + 16 + 64 + 256 k-mers among the row's k-mers without N): 344 in
all. The baseline is scikit-learn's logistic regression on standardised features (chosen as
the plainest well-known linear model: it has no tuning that could flatter it), scored by
stratified k-fold cross-validation on the training rows (``baseline_auroc``), then fitted on all
training rows and scored on the evaluated rows (``baseline_test_auroc``, the figure a model's
test AUROC is compared with: ``margin_over_baseline``).

Regression targets (``label_form == "values"``) get the same features in a ridge regression
(standardised features, ``alpha=1``; all targets in one fit), cross-validated on the training
rows: ``baseline_pearson`` / ``baseline_r2`` per target (and on the evaluated rows,
``baseline_test_pearson`` / ``baseline_test_r2``), and ``low_order_pearson`` of length, GC, CpG
and N fraction alone; a regression model's ``margin_over_baseline`` is its Pearson r minus
the baseline's on the same rows.

A k-mer spectrum up to k = 4 also sees motifs (a 6-bp motif in 200 bp lifts it to ~0.8 on
simulated data), so a high ``baseline_auroc`` is the bar a model must clear, not a fault by
itself. The *shortcut* the checks flag is ``low_order_auroc``: the same model on length, GC,
CpG and N fraction alone, which no binding site explains.

Rows may have different lengths (the features are fractions, and the length is a feature:
a length gap between classes is a shortcut too).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from seqnn.data.jit import njit
from seqnn.qc.sources import QCData, QCError

MAX_K = 4
LOW_ORDER = 4  # the first features: length, GC, CpG o/e, N fraction
N_SPECTRUM = 4 + 16 + 64 + 256
FEATURE_NAMES = ["length", "gc", "cpg_oe", "n_fraction"] + [
    f"{k}mer_{i}" for k in range(1, MAX_K + 1) for i in range(4**k)
]


@njit(cache=True, nogil=True)
def _features(codes, lengths, out):
    for i in range(codes.shape[0]):
        n = lengths[i]
        row = out[i]
        row[:] = 0.0
        run = 0
        word = 0
        n_valid = 0
        for j in range(n):
            c = codes[i, j]
            if c > 3:
                run = 0
                continue
            word = ((word << 2) | c) & 255
            run += 1
            n_valid += 1
            offset = 4
            size = 4
            for k in range(1, 5):
                if run >= k:
                    row[offset + (word & (size - 1))] += 1.0
                offset += size
                size *= 4
        # frequencies per k
        offset = 4
        size = 4
        for _ in range(1, 5):
            total = 0.0
            for m in range(size):
                total += row[offset + m]
            if total > 0:
                for m in range(size):
                    row[offset + m] /= total
            offset += size
            size *= 4
        c_frac = row[4 + 1]
        g_frac = row[4 + 2]
        cg = row[4 + 4 + 1 * 4 + 2]  # the dinucleotide CG among the 2-mers
        row[0] = n
        row[1] = c_frac + g_frac if n_valid > 0 else np.nan
        row[2] = cg / (c_frac * g_frac) if c_frac * g_frac > 0 else 0.0
        row[3] = (n - n_valid) / n if n > 0 else 0.0


def composition_features(codes: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """(N, 344) float32 composition features (:data:`FEATURE_NAMES`) of (N, L) uint8 codes.

    Args:
        codes: (N, L) uint8 codes (A0 C1 G2 T3, N and IUPAC >= 4).
        lengths: (N,) each row's length (default L).
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if lengths is None:
        lengths = np.full(len(codes), codes.shape[1], np.int64)
    out = np.empty((len(codes), len(FEATURE_NAMES)), np.float64)
    _features(codes, np.ascontiguousarray(lengths, dtype=np.int64), out)
    return out.astype(np.float32)


def features_of(data: QCData, rows: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Composition features of ``rows`` (the first ``columns`` of them: 4 for length, GC,
    CpG and N fraction), a chunk at a time: memory grows with the rows kept, not with 344
    features of every row."""
    width = len(FEATURE_NAMES) if columns is None else columns
    out = np.empty((len(rows), width), np.float32)
    done = 0
    for part, codes, lengths in data.chunks(rows):
        out[done : done + len(part)] = composition_features(codes, lengths)[:, :width]
        done += len(part)
    return out


def binary_columns(data: QCData) -> tuple[np.ndarray, list[str]] | None:
    """(N, T) 0/1 columns to score (one per target, one per class of a multiclass target);
    None for regression targets or no targets."""
    if data.labels is None or data.label_form == "values":
        return None
    if data.label_form == "classes":
        n_classes = max(len(data.target_names), int(data.labels.max()) + 1)
        y = data.labels.astype(np.int64)[:, None] == np.arange(n_classes)[None, :]
        names = data.target_names or [str(c) for c in range(n_classes)]
        return y.astype(np.int8), names
    y = data.labels.reshape(len(data.labels), -1) > 0.5
    names = data.target_names or [str(j) for j in range(y.shape[1])]
    return y.astype(np.int8), names


def _model(seed: int, copy: bool = True):
    """Standardised features -> logistic regression. ``copy=False`` scales the rows given in
    place: for the cross-validation folds, which are copies already (fancy indexing), so the
    1M-row baseline holds the feature matrix twice, not three times."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # tol 1e-3: a third of lbfgs' iterations at the default 1e-4, AUROC within 0.002 (a
    # simulated 30k-row set: 34 vs 107 iterations, 0.9296 vs 0.9310)
    model = LogisticRegression(max_iter=200, tol=1e-3, random_state=seed)
    return make_pipeline(StandardScaler(copy=copy), model)


def _ridge():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # alpha 1 on standardised features: a light penalty that keeps the 344 collinear
    # frequencies (each k's sum to 1) solvable; no tuning that could flatter the baseline
    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def value_columns(data: QCData) -> tuple[np.ndarray, list[str]] | None:
    """(N, T) float64 regression targets and their names; None for other or no targets.
    Per-position targets (N, T, L) are averaged over positions (one value a window)."""
    if data.labels is None or data.label_form != "values":
        return None
    y = np.asarray(data.labels, np.float64)
    y = y.reshape(len(y), -1) if y.ndim < 3 else y.mean(axis=2)
    names = data.target_names or [str(j) for j in range(y.shape[1])]
    return y, names


def ridge_baseline(
    features: np.ndarray,
    y: np.ndarray,
    eval_features: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Cross-validated ridge predictions of the training rows, and the evaluated rows'
    predictions by the ridge fitted on all training rows.

    Args:
        features: (n, F) training rows' features.
        y: (n, T) regression targets (rows with a non-finite value are left out of fits).
        eval_features: (m, F) evaluated rows' features, or None.
        folds: shuffled folds (seeded).
        seed: seed of the fold assignment.

    Returns:
        (cv predictions (n, T), evaluated rows' predictions (m, T) or None).

    Raises:
        QCError: fewer than ``2 * folds`` rows with finite targets.
    """
    from sklearn.model_selection import KFold

    ok = np.isfinite(y).all(axis=1)
    if ok.sum() < max(2 * folds, 4):
        raise QCError(
            f"baseline: {int(ok.sum())} training rows with finite targets: the regression "
            f"baseline needs at least {max(2 * folds, 4)}"
        )
    scores = np.full(y.shape, np.nan)
    rows = np.flatnonzero(ok)
    for fit, held in KFold(folds, shuffle=True, random_state=seed).split(rows):
        model = _ridge().fit(features[rows[fit]], y[rows[fit]])
        scores[rows[held]] = model.predict(features[rows[held]]).reshape(len(held), -1)
    evaluated = None
    if eval_features is not None:
        model = _ridge().fit(features[rows], y[rows])
        evaluated = model.predict(eval_features).reshape(len(eval_features), -1)
    return scores, evaluated


def pearson(y: np.ndarray, predicted: np.ndarray) -> float | None:
    """Pearson r of the finite pairs, or None when either side is constant or < 3 pairs."""
    ok = np.isfinite(y) & np.isfinite(predicted)
    y, predicted = y[ok], predicted[ok]
    if len(y) < 3 or np.ptp(y) == 0 or np.ptp(predicted) == 0:
        return None
    return float(np.corrcoef(y, predicted)[0, 1])


def r2(y: np.ndarray, predicted: np.ndarray) -> float | None:
    """Coefficient of determination of the finite pairs (None: constant ``y``)."""
    ok = np.isfinite(y) & np.isfinite(predicted)
    y, predicted = y[ok], predicted[ok]
    total = ((y - y.mean()) ** 2).sum() if len(y) else 0.0
    if total == 0:
        return None
    return float(1.0 - ((y - predicted) ** 2).sum() / total)


def regression_report(
    data: QCData,
    eval_stage: str = "test",
    folds: int = 5,
    max_rows: int | None = 200_000,
    seed: int = 0,
) -> dict:
    """The ridge composition baseline of every regression target of ``data`` (see the
    module docstring); an empty dict when the targets are not regression values.

    Returns:
        ``{"baseline_pearson", "baseline_r2", "low_order_pearson": {target: cv figure on
        the training rows}, "baseline_test_pearson", "baseline_test_r2": {target: figure on
        the ``eval_stage`` rows} (empty when that split is), "test_values": {target: (y,
        predictions)}, "test_rows", "train_rows"}``.
    """
    rows = _baseline_rows(data, value_columns(data), eval_stage, max_rows, seed)
    if rows is None:
        return {}
    y_all, names, train, evaluated, x_train, x_eval = rows
    cv, predicted = ridge_baseline(x_train, y_all[train], x_eval, folds, seed)
    low = ridge_baseline(x_train[:, :LOW_ORDER], y_all[train], None, folds, seed)[0]
    out: dict = {k: {} for k in ("baseline_pearson", "baseline_r2", "low_order_pearson")}
    out |= {"baseline_test_pearson": {}, "baseline_test_r2": {}, "test_values": {}}
    for j, name in enumerate(names):
        y = y_all[train, j]
        out["baseline_pearson"][name] = pearson(y, cv[:, j])
        out["baseline_r2"][name] = r2(y, cv[:, j])
        out["low_order_pearson"][name] = pearson(y, low[:, j])
        if predicted is not None:
            y_eval = y_all[evaluated, j]
            out["baseline_test_pearson"][name] = pearson(y_eval, predicted[:, j])
            out["baseline_test_r2"][name] = r2(y_eval, predicted[:, j])
            out["test_values"][name] = (y_eval, predicted[:, j])
    return out | {"test_rows": evaluated, "train_rows": int(len(train))}


def _baseline_rows(
    data: QCData,
    columns: tuple[np.ndarray, list[str]] | None,
    eval_stage: str,
    max_rows: int | None,
    seed: int,
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray | None] | None:
    """What both baselines fit and score: the target columns, the (sampled) training rows,
    the ``eval_stage`` rows, and the features of each.

    Args:
        columns: :func:`binary_columns` or :func:`value_columns` of ``data`` (None: no
            targets of that kind).

    Returns:
        ``(y (N, T), target names, training rows, evaluated rows, training features,
        evaluated features or None when that split is empty)``, or None when ``columns`` is.
    """
    if columns is None:
        return None
    y_all, names = columns
    train = _sample(data.split["train"], max_rows, seed)
    evaluated = data.split.get(eval_stage, np.zeros(0, np.int64))
    x_train = features_of(data, train)
    x_eval = features_of(data, evaluated) if len(evaluated) else None
    return y_all, names, train, evaluated, x_train, x_eval


def _sample(rows: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    if max_rows is None or len(rows) <= max_rows:
        return rows
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, max_rows, replace=False))


def baseline(
    features: np.ndarray,
    y: np.ndarray,
    eval_features: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
    name: str = "target",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Cross-validated baseline scores of the training rows, and the scores of the evaluated
    rows by the model fitted on all training rows.

    Args:
        features: (n, F) training rows' features.
        y: (n,) 0/1 labels.
        eval_features: (m, F) evaluated rows' features, or None.
        folds: stratified folds (fewer when a class has fewer rows).
        seed: seed of the fold assignment.
        name: the target's name in messages.

    Returns:
        (cv scores (n,), evaluated rows' scores (m,) or None): decision-function values.

    Raises:
        QCError: one class only, or fewer than 2 rows of a class.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    counts = np.bincount(y.astype(np.int64), minlength=2)
    if counts.min() < 2:
        raise QCError(
            f"baseline: target {name!r} has {counts[1]} positive and {counts[0]} negative "
            "training rows: the baseline needs at least 2 of each"
        )
    n_folds = int(min(folds, counts.min()))
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # lbfgs' ConvergenceWarning: scores are still rankings
        warnings.simplefilter("ignore")
        scores = cross_val_predict(
            _model(seed, copy=False), features, y, cv=cv, method="decision_function"
        )
        fitted = _model(seed).fit(features, y) if eval_features is not None else None
        evaluated = None if fitted is None else fitted.decision_function(eval_features)
    return scores, evaluated


def auroc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """AUROC, or None when ``y`` holds one class."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, scores))


def baseline_report(
    data: QCData,
    eval_stage: str = "test",
    folds: int = 5,
    max_rows: int | None = 200_000,
    seed: int = 0,
) -> dict:
    """The composition baseline of every target of ``data``.

    Returns:
        ``{"baseline_auroc": {target: cv AUROC on the training rows},
        "baseline_test_auroc": {target: AUROC on the ``eval_stage`` rows} (empty when that
        split is), "curves" / "test_curves": {target: (y, scores)} of the cv scores / of the
        evaluated rows, "test_rows": the evaluated rows, "train_rows": n used,
        "low_order_auroc": {target: cv AUROC of length, GC, CpG and N fraction alone}}``;
        an empty dict for regression or no targets.
    """
    rows = _baseline_rows(data, binary_columns(data), eval_stage, max_rows, seed)
    if rows is None:
        return {}
    y_all, names, train, evaluated, x_train, x_eval = rows
    cv_auroc, low_auroc, test_auroc, curves, test_curves = {}, {}, {}, {}, {}
    for j, name in enumerate(names):
        y = y_all[train, j]
        scores, eval_scores = baseline(x_train, y, x_eval, folds, seed, name)
        cv_auroc[name] = auroc(y, scores)
        low_auroc[name] = auroc(y, baseline(x_train[:, :LOW_ORDER], y, None, folds, seed)[0])
        curves[name] = (y, scores)
        if eval_scores is not None:
            test_auroc[name] = auroc(y_all[evaluated, j], eval_scores)
            test_curves[name] = (y_all[evaluated, j], eval_scores)
    return {
        "baseline_auroc": cv_auroc,
        "baseline_test_auroc": test_auroc,
        "low_order_auroc": low_auroc,
        "curves": curves,
        "test_curves": test_curves,
        "test_rows": evaluated,
        "train_rows": int(len(train)),
    }


def margin(model_auroc: dict[str, float], baseline_auroc: dict[str, float | None]) -> dict:
    """``margin_over_baseline`` per target: the model's AUROC (regression: Pearson r) minus
    the baseline's on the same rows (targets where either is undefined are left out)."""
    return {
        t: round(float(model_auroc[t]) - float(b), 6)
        for t, b in baseline_auroc.items()
        if b is not None and t in model_auroc and np.isfinite(model_auroc[t])
    }


def gc_strata(gc: np.ndarray, n_strata: int = 4) -> tuple[np.ndarray, list[str]]:
    """Each row's GC stratum (quantile bins of ``gc``; NaN GC in the last) and the strata's
    names, e.g. ``gc[0.38,0.45)``."""
    finite = gc[np.isfinite(gc)]
    if len(finite) == 0:
        return np.zeros(len(gc), np.int64), ["gc[all]"]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_strata + 1)))
    inner = edges[1:-1]
    stratum = np.searchsorted(inner, np.nan_to_num(gc, nan=1.0), side="right")
    bounds = np.r_[edges[0], inner, edges[-1]] if len(edges) > 1 else np.r_[edges, edges]
    names = [f"gc[{lo:.2f},{hi:.2f})" for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return stratum, names


def stratified_auroc(
    y: np.ndarray, scores: np.ndarray, gc: np.ndarray, n_strata: int = 4
) -> dict[str, float | None]:
    """AUROC within each GC stratum (``by=gc``): a model that ranks by GC scores near 0.5 in
    every stratum even when its overall AUROC is high."""
    stratum, names = gc_strata(gc, n_strata)
    return {
        name: auroc(y[stratum == s], scores[stratum == s])
        for s, name in enumerate(names)
        if (stratum == s).any()
    }


def gc_of(codes: np.ndarray, lengths: Sequence[int] | None = None) -> np.ndarray:
    """(N,) GC fraction among each row's A/C/G/T bases (NaN where there are none)."""
    return composition_features(codes, lengths)[:, 1]
