"""Confounders: per-class distributions of what a label should not depend on, each with a test
statistic, and the class balance of each split.

For every target (each class of a multiclass target against the rest), positives against
negatives over the rows of all splits:

- GC fraction, length, N fraction, soft-masked (lower-case) fraction, and for genome
  intervals the distance to the nearest contig end: the two-sample Kolmogorov-Smirnov
  statistic D (the largest gap between the two cumulative distributions, 0..1) and its
  p-value;
- for genome intervals, the contig: Cramér's V of the contig x class table (0..1) and the
  chi-square test's p-value.

An effect is *flagged* when its size (D or V) reaches ``effect_size`` (default 0.3) and its
p-value is below 0.001: with many rows the p-value alone flags differences too small to
matter, with few rows the size alone flags noise.
"""

from __future__ import annotations

import numpy as np

from seqnn.data.splits import STAGES
from seqnn.qc.composition import LOW_ORDER, binary_columns, features_of
from seqnn.qc.sources import QCData

P_VALUE = 1e-3
MAX_TARGETS = 20  # distributions of the first targets of a many-target set


def row_stats(data: QCData, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row GC, length, N fraction (and soft-mask fraction, distance to the contig end
    where the data has them) of ``rows``."""
    features = features_of(data, rows, LOW_ORDER)
    stats = {"gc": features[:, 1], "length": features[:, 0], "n_fraction": features[:, 3]}
    if data.soft_mask is not None:
        stats["soft_mask"] = data.soft_mask[rows]
    if data.intervals is not None and data.sizes is not None:
        frame = data.intervals.iloc[rows]
        size = frame["chrom"].astype(str).map(data.sizes).to_numpy(np.float64)
        stats["contig_end_distance"] = np.minimum(
            frame["start"].to_numpy(np.float64), size - frame["end"].to_numpy(np.float64)
        )
    return stats


def ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(D, p-value) of the two-sample Kolmogorov-Smirnov test (NaNs left out); (0, 1) when a
    side is empty or both are one constant."""
    from scipy.stats import ks_2samp

    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return 0.0, 1.0
    if np.ptp(np.r_[a, b]) == 0:
        return 0.0, 1.0
    result = ks_2samp(a, b)
    return float(result.statistic), float(result.pvalue)


def cramers_v(groups: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Cramér's V, chi-square p-value) of the groups x class contingency table."""
    from scipy.stats import chi2_contingency

    _, g = np.unique(groups, return_inverse=True)
    table = np.zeros((g.max() + 1 if len(g) else 1, 2))
    np.add.at(table, (g, y.astype(np.int64)), 1)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    if min(table.shape) < 2:
        return 0.0, 1.0
    chi2, p, _, _ = chi2_contingency(table, correction=False)
    v = np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))
    return float(v), float(p)


def distributions(
    data: QCData, effect_size: float = 0.3, stats: dict[str, np.ndarray] | None = None
) -> dict:
    """Per target, each statistic's test between positives and negatives (``stats``: the
    :func:`row_stats` of the train, val and test rows in that order, if already computed).

    Returns:
        ``{target: {stat: {"test": "ks" | "cramers_v", "statistic", "p_value", "flagged",
        "positive_mean", "negative_mean"}}}`` (means of the numeric statistics).
    """
    columns = binary_columns(data)
    if columns is None:
        return {}
    y_all, names = columns
    rows = np.concatenate([data.split[s] for s in STAGES])
    stats = row_stats(data, rows) if stats is None else stats
    out = {}
    for j, name in enumerate(names[:MAX_TARGETS]):
        y = y_all[rows, j].astype(bool)
        tests = {}
        for stat, values in stats.items():
            d, p = ks(values[y], values[~y])
            tests[stat] = {
                "test": "ks",
                "statistic": round(d, 4),
                "p_value": p,
                "flagged": bool(d >= effect_size and p < P_VALUE),
                "positive_mean": _mean(values[y]),
                "negative_mean": _mean(values[~y]),
            }
        if data.intervals is not None:
            chrom = data.intervals["chrom"].astype(str).to_numpy(object)[rows]
            v, p = cramers_v(chrom, y)
            tests["contig"] = {
                "test": "cramers_v",
                "statistic": round(v, 4),
                "p_value": p,
                "flagged": bool(v >= effect_size and p < P_VALUE),
            }
        out[name] = tests
    return out


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return round(float(finite.mean()), 4) if len(finite) else None


def class_balance(data: QCData) -> dict:
    """Per split and target: positives, negatives and the minority:majority ratio."""
    columns = binary_columns(data)
    if columns is None:
        return {}
    y_all, names = columns
    out = {}
    for stage in STAGES:
        rows = data.split[stage]
        y = y_all[rows]
        per = {}
        for j, name in enumerate(names[:MAX_TARGETS]):
            pos = int(y[:, j].sum())
            neg = int(len(rows) - pos)
            ratio = min(pos, neg) / max(pos, neg) if max(pos, neg) else None
            per[name] = {
                "positive": pos,
                "negative": neg,
                "ratio": None if ratio is None else round(ratio, 4),
            }
        out[stage] = per
    return out
