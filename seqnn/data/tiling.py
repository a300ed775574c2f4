"""Tile a genome into fixed windows and label them with peak sets (DeepSEA / Basset-style).

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T;
the windows here become those sequences, and their peak labels the (batch, P) targets.

- :func:`tile_windows`: every full window of each contig (starts 0, stride, 2 * stride, ...),
  minus windows that overlap a blacklist interval and windows with too many unknown bases, as
  compact :class:`Windows`: runs of consecutive kept windows (contig, first window, count),
  so 15 million windows of hg38 cost a few thousand runs, not 15 million rows.
- :func:`label_tiles`: their labels by P peak files, bit-packed: (N, ceil(P / 8)) uint8
  (``np.unpackbits(bits, axis=1, count=P)`` gives the 0/1 matrix of a slice of rows).
- :func:`tile_genome`, :func:`label_windows`: the same as DataFrames, for small genomes.

Nothing here loops over windows or peaks in Python, and nothing grows with the window count
except the outputs themselves: the unknown bases are read a chunk of the genome at a time
as runs, each run of unknown bases, blacklisted interval or merged peak selects the range of
window numbers it overlaps (a window ``k`` of a contig is ``[k * stride, k * stride +
window)``), and only the windows at the edges of those ranges are counted base by base.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.data.encoding import N_CODE
from seqnn.data.genome import Genome, suggest_contig
from seqnn.data.intervals import IntervalError, contig_indices, read_intervals
from seqnn.data.peaks import PeakLabels, PeakSource, _covered_before, merge_intervals

_CHUNK = 1 << 22  # bases of a contig scanned for unknown bases at a time (4 MB)
_CANDIDATES = 1 << 20  # windows tested per step when labelling (bounds the temporary arrays)
_K_SPAN = np.int64(1 << 34)  # room per contig for window numbers (stride 1 on 17 Gb)


def ranges_to_points(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The integers of the half-open ranges ``[lo[i], hi[i])`` one after another, (sum,) int64
    (empty ranges give nothing)."""
    n = np.maximum(np.asarray(hi, np.int64) - lo, 0)
    first = np.cumsum(n) - n  # position of each range's first integer in the output
    return np.arange(int(n.sum()), dtype=np.int64) - np.repeat(first - lo, n)


def window_range(starts, ends, window: int, stride: int, n_windows) -> tuple:
    """The window numbers ``[lo, hi)`` of the windows (of a contig's grid of ``n_windows``)
    that overlap ``[starts, ends)`` by at least one base: ``k * stride < end`` and
    ``k * stride + window > start``."""
    lo = np.maximum((np.asarray(starts, np.int64) - window) // stride + 1, 0)
    hi = np.minimum((np.asarray(ends, np.int64) - 1) // stride + 1, n_windows)
    return lo, np.maximum(hi, lo)


class Windows:
    """Tiled genome windows of one width, stored as runs of consecutive windows.

    Window ``k`` of a contig is ``[k * stride, k * stride + window)``; a run is ``count``
    consecutive window numbers from ``first`` on one contig, and the rows (0..N-1) are the
    runs' windows in run order. Picklable (a few arrays of one entry per run).

    Args:
        names: the genome's contig names (``contig`` indexes them).
        sizes: (n_contigs,) their lengths in bases.
        window, stride: window width and step (bp).
        contig, first, count: (R,) the runs: contig index, first window number, windows.
    """

    def __init__(
        self,
        names: Sequence[str],
        sizes: np.ndarray,
        window: int,
        stride: int,
        contig: np.ndarray,
        first: np.ndarray,
        count: np.ndarray,
    ) -> None:
        self.names, self.sizes = list(names), np.asarray(sizes, np.int64)
        self.window, self.stride = int(window), int(stride)
        keep = np.asarray(count) > 0
        self.contig = np.asarray(contig, np.int64)[keep]
        self.first = np.asarray(first, np.int64)[keep]
        self.count = np.asarray(count, np.int64)[keep]
        self.offsets = np.concatenate([[0], np.cumsum(self.count)])  # (R + 1,) first rows
        key = self.contig * _K_SPAN + self.first
        self._by_key = np.argsort(key, kind="stable")  # runs in genome order, for lookups
        self._keys = key[self._by_key]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __repr__(self) -> str:
        return (
            f"Windows({len(self):,} windows of {self.window} bp, stride {self.stride}, "
            f"{len(self.count):,} runs)"
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the run arrays (what the windows cost in memory)."""
        arrays = (self.contig, self.first, self.count, self.offsets, self._by_key, self._keys)
        return sum(a.nbytes for a in arrays)

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(contig index, start) of rows, (B,) int64 each."""
        rows = np.asarray(rows, np.int64)
        run = np.searchsorted(self.offsets, rows, side="right") - 1
        k = self.first[run] + rows - self.offsets[run]
        return self.contig[run], k * self.stride

    def rows_of(self, contig: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(B,) rows of the windows number ``k`` of ``contig``, -1 for windows not kept."""
        key = np.asarray(contig, np.int64) * _K_SPAN + np.asarray(k, np.int64)
        if not len(self._keys):
            return np.full(len(key), -1, dtype=np.int64)
        pos = np.searchsorted(self._keys, key, side="right") - 1
        run = self._by_key[np.maximum(pos, 0)]
        inside = (pos >= 0) & (key - self._keys[np.maximum(pos, 0)] < self.count[run])
        return np.where(inside, self.offsets[run] + k - self.first[run], -1)

    def contig_names(self) -> list[str]:
        """The contigs that hold windows, in row order."""
        return [self.names[i] for i in pd.unique(self.contig)]

    def to_frame(self) -> pd.DataFrame:
        """The windows as a DataFrame (chrom, start, end), one row each: for small genomes."""
        contig, start = self.locate(np.arange(len(self)))
        chrom = np.asarray(self.names, dtype=object)[contig]
        return pd.DataFrame({"chrom": chrom, "start": start, "end": start + self.window})

    def _runs(self, contig, first, count) -> Windows:
        return Windows(self.names, self.sizes, self.window, self.stride, contig, first, count)

    def take(self, rows: Sequence[int] | np.ndarray) -> Windows:
        """The windows ``rows``, in that order (rows that follow each other become runs)."""
        contig, start = self.locate(np.asarray(rows, np.int64))
        k = start // self.stride
        new = np.r_[True, (contig[1:] != contig[:-1]) | (k[1:] != k[:-1] + 1)] if len(k) else k
        heads = np.flatnonzero(new)
        count = np.diff(np.r_[heads, len(k)])
        return self._runs(contig[heads], k[heads], count)

    def without(self, contig: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Windows:
        """The windows minus those numbered ``[lo[i], hi[i])`` on contig ``contig[i]`` (the
        ranges may overlap, in any order), the rest in their row order: range subtraction
        on the runs (each run is cut by the gaps between the merged ranges it meets), so the
        cost grows with the runs and the ranges, not with the windows.

        Args:
            contig: (M,) contig indices (into ``names``).
            lo, hi: (M,) window numbers, half-open.

        Returns:
            :class:`Windows`: at most ``R + M`` runs.
        """
        key = np.asarray(contig, np.int64) * _K_SPAN
        cut_lo, cut_hi = merge_intervals(key + lo, key + hi)
        # the gaps between the cuts (and before the first, after the last): what is kept
        gap_lo = np.r_[np.int64(0), cut_hi]
        gap_hi = np.r_[cut_lo, np.iinfo(np.int64).max]
        a = self.contig * _K_SPAN + self.first
        b = a + self.count
        i0 = np.searchsorted(gap_hi, a, side="right")  # first gap ending after the run starts
        i1 = np.searchsorted(gap_lo, b, side="left")  # gaps starting before the run ends
        run = np.repeat(np.arange(len(a)), np.maximum(i1 - i0, 0))
        gap = ranges_to_points(i0, i1)
        piece_lo = np.maximum(gap_lo[gap], a[run])
        piece_hi = np.minimum(gap_hi[gap], b[run])
        contig = self.contig[run]
        return self._runs(contig, piece_lo - contig * _K_SPAN, piece_hi - piece_lo)

    def on_contigs(self, names: Sequence[str], keep: bool = True) -> Windows:
        """The windows on (``keep``) or off (``keep=False``) the contigs ``names``."""
        chosen = np.isin(self.contig, [i for i, n in enumerate(self.names) if n in set(names)])
        mask = chosen if keep else ~chosen
        return self._runs(self.contig[mask], self.first[mask], self.count[mask])

    def by_blocks(self, block_size: int, assignment: np.ndarray) -> list[Windows]:
        """The windows of each split of genome blocks: block ``b`` of a contig is
        ``[b * block_size, (b + 1) * block_size)``, ``assignment`` the split (0, 1, 2) of every
        block, numbered contig after contig in genome order; a window that straddles two
        blocks is in none (as :func:`~seqnn.data.intervals.split_by_blocks`)."""
        n_blocks = -(-self.sizes // block_size)
        base = np.concatenate([[0], np.cumsum(n_blocks)])[:-1]
        w, s = self.window, self.stride
        last = self.first + self.count - 1
        b_lo, b_hi = self.first * s // block_size, last * s // block_size + 1
        pair_run = np.repeat(np.arange(len(self.count)), b_hi - b_lo)
        block = ranges_to_points(b_lo, b_hi)
        # windows of block b: b * bs <= k * s and k * s + w <= (b + 1) * bs
        k_lo = np.maximum(-(-(block * block_size) // s), self.first[pair_run])
        k_hi = np.minimum(((block + 1) * block_size - w) // s + 1, last[pair_run] + 1)
        label = assignment[base[self.contig[pair_run]] + block]
        contig = self.contig[pair_run]
        return [
            self._runs(contig[label == i], k_lo[label == i], (k_hi - k_lo)[label == i])
            for i in range(3)
        ]


def _contig_grid(genome: Genome, names: list[str], window: int, stride: int):
    """(genome contig indices, window counts of each contig's grid, grid offsets (n + 1,))."""
    index = np.array([genome.names.index(c) for c in names], dtype=np.int64)
    size = np.array([genome.sizes[c] for c in names], dtype=np.int64)
    n_windows = np.where(size >= window, (size - window) // stride + 1, 0)
    return index, n_windows, np.concatenate([[0], np.cumsum(n_windows)])


def _unknown_runs(genome: Genome, chrom: str) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of unknown bases (N and other ambiguity codes) of a contig,
    read 4 MB at a time (memory bounded by the chunk, not the contig: each chunk's pages
    leave the resident set once read)."""
    codes = genome.contig_codes(chrom)
    starts, ends = [], []
    for a in range(0, codes.size, _CHUNK):
        if a:
            genome.release_codes(chrom, a - _CHUNK, a)
        edge_pad = np.zeros(1, dtype=bool)
        bad = np.concatenate([edge_pad, codes[a : a + _CHUNK] >= N_CODE, edge_pad])
        edge = np.diff(bad.view(np.int8))
        starts.append(a + np.flatnonzero(edge == 1))
        ends.append(a + np.flatnonzero(edge == -1))
    genome.release_codes(chrom, 0, codes.size)
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return merge_intervals(np.concatenate(starts), np.concatenate(ends))  # joins chunk edges


def _n_rich(genome: Genome, chrom: str, window: int, stride: int, n_windows: int, max_n: float):
    """(lo, hi) ranges of window numbers of one contig with more than ``max_n * window``
    unknown bases. Windows inside a run of unknown bases are dropped as whole ranges; only
    the windows at a run's edges are counted."""
    starts, ends = _unknown_runs(genome, chrom)
    lo, hi = window_range(starts, ends, window, stride, n_windows)
    # windows wholly inside a run: start >= run start and start + window <= run end
    in_lo = np.clip(-(-starts // stride), lo, hi)
    in_hi = np.clip((ends - window) // stride + 1, in_lo, hi)
    edge = ranges_to_points(np.r_[lo, in_hi], np.r_[in_lo, hi])
    cum = np.concatenate([[0], np.cumsum(ends - starts)])
    k_start = edge * stride
    n_unknown = _covered_before(starts, ends, cum, k_start + window)
    n_unknown = n_unknown - _covered_before(starts, ends, cum, k_start)
    bad = edge[n_unknown > max_n * window]
    return np.r_[in_lo, bad], np.r_[in_hi, bad + 1]


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


def _blacklisted(
    blacklist: str | Path | pd.DataFrame, names: list[str], n_windows, grid, window, stride
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) grid ranges of the windows overlapping a blacklist interval by >= 1 base
    (intervals on contigs not tiled are ignored)."""
    frame = blacklist if isinstance(blacklist, pd.DataFrame) else read_intervals(blacklist)
    index = contig_indices(frame["chrom"], names)
    on = index >= 0
    index = index[on]
    lo, hi = window_range(
        frame["start"].to_numpy(np.int64)[on],
        frame["end"].to_numpy(np.int64)[on],
        window,
        stride,
        n_windows[index],
    )
    return grid[index] + lo, grid[index] + hi


def tile_windows(
    genome: Genome | str | Path,
    window: int,
    stride: int,
    blacklist: str | Path | pd.DataFrame | None = None,
    max_n_fraction: float = 0.1,
    contigs: Sequence[str] | None = None,
) -> Windows:
    """Every full window of a genome's contigs, minus blacklisted and N-rich ones, as runs.

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
        :class:`Windows`, rows by contig (in ``contigs`` order) then start. Memory: one entry
        per run of kept windows (a few per N run or blacklist interval).

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
    index, n_windows, grid = _contig_grid(genome, names, window, stride)
    cut_lo, cut_hi = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if max_n_fraction < 1:
        for i, chrom in enumerate(names):
            lo, hi = _n_rich(genome, chrom, window, stride, n_windows[i], max_n_fraction)
            cut_lo.append(grid[i] + lo)
            cut_hi.append(grid[i] + hi)
    if blacklist is not None:
        lo, hi = _blacklisted(blacklist, names, n_windows, grid, window, stride)
        cut_lo.append(lo)
        cut_hi.append(hi)
    # kept = the grid minus the cut ranges, also cut at contig boundaries
    cut_lo, cut_hi = merge_intervals(np.concatenate(cut_lo), np.concatenate(cut_hi))
    cut_lo, cut_hi = np.r_[cut_lo, grid[-1]], np.r_[cut_hi, grid[-1] + 1]  # a cut past the end
    edges = np.unique(np.concatenate([cut_lo, cut_hi, grid]))
    seg_lo, seg_hi = edges[:-1], edges[1:]
    pos = np.searchsorted(cut_lo, seg_lo, side="right") - 1
    is_cut = (pos >= 0) & (seg_lo < cut_hi[np.maximum(pos, 0)])
    seg_lo, seg_hi = seg_lo[~is_cut], seg_hi[~is_cut]
    which = np.searchsorted(grid, seg_lo, side="right") - 1  # position in names
    sizes = np.array([genome.sizes[c] for c in genome.names], dtype=np.int64)
    return Windows(
        genome.names, sizes, window, stride, index[which], seg_lo - grid[which], seg_hi - seg_lo
    )


def label_tiles(windows: Windows, labels: PeakLabels) -> np.ndarray:
    """Bit-packed labels of tiled windows: the same 0/1 values as ``labels`` on each window,
    in (N, ceil(P / 8)) uint8 (1 bit per window and file; ``np.unpackbits(bits, axis=1,
    count=P)``).

    Each merged peak selects the range of windows it overlaps; only those windows are tested
    with ``labels``' rule, so the cost grows with the peaks (and their windows), plus one zero
    fill of the output. Peaks on contigs not in ``windows`` are ignored (run
    ``labels.check(genome)`` first to refuse or count them).

    Args:
        windows: tiled windows (:func:`tile_windows`).
        labels: the peak files and the overlap rule.

    Returns:
        (N, ceil(P / 8)) uint8, bit ``7 - j % 8`` of byte ``j // 8`` for file j (numpy's
        ``packbits`` order).
    """
    bits = np.zeros((len(windows), -(-labels.n_targets // 8)), dtype=np.uint8)
    position = {name: i for i, name in enumerate(windows.names)}
    # genome contig index of each of the labels' contigs (-1: not in the genome)
    to_genome = np.array([position.get(c, -1) for c in labels.contigs] + [-1], np.int64)
    for j in range(labels.n_targets):
        index, starts, ends = labels.peaks_of(j)
        contig = to_genome[index]
        on = contig >= 0
        lo, hi = _peak_windows(windows, contig[on], starts[on], ends[on])
        # a chunk of peaks at a time: the candidate arrays stay ~1M long whatever the file
        for a, b in _chunks(hi - lo):
            k = ranges_to_points(lo[a:b], hi[a:b])
            peak = np.repeat(np.arange(a, b), hi[a:b] - lo[a:b])
            rows = windows.rows_of(contig[on][peak], k)
            kept = rows >= 0
            start = k[kept] * windows.stride
            where = labels.bounds(index[on][peak[kept]], start, start + windows.window)
            hit = labels.file_hits(j, where)
            bits[rows[kept][hit], j >> 3] |= np.uint8(0x80 >> (j & 7))
    return bits


def _peak_windows(windows: Windows, contig, starts, ends) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) window numbers overlapped by a file's merged peaks (sorted by contig then
    start), made disjoint: neighbouring peaks share windows, each is tested once."""
    size, w, s = windows.sizes[contig], windows.window, windows.stride
    lo, hi = window_range(starts, ends, w, s, np.where(size >= w, (size - w) // s + 1, 0))
    # within a contig hi never decreases (disjoint sorted peaks): start where the last ended
    same = np.r_[False, contig[1:] == contig[:-1]]
    lo = np.where(same, np.maximum(lo, np.r_[0, hi[:-1]]), lo)
    return lo, np.maximum(hi, lo)


def _chunks(counts: np.ndarray) -> list[tuple[int, int]]:
    """[a, b) slices of consecutive items whose counts sum to about ``_CANDIDATES`` each."""
    total = np.cumsum(counts)
    cuts = np.searchsorted(
        total, np.arange(_CANDIDATES, int(total[-1]) if len(total) else 0, _CANDIDATES)
    )
    edges = np.unique(np.r_[0, cuts, len(counts)])
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def tile_genome(
    genome: Genome | str | Path,
    window: int,
    stride: int,
    blacklist: str | Path | pd.DataFrame | None = None,
    max_n_fraction: float = 0.1,
    contigs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """:func:`tile_windows` (same arguments) as a DataFrame (chrom, start, end), by contig then
    start, index 0..n-1: one row per window, for small genomes (hg38 at stride 200 is 15
    million rows; use :func:`tile_windows` there)."""
    return tile_windows(genome, window, stride, blacklist, max_n_fraction, contigs).to_frame()


def peak_labels_for(genome: Genome, peak_files, names, min_overlap, centre, unknown_contigs):
    """A :class:`~seqnn.data.peaks.PeakLabels` checked against ``genome``."""
    labels = PeakLabels(peak_files, names, min_overlap, centre, unknown_contigs)
    labels.check(genome)
    return labels


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
    unknown_contigs: str = "error",
) -> pd.DataFrame:
    """Tiled genome windows with one 0/1 column per peak file: a multi-label training set, as
    a DataFrame for small genomes (at scale: :func:`tile_windows` + :func:`label_tiles`).

    Args:
        genome, window, stride, blacklist, max_n_fraction, contigs: see :func:`tile_genome`.
        peak_files: P peak files (BED / narrowPeak, plain or gzip) or interval DataFrames.
        names, min_overlap, centre, unknown_contigs: see
            :class:`~seqnn.data.peaks.PeakLabels`.

    Returns:
        DataFrame (chrom, start, end, name_1, ..., name_P); label columns are uint8 0/1.

    Raises:
        IntervalError: as :func:`tile_genome`, or a peak on a contig missing from the genome
            (``file:line``; ``unknown_contigs="drop"`` drops such peaks with a warning).
    """
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    labels = peak_labels_for(genome, peak_files, names, min_overlap, centre, unknown_contigs)
    windows = tile_windows(genome, window, stride, blacklist, max_n_fraction, contigs)
    hits = np.unpackbits(label_tiles(windows, labels), axis=1, count=labels.n_targets)
    columns = pd.DataFrame(hits, columns=labels.target_names)
    return pd.concat([windows.to_frame(), columns], axis=1)
