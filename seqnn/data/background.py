"""Background (negative) sequences: dinucleotide shuffles and random genomic windows.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T;
this module works on strings and uint8 codes (A0 C1 G2 T3 N4, see :mod:`seqnn.data.encoding`).

- :func:`dinucleotide_shuffle`: the Altschul-Erickson shuffle, done as a uniformly random
  Eulerian path through the sequence's dinucleotide graph (Kandel et al. 1996): the shuffle
  has exactly the input's dinucleotide counts, first and last letters. One compiled kernel
  call shuffles a whole batch.
- :func:`shuffled_negatives`: ``n_per_sequence`` shuffles of every sequence.
- :func:`random_background_intervals`: random windows of a genome that avoid the positives,
  skip N-rich regions, and optionally match the positives' GC histogram.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from seqnn.data.encoding import N_CODE, encode
from seqnn.data.genome import Genome
from seqnn.data.intervals import resize
from seqnn.data.jit import njit

SeedLike = int | np.random.Generator | None


# ----------------------------------------------------------------------------- shuffles
@njit(cache=True, nogil=True)
def _shuffle_row(seq: np.ndarray, out: np.ndarray, seed: int) -> None:
    """One uniformly random Eulerian path of seq's letter graph (uint8 letters), into out."""
    # numba compiles only the legacy np.random API; its state is numba's own, per thread.
    np.random.seed(seed)  # noqa: NPY002
    n = len(seq)
    out[:] = seq
    if n <= 2:
        return
    n_letters = 256
    counts = np.zeros(n_letters, np.int64)
    for i in range(n - 1):
        counts[seq[i]] += 1
    offsets = np.zeros(n_letters + 1, np.int64)
    for v in range(n_letters):
        offsets[v + 1] = offsets[v] + counts[v]
    edges = np.empty(n - 1, np.uint8)  # successors of each letter, grouped by letter
    fill = offsets[:-1].copy()
    for i in range(n - 1):
        edges[fill[seq[i]]] = seq[i + 1]
        fill[seq[i]] += 1
    root = seq[n - 1]
    last = np.zeros(n_letters, np.int64)
    # A random spanning arborescence of "last exits" into the final letter; rejection keeps
    # it uniform (every tree has the same chance), and with it the Euler path.
    while True:
        for v in range(n_letters):
            if counts[v] > 0 and v != root:
                last[v] = np.random.randint(counts[v])  # noqa: NPY002
        ok = True
        for v in range(n_letters):
            if counts[v] == 0 or v == root:
                continue
            u, steps = v, 0
            while u != root and steps <= n_letters:
                u = edges[offsets[u] + last[u]]
                steps += 1
            if u != root:
                ok = False
                break
        if ok:
            break
    for v in range(n_letters):
        lo, k = offsets[v], counts[v]
        if k == 0:
            continue
        if v != root:  # the last exit goes to the end of the block; shuffle the others
            edges[lo + last[v]], edges[lo + k - 1] = edges[lo + k - 1], edges[lo + last[v]]
            k -= 1
        for i in range(k - 1, 0, -1):
            j = np.random.randint(i + 1)  # noqa: NPY002
            edges[lo + i], edges[lo + j] = edges[lo + j], edges[lo + i]
    used = np.zeros(n_letters, np.int64)
    for i in range(1, n):
        u = out[i - 1]
        out[i] = edges[offsets[u] + used[u]]
        used[u] += 1


@njit(cache=True, nogil=True)
def _shuffle_rows(seqs: np.ndarray, out: np.ndarray, seeds: np.ndarray) -> None:
    for b in range(seqs.shape[0]):
        _shuffle_row(seqs[b], out[b], seeds[b])


def shuffle_codes(codes: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """:func:`dinucleotide_shuffle` of (B, L) uint8 codes, row ``b`` seeded by ``seeds[b]``
    (so a row's shuffle does not depend on the rows batched with it).

    Args:
        codes: (B, L) uint8 codes.
        seeds: (B,) integers in ``[0, 2**31 - 1)``.

    Returns:
        (B, L) uint8 shuffled codes.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    out = np.empty_like(codes)
    _shuffle_rows(codes, out, np.asarray(seeds, dtype=np.int64))
    return out


def dinucleotide_shuffle(
    seqs: str | Sequence[str] | np.ndarray, seed: SeedLike = None
) -> str | list[str] | np.ndarray:
    """Shuffle sequences keeping their dinucleotide counts, first and last letters exactly.

    Args:
        seqs: a string, a list of strings (any lengths; letters and case are kept as they
            are), or uint8 codes (L,) / (B, L).
        seed: an int, a numpy Generator, or None (fresh entropy).

    Returns:
        The same kind and shape as ``seqs``.
    """
    rng = np.random.default_rng(seed)
    if isinstance(seqs, np.ndarray):
        codes = np.ascontiguousarray(np.atleast_2d(seqs), dtype=np.uint8)
        out = np.empty_like(codes)
        _shuffle_rows(codes, out, rng.integers(0, 2**31 - 1, size=len(codes)))
        return out[0] if seqs.ndim == 1 else out
    if isinstance(seqs, str):
        return dinucleotide_shuffle([seqs], rng)[0]
    seqs = list(seqs)
    seeds = rng.integers(0, 2**31 - 1, size=len(seqs))
    shuffled = []
    for s, row_seed in zip(seqs, seeds, strict=True):
        row = np.frombuffer(s.encode("latin-1"), dtype=np.uint8).reshape(1, -1)
        out = np.empty_like(row)
        _shuffle_rows(row, out, row_seed.reshape(1))
        shuffled.append(out.tobytes().decode("latin-1"))
    return shuffled


def shuffled_negatives(
    sequences: Sequence[str] | np.ndarray, n_per_sequence: int = 1, seed: SeedLike = 0
) -> list[str] | np.ndarray:
    """``n_per_sequence`` dinucleotide shuffles of every sequence.

    Args:
        sequences: strings or (B, L) uint8 codes.
        n_per_sequence: shuffles per sequence.
        seed: an int or a numpy Generator.

    Returns:
        Strings or (B * n_per_sequence, L) codes; the shuffles of sequence i are at
        ``i * n_per_sequence ... (i + 1) * n_per_sequence - 1``.
    """
    if n_per_sequence < 1:
        raise ValueError(f"n_per_sequence must be >= 1, got {n_per_sequence}")
    if isinstance(sequences, np.ndarray):
        return dinucleotide_shuffle(np.repeat(np.atleast_2d(sequences), n_per_sequence, 0), seed)
    repeated = [s for s in sequences for _ in range(n_per_sequence)]
    return dinucleotide_shuffle(repeated, seed)


# ----------------------------------------------------------------------------- genome windows
def gc_fraction(codes: np.ndarray) -> np.ndarray:
    """(B, L) codes -> (B,) GC fraction among the A/C/G/T bases (NaN where there are none)."""
    acgt = (codes < N_CODE).sum(axis=1)
    gc = ((codes == 1) | (codes == 2)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gc / acgt


def _merged_exclusions(exclude: pd.DataFrame | None, min_distance: int) -> dict:
    """chrom -> (starts, ends) of the merged excluded regions (positives +- min_distance)."""
    if exclude is None or len(exclude) == 0:
        return {}
    merged = {}
    for chrom, group in exclude.groupby(exclude["chrom"].astype(str), sort=False):
        order = np.argsort(group["start"].to_numpy(), kind="stable")
        starts = group["start"].to_numpy(np.int64)[order] - min_distance
        ends = np.maximum.accumulate(group["end"].to_numpy(np.int64)[order] + min_distance)
        new = np.r_[True, starts[1:] >= ends[:-1]]  # starts a new merged block
        merged[chrom] = (starts[new], np.maximum.reduceat(ends, np.flatnonzero(new)))
    return merged


def _overlaps(merged: dict, chroms: np.ndarray, starts: np.ndarray, ends: np.ndarray):
    """(B,) bool: which windows touch a merged excluded region."""
    hit = np.zeros(len(starts), dtype=bool)
    for chrom, (ex_starts, ex_ends) in merged.items():
        rows = np.flatnonzero(chroms == chrom)
        k = np.searchsorted(ex_ends, starts[rows], side="right")  # first region ending after
        inside = k < len(ex_starts)
        hit[rows[inside]] = ex_starts[k[inside]] < ends[rows[inside]]
    return hit


def _candidates(genome: Genome, names: list[str], length: int, m: int, rng, merged, max_n):
    """m random windows -> those that avoid the exclusions and N-rich regions, with their GC."""
    room = np.array([max(genome.sizes[c] - length + 1, 0) for c in names], dtype=np.float64)
    chrom_idx = rng.choice(len(names), size=m, p=room / room.sum())
    chroms = np.asarray(names, dtype=object)[chrom_idx]
    starts = np.floor(rng.random(m) * room[chrom_idx]).astype(np.int64)
    keep = ~_overlaps(merged, chroms, starts, starts + length)
    chroms, starts = chroms[keep], starts[keep]
    codes = genome.fetch_codes(chroms, starts, starts + length)
    ok = (codes >= N_CODE).mean(axis=1) <= max_n
    return chroms[ok], starts[ok], gc_fraction(codes[ok])


def _positive_gc(gc_match, genome: Genome, length: int) -> np.ndarray:
    if isinstance(gc_match, pd.DataFrame):  # intervals: fetch them at the background length
        fixed = resize(gc_match, length)
        s = fixed["start"].to_numpy(np.int64)
        codes = genome.fetch_codes(fixed["chrom"].astype(str).to_numpy(object), s, s + length)
    elif isinstance(gc_match, np.ndarray) and gc_match.dtype == np.uint8:
        codes = np.atleast_2d(gc_match)
    else:
        return np.array([gc_fraction(encode(s)[None])[0] for s in gc_match])
    return gc_fraction(codes)


def _gc_quota(gc: np.ndarray, n: int, n_bins: int) -> np.ndarray:
    """(n_bins,) window counts summing to n, in proportion to the positives' GC histogram."""
    gc = gc[~np.isnan(gc)]
    if len(gc) == 0:
        raise ValueError("gc_match: the positives have no A/C/G/T bases to take GC from")
    hist = np.bincount(_gc_bin(gc, n_bins), minlength=n_bins) * (n / len(gc))
    quota = np.floor(hist).astype(np.int64)
    remainder = np.argsort(-(hist - quota), kind="stable")[: n - quota.sum()]
    quota[remainder] += 1  # largest remainders, so the quota sums to n
    return quota


def _gc_bin(gc: np.ndarray, n_bins: int) -> np.ndarray:
    return np.clip(np.floor(np.nan_to_num(gc) * n_bins), 0, n_bins - 1).astype(np.int64)


def _take(bins: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Indices of the first need[b] candidates of each bin b (in sampling order)."""
    order = np.argsort(bins, kind="stable")
    first = np.searchsorted(bins[order], np.arange(len(need)))
    rank = np.arange(len(bins)) - first[bins[order]]  # rank within its bin
    return np.sort(order[rank < need[bins[order]]])


def random_background_intervals(
    genome: Genome | str,
    n: int,
    length: int,
    exclude: pd.DataFrame | None = None,
    min_distance: int = 0,
    gc_match: pd.DataFrame | Sequence[str] | np.ndarray | None = None,
    seed: SeedLike = 0,
    n_bins: int = 20,
    max_n_fraction: float = 0.01,
    chroms: Sequence[str] | None = None,
    max_rounds: int = 100,
) -> pd.DataFrame:
    """Random genome windows that avoid the positives, optionally GC-matched to them.

    Args:
        genome: a Genome or a FASTA path.
        n: number of windows.
        length: window length.
        exclude: intervals (chrom, start, end) that no window may come within
            ``min_distance`` bases of (e.g. the positives).
        min_distance: the gap kept between a window and every excluded interval.
        gc_match: None, or the positives (intervals, resized to ``length``; strings; or
            (B, L) codes): windows are then drawn to follow their GC histogram.
        seed: an int or a numpy Generator.
        n_bins: GC histogram bins over [0, 1].
        max_n_fraction: windows with a larger fraction of N (or IUPAC) bases are skipped.
        chroms: chromosomes to draw from (default: all at least ``length`` long).
        max_rounds: rounds of candidate draws before giving up.

    Returns:
        DataFrame with chrom, start, end, name ("background_<i>") and gc columns.
    """
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    rng = np.random.default_rng(seed)
    names = list(chroms) if chroms else [c for c in genome.names if genome.sizes[c] >= length]
    if not names:
        raise ValueError(f"{genome.path}: no chromosome is at least {length} bases long")
    merged = _merged_exclusions(exclude, min_distance)
    quota = (
        np.array([n])
        if gc_match is None
        else _gc_quota(_positive_gc(gc_match, genome, length), n, n_bins)
    )
    picked, have = [], np.zeros_like(quota)
    for _ in range(max_rounds):
        cand = _candidates(genome, names, length, max(2 * n, 1000), rng, merged, max_n_fraction)
        bins = np.zeros(len(cand[0]), np.int64) if gc_match is None else _gc_bin(cand[2], n_bins)
        rows = _take(bins, quota - have)
        have += np.bincount(bins[rows], minlength=len(quota))
        picked.append([a[rows] for a in cand])
        if (have >= quota).all():
            break
    else:
        short = int((quota - have).sum())
        raise ValueError(
            f"{genome.path}: found only {n - short} of {n} background windows of {length} bp in "
            f"{max_rounds} rounds (positives + min_distance={min_distance}, N-rich windows "
            "and GC bins rule the others out): ask for fewer, lower min_distance or raise "
            "max_n_fraction / max_rounds"
        )
    chrom, start, gc = (np.concatenate(parts) for parts in zip(*picked, strict=True))
    return pd.DataFrame(
        {
            "chrom": chrom.astype(str),
            "start": start,
            "end": start + length,
            "name": [f"background_{i}" for i in range(len(start))],
            "gc": gc,
        }
    )
