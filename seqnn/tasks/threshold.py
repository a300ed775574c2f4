"""The decision threshold with the best Matthews correlation on a set of scored rows.

A classifier trained with a weighted loss (``pos_weight``) or on rows whose class balance
differs from the rows it will call (extra training data from another source) gives
probabilities that are shifted as a whole: ranking them is right, calling them at 0.5 is not.
The usual remedy is to choose the threshold on held-out rows that look like the test rows, the
validation split: :func:`best_mcc_threshold` finds it, and the
:class:`seqnn.callbacks.TuneThreshold` callback applies it in ``seqnn-train``.
"""

from __future__ import annotations

import numpy as np


def best_mcc_threshold(target: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """The threshold with the highest MCC, midway between two neighbouring scores, and that MCC.

    A score above the threshold is a positive call. Several targets (multilabel) are pooled
    into one threshold; NaN targets (masked rows) are left out.

    Args:
        target: 0/1 labels (soft labels: positive above 0.5), any shape.
        probs: probabilities of the same shape.

    Raises:
        ValueError: shapes that differ, or rows of one class only (MCC is then undefined).
    """
    target, probs = np.asarray(target, np.float64), np.asarray(probs, np.float64)
    if target.shape != probs.shape:
        raise ValueError(f"best_mcc_threshold: target {target.shape} vs probs {probs.shape}")
    kept = ~np.isnan(target)
    # soft labels count as positive above 0.5, as in training's metrics
    y, p = target[kept].ravel() > 0.5, probs[kept].ravel()
    n, n_pos = len(y), int(y.sum())
    if n_pos in (0, n):
        only = "negatives" if n_pos == 0 else "positives"
        raise ValueError(
            f"best_mcc_threshold: the {n} rows hold only {only}: a threshold needs rows of both "
            "classes (a larger validation split)"
        )
    order = np.argsort(-p, kind="stable")
    scores, positive = p[order], y[order]
    tp = np.cumsum(positive)  # calls = the top 1, 2, ... scores
    fp = np.cumsum(~positive)
    calls = np.arange(1, n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mcc = (tp * (n - n_pos - fp) - fp * (n_pos - tp)) / np.sqrt(
            calls * (n - calls) * n_pos * (n - n_pos)
        )
    last = np.r_[scores[1:] < scores[:-1], True]  # cut only between distinct scores
    mcc = np.where(last & np.isfinite(mcc), mcc, -np.inf)
    i = int(np.argmax(mcc))
    below = scores[i + 1] if i + 1 < n else scores[i] - 1e-6
    threshold = float(np.clip((scores[i] + below) / 2, 1e-6, 1 - 1e-6))
    return threshold, float(mcc[i])
