"""Personal sequences as a torch Dataset: one item per (region, sample, haplotype), or per
(region, sample) with both haplotypes (``haplotypes="pair"``).

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; a
pair item adds a haplotype axis: codes (batch, 2, length), one-hot (batch, 2, 4, length).

:class:`PersonalDataset` reads a :class:`~seqnn.data.cohort_vcf.Cohort`'s variants near the
regions once (the variant data is the dataset's memory; nothing else grows with the samples)
and builds each batch's haplotype windows in one compiled pass
(:func:`~seqnn.data.haplotypes.haplotype_windows`) from the genome's shared code cache, so
DataLoader workers map the same reference pages. Items are ordered region, then sample, then
haplotype, as :meth:`Cohort.haplotypes` orders its rows.

Targets come from a table keyed by (sample, region) (:func:`read_personal_targets`): CSV/TSV
with a ``sample`` column, the region as ``region`` (the regions' ``name``) or as
``chrom``/``start``/``end``, then one column per target. Both haplotypes of a sample get its
row's targets; with ``haplotypes="pair"`` one item holds both haplotypes and the
targets once, so a network wrapped in :class:`~seqnn.models.haplotype_mean.HaplotypeMean`
learns the person's trait from the person's two haplotypes together.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

from seqnn.data.cohort_vcf import Cohort, CohortError, VariantBlock
from seqnn.data.datasets import (
    DatasetError,
    Output,
    TargetKind,
    _BatchedDataset,
    encode_targets,
    read_table,
)
from seqnn.data.encoding import DEFAULT_POLICY, EncodingPolicy, reverse_complement_codes
from seqnn.data.haplotypes import haplotype_windows
from seqnn.data.intervals import strand_flags

Haplotypes = Literal["both", "pair", 0, 1]


def region_names(regions: pd.DataFrame) -> np.ndarray:
    """(n,) object: each region's ``name`` when the table has one, else ``chrom:start-end``."""
    if "name" in regions.columns:
        return regions["name"].astype(str).to_numpy(dtype=object)
    return (
        regions["chrom"].astype(str)
        + ":"
        + regions["start"].astype(str)
        + "-"
        + regions["end"].astype(str)
    ).to_numpy(dtype=object)


def read_personal_targets(
    table: pd.DataFrame | str | Path,
    regions: pd.DataFrame,
    samples: Sequence[str],
    target_columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Match a (sample, region) table of targets to regions and samples.

    Args:
        table: CSV/TSV path or DataFrame: ``sample``, then ``region`` (a region's name, see
            :func:`region_names`) or ``chrom``/``start``/``end``, then target columns.
        regions: the regions (rows as the dataset's).
        samples: the dataset's samples.
        target_columns: the target columns (default: every other column).

    Returns:
        values: the target columns, one row per matched table row; and the (rows,) int64
        region and sample index of each.

    Raises:
        DatasetError: a missing column, a row naming an unknown sample or region, a pair
            given twice, or a (sample, region) of the dataset without a row.
    """
    source = "targets" if isinstance(table, pd.DataFrame) else Path(table).name
    frame = table if isinstance(table, pd.DataFrame) else read_table(table)
    keys = ["region"] if "region" in frame.columns else ["chrom", "start", "end"]
    absent = [c for c in ["sample", *keys] if c not in frame.columns]
    if absent:
        raise DatasetError(
            f"{source}: no column(s) {absent}: a table of personal targets has sample, then "
            "region (the regions' name) or chrom/start/end, then the target columns"
        )
    columns = list(target_columns or [c for c in frame.columns if c not in ["sample", *keys]])
    names = region_names(regions if keys == ["region"] else regions[["chrom", "start", "end"]])
    given = frame["region"].astype(str) if keys == ["region"] else region_names(frame[keys])
    region = _lookup(np.asarray(given, dtype=object), names, source, "region")
    sample = _lookup(frame["sample"].astype(str).to_numpy(dtype=object), samples, source, "sample")
    pair = region * len(samples) + sample
    twice = pd.Series(pair).duplicated().to_numpy()
    if twice.any():
        i = int(np.argmax(twice))
        raise DatasetError(
            f"{source}: row {i + 2}: sample {frame['sample'].iloc[i]!r} and region "
            f"{given[i]!r} have a row already: give one row per (sample, region)"
        )
    return frame[columns], region, sample


def _lookup(values: np.ndarray, names: Sequence[str], source: str, what: str) -> np.ndarray:
    """Positions of ``values`` in ``names``; an unknown value names its table row."""
    index = pd.Index(list(names)).get_indexer(values)
    if (index < 0).any():
        i = int(np.argmax(index < 0))
        shown = ", ".join(map(str, list(names)[:5]))
        raise DatasetError(
            f"{source}: row {i + 2}: {what} {values[i]!r} is not one of the dataset's "
            f"{what}s ({shown}, ...): fix the table or the {what}s given"
        )
    return index.astype(np.int64)


class PersonalDataset(_BatchedDataset):
    """Haplotype windows of people at regions, a batch at a time.

    Args:
        cohort: the :class:`~seqnn.data.cohort_vcf.Cohort` (reference + VCF + policies).
        regions: BED/TSV path or DataFrame (chrom, start, end[, name]).
        samples: a subset of the cohort's samples (default all).
        seq_len: the window length L (the network's ``input_length``).
        targets: a (sample, region) table of targets (:func:`read_personal_targets`), or None.
        haplotypes: ``"both"`` (two items per sample and region, one haplotype each),
            ``"pair"`` (one item per sample and region holding both haplotypes: codes
            (2, L), one-hot (2, 4, L)) or ``0`` / ``1`` (one haplotype).
        target_columns: the table's target columns (default: all but the keys).
        target_kind: binary / multilabel / multiclass / regression; None infers it.
        policy, output, transforms: as in :class:`~seqnn.data.datasets.IntervalDataset`
            (transforms that move windows are refused: a haplotype has no coordinates to
            shift).
        use_strand: reverse-complement the windows of regions on the ``-`` strand (their
            ``strand`` column), as :class:`~seqnn.data.datasets.IntervalDataset` does.
        threads: threads building each batch in the main process
            (:func:`~seqnn.data.haplotypes.kernel_threads`; None: torch's thread count).
            DataLoader workers always build theirs on one thread. The default, 1, is what
            measured fastest on a shared, loaded machine (docs/speed.md); more pays on idle
            cores with large batches.

    With ``cohort.missing == "skip"`` the (sample, region) pairs with a missing genotype in
    the window are left out (``n_skipped`` counts them).
    """

    def __init__(
        self,
        cohort: Cohort,
        regions: pd.DataFrame | str | Path,
        samples: Sequence[str] | str | None = None,
        seq_len: int = 1000,
        targets: pd.DataFrame | str | Path | None = None,
        haplotypes: Haplotypes = "both",
        target_columns: Sequence[str] | None = None,
        target_kind: TargetKind | None = None,
        policy: EncodingPolicy = DEFAULT_POLICY,
        output: Output = "one_hot",
        transforms: Sequence | None = None,
        use_strand: bool = False,
        threads: int | None = 1,
    ) -> None:
        self._init_common(policy, output, transforms)
        self.threads = threads
        if any(hasattr(t, "offsets") for t in self.transforms):
            raise DatasetError(
                "PersonalDataset: transforms that move windows (RandomShift) do not apply to "
                "haplotype windows: leave them out"
            )
        if haplotypes not in ("both", "pair", 0, 1):
            raise DatasetError(f"haplotypes={haplotypes!r}: give 'both', 'pair', 0 or 1")
        self.cohort, self.genome = cohort, cohort.genome
        self.regions, contig = cohort.regions(regions)
        self.block: VariantBlock = cohort.load(self.regions, seq_len, samples, contig)
        self._reverse = strand_flags(self.regions) if use_strand else None
        self.samples = list(self.block.samples)
        self.input_length = int(seq_len)
        self.pair = haplotypes == "pair"
        both = haplotypes in ("both", "pair")
        self.haplotype_values = np.array([0, 1] if both else [haplotypes])
        # items per (region, sample) pair: two for "both", one otherwise
        self._n_slots = 2 if haplotypes == "both" else 1
        pairs = np.arange(len(self.regions) * len(self.samples), dtype=np.int64)
        self.n_skipped = 0
        if cohort.missing == "skip":
            called = self.block.called().ravel()  # (n_regions * n_samples,)
            self.n_skipped = int((~called).sum())
            pairs = pairs[called]
        n_h = self._n_slots
        # one int64 per item: pair * n_h + haplotype slot
        self._items = (pairs[:, None] * n_h + np.arange(n_h)).ravel()
        self._pair_targets: torch.Tensor | None = None
        if targets is not None:
            self._init_targets(targets, target_columns, target_kind)

    def _init_targets(self, table, columns, kind) -> None:
        values, region, sample = read_personal_targets(table, self.regions, self.samples, columns)
        source = "targets" if isinstance(table, pd.DataFrame) else Path(table).name
        encoded = encode_targets(values, kind, None, lambda i: f"{source}: row {i + 2}")
        y, self.target_kind, self.target_names, self.classes = encoded
        n_pairs = len(self.regions) * len(self.samples)
        have = np.zeros(n_pairs, dtype=bool)
        have[region * len(self.samples) + sample] = True
        needed = np.unique(self._items // self._n_slots)
        lacking = needed[~have[needed]]
        if len(lacking):
            r, s = divmod(int(lacking[0]), len(self.samples))
            raise DatasetError(
                f"{source}: no row for sample {self.samples[s]!r} at region "
                f"{region_names(self.regions)[r]!r} ({len(lacking)} (sample, region) pairs "
                "lack one): give every pair a row, or leave those samples / regions out"
            )
        table_y = torch.zeros((n_pairs, *y.shape[1:]), dtype=y.dtype)
        table_y[torch.from_numpy(region * len(self.samples) + sample)] = y
        self._pair_targets = table_y
        self.targets = table_y  # (n_pairs, ...) indexed per item by targets_of

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        return len(self._items)

    def locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(region, sample, haplotype) indices of the items ``index``: (B,) int64 each;
        with ``haplotypes="pair"`` the haplotypes are (B, 2), ``[0, 1]`` on every row."""
        item = self._items[np.asarray(index, dtype=np.int64)]
        pair, slot = item // self._n_slots, item % self._n_slots
        region, sample = pair // len(self.samples), pair % len(self.samples)
        if self.pair:
            return region, sample, np.broadcast_to(self.haplotype_values, (len(item), 2))
        return region, sample, self.haplotype_values[slot]

    def items(self, index: np.ndarray | None = None) -> pd.DataFrame:
        """The items ``index`` (default all) as a table: sample, haplotype, region (with
        ``haplotypes="pair"`` the haplotype column reads ``"0|1"``: an item holds both)."""
        index = np.arange(len(self)) if index is None else np.asarray(index)
        region, sample, hap = self.locate(index)
        return pd.DataFrame(
            {
                "sample": np.asarray(self.samples, dtype=object)[sample],
                "haplotype": np.full(len(index), "0|1", dtype=object) if self.pair else hap,
                "region": region_names(self.regions)[region],
            }
        )

    def _codes(self, index: np.ndarray) -> np.ndarray:
        """(B, L) uint8 codes, or (B, 2, L) with ``haplotypes="pair"``: both haplotypes of
        the batch's people are built in the same single pass of the kernel."""
        region, sample, hap = self.locate(index)
        if self.pair:  # (B,) -> (2B,): rows 2i and 2i + 1 are item i's haplotypes 0 and 1
            region, sample, hap = np.repeat(region, 2), np.repeat(sample, 2), hap.ravel()
        codes, _ = haplotype_windows(
            self.genome,
            self.block,
            region,
            sample,
            hap,
            self.cohort.missing,
            positions=False,
            threads=self.threads,
        )
        if self._reverse is not None and self._reverse[region].any():
            flip = self._reverse[region]
            codes[flip] = reverse_complement_codes(codes[flip])
        if self.pair:
            return codes.reshape(len(index), 2, codes.shape[-1])  # (2B, L) -> (B, 2, L)
        return codes

    def _post_transforms(self) -> list:
        """With ``haplotypes="pair"``, each transform sees the batch's haplotypes as rows
        (2B, L) and draws by item, so a person's two haplotypes flip together."""
        if not self.pair:
            return self.transforms
        return [_BothHaplotypes(t) for t in self.transforms]

    def targets_of(self, index: np.ndarray) -> torch.Tensor | None:
        if self._pair_targets is None:
            return None
        pair = self._items[np.asarray(index, dtype=np.int64)] // self._n_slots
        return self._pair_targets[torch.from_numpy(pair)]

    def subset(self, index: Sequence[int], transforms: Sequence | None = None):
        """The items ``index`` (same cohort, variants and targets)."""
        new = self._fresh_copy(transforms)
        new._items = self._items[np.asarray(index, dtype=np.int64)]
        return new

    def item_index(self, regions: np.ndarray | None, samples: np.ndarray | None) -> np.ndarray:
        """Items whose region is in ``regions`` and sample in ``samples`` (None: any)."""
        region, sample, _ = self.locate(np.arange(len(self)))
        keep = np.ones(len(self), dtype=bool)
        if regions is not None:
            keep &= np.isin(region, regions)
        if samples is not None:
            keep &= np.isin(sample, samples)
        return np.flatnonzero(keep)


class _BothHaplotypes:
    """A batch transform applied to the (B, 2, L) codes of pair items: (B, 2, L) -> (2B, L)
    with each item's index on both of its rows (the same draw), then back. Personal targets
    are per person (scalar), so they pass through."""

    def __init__(self, transform) -> None:
        self.transform = transform

    def __call__(self, codes: np.ndarray, y, index: np.ndarray, epoch: int):
        rows = codes.reshape(-1, codes.shape[-1])  # (B, 2, L) -> (2B, L)
        rows, _ = self.transform(rows, None, np.repeat(index, codes.shape[1]), epoch)
        return rows.reshape(codes.shape), y


__all__ = ["CohortError", "PersonalDataset", "read_personal_targets", "region_names"]
