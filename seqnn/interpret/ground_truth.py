"""Scoring attributions against known ground truth (implanted motifs in simulated data).

Layout: attributions and one-hot (N, 4, L), channels A, C, G, T; masks (N, L).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from seqnn.interpret.inputs import observed


def position_auroc(attributions: np.ndarray, x, mask: np.ndarray) -> float:
    """AUROC of the per-position attribution of the present base against a position mask.

    Args:
        attributions: (N, 4, L) attributions (ISM with ``centre=True``, gradient x input …).
        x: (N, 4, L) one-hot sequences the attributions are for.
        mask: (N, L) booleans, True at the positions that truly matter (implanted motifs).

    Returns:
        The probability that a true position outscores a background position.
    """
    scores = observed(attributions, x)
    mask = np.asarray(mask, dtype=bool)
    if scores.shape != mask.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the attributions' {scores.shape}")
    if mask.all() or not mask.any():
        raise ValueError("the mask needs both true and background positions")
    return float(roc_auc_score(mask.ravel(), scores.ravel()))
