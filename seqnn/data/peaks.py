"""Peak sets -> multi-label 0/1 targets for genome windows (DeepSEA / Basset-style).

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T;
this module labels the genome windows that become those sequences: one 0/1 column per peak
file (experiment), so a window's targets are (P,).

A window is positive for a file when that file's peaks cover at least ``min_overlap`` of it
(a fraction of the window length; default any overlap of 1 bp or more), or, with
``centre=True``, when a peak contains the window's centre base ``(start + end) // 2`` (the
centre :func:`~seqnn.data.intervals.resize` uses). Coordinates are 0-based and half-open, so
intervals that only touch (``end == start``) do not overlap. Overlapping peaks of one file are
merged first, so the overlap is the window's coverage by the union of the file's peaks.

Every contig gets its own stretch ``[i * 2**33, (i + 1) * 2**33)`` of one global axis, so a
file's merged peaks are two sorted int64 arrays and labelling any batch of windows, on any
contigs, is a few ``np.searchsorted`` calls per file: no Python loop over peaks or windows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from seqnn.data.genome import Genome, suggest_contig
from seqnn.data.intervals import LINE, IntervalError, contig_indices, read_intervals
from seqnn.kinds import MULTILABEL

PeakSource = str | Path | pd.DataFrame
SPAN = np.int64(1 << 33)  # room per contig on the global axis (8.6 Gb, > any chromosome)
_SPAN = SPAN
_SUFFIXES = (".gz", ".bgz", ".bed", ".narrowpeak", ".broadpeak", ".txt", ".tsv")


def peak_names(sources: Sequence[PeakSource]) -> list[str]:
    """Experiment names: file stems without ``.gz`` / ``.bed`` / ``.narrowPeak`` / ...

    Args:
        sources: peak files (paths) or DataFrames (named ``peaks{i}``, or by
            ``attrs["source"]`` when set).

    Returns:
        One name per source, e.g. ``["CTCF", "DNase"]`` for ``CTCF.narrowPeak.gz, DNase.bed``.
    """
    names = []
    for i, source in enumerate(sources):
        if isinstance(source, pd.DataFrame):
            source = source.attrs.get("source", f"peaks{i}")
        name = Path(source).name
        while name.lower().endswith(_SUFFIXES):
            name = name[: name.lower().rfind(".")]
        names.append(name or f"peaks{i}")
    return names


def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort intervals and merge those that overlap or touch.

    Args:
        starts, ends: (n,) int64 half-open coordinates on one axis.

    Returns:
        (starts, ends) of the merged intervals, (m,) each, sorted and disjoint, with a gap of
        at least one base between neighbours.
    """
    keep = ends > starts  # empty intervals cover nothing
    starts, ends = np.asarray(starts, np.int64)[keep], np.asarray(ends, np.int64)[keep]
    if not starts.size:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], np.maximum.accumulate(ends[order])
    new = np.r_[True, starts[1:] > ends[:-1]]  # starts a new merged block
    blocks = np.flatnonzero(new)
    return starts[new], np.maximum.reduceat(ends, blocks)


def _covered_before(starts: np.ndarray, ends: np.ndarray, cum: np.ndarray, x: np.ndarray):
    """(n,) bases of the merged intervals below each position x (cum: (m + 1,) their
    cumulative lengths). The last interval starting at or before x may end past it."""
    k = np.searchsorted(starts, x, side="right") - 1  # last interval starting <= x
    k_safe = np.maximum(k, 0)
    partial = np.minimum(x, ends[k_safe]) - starts[k_safe]
    return np.where(k >= 0, cum[k_safe] + partial, 0)


def _read_peaks(source: PeakSource) -> pd.DataFrame:
    frame = source if isinstance(source, pd.DataFrame) else read_intervals(source)
    name = frame.attrs.get("source", "peaks")
    start, end = frame["start"].to_numpy(np.int64), frame["end"].to_numpy(np.int64)
    bad = (start < 0) | (end < start) | (end >= _SPAN)
    if bad.any():
        i = int(np.argmax(bad))
        where = f"{name}:{frame[LINE].iloc[i]}" if LINE in frame.columns else f"{name}: row {i}"
        raise IntervalError(
            f"{where}: peak {frame['chrom'].iloc[i]}:{start[i]}-{end[i]} is not a valid "
            f"interval (need 0 <= start <= end < 2**33): fix or drop that line"
        )
    return frame


class PeakLabels:
    """Merged peaks of P experiments; called on windows it returns their (B, P) 0/1 labels.

    Picklable (a few numpy arrays), so a dataset can hold it and label each batch in its
    DataLoader workers.

    Args:
        peaks: peak files (BED / narrowPeak, plain or gzip) or interval DataFrames.
        names: one name per experiment (default: :func:`peak_names`).
        min_overlap: fraction of the window length (0 < f <= 1) the peaks must cover; None
            means at least one base.
        centre: instead, positive when a peak contains the window's centre base.
        unknown_contigs: peaks on contigs the genome lacks (ENCODE files often carry alt /
            decoy contigs): ``"error"`` (:meth:`check` names the file, line and contig) or
            ``"drop"`` (dropped with a warning that counts them).

    Raises:
        IntervalError: ``file:line`` for an unreadable file or an invalid peak.
        ValueError: for a bad ``min_overlap``, ``names`` of the wrong length, or
            ``min_overlap`` together with ``centre``.

    Example:
        >>> labels = PeakLabels(["CTCF.narrowPeak.gz", "DNase.bed"], min_overlap=0.5)
        >>> y = labels(["chr1", "chr2"], [1000, 5000], [2000, 6000])  # (2, 2) float32
    """

    target_kind = MULTILABEL.name  # what IntervalDataset(targets=PeakLabels(...)) trains on

    def __init__(
        self,
        peaks: Sequence[PeakSource],
        names: Sequence[str] | None = None,
        min_overlap: float | None = None,
        centre: bool = False,
        unknown_contigs: Literal["error", "drop"] = "error",
    ) -> None:
        if isinstance(peaks, str | Path | pd.DataFrame):
            peaks = [peaks]
        _check_options(len(peaks), names, min_overlap, centre)
        if unknown_contigs not in ("error", "drop"):
            raise ValueError(f"unknown_contigs is 'error' or 'drop', got {unknown_contigs!r}")
        self.target_names: list[str] = list(names) if names is not None else peak_names(peaks)
        self.min_overlap, self.centre = min_overlap, centre
        self.unknown_contigs = unknown_contigs
        self.contigs: list[str] = []  # in order of first appearance over the files
        self._merged: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # per file: {contig index: (where its first peak is, its number of peaks)}, so that
        # check() can name the file, line and contig of a peak off the genome
        self._first: list[dict[int, tuple[str, int]]] = []
        for source in peaks:  # one file's table at a time: 100 files need not fit at once
            frame = _read_peaks(source)
            known = set(self.contigs)
            self.contigs += [c for c in frame["chrom"].astype(str).unique() if c not in known]
            index = contig_indices(frame["chrom"], self.contigs)
            self._first.append(_first_peaks(frame, index))
            start, end = frame["start"].to_numpy(np.int64), frame["end"].to_numpy(np.int64)
            self._set_merged(len(self._merged), index * _SPAN + start, index * _SPAN + end)

    def _set_merged(self, j: int, starts: np.ndarray, ends: np.ndarray) -> None:
        """Merge file j's peaks (on the global axis) and store them with their cumulative
        lengths."""
        starts, ends = merge_intervals(starts, ends)
        cum = np.concatenate([[0], np.cumsum(ends - starts)])  # (m + 1,)
        merged = (starts, ends, cum)
        if j < len(self._merged):
            self._merged[j] = merged
        else:
            self._merged.append(merged)

    def check(self, genome: Genome) -> None:
        """Refuse peaks on contigs that ``genome`` lacks (their labels would silently be 0),
        or, with ``unknown_contigs="drop"``, drop them with one warning that counts them.

        Called by :class:`~seqnn.data.datasets.IntervalDataset` (and the tiler) with its
        genome.

        Raises:
            IntervalError: ``file:line: contig 'chrUn_xxx' is not in genome.fa`` for the first
                such peak of the first such file, with the fix.
        """
        missing = np.array([c not in genome for c in self.contigs], dtype=bool)
        if not missing.any():
            return
        dropped: dict[str, int] = {}
        for j, first in enumerate(self._first):
            off = [i for i in first if missing[i]]
            if not off:
                continue
            if self.unknown_contigs == "error":
                raise IntervalError(_unknown_contig_message(self.contigs, first, off, genome))
            dropped[self.target_names[j]] = sum(first[i][1] for i in off)
            starts, ends, _ = self._merged[j]
            keep = ~missing[starts // _SPAN]
            self._set_merged(j, starts[keep], ends[keep])
        n_contigs = int(missing.sum())
        warnings.warn(
            f"PeakLabels: dropped {sum(dropped.values())} peaks on {n_contigs} contig(s) not "
            f"in {genome.path.name} (e.g. {self.contigs[int(np.argmax(missing))]!r}); per "
            f"file: {dropped}",
            stacklevel=2,
        )

    def peaks_of(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """File j's merged peaks: (m,) contig indices into :attr:`contigs`, starts, ends (int64,
        sorted by contig index then start, disjoint)."""
        starts, ends, _ = self._merged[j]
        index = starts // _SPAN
        return index, starts - index * _SPAN, ends - index * _SPAN

    @property
    def n_targets(self) -> int:
        """P, the number of experiments (label columns)."""
        return len(self.target_names)

    def contigs_of(self, j: int) -> list[str]:
        """The contigs with at least one (non-empty) peak in experiment j."""
        starts = self._merged[j][0]
        return [self.contigs[i] for i in np.unique(starts // _SPAN)]

    def __repr__(self) -> str:
        rule = "centre" if self.centre else f"min_overlap={self.min_overlap}"
        return f"PeakLabels({self.target_names}, {rule})"

    def hits(self, chroms, starts, ends) -> np.ndarray:
        """(B, P) bool labels of windows; see :meth:`__call__`."""
        if not isinstance(chroms, pd.Series):
            chroms = np.asarray(chroms, dtype=object)
        bounds = self.bounds(contig_indices(chroms, self.contigs), starts, ends)
        out = np.zeros((len(bounds[0]), self.n_targets), dtype=bool)
        for j in range(self.n_targets):
            out[:, j] = self.file_hits(j, bounds)
        return out

    def bounds(self, index, starts, ends) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What :meth:`file_hits` tests windows with: the stretch (lo, hi) of the global axis
        that must be covered and the bases needed, (B,) int64 each.

        Args:
            index: (B,) contig indices into :attr:`contigs` (-1: a contig without peaks).
            starts, ends: (B,) window coordinates.
        """
        start, end = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
        index = np.asarray(index, np.int64)
        # windows on contigs without peaks go to an empty stretch past the last contig
        offset = np.where(index >= 0, index, len(self.contigs)) * _SPAN
        if self.centre:  # the window [c, c + 1) of the centre base must be covered
            centre = (start + end) // 2
            lo, hi = offset + np.clip(centre, 0, _SPAN), offset + np.clip(centre + 1, 0, _SPAN)
            need = np.where(centre >= 0, 1, 2)  # a centre before the contig start: never
        else:
            lo, hi = offset + np.clip(start, 0, _SPAN), offset + np.clip(end, 0, _SPAN)
            need = _bases_needed(end - start, self.min_overlap)
        return lo, hi, need

    def file_hits(self, j: int, bounds: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """(B,) bool labels of file j for windows given by :meth:`bounds`."""
        lo, hi, need = bounds
        p_starts, p_ends, cum = self._merged[j]
        if not p_starts.size:  # every peak of the file was dropped
            return np.zeros(len(lo), dtype=bool)
        overlap = _covered_before(p_starts, p_ends, cum, hi)
        overlap -= _covered_before(p_starts, p_ends, cum, lo)
        return overlap >= need

    def __call__(self, chroms, starts, ends, strands=None) -> np.ndarray:
        """Label a batch of windows.

        Args:
            chroms: (B,) contig names; contigs without peaks in any file give 0.
            starts, ends: (B,) int 0-based half-open window coordinates.
            strands: (B,) strands, ignored (peaks are unstranded); accepted so a dataset can
                pass every window column.

        Returns:
            (B, P) float32 0/1 labels, columns in ``target_names`` order.
        """
        return self.hits(chroms, starts, ends).astype(np.float32)


def _first_peaks(frame: pd.DataFrame, index: np.ndarray) -> dict[int, tuple[str, int]]:
    """{contig index: (``file:line`` of its first peak, its number of peaks)} of one file."""
    contigs, first, counts = np.unique(index, return_index=True, return_counts=True)
    name = frame.attrs.get("source", "peaks")
    if LINE in frame.columns:
        lines = frame[LINE].to_numpy()[first]
        where = [f"{name}:{line}" for line in lines]
    else:
        where = [f"{name}: row {i}" for i in first]
    return {int(c): (w, int(n)) for c, w, n in zip(contigs, where, counts, strict=True)}


def _unknown_contig_message(contigs, first, off: list[int], genome: Genome) -> str:
    where, count = first[off[0]]
    chrom = contigs[off[0]]
    near = suggest_contig(chrom, genome.names)
    hint = f" (did you mean {near!r}?)" if near else ""
    more = sum(first[i][1] for i in off) - count
    also = f"; {more} more peak(s) on {len(off) - 1} other such contig(s)" if more else ""
    return (
        f"{where}: contig {chrom!r} is not in {genome.path.name}{hint} ({count} peak(s) on "
        f"it{also}): rename the contigs to match the FASTA, or drop such peaks (alt / decoy "
        "contigs) with unknown_contigs='drop' (seqnn-train: data.targets.unknown_contigs=drop)"
    )


def _check_options(n: int, names, min_overlap, centre: bool) -> None:
    if n == 0:
        raise ValueError("PeakLabels: give at least one peak file")
    if names is not None and len(names) != n:
        raise ValueError(f"PeakLabels: {len(names)} names for {n} peak files: give one each")
    if min_overlap is not None and not 0 < min_overlap <= 1:
        raise ValueError(
            f"min_overlap is a fraction of the window length in (0, 1], got {min_overlap}"
        )
    if centre and min_overlap is not None:
        raise ValueError("give either centre=True or min_overlap, not both")


def _bases_needed(length: np.ndarray, min_overlap: float | None) -> np.ndarray:
    """(B,) overlap in bases that makes a window positive: ceil(f * length), at least 1."""
    if min_overlap is None:
        return np.ones_like(length)
    # the tolerance keeps 0.3 * 10 (= 3.0000000000000004 in floats) at 3 bases
    need = np.ceil(min_overlap * length.astype(np.float64) - 1e-9).astype(np.int64)
    return np.maximum(need, 1)


def peak_labels(
    windows: pd.DataFrame,
    peak_files: Sequence[PeakSource],
    names: Sequence[str] | None = None,
    min_overlap: float | None = None,
    centre: bool = False,
    dtype: type = np.uint8,
) -> np.ndarray:
    """0/1 labels of windows against peak files (see the module docstring for the rule).

    Args:
        windows: intervals (chrom, start, end, ...), N rows.
        peak_files: P peak files (BED / narrowPeak, plain or gzip) or interval DataFrames.
        names: experiment names (only checked here; see :class:`PeakLabels`).
        min_overlap: fraction of the window length the peaks must cover; None: >= 1 base.
        centre: positive when a peak contains the window's centre base instead.
        dtype: output dtype (uint8 or float32).

    Returns:
        (N, P) array of 0/1, columns in ``peak_files`` order.
    """
    labels = PeakLabels(peak_files, names, min_overlap, centre)
    hits = labels.hits(windows["chrom"].to_numpy(), windows["start"], windows["end"])
    return hits.astype(dtype)
