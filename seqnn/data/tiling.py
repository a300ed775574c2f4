"""Tile a genome into fixed windows and label them with peak sets (DeepSEA / Basset-style).

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T;
the windows here become those sequences, and their peak labels the (batch, P) targets.

- :func:`tile_genome`: every full window of each contig (starts 0, stride, 2 * stride, ...),
  minus windows that overlap a blacklist interval and windows with too many unknown bases.
- :func:`label_windows`: those windows plus one 0/1 column per peak file
  (:mod:`seqnn.data.peaks`).

Both are vectorised per contig: the unknown-base count of every window comes from the
cumulative count of unknown bases (N and other ambiguity codes, code >= 4) at its two ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.data.encoding import N_CODE
from seqnn.data.genome import Genome, suggest_contig
from seqnn.data.intervals import IntervalError
from seqnn.data.peaks import PeakLabels, PeakSource


def _contig_windows(codes: np.ndarray, window: int, stride: int, max_n: float) -> np.ndarray:
    """(n,) int64 starts of the full windows of one contig with at most ``max_n`` unknown
    bases as a fraction of the window."""
    if codes.size < window:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, codes.size - window + 1, stride, dtype=np.int64)
    if max_n >= 1:
        return starts
    # cumulative unknown count at any x = number of unknown positions below x (an N list is
    # far smaller than an int64 cumulative sum over a whole chromosome)
    unknown = np.flatnonzero(codes >= N_CODE)
    n_unknown = np.searchsorted(unknown, starts + window) - np.searchsorted(unknown, starts)
    return starts[n_unknown <= max_n * window]


def _check_contigs(genome: Genome, contigs: Sequence[str] | None) -> list[str]:
    if contigs is None:
        return list(genome.names)
    contigs = [contigs] if isinstance(contigs, str) else list(contigs)
    for chrom in contigs:
        if chrom not in genome:
            near = suggest_contig(chrom, genome.names)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise IntervalError(f"{genome.path.name}: no contig {chrom!r}{hint}: check contigs=")
    return contigs


def tile_genome(
    genome: Genome | str | Path,
    window: int,
    stride: int,
    blacklist: str | Path | pd.DataFrame | None = None,
    max_n_fraction: float = 0.1,
    contigs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every full window of a genome's contigs, minus blacklisted and N-rich ones.

    Args:
        genome: the genome to tile (or its FASTA path).
        window: window width in bases.
        stride: step between window starts (``window`` for adjacent windows).
        blacklist: BED file or DataFrame of regions; windows overlapping one by >= 1 base are
            dropped (touching, ``end == start``, is not overlapping).
        max_n_fraction: drop windows with more than this fraction of unknown bases (N or
            another ambiguity code); 1 keeps them all.
        contigs: contigs to tile, in this order (default: all, in FASTA order).

    Returns:
        Windows (chrom, start, end), by contig then start, index 0..n-1.

    Raises:
        ValueError: window or stride not positive, max_n_fraction outside [0, 1].
        IntervalError: an unknown contig in ``contigs``, or an unreadable blacklist.
    """
    if window <= 0 or stride <= 0:
        raise ValueError(
            f"tile_genome: window and stride must be positive, got {window}, {stride}"
        )
    if not 0 <= max_n_fraction <= 1:
        raise ValueError(f"max_n_fraction is a fraction in [0, 1], got {max_n_fraction}")
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    names = _check_contigs(genome, contigs)
    starts = [
        _contig_windows(genome.contig_codes(c), window, stride, max_n_fraction) for c in names
    ]
    counts = np.array([len(s) for s in starts], dtype=np.int64)
    chrom = np.repeat(np.asarray(names, dtype=object), counts)
    start = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    windows = pd.DataFrame({"chrom": chrom, "start": start, "end": start + window})
    if blacklist is not None and len(windows):
        excluded = PeakLabels([blacklist], names=["blacklist"])
        hit = excluded.hits(windows["chrom"].to_numpy(), start, start + window)[:, 0]
        windows = windows[~hit].reset_index(drop=True)
    return windows


def _check_peak_contigs(labels: PeakLabels, genome: Genome) -> None:
    """Raise when a peak file has no peak on any genome contig (e.g. ``1`` vs ``chr1``):
    its column would be silently all zero."""
    for j, name in enumerate(labels.target_names):
        used = labels.contigs_of(j)
        if used and not any(c in genome for c in used):
            near = suggest_contig(used[0], genome.names)
            hint = f" (did you mean {near!r}? rename the contigs to match the FASTA)"
            raise IntervalError(
                f"{name}: none of its peaks' contigs (e.g. {used[0]!r}) is in "
                f"{genome.path.name}{hint if near else ''}"
            )


def label_windows(
    genome: Genome,
    peak_files: Sequence[PeakSource],
    window: int,
    stride: int,
    names: Sequence[str] | None = None,
    min_overlap: float | None = None,
    centre: bool = False,
    blacklist: str | Path | pd.DataFrame | None = None,
    max_n_fraction: float = 0.1,
    contigs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Tiled genome windows with one 0/1 column per peak file: a multi-label training set.

    Args:
        genome, window, stride, blacklist, max_n_fraction, contigs: see :func:`tile_genome`.
        peak_files: P peak files (BED / narrowPeak, plain or gzip) or interval DataFrames.
        names, min_overlap, centre: see :class:`~seqnn.data.peaks.PeakLabels`.

    Returns:
        DataFrame (chrom, start, end, name_1, ..., name_P); label columns are uint8 0/1.

    Raises:
        IntervalError: as :func:`tile_genome`, or a peak file whose contigs are all missing
            from the genome.
    """
    labels = PeakLabels(peak_files, names, min_overlap, centre)
    _check_peak_contigs(labels, genome)
    windows = tile_genome(genome, window, stride, blacklist, max_n_fraction, contigs)
    hits = labels.hits(windows["chrom"].to_numpy(), windows["start"], windows["end"])
    columns = pd.DataFrame(hits.astype(np.uint8), columns=labels.target_names)
    return pd.concat([windows, columns], axis=1)
