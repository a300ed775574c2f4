"""The one-hot sequence data layer: encodings, genomes, intervals, datasets, transforms.

Layout everywhere: one-hot tensors are (batch, 4, length), channels A, C, G, T.
The data modules (Lightning, :mod:`seqnn.data.datamodule`: ``TableDataModule``,
``IntervalDataModule`` and their base ``SequenceDataModule``) are importable from here but
imported on first use, so that the data layer alone does not load Lightning (so is
``PersonalDataModule``, over personal haplotypes: :mod:`seqnn.data.cohort_vcf`,
:mod:`seqnn.data.personal`). The split schemes are the functions of :mod:`seqnn.data.splits`.
"""

from seqnn.data.background import (
    dinucleotide_shuffle,
    random_background_intervals,
    shuffled_negatives,
)
from seqnn.data.cohort_vcf import Cohort, CohortError
from seqnn.data.coverage import CoverageTargets, TargetError, check_contig_names
from seqnn.data.coverage_store import CoverageStore
from seqnn.data.datasets import (
    DatasetError,
    EpochSampler,
    IntervalDataset,
    SequenceDataset,
    collate_batched,
)
from seqnn.data.encoding import (
    DEFAULT_POLICY,
    EncodingError,
    EncodingPolicy,
    OneHot,
    decode,
    encode,
    one_hot,
    reverse_complement,
    reverse_complement_codes,
    reverse_complement_one_hot,
)
from seqnn.data.genome import Genome, GenomeError, write_fasta
from seqnn.data.intervals import (
    IntervalError,
    centred_start,
    read_intervals,
    resize,
    split_by_blocks,
    split_by_chromosome,
    tile,
    validate_intervals,
)
from seqnn.data.labelled import fasta_table, labelled_table
from seqnn.data.peaks import PeakLabels, peak_labels
from seqnn.data.personal import PersonalDataset
from seqnn.data.simulate import MotifSimulation, implant_motifs
from seqnn.data.tiling import Windows, label_tiles, label_windows, tile_genome, tile_windows
from seqnn.data.transforms import RandomShift, ReverseComplement
from seqnn.lazy import lazy_getattr

__getattr__ = lazy_getattr(
    "seqnn.data",
    {
        **{
            name: "seqnn.data.datamodule"
            for name in ("IntervalDataModule", "SequenceDataModule", "TableDataModule")
        },
        "PersonalDataModule": "seqnn.data.personal_datamodule",
    },
)

__all__ = [
    "fasta_table",
    "labelled_table",
    "tile_genome",
    "tile_windows",
    "label_tiles",
    "Windows",
    "label_windows",
    "peak_labels",
    "PeakLabels",
    "check_contig_names",
    "TargetError",
    "CoverageTargets",
    "CoverageStore",
    "Cohort",
    "CohortError",
    "PersonalDataModule",
    "PersonalDataset",
    "DEFAULT_POLICY",
    "DatasetError",
    "EncodingError",
    "EncodingPolicy",
    "EpochSampler",
    "Genome",
    "GenomeError",
    "IntervalDataModule",
    "IntervalDataset",
    "IntervalError",
    "MotifSimulation",
    "OneHot",
    "RandomShift",
    "ReverseComplement",
    "SequenceDataModule",
    "SequenceDataset",
    "TableDataModule",
    "centred_start",
    "collate_batched",
    "decode",
    "dinucleotide_shuffle",
    "encode",
    "implant_motifs",
    "one_hot",
    "random_background_intervals",
    "read_intervals",
    "resize",
    "reverse_complement",
    "reverse_complement_codes",
    "reverse_complement_one_hot",
    "shuffled_negatives",
    "split_by_blocks",
    "split_by_chromosome",
    "tile",
    "validate_intervals",
    "write_fasta",
]
