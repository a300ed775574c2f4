"""Figures of models and experiments, by what they show (matplotlib; imported on first use).

Layout: one-hot (N, 4, L), channels A, C, G, T; matrices (4, L), rows A, C, G, T.

* :func:`tracks` — observed (bigWig) and predicted coverage and an attribution logo around a
  locus (:func:`seqnn.interpret.plot_tracks`);
* :func:`logo`, :func:`ism` — attributions; :func:`effect`, :func:`spacing` — in-silico
  experiments (:mod:`seqnn.interpret.experiments`).
"""

from seqnn.interpret.plots import plot_effect as effect
from seqnn.interpret.plots import plot_ism as ism
from seqnn.interpret.plots import plot_logo as logo
from seqnn.interpret.plots import plot_spacing as spacing
from seqnn.interpret.tracks import plot_tracks as tracks

__all__ = ["effect", "ism", "logo", "spacing", "tracks"]
