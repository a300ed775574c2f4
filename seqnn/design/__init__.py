"""Sequence design: edit sequences toward a target output of a model.

Layout: one-hot (N, 4, L), channels A, C, G, T.

* :func:`evolve` — in-silico evolution (greedy or beam search over single-base edits, scored
  by fast ISM), with GC, forbidden-motif and region constraints; returns the trajectory.
"""

from seqnn.lazy import lazy_getattr

_LAZY = {
    "evolve": "seqnn.design.evolution",
    "Design": "seqnn.design.evolution",
    "DesignError": "seqnn.design.evolution",
}

__getattr__ = lazy_getattr("seqnn.design", _LAZY)

__all__ = list(_LAZY)
