"""Figures of attributions: sequence logos (logomaker) and ISM heat maps (matplotlib).

Layout: (4, L) matrices, rows A, C, G, T. Both return the matplotlib Axes they drew on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BASES = ("A", "C", "G", "T")


def plot_logo(matrix, ax=None, start: int = 0, title: str | None = None, **logo_kwargs):
    """Letters scaled by attribution (negative ones drawn below the axis).

    Args:
        matrix: (4, L) attributions (e.g. gradient x input of one sequence, or a mean) or a
            (4, W) probability matrix.
        ax: matplotlib Axes to draw on; a new (L/8 x 2 inch) figure when None.
        start: x coordinate of the first column (e.g. -60 for a TSS-centred window).
        title: Axes title.
        **logo_kwargs: passed to ``logomaker.Logo``.
    """
    import logomaker
    import matplotlib.pyplot as plt

    m = _matrix(matrix)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, m.shape[1] / 8), 2.0))
    frame = pd.DataFrame(m.T, columns=list(BASES), index=np.arange(start, start + m.shape[1]))
    logomaker.Logo(frame, ax=ax, **logo_kwargs)
    ax.axhline(0, color="grey", linewidth=0.5)
    if title:
        ax.set_title(title)
    return ax


def plot_ism(effects, sequence: str | None = None, ax=None, start: int = 0, title=None):
    """Heat map of in-silico mutagenesis effects, diverging around zero.

    Args:
        effects: (4, L) ``f(mutant) - f(reference)`` (from :func:`seqnn.interpret.ism`).
        sequence: the reference sequence, marked with dots and used as x tick labels.
        ax: matplotlib Axes; a new figure when None.
        start: x coordinate of the first column.
        title: Axes title.
    """
    import matplotlib.pyplot as plt

    m = _matrix(effects)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, m.shape[1] / 8), 1.6))
    bound = float(np.abs(m).max()) or 1.0
    extent = (start - 0.5, start + m.shape[1] - 0.5, 3.5, -0.5)
    image = ax.imshow(m, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto", extent=extent)
    ax.set_yticks(range(4), BASES)
    if sequence is not None:
        ref = [BASES.index(b) if b in BASES else -1 for b in sequence.upper()]
        cols = [start + i for i, r in enumerate(ref) if r >= 0]
        ax.scatter(cols, [r for r in ref if r >= 0], s=4, color="black")
    # an inset colour bar: the Axes keeps its width, so it lines up with logos drawn below it
    ax.figure.colorbar(image, cax=ax.inset_axes([1.005, 0.0, 0.008, 1.0]), label="effect")
    if title:
        ax.set_title(title)
    return ax


def _matrix(matrix) -> np.ndarray:
    m = matrix.detach().cpu().numpy() if hasattr(matrix, "detach") else np.asarray(matrix)
    m = np.asarray(m, dtype=float)
    if m.ndim != 2 or m.shape[0] != 4:
        raise ValueError(f"expected a (4, L) matrix (rows A, C, G, T), got shape {m.shape}")
    return m


def plot_effect(effect, ax=None, title: str | None = None):
    """Each output's effect over the sequences of a :func:`~seqnn.interpret.marginalize` or
    :func:`~seqnn.interpret.ablate` experiment: a box per output (the spread) and its mean.

    Args:
        effect: an :class:`~seqnn.interpret.experiments.Effect`.
        ax: matplotlib Axes; a new figure when None.
        title: Axes title.
    """
    import matplotlib.pyplot as plt

    delta = effect.delta  # (N, T)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 0.8 * delta.shape[1] + 1.5), 2.5))
    positions = np.arange(delta.shape[1])
    ax.boxplot(list(delta.T), positions=positions, widths=0.6, showfliers=False)
    ax.scatter(positions, delta.mean(axis=0), color="tab:red", zorder=3, label="mean")
    ax.set_xticks(positions, effect.targets, rotation=45 if len(positions) > 4 else 0)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_ylabel("effect (after - before)")
    if title:
        ax.set_title(title)
    return ax


def plot_spacing(curve, target: int = 0, ax=None, title: str | None = None):
    """A :func:`~seqnn.interpret.spacing` curve: the mean effect against the distance, one line
    per orientation, shaded by one standard deviation over the backgrounds.

    Args:
        curve: a :class:`~seqnn.interpret.experiments.SpacingCurve`.
        target: which of its outputs (index).
        ax: matplotlib Axes; a new figure when None.
        title: Axes title (default: the output's name).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 2.8))
    mean, sd = curve.effect[:, :, target], curve.sd[:, :, target]  # (D, O)
    for k, orientation in enumerate(curve.orientations):
        line = ax.plot(curve.distances, mean[:, k], marker=".", label=orientation)[0]
        ax.fill_between(curve.distances, mean[:, k] - sd[:, k], mean[:, k] + sd[:, k],
                        color=line.get_color(), alpha=0.15)  # fmt: skip
    ax.set_xlabel("distance (bp between the motifs)")
    ax.set_ylabel("effect")
    ax.legend(title="strands", fontsize="small")
    ax.set_title(title or curve.targets[target])
    return ax
