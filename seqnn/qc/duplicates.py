"""Dependent examples across splits: exact, reverse-complement and near duplicates, genome
intervals that overlap across splits, and identical sequences with conflicting labels.

An *evaluated* row (validation or test) leaks when a row it is compared with, its
*reference*, is (nearly) the same sequence: validation rows are compared with the training
rows, test rows with the training and validation rows.

- exact: the same codes (a 64-bit hash of each row, :func:`~seqnn.qc.hashing.row_hashes`;
  sorted-array membership, no Python loop over rows);
- reverse complement: the reverse complement of a reference row (and not an exact copy);
- near: canonical k-mer sets with Jaccard similarity >= ``threshold``, found by MinHash
  locality-sensitive hashing (:func:`~seqnn.qc.hashing.band_keys`) and each candidate
  verified by the exact Jaccard similarity (:func:`~seqnn.qc.hashing.pair_jaccard`); exact
  and reverse-complement copies are not counted again;
- intervals: an evaluated interval less than ``max_gap`` bp from a reference interval (0:
  they overlap). For tiled windows (:attr:`QCData.windows`) the count is exact over every
  window of the splits, computed on their runs (:func:`window_overlaps`): the reference
  runs become genome spans, each span the range of window numbers it reaches, and the
  evaluated runs are cut by those ranges (range subtraction on the runs; cost: runs, not
  windows); the sampled rows are flagged against the same spans. With ``qc_settings.drop``
  those windows leave the evaluated splits (:func:`leak_free_windows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqnn.data.background import _merged_exclusions, _overlaps
from seqnn.data.splits import STAGES
from seqnn.data.tiling import Windows, window_range
from seqnn.qc.hashing import band_keys, pair_jaccard, row_hashes
from seqnn.qc.sources import QCData, QCError, stages_present


@dataclass
class Leaks:
    """Leaking rows of one kind: each evaluated stage's rows and, beside each, a reference row
    it copies (and the similarity, for near duplicates)."""

    rows: dict[str, np.ndarray]
    partners: dict[str, np.ndarray]
    similarity: dict[str, np.ndarray] | None = None
    total: dict[str, int] | None = None  # tiled windows: every window's count, not the sample's

    @property
    def count(self) -> int:
        return int(sum(self.per_stage().values()))

    def per_stage(self) -> dict[str, int]:
        if self.total is not None:
            return dict(self.total)
        return {s: int(len(r)) for s, r in self.rows.items()}

    def examples(self, n: int) -> list[dict]:
        """The first ``n`` leaks as ``{split, row, partner[, jaccard]}``."""
        out = []
        for stage, rows in self.rows.items():
            for i in range(min(n - len(out), len(rows))):
                partner = int(self.partners[stage][i])
                item = {"split": stage, "row": int(rows[i]), "partner": partner}
                if self.similarity is not None:
                    item["jaccard"] = round(float(self.similarity[stage][i]), 3)
                out.append(item)
        return out


def reference_rows(data: QCData, stage: str) -> np.ndarray:
    """The rows an evaluated stage is compared with: train for val, train + val for test."""
    before = STAGES[: STAGES.index(stage)]
    return np.concatenate([data.split[s] for s in before])


def hash_rows(data: QCData) -> tuple[np.ndarray, np.ndarray]:
    """(forward, reverse-complement) uint64 hashes of every row, a chunk at a time."""
    fwd = np.zeros(data.n_rows, np.uint64)
    rev = np.zeros(data.n_rows, np.uint64)
    for rows, codes, lengths in data.chunks(np.arange(data.n_rows)):
        fwd[rows], rev[rows] = row_hashes(codes, lengths)
    return fwd, rev


def _members(values: np.ndarray, reference: np.ndarray, ref_rows: np.ndarray):
    """Which ``values`` occur in ``reference`` and, for those, one reference row holding it."""
    order = np.argsort(reference, kind="stable")
    ordered = reference[order]
    at = np.minimum(np.searchsorted(ordered, values), max(len(ordered) - 1, 0))
    hit = ordered[at] == values if len(ordered) else np.zeros(len(values), bool)
    return hit, ref_rows[order[at[hit]]] if len(ordered) else ref_rows[:0]


def exact_leaks(data: QCData, fwd: np.ndarray, rev: np.ndarray) -> tuple[Leaks, Leaks]:
    """(exact copies, reverse-complement copies) of reference rows among evaluated rows."""
    exact, rc = Leaks({}, {}), Leaks({}, {})
    for stage in stages_present(data):
        ref, rows = reference_rows(data, stage), data.split[stage]
        hit, partner = _members(fwd[rows], fwd[ref], ref)
        exact.rows[stage], exact.partners[stage] = rows[hit], partner
        rest = rows[~hit]
        hit_rc, partner_rc = _members(fwd[rest], rev[ref], ref)
        rc.rows[stage], rc.partners[stage] = rest[hit_rc], partner_rc
    return exact, rc


def conflicting_labels(data: QCData, fwd: np.ndarray, rev: np.ndarray) -> tuple[int, int]:
    """(groups, rows): identical sequences (either strand) in the splits whose labels differ."""
    if data.labels is None:
        return 0, 0
    rows = np.concatenate([data.split[s] for s in STAGES])
    canonical = np.minimum(fwd[rows], rev[rows])
    order = np.argsort(canonical, kind="stable")
    keys = canonical[order]
    labels = data.labels[rows[order]].reshape(len(rows), -1).astype(np.float64)
    if len(keys) == 0:
        return 0, 0
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    differ = (
        np.maximum.reduceat(labels, starts, axis=0) != np.minimum.reduceat(labels, starts, axis=0)
    ).any(axis=1) & (sizes > 1)
    return int(differ.sum()), int(sizes[differ].sum())


def _index_bytes(n_rows: int, n_bands: int) -> int:
    return n_rows * (n_bands * 8 + 16)


def near_leaks(
    data: QCData,
    skip: np.ndarray,
    k: int = 10,
    n_bands: int = 32,
    rows_per_band: int = 4,
    threshold: float = 0.5,
    max_candidates: int = 16,
    seed: int = 0,
    max_index_bytes: int = 4 * 2**30,
) -> Leaks:
    """Evaluated rows whose canonical k-mer set has Jaccard similarity >= ``threshold`` with a
    reference row's (rows in ``skip``, the exact and reverse-complement copies, left out).

    Each band's keys are sorted once; every pending evaluated row is checked against at most
    ``max_candidates`` reference rows that share its key in that band (exact Jaccard), and
    leaves the search at its first verified match.

    Raises:
        QCError: the index (``n_bands`` uint64 keys a row) would pass ``max_index_bytes``:
            names the size and the fixes.
    """
    needed = _index_bytes(data.n_rows, n_bands)
    if needed > max_index_bytes:
        raise QCError(
            f"{data.source}: the near-duplicate index of {data.n_rows:,} rows needs "
            f"{needed / 2**30:.1f} GiB (> qc_settings.max_index_bytes = "
            f"{max_index_bytes / 2**30:.1f} GiB): raise max_index_bytes, lower n_bands, or set "
            "qc_settings.near=false (exact and reverse-complement checks need 16 bytes a row)"
        )
    keys = np.zeros((data.n_rows, n_bands), np.uint64)
    valid = np.zeros(data.n_rows, bool)
    for rows, codes, lengths in data.chunks(np.arange(data.n_rows)):
        keys[rows], valid[rows] = band_keys(codes, lengths, k, n_bands, rows_per_band, seed)
    leaks = Leaks({}, {}, {})
    for stage in stages_present(data):
        ref = reference_rows(data, stage)
        ref = ref[valid[ref]]
        pending = data.split[stage]
        pending = pending[valid[pending] & ~np.isin(pending, skip)]
        found, partner, best = [], [], []
        for band in range(n_bands):
            if not len(pending) or not len(ref):
                break
            order = np.argsort(keys[ref, band], kind="stable")
            ordered = keys[ref[order], band]
            lo = np.searchsorted(ordered, keys[pending, band], side="left")
            hi = np.searchsorted(ordered, keys[pending, band], side="right")
            n = np.minimum(hi - lo, max_candidates)
            queries = np.repeat(pending, n)
            offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            targets = ref[order[np.repeat(lo, n) + offsets]]
            if not len(queries):
                continue
            sim = _jaccard(data, queries, targets, k)
            ok = sim >= threshold
            if not ok.any():
                continue
            # the first verified match of each query (pairs are grouped by query)
            q_ok, first = np.unique(queries[ok], return_index=True)
            found.append(q_ok)
            partner.append(targets[ok][first])
            best.append(sim[ok][first])
            pending = np.setdiff1d(pending, q_ok, assume_unique=True)
        order_rows = np.concatenate(found) if found else np.zeros(0, np.int64)
        sort = np.argsort(order_rows, kind="stable")
        leaks.rows[stage] = order_rows[sort]
        leaks.partners[stage] = (np.concatenate(partner) if partner else order_rows)[sort]
        leaks.similarity[stage] = (np.concatenate(best) if best else np.zeros(0))[sort]
    return leaks


def _jaccard(data: QCData, a_rows: np.ndarray, b_rows: np.ndarray, k: int) -> np.ndarray:
    """Exact Jaccard of pairs (a_rows[p], b_rows[p]), fetching a chunk of pairs at a time."""
    out = np.empty(len(a_rows), np.float64)
    for start in range(0, len(a_rows), 65536):
        part = slice(start, start + 65536)
        a, a_len = data.codes(a_rows[part])
        b, b_len = data.codes(b_rows[part])
        out[part] = pair_jaccard(a, b, k, a_len, b_len)
    return out


def interval_leaks(data: QCData, max_gap: int = 0) -> Leaks:
    """Evaluated intervals that overlap (``max_gap`` 0) or come less than ``max_gap`` bp
    from a reference interval (the partner column is -1: the reference regions are merged).
    Tiled windows: the rows are the sampled windows that do, and ``total`` the count over
    all windows of each split (:func:`window_overlaps`)."""
    leaks = Leaks({}, {})
    if data.intervals is None:
        return leaks
    chrom = data.intervals["chrom"].astype(str).to_numpy(object)
    start = data.intervals["start"].to_numpy(np.int64)
    end = data.intervals["end"].to_numpy(np.int64)
    if data.windows is not None:
        leaks.total = window_overlaps(data.windows, max_gap)
    for stage in stages_present(data):
        if data.windows is not None:
            ref = pd.concat([_run_frame(data.windows[s]) for s in _before(stage)])
        else:
            rows = reference_rows(data, stage)
            ref = pd.DataFrame({"chrom": chrom[rows], "start": start[rows], "end": end[rows]})
        merged = _merged_exclusions(ref, max_gap)
        rows = data.split[stage]
        hit = _overlaps(merged, chrom[rows], start[rows], end[rows])
        leaks.rows[stage] = rows[hit]
        leaks.partners[stage] = np.full(int(hit.sum()), -1, np.int64)
    return leaks


def _before(stage: str) -> tuple[str, ...]:
    return STAGES[: STAGES.index(stage)]


def _run_frame(windows: Windows) -> pd.DataFrame:
    """Each run of ``windows`` as one genome interval (chrom, start, end)."""
    start = windows.first * windows.stride
    end = (windows.first + windows.count - 1) * windows.stride + windows.window
    chrom = np.asarray(windows.names, dtype=object)[windows.contig]
    return pd.DataFrame({"chrom": chrom, "start": start, "end": end})


def reference_ranges(
    splits: dict[str, Windows], stage: str, max_gap: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window numbers of ``stage``'s grid that a window of an earlier split reaches:
    (contig, lo, hi), (M,) each, one range per reference run.

    A reference run ``[a, b)`` (its windows' span) reaches the windows ``k`` with
    ``k * stride < b + max_gap`` and ``k * stride + window > a - max_gap``.
    """
    evaluated = splits[stage]
    refs = [splits[s] for s in _before(stage) if len(splits[s])]
    if not refs:
        none = np.zeros(0, np.int64)
        return none, none, none
    w, s = evaluated.window, evaluated.stride
    contig = np.concatenate([r.contig for r in refs])
    span = pd.concat([_run_frame(r) for r in refs])
    size = evaluated.sizes[contig]
    n_windows = np.where(size >= w, (size - w) // s + 1, 0)
    lo, hi = window_range(
        span["start"].to_numpy(np.int64) - max_gap,
        span["end"].to_numpy(np.int64) + max_gap,
        w,
        s,
        n_windows,
    )
    return contig, lo, hi


def leak_free_windows(splits: dict[str, Windows], max_gap: int = 0) -> dict[str, Windows]:
    """Each evaluated split's windows minus those that overlap (or come less than
    ``max_gap`` bp from) a window of an earlier split (:meth:`Windows.without` over
    :func:`reference_ranges`: range subtraction on the runs, no per-window array)."""
    out = {}
    for stage in STAGES[1:]:
        if splits.get(stage) is not None:
            out[stage] = splits[stage].without(*reference_ranges(splits, stage, max_gap))
    return out


def window_overlaps(splits: dict[str, Windows], max_gap: int = 0) -> dict[str, int]:
    """Per evaluated split, how many of its windows overlap (or come less than ``max_gap``
    bp from) a window of an earlier split, counted on the runs: the windows
    :func:`leak_free_windows` takes away."""
    kept = leak_free_windows(splits, max_gap)
    return {s: len(splits[s]) - len(w) for s, w in kept.items() if len(splits[s])}


def check_labels_exist(data: QCData) -> None:
    """Refuse labels with one class in the training rows (nothing to separate)."""
    if data.labels is None or data.label_form == "values":
        return
    y = data.labels[data.split["train"]]
    y = y.reshape(len(y), -1)
    for j, name in enumerate(data.target_names or range(y.shape[1])):
        if data.label_form == "classes":
            if len(np.unique(y)) < 2:
                raise QCError(f"{data.source}: the training rows hold one class only")
            return
        if j < y.shape[1] and len(np.unique(y[:, j] > 0.5)) < 2:
            raise QCError(
                f"{data.source}: target {name!r} has one class in the training rows: "
                "nothing to separate (add rows of the other class)"
            )
