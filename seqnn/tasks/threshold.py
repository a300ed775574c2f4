"""A classifier's decision threshold, chosen on a set of scored rows (the validation split).

A classifier trained with a weighted loss (``pos_weight``) or on rows whose class balance
differs from the rows it will call (extra training data from another source) gives
probabilities that are shifted as a whole: ranking them is right, calling them at 0.5 is not.
The usual remedy is to choose the threshold on held-out rows that look like the test rows, the
validation split. Two rules (:data:`RULES`, :func:`tune_threshold`):

- ``best_mcc`` (:func:`best_mcc_threshold`): the cut with the best MCC on those rows. It is the
  arg-max of a step function, so on a small validation split (~100 rows) it follows the few rows
  near the cut.
- ``calibrated`` (:func:`calibrated_threshold`): Platt scaling. A logistic curve of the
  score's logit is fitted to the rows (two parameters, every row counts), and the cut is
  where the calibrated probability is 0.5: the fewest expected errors. On small splits it
  is the steadier estimate.

The :class:`seqnn.callbacks.TuneThreshold` callback applies either in ``seqnn-train``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np


class UncalibratedScores(ValueError):
    """Scores with nothing to calibrate: all equal, falling as the positive class rises, or
    with the calibrated cut outside them."""


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
    y, p = _labelled_rows("best_mcc_threshold", target, probs)
    n, n_pos = len(y), int(y.sum())
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


def calibrated_threshold(target: np.ndarray, probs: np.ndarray) -> float:
    """Platt scaling's decision threshold: the score at which the calibrated probability is 0.5.

    Fits ``P(positive) = sigmoid(a * logit(p) + b)`` to the rows by maximum likelihood, with
    Platt's (1999) targets ``(n_pos + 1) / (n_pos + 2)`` and ``1 / (n_neg + 2)`` in place of 1
    and 0 (so the fit stays finite when the rows are separable), by Newton's method. The cut is
    ``sigmoid(-b / a)``. Rows are taken as :func:`best_mcc_threshold` takes them.

    Raises:
        ValueError: as :func:`best_mcc_threshold`.
        UncalibratedScores: scores that do not rise with the positive class on these rows (all
            equal, or a fitted slope <= 0), or a cut outside the scores (every row one call):
            nothing to calibrate.
    """
    y, p = _labelled_rows("calibrated_threshold", target, probs)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    soft = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    z = np.log(p) - np.log1p(-p)
    if np.ptp(z) == 0:
        raise UncalibratedScores(
            f"calibrated_threshold: all {len(y)} rows have the same score: the model has not "
            "learnt this target; there is no cut to calibrate"
        )
    x = np.stack([z, np.ones_like(z)], 1)

    def loss(ab: np.ndarray) -> float:  # the cross-entropy with the soft targets
        s = x @ ab
        return float(np.sum(np.logaddexp(0, s) - soft * s))

    ab = np.array([1.0, 0.0])
    for _ in range(100):  # Newton's method, halving a step that does not lower the loss
        q = 1 / (1 + np.exp(-np.clip(x @ ab, -500, 500)))
        hessian = (x * (q * (1 - q))[:, None]).T @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, x.T @ (q - soft))
        current = loss(ab)
        while loss(ab - step) > current and np.abs(step).max() > 1e-12:
            step /= 2
        ab = ab - step
        if np.abs(step).max() < 1e-10:
            break
    a, b = ab
    if not a > 0:
        raise UncalibratedScores(
            f"calibrated_threshold: on these {len(y)} rows the scores do not rise with the "
            f"positive class (fitted slope {a:.3g}): the model has not learnt this target, or "
            "the validation rows are too few"
        )
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        cut = -b / a  # in logit space
    if not (np.isfinite(cut) and z.min() < cut < z.max()):
        raise UncalibratedScores(
            f"calibrated_threshold: on these {len(y)} rows the calibrated cut (logit {cut:.3g}) "
            f"falls outside the scores (logits {z.min():.3g} to {z.max():.3g}): every row would "
            "get the same call; the model barely separates the classes here"
        )
    return float(np.clip(1 / (1 + np.exp(-cut)), 1e-6, 1 - 1e-6))


#: The threshold rules by name: ``TuneThreshold(rule=...)``,
#: :func:`seqnn.inference.evaluate.best_threshold`.
RULES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "best_mcc": lambda target, probs: best_mcc_threshold(target, probs)[0],
    "calibrated": calibrated_threshold,
}


def tune_threshold(target: np.ndarray, probs: np.ndarray, rule: str = "best_mcc") -> float:
    """The decision threshold of ``rule`` (a name in :data:`RULES`) on scored rows. Scores
    that ``calibrated`` cannot calibrate (a model that has not learnt the target, e.g. after
    one epoch) get the best-MCC cut, with a warning that says so.

    Raises:
        ValueError: an unknown rule, or as the rule's function.
    """
    try:
        return RULES[check_rule(rule)](target, probs)
    except UncalibratedScores as error:
        warnings.warn(
            f"{error}. The model scores these rows little better than chance; the best-MCC "
            "cut is used instead",
            stacklevel=2,
        )
        return best_mcc_threshold(target, probs)[0]


def check_rule(rule: str) -> str:
    """``rule`` if it names a threshold rule; ValueError naming the rules otherwise."""
    if rule not in RULES:
        raise ValueError(
            f"threshold rule {rule!r} is not one of {sorted(RULES)}: e.g. "
            "callbacks.tune_threshold.rule=calibrated"
        )
    return rule


def _labelled_rows(name: str, target, probs) -> tuple[np.ndarray, np.ndarray]:
    """Flat 0/1 labels and scores of the rows with a label; both classes must be present."""
    target, probs = np.asarray(target, np.float64), np.asarray(probs, np.float64)
    if target.shape != probs.shape:
        raise ValueError(f"{name}: target {target.shape} vs probs {probs.shape}")
    kept = ~np.isnan(target)
    # soft labels count as positive above 0.5, as in training's metrics
    y, p = target[kept].ravel() > 0.5, probs[kept].ravel()
    if not np.isfinite(p).all():
        raise ValueError(
            f"{name}: {int((~np.isfinite(p)).sum())} of the {len(p)} labelled rows have a "
            "NaN or infinite score: the model's outputs are not finite (diverged training?)"
        )
    n, n_pos = len(y), int(y.sum())
    if n_pos in (0, n):
        only = "negatives" if n_pos == 0 else "positives"
        raise ValueError(
            f"{name}: the {n} rows hold only {only}: a threshold needs rows of both "
            "classes (a larger validation split)"
        )
    return y, p
