"""Haplotype windows: a person's sequence around a region, with their alleles in place.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; this
module writes the uint8 codes (n, L) they are made from (A0 C1 G2 T3 N4), with a map (n, L)
int64 from each base back to its 0-based reference position (-1 for an inserted base, and for
the N padding past a contig's ends).

The rule for a window of length L on a region (the one centring rule,
:func:`~seqnn.data.intervals.centred_start`): the anchor is the region's reference centre
``c = (start + end) // 2``. The haplotype (the reference with the haplotype's alleles in
place) is read so that the anchor's base sits at index ``L // 2``, with ``L // 2`` haplotype
bases before it and ``L - L // 2 - 1`` after it. Indels therefore keep the region centred on
its reference coordinates: a deletion pulls in more of the haplotype's own flank, an
insertion pushes flank out, on the side where it lies. When the anchor itself is deleted,
the base after the deletion takes its place.

Alleles are placed as VCF writes them: REF's and ALT's first ``min(len(REF), len(ALT))``
bases align (an SNV or MNV replaces bases one for one; an indel's anchor base stays), ALT's
further bases are insertions, REF's further bases are deleted. On one haplotype, a record
whose REF overlaps one already applied (a ``*`` site, or two calls at one base) is left out:
the first in position (then file) order wins, and the call counts them
(``counts[0]``). A missing allele is REF, or N over REF's bases with ``missing="N"``.

One compiled kernel builds a whole batch: the work is per base of the window plus per record
near it, and no array grows with the number of samples. A batch is cut into contiguous
ranges of items, one per thread (:func:`kernel_threads`); each range builds its windows
exactly as one thread would, so the thread count never changes a window.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch

from seqnn.data.genome import Genome
from seqnn.data.jit import njit, prange

#: the fewest windows a thread of the kernel is given: below it, waking a thread costs more
#: than the windows it would build (a 1-kb window takes a few microseconds)
MIN_WINDOWS_PER_THREAD = 32
# numba's built-in thread pool (workqueue, what pip's numba has without TBB) must not be
# entered by two Python threads at once: a batch that finds it busy is built serially
_POOL = threading.Lock()


def all_items(
    n_regions: int, n_samples: int, n_haplotypes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(region, sample, haplotype) of every item, ordered region, then sample, then
    haplotype: three (n_regions * n_samples * n_haplotypes,) int64 arrays."""
    item = np.arange(n_regions * n_samples * n_haplotypes, dtype=np.int64)
    return (
        item // (n_samples * n_haplotypes),
        item // n_haplotypes % n_samples,
        item % n_haplotypes,
    )


def haplotype_windows(
    genome: Genome,
    block,
    region: np.ndarray,
    sample: np.ndarray,
    hap: np.ndarray,
    missing: str = "ref",
    warn: bool = True,
    positions: bool = True,
    threads: int | None = 1,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The windows of a batch of (region, sample, haplotype) items.

    Args:
        genome: the reference genome.
        block: the :class:`~seqnn.data.cohort_vcf.VariantBlock` the items index.
        region, sample, hap: (B,) int64 indices into the block's regions, its samples and
            the two haplotypes (0 or 1; ``-1`` for the reference itself).
        missing: ``"N"`` writes N over the REF of a missing allele; anything else reads REF.
        warn: warn once when records overlapping on a haplotype were left out.
        positions: also build the reference map (False: ``ref_pos`` is None; a dataset
            needs only the codes, and the map is 8 bytes a base to write).
        threads: threads building the batch (:func:`kernel_threads`; None: torch's
            intra-op threads). Every thread count gives the same windows.

    Returns:
        codes: (B, L) uint8; ref_pos: (B, L) int64 reference positions, -1 for insertions
        (None with ``positions=False``).
    """
    n, length = len(region), block.seq_len
    codes = np.empty((n, length), dtype=np.uint8)
    ref_pos = np.empty((n, length) if positions else (n, 0), dtype=np.int64)
    n_threads = kernel_threads(threads, n)
    counts = np.zeros((n_threads, 2), dtype=np.int64)
    if n:
        contig = block.region_contig[region]
        args = (
            genome.codes,
            genome._offsets[contig],
            genome._lengths[contig],
            block.region_anchor[region],
            block.span_lo[region],
            block.span_hi[region],
            block.v_lo[region],
            block.v_hi[region],
            np.asarray(sample, dtype=np.int64),
            np.asarray(hap, dtype=np.int64),
            block.pos,
            block.rlen,
            block.allele0,
            block.gt,
            block.allele_start,
            block.allele_len,
            block.allele_codes,
            missing == "N",
            positions,
            codes,
            ref_pos,
        )
        if n_threads > 1 and _POOL.acquire(blocking=False):
            try:
                _in_parallel(n_threads, args, counts)
            finally:
                _POOL.release()
        else:
            _windows_range(0, n, *args, counts[0])
    counts = counts.sum(axis=0)
    if warn and counts[0]:
        warnings.warn(
            f"{int(counts[0])} record(s) overlap a record already on the same haplotype "
            "(e.g. two calls at one base, or a '*' site) and were left out: the first in "
            "position order is kept",
            stacklevel=2,
        )
    return codes, ref_pos if positions else None


def kernel_threads(threads: int | None, n_windows: int) -> int:
    """How many threads build a batch of ``n_windows``: ``threads`` (None: torch's intra-op
    thread count), at most one per :data:`MIN_WINDOWS_PER_THREAD` windows and at most numba's
    pool; always 1 in a DataLoader worker (workers are the parallelism there: threads in each
    would oversubscribe the cores, and OpenMP's pool does not survive the fork)."""
    wanted = torch.get_num_threads() if threads is None else int(threads)
    if wanted < 1:
        raise ValueError(f"threads={threads}: give 1 or more (None: torch's thread count)")
    wanted = min(wanted, n_windows // MIN_WINDOWS_PER_THREAD)
    if wanted <= 1 or torch.utils.data.get_worker_info() is not None:
        return 1
    import numba  # loaded by the kernels' first call anyway; only a threaded batch asks

    return min(wanted, numba.config.NUMBA_NUM_THREADS)


def _in_parallel(n_threads: int, args: tuple, counts: np.ndarray) -> None:
    """:func:`_windows_parallel` on ``n_threads`` threads of numba's pool (the calling
    thread's pool size is put back after)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        _windows_parallel(n_threads, args, counts)
    finally:
        numba.set_num_threads(before)


@njit(cache=True, nogil=True)
def _windows_range(
    first,
    last,
    genome,
    offset,
    size,
    anchor,
    span_lo,
    span_hi,
    v_lo,
    v_hi,
    sample,
    hap,
    pos,
    rlen,
    allele0,
    gt,
    allele_start,
    allele_len,
    allele_codes,
    missing_n,
    want_pos,
    out,
    out_pos,
    counts,
):  # pragma: no cover - compiled
    """The windows of the items ``first .. last - 1``, one after another, with their own
    scratch (a thread of :func:`_windows_parallel` runs one such range)."""
    length = out.shape[1]
    half = length // 2
    n_max = 0
    for i in range(first, last):
        n_max = max(n_max, v_hi[i] - v_lo[i])
    chosen = np.empty(n_max, dtype=np.int64)  # variant index of each applied record
    chosen_allele = np.empty(n_max, dtype=np.int64)  # allele index, -1: N over REF
    for i in range(first, last):
        n = 0
        last_end = -(1 << 62)
        if hap[i] >= 0:
            for v in range(v_lo[i], v_hi[i]):
                p = pos[v]
                if p + rlen[v] <= span_lo[i] or p >= span_hi[i]:
                    continue
                g = gt[v, sample[i], hap[i]]
                if g == 0 or (g < 0 and not missing_n):
                    continue
                a = -1 if g < 0 else allele0[v] + g
                if a >= 0 and allele_len[a] < 0:  # symbolic: REF
                    continue
                if p < last_end:
                    counts[0] += 1
                    continue
                chosen[n] = v
                chosen_allele[n] = a
                n += 1
                last_end = p + rlen[v]
        lo = span_lo[i]
        if n > 0 and pos[chosen[0]] < lo:
            lo = pos[chosen[0]]
        c = anchor[i]
        # the anchor's index in the haplotype read from lo
        h, ref_at, hc = 0, lo, -1
        for j in range(n):
            v = chosen[j]
            p, r = pos[v], rlen[v]
            al = r if chosen_allele[j] < 0 else allele_len[chosen_allele[j]]
            if c < p:
                break
            h += p - ref_at
            if c < p + r:
                d = c - p
                hc = h + d if d < min(r, al) else h + al
                break
            h += al
            ref_at = p + r
        if hc < 0:
            hc = h + c - ref_at
        start = hc - half  # haplotype index of the window's first base
        # write: reference runs between the applied records, then each record's allele
        h, ref_at = 0, lo
        for j in range(n + 1):
            if j < n:
                v = chosen[j]
                p, r = pos[v], rlen[v]
            else:
                p, r = ref_at + start + length - h + 1, 0  # the tail, to the window's end
            _reference_run(
                genome, offset[i], size[i], ref_at, p, h - start, out[i], out_pos[i], want_pos
            )
            h += p - ref_at
            if j == n:
                break
            a = chosen_allele[j]
            al = r if a < 0 else allele_len[a]
            for t in range(al):
                k = h + t - start
                if 0 <= k < length:
                    out[i, k] = 4 if a < 0 else allele_codes[allele_start[a] + t]
                    if want_pos:
                        out_pos[i, k] = p + t if t < r else -1
            h += al
            ref_at = p + r
        if start < 0:  # the span was too short on the left (cannot happen: load() grows it)
            counts[1] += 1
            _reference_run(
                genome, offset[i], size[i], lo + start, lo, 0, out[i], out_pos[i], want_pos
            )


@njit(cache=True, nogil=True, parallel=True)
def _windows_parallel(n_chunks, args, counts):  # pragma: no cover - compiled
    """The items cut into ``n_chunks`` contiguous ranges, one thread each: ``args`` are
    :func:`_windows_range`'s arguments after ``first, last`` and before ``counts``, here
    (n_chunks, 2), a row per range, so no two threads write one counter."""
    n = len(args[3])  # the items' anchors
    for c in prange(n_chunks):
        _windows_range(c * n // n_chunks, (c + 1) * n // n_chunks, *args, counts[c])


@njit(cache=True, nogil=True)
def _reference_run(genome, offset, size, a, b, k0, out, out_pos, want_pos):  # pragma: no cover
    """Reference bases [a, b) to ``out[k0 ...]`` (the part inside the window), N past the
    contig's ends; their positions to ``out_pos`` when ``want_pos``."""
    length = len(out)
    first = max(0, -k0)
    last = min(b - a, length - k0)
    if first >= last:
        return
    if a + first >= 0 and a + last <= size:  # the usual run: one copy
        out[k0 + first : k0 + last] = genome[offset + a + first : offset + a + last]
        if want_pos:
            for t in range(first, last):
                out_pos[k0 + t] = a + t
        return
    for t in range(first, last):
        x = a + t
        inside = 0 <= x < size
        out[k0 + t] = genome[offset + x] if inside else 4
        if want_pos:
            out_pos[k0 + t] = x if inside else -1
