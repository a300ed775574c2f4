"""A data module over personal sequences: train / val / test by people, by regions, or both.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T.

:class:`PersonalDataModule` builds one :class:`~seqnn.data.personal.PersonalDataset` over
(region, sample, haplotype) and splits its items with the schemes of
:mod:`seqnn.data.splits`:

- ``split="individual"``: people are dealt to train / val / test (seeded, ``val_fraction``
  / ``test_fraction`` of the samples); each split has every region. A model must then tell
  apart people it has never seen.
- ``split="region"``: regions are split by held-out chromosomes (``val_chroms`` /
  ``test_chroms``) or seeded genome blocks (:func:`~seqnn.data.splits.interval_split`);
  each split has every person.
- ``split="both"``: held-out people at held-out regions: val is val people x val regions,
  test is test people x test regions, train the rest of both (the pairs of a trained person
  at a held-out region, and the reverse, are in no split).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from seqnn.data.cohort_vcf import Cohort
from seqnn.data.datamodule import SequenceDataModule
from seqnn.data.datasets import DatasetError
from seqnn.data.genome import Genome
from seqnn.data.personal import PersonalDataset
from seqnn.data.splits import STAGES, Split, interval_split, stratified_split

SplitBy = Literal["individual", "region", "both"]
# the settings of a split of the regions (seqnn.data.splits.interval_split's keywords)
_REGION_SPLIT = ("val_chroms", "test_chroms", "val_fraction", "test_fraction", "n_blocks", "seed")


class PersonalDataModule(SequenceDataModule):
    """Splits + DataLoaders over the haplotype windows of a cohort.

    Args:
        fasta: the reference FASTA (path or Genome).
        vcf: the cohort's bgzipped, indexed VCF/BCF.
        regions: BED/TSV path or DataFrame (chrom, start, end[, name]).
        targets: a (sample, region) table of targets
            (:func:`~seqnn.data.personal.read_personal_targets`), or None.
        samples: the samples to use (default all).
        split: ``"individual"``, ``"region"`` or ``"both"`` (see the module docstring).
        haplotypes: ``"both"`` (an item per haplotype), ``"pair"`` (an item per person
            and region with both haplotypes, batches (B, 2, L) codes or (B, 2, 4, L)
            one-hot: train a :class:`~seqnn.models.haplotype_mean.HaplotypeMean`-wrapped
            network on them) or ``0`` / ``1``.
        missing, filters, unphased, ref_mismatch: the :class:`~seqnn.data.cohort_vcf.Cohort`
            policies.
        val_chroms, test_chroms, n_blocks: how regions are held out (region / both splits).
        use_strand: reverse-complement the windows of ``-`` strand regions.
        **common: the arguments of :class:`~seqnn.data.datamodule.SequenceDataModule`
            (input_length, val_fraction, test_fraction, batch_size, output, seed, ...);
            ``input_length`` is required (the window length).
    """

    def __init__(
        self,
        fasta: Genome | str | Path,
        vcf: str | Path,
        regions: str | Path | pd.DataFrame,
        targets: str | Path | pd.DataFrame | None = None,
        samples: Sequence[str] | None = None,
        split: SplitBy = "individual",
        haplotypes: Literal["both", "pair", 0, 1] = "both",
        missing: str = "ref",
        filters: str = "pass",
        unphased: str = "error",
        ref_mismatch: str = "error",
        val_chroms: Sequence[str] | None = None,
        test_chroms: Sequence[str] | None = None,
        n_blocks: int = 100,
        use_strand: bool = False,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if split not in ("individual", "region", "both"):
            raise DatasetError(f"split={split!r}: give split=individual, region or both")
        if self.hparams.input_length is None:
            raise DatasetError("PersonalDataModule: give input_length (the window length, bp)")
        self.fasta, self.vcf, self.regions, self.targets = fasta, vcf, regions, targets

    def _source(self) -> str:
        return Path(self.vcf).name

    def _full_dataset(self) -> tuple[PersonalDataset, pd.DataFrame]:
        hp = self.hparams
        cohort = Cohort(
            self.fasta,
            self.vcf,
            samples=list(hp.samples) if hp.samples else None,
            missing=hp.missing,
            filters=hp.filters,
            unphased=hp.unphased,
            ref_mismatch=hp.ref_mismatch,
        )
        full = PersonalDataset(
            cohort,
            self.regions,
            seq_len=hp.input_length,
            targets=self.targets,
            haplotypes=hp.haplotypes,
            target_columns=hp.target_columns,
            target_kind=hp.target_kind,
            policy=self.policy,
            output=hp.output,
            use_strand=hp.use_strand,
        )
        return full, full.regions

    def _rows_of(self, frame: pd.DataFrame, full: PersonalDataset) -> Split:
        return self._split(frame, full)

    def _split(self, frame: pd.DataFrame, full: PersonalDataset) -> Split:
        hp = self.hparams
        n_samples = len(full.samples)
        people = stratified_split(n_samples, None, hp.val_fraction, hp.test_fraction, hp.seed)
        if hp.split == "individual":
            return {s: full.item_index(None, people[s]) for s in STAGES}
        loci = interval_split(frame, full.genome.sizes, **{k: hp[k] for k in _REGION_SPLIT})
        if hp.split == "region":
            return {s: full.item_index(loci[s], None) for s in STAGES}
        return {s: full.item_index(loci[s], people[s]) for s in STAGES}

    def split_frame(self, stage: str) -> pd.DataFrame:
        """The items (sample, haplotype, region) of split ``stage``."""
        if stage not in STAGES:
            raise ValueError(f"PersonalDataModule: stage must be one of {STAGES}, got {stage!r}")
        self.setup()
        return self._full.items(np.asarray(self._rows[stage]))
