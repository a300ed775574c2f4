"""Simulated sequences with known ground truth: motifs implanted at recorded positions.

Positives are random background with 1..k motif instances sampled from position probability
matrices (either strand, non-overlapping); negatives are background only. Everything is drawn
from one seeded generator, so a seed gives the same data on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqnn.data.encoding import decode


@dataclass
class MotifSimulation:
    """Simulated sequences and where their motifs are.

    Attributes:
        table: one row per sequence: ``sequence``, ``label`` (1 = has motifs) and one 0/1
            column ``motif_<id>`` per motif (for multi-label tasks).
        mask: (N, L) bool, True at every implanted base.
        implants: one row per instance: ``row``, ``motif``, ``start``, ``end``, ``strand``.
    """

    table: pd.DataFrame
    mask: np.ndarray
    implants: pd.DataFrame

    def to_csv(self, path) -> None:
        """Write ``table`` as CSV (what ``seqnn-train data=table`` reads)."""
        self.table.to_csv(path, index=False)


def implant_motifs(
    motifs: Mapping[str, np.ndarray] | Sequence,
    n_sequences: int,
    length: int = 200,
    positive_fraction: float = 0.5,
    motifs_per_sequence: tuple[int, int] = (1, 3),
    gc: float = 0.5,
    seed: int = 0,
) -> MotifSimulation:
    """Random background with motif instances implanted in a fraction of the sequences.

    Args:
        motifs: ``{id: (4, W) matrix}`` or objects with ``.id`` and ``.counts`` (e.g.
            :class:`seqnn.interpret.Motif`); counts are normalised per column.
        n_sequences: number of sequences.
        length: sequence length (bp).
        positive_fraction: fraction of sequences with motifs (label 1).
        motifs_per_sequence: (min, max) instances per positive; the motifs of one sequence
            are distinct while ``max`` <= the number of motifs, drawn uniformly.
        gc: GC fraction of the background.
        seed: seed of the generator.

    Returns:
        A :class:`MotifSimulation`.
    """
    pwms = _probabilities(motifs)
    lo, hi = motifs_per_sequence
    widest = max(p.shape[1] for p in pwms.values())
    if not 1 <= lo <= hi or hi * widest > length:
        raise ValueError(
            f"motifs_per_sequence={motifs_per_sequence}: need 1 <= min <= max and max x the "
            f"widest motif ({widest} bp) <= length ({length})"
        )
    rng = np.random.default_rng(seed)
    background = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    codes = rng.choice(4, size=(n_sequences, length), p=background).astype(np.uint8)
    labels = (rng.random(n_sequences) < positive_fraction).astype(np.int64)
    mask = np.zeros((n_sequences, length), dtype=bool)
    rows = []
    for row in np.flatnonzero(labels):
        rows += _implant_row(codes[row], mask[row], row, pwms, rng, int(rng.integers(lo, hi + 1)))
    implants = pd.DataFrame(rows, columns=["row", "motif", "start", "end", "strand"])
    table = pd.DataFrame({"sequence": decode(codes), "label": labels})
    for name in pwms:
        hit = np.zeros(n_sequences, dtype=np.int64)
        hit[implants.loc[implants.motif == name, "row"].to_numpy(dtype=np.int64)] = 1
        table[f"motif_{name}"] = hit
    return MotifSimulation(table, mask, implants)


def _implant_row(codes, mask, row, pwms, rng, n) -> list[tuple]:
    """Implant ``n`` instances into one sequence's codes (in place), non-overlapping."""
    names = list(pwms)
    # distinct motifs while there are enough: a second copy of a motif is redundant for a
    # max-pooling network, so neither it nor its attribution would be well defined
    chosen = [names[i] for i in rng.choice(len(names), size=n, replace=n > len(names))]
    widths = [pwms[m].shape[1] for m in chosen]
    # split the free space into n + 1 random gaps: instances never overlap
    gaps = rng.multinomial(len(codes) - sum(widths), np.ones(n + 1) / (n + 1))
    out, start = [], int(gaps[0])
    for k, (name, width) in enumerate(zip(chosen, widths, strict=True)):
        p = pwms[name]
        site = np.array([rng.choice(4, p=p[:, j]) for j in range(width)], dtype=np.uint8)
        strand = "+" if rng.random() < 0.5 else "-"
        codes[start : start + width] = site if strand == "+" else 3 - site[::-1]
        mask[start : start + width] = True
        out.append((row, name, start, start + width, strand))
        start += width + int(gaps[k + 1])
    return out


def _probabilities(motifs) -> dict[str, np.ndarray]:
    items = motifs.items() if isinstance(motifs, Mapping) else [(m.id, m.counts) for m in motifs]
    out = {}
    for name, counts in items:
        c = np.asarray(counts, dtype=float)
        if c.ndim != 2 or c.shape[0] != 4 or (c < 0).any() or (c.sum(0) <= 0).any():
            raise ValueError(f"motif {name}: expected a (4, W) non-negative matrix, rows A C G T")
        out[name] = c / c.sum(0, keepdims=True)
    if not out:
        raise ValueError("give at least one motif to implant")
    return out
