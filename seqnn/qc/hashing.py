"""Compiled kernels over uint8 codes: whole-sequence hashes, MinHash sketches of k-mer sets and
exact k-mer Jaccard similarity.

Codes are those of :mod:`seqnn.data.encoding` (A0 C1 G2 T3 N4, IUPAC 5..14) in a (N, L) uint8
array; a row's own length is ``lengths[i]`` (codes past it are ignored), so tables of mixed
lengths are one padded array.

- :func:`row_hashes`: a 64-bit hash of each row and of its reverse complement (FNV-1a over the
  codes, then the splitmix64 finaliser); ``min`` of the two is the row's *canonical* hash, equal
  for a sequence and its reverse complement.
- :func:`band_keys` / :func:`sketches`: one-permutation MinHash (Li, Owen & Zhang 2012) of a
  row's set of canonical k-mers (a k-mer and its reverse complement are one k-mer; k-mers
  holding N or IUPAC codes are skipped): one hash per k-mer, the top bits pick one of
  ``n_hashes`` bins, the bin keeps its minimum; empty bins borrow from the next non-empty bin
  to their right (rotation densification, Shrivastava & Li 2014), so short sequences get full
  sketches. The fraction of equal bins of two sketches estimates the Jaccard similarity of
  their k-mer sets; :func:`band_keys` hashes groups of ``rows_per_band`` bins into one key per
  band for locality-sensitive hashing.
- :func:`pair_jaccard`: the exact Jaccard similarity of the canonical k-mer sets of row pairs
  (how candidates are verified).
"""

from __future__ import annotations

import numpy as np

from seqnn.data.encoding import COMPLEMENT_CODE
from seqnn.data.jit import njit

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
EMPTY = np.uint32(0xFFFFFFFF)  # a bin no k-mer fell into (hash values stay below it)
MAX_K = 31  # 2 bits a base in one uint64


@njit(cache=True, nogil=True, inline="always")
def _mix(x):
    """The splitmix64 finaliser: every input bit moves every output bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True)
def _canonical_kmers(row, n, k, out) -> int:
    """The canonical k-mers (2 bits a base, min of both strands) of ``row[:n]`` into ``out``,
    in order, skipping any holding N / IUPAC codes; returns how many."""
    mask = (np.uint64(1) << np.uint64(2 * k)) - np.uint64(1)
    top = np.uint64(2 * (k - 1))
    fwd = np.uint64(0)
    rev = np.uint64(0)
    run = 0
    m = 0
    for j in range(n):
        c = row[j]
        if c > 3:
            run = 0
            continue
        fwd = ((fwd << np.uint64(2)) | np.uint64(c)) & mask
        rev = (rev >> np.uint64(2)) | (np.uint64(3 - c) << top)
        run += 1
        if run >= k:
            out[m] = min(fwd, rev)
            m += 1
    return m


@njit(cache=True, nogil=True)
def _row_hashes(codes, lengths, complement, fwd, rev):
    prime = np.uint64(0x100000001B3)
    for i in range(codes.shape[0]):
        n = lengths[i]
        h = np.uint64(0xCBF29CE484222325) ^ np.uint64(n)
        r = np.uint64(0xCBF29CE484222325) ^ np.uint64(n)
        for j in range(n):
            h = (h ^ np.uint64(codes[i, j] + 1)) * prime
            r = (r ^ np.uint64(complement[codes[i, n - 1 - j]] + 1)) * prime
        fwd[i] = _mix(h)
        rev[i] = _mix(r)


def row_hashes(codes: np.ndarray, lengths: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """64-bit hashes of each row and of its reverse complement.

    Args:
        codes: (N, L) uint8 codes.
        lengths: (N,) each row's length (default: L for every row).

    Returns:
        (forward, reverse_complement), each (N,) uint64; ``np.minimum`` of the two is the
        canonical hash.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    lengths = _lengths(codes, lengths)
    fwd = np.empty(len(codes), np.uint64)
    rev = np.empty(len(codes), np.uint64)
    _row_hashes(codes, lengths, COMPLEMENT_CODE, fwd, rev)
    return fwd, rev


@njit(cache=True, nogil=True)
def _sketch_row(row, n, k, seed, bits, out, kmers) -> int:
    """One row's densified one-permutation MinHash into ``out`` (n_bins,) uint32; returns
    the number of valid k-mers (0: the sketch is all EMPTY). ``kmers``: scratch, >= n."""
    out[:] = np.uint32(0xFFFFFFFF)
    n_kmers = _canonical_kmers(row, n, k, kmers)
    shift = np.uint64(64 - bits)
    for j in range(n_kmers):
        h = _mix(kmers[j] ^ seed)
        b = h >> shift if bits > 0 else np.uint64(0)
        v = np.uint32(h & np.uint64(0xFFFFFFFE))
        if v < out[b]:
            out[b] = v
    if n_kmers == 0:
        return 0
    m = out.shape[0]
    own = out.copy()  # borrow only from bins that k-mers filled, not from borrowers
    for b in range(m):  # rotation densification: the next non-empty bin to the right
        if own[b] != np.uint32(0xFFFFFFFF):
            continue
        t = 1
        while own[(b + t) % m] == np.uint32(0xFFFFFFFF):
            t += 1
        # the offset keeps a borrowed value apart from its lender's own
        lent = np.uint64(own[(b + t) % m]) + np.uint64(t) * np.uint64(0x9E3779B1)
        out[b] = np.uint32(lent & np.uint64(0xFFFFFFFE))
    return n_kmers


@njit(cache=True, nogil=True)
def _sketches(codes, lengths, k, seed, bits, out, valid):
    kmers = np.empty(codes.shape[1], np.uint64)
    for i in range(codes.shape[0]):
        valid[i] = _sketch_row(codes[i], lengths[i], k, seed, bits, out[i], kmers) > 0


@njit(cache=True, nogil=True)
def _band_keys(codes, lengths, k, seed, bits, rows_per_band, keys, valid):
    n_bins = keys.shape[1] * rows_per_band
    buf = np.empty(n_bins, np.uint32)
    kmers = np.empty(codes.shape[1], np.uint64)
    for i in range(codes.shape[0]):
        valid[i] = _sketch_row(codes[i], lengths[i], k, seed, bits, buf, kmers) > 0
        for band in range(keys.shape[1]):
            h = np.uint64(band + 1) * np.uint64(0x9E3779B97F4A7C15)
            for r in range(rows_per_band):
                h = _mix(h ^ np.uint64(buf[band * rows_per_band + r]))
            keys[i, band] = h


def _bits(n_hashes: int) -> int:
    bits = int(n_hashes).bit_length() - 1
    if n_hashes < 1 or 1 << bits != n_hashes:
        raise ValueError(f"n_hashes={n_hashes}: give a power of 2 (e.g. 128)")
    return bits


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k={k}: give a k-mer length from 1 to {MAX_K}")


def sketches(
    codes: np.ndarray,
    lengths: np.ndarray | None = None,
    k: int = 10,
    n_hashes: int = 128,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Densified one-permutation MinHash sketches of each row's canonical k-mer set.

    Args:
        codes: (N, L) uint8 codes.
        lengths: (N,) row lengths (default L).
        k: k-mer length (1..31).
        n_hashes: bins per sketch (a power of 2).
        seed: the hash function's seed.

    Returns:
        (sketches (N, n_hashes) uint32, valid (N,) bool: rows with at least one k-mer).
    """
    _check_k(k)
    bits = _bits(n_hashes)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    out = np.empty((len(codes), n_hashes), np.uint32)
    valid = np.empty(len(codes), np.bool_)
    _sketches(codes, _lengths(codes, lengths), k, _seed(seed), bits, out, valid)
    return out, valid


def band_keys(
    codes: np.ndarray,
    lengths: np.ndarray | None = None,
    k: int = 10,
    n_bands: int = 32,
    rows_per_band: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Locality-sensitive keys: each band's ``rows_per_band`` MinHash bins hashed into one
    uint64. Two rows of Jaccard similarity J share a band's key with probability J ** r, and
    at least one of the ``n_bands`` keys with probability 1 - (1 - J ** r) ** b.

    Returns:
        (keys (N, n_bands) uint64, valid (N,) bool).
    """
    _check_k(k)
    bits = _bits(n_bands * rows_per_band)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    keys = np.empty((len(codes), n_bands), np.uint64)
    valid = np.empty(len(codes), np.bool_)
    lengths = _lengths(codes, lengths)
    _band_keys(codes, lengths, k, _seed(seed), bits, rows_per_band, keys, valid)
    return keys, valid


@njit(cache=True, nogil=True)
def _kmer_set(row, n, k):
    out = np.empty(max(n - k + 1, 0), np.uint64)
    return np.unique(out[: _canonical_kmers(row, n, k, out)])


@njit(cache=True, nogil=True)
def _pair_jaccard(a_codes, a_len, b_codes, b_len, k, out):
    for p in range(a_codes.shape[0]):
        a = _kmer_set(a_codes[p], a_len[p], k)
        b = _kmer_set(b_codes[p], b_len[p], k)
        i = 0
        j = 0
        shared = 0
        while i < len(a) and j < len(b):
            if a[i] == b[j]:
                shared += 1
                i += 1
                j += 1
            elif a[i] < b[j]:
                i += 1
            else:
                j += 1
        union = len(a) + len(b) - shared
        out[p] = shared / union if union > 0 else 0.0


def pair_jaccard(
    a: np.ndarray,
    b: np.ndarray,
    k: int = 10,
    a_lengths: np.ndarray | None = None,
    b_lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Exact Jaccard similarity of the canonical k-mer sets of rows ``a[p]`` and ``b[p]``.

    Args:
        a, b: (P, L) uint8 codes of the pairs' two sides.
        k: k-mer length.
        a_lengths, b_lengths: (P,) row lengths (default L).

    Returns:
        (P,) float64 in [0, 1] (0 where neither row has a k-mer).
    """
    _check_k(k)
    a = np.ascontiguousarray(a, dtype=np.uint8)
    b = np.ascontiguousarray(b, dtype=np.uint8)
    out = np.empty(len(a), np.float64)
    _pair_jaccard(a, _lengths(a, a_lengths), b, _lengths(b, b_lengths), k, out)
    return out


def _lengths(codes: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    if lengths is None:
        return np.full(len(codes), codes.shape[1] if codes.ndim == 2 else 0, np.int64)
    return np.ascontiguousarray(lengths, dtype=np.int64)


def _seed(seed: int) -> np.uint64:
    return np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
