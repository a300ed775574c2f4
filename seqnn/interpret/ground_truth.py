"""Scoring attributions against known ground truth (implanted motifs in simulated data).

Layout: attributions and one-hot (N, 4, L), channels A, C, G, T; masks (N, L).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.metrics import roc_auc_score

from seqnn.interpret.inputs import observed


def position_scores(
    attributions: np.ndarray, x=None, score: Literal["l2", "observed"] = "l2"
) -> np.ndarray:
    """Importance of each position: (N, 4, L) -> (N, L).

    Args:
        attributions: (N, 4, L) attributions (ISM effects, gradient x input …).
        x: (N, 4, L) one-hot sequences; needed for ``score="observed"``.
        score: ``"l2"``: the L2 norm over the 4 channels (Koo & Ploenzke 2021, Nature Machine
            Intelligence 3:258): how much the position matters, whatever the sign — for ISM
            the size of the 3 substitution effects, for gradient x input the size of the
            present base's term. ``"observed"``: the signed attribution of the present base.
    """
    a = np.asarray(attributions, dtype=np.float64)
    if score == "l2":
        return np.sqrt((a**2).sum(axis=-2))
    if score == "observed":
        if x is None:
            raise ValueError("score='observed' needs the one-hot sequences x")
        return observed(a, x)
    raise ValueError(f"score must be 'l2' or 'observed', got {score!r}")


def position_auroc(
    attributions: np.ndarray,
    mask: np.ndarray,
    x=None,
    score: Literal["l2", "observed"] = "l2",
    per_sequence: bool = False,
) -> float:
    """AUROC of per-position importance (:func:`position_scores`) against a position mask.

    Args:
        attributions: (N, 4, L) attributions.
        mask: (N, L) booleans, True at the positions that truly matter (implanted motifs).
        x: (N, 4, L) one-hot sequences (for ``score="observed"``).
        score: ``"l2"`` or ``"observed"``.
        per_sequence: False: one AUROC over the positions of all sequences pooled (a true
            position must outscore background positions of *other* sequences too, so the
            attributions' scale from sequence to sequence counts). True: the mean of each
            sequence's own AUROC (sequences whose positions are all true or all background
            are left out), the "interpretability AUROC" of Koo & Ploenzke 2021 (Nature Machine
            Intelligence 3:258) and the Koo lab's benchmarks: does the attribution map of a
            sequence point at its motifs.

    Returns:
        The probability that a true position outscores a background position (of the same
        sequence with ``per_sequence``).
    """
    scores = position_scores(attributions, x, score)
    mask = np.asarray(mask, dtype=bool)
    if scores.shape != mask.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the attributions' {scores.shape}")
    if mask.all() or not mask.any():
        raise ValueError("the mask needs both true and background positions")
    if not per_sequence:
        return float(roc_auc_score(mask.ravel(), scores.ravel()))
    mixed = mask.any(axis=1) & ~mask.all(axis=1)
    pairs = zip(mask[mixed], scores[mixed], strict=True)
    return float(np.mean([roc_auc_score(m, s) for m, s in pairs]))
