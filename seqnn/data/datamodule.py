"""Data modules: train/val/test splits of a sequence table or of genome intervals, and their
DataLoaders.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T.

Two sources, two modules over one base (:class:`SequenceDataModule`: the splits' datasets,
shapes, loaders and the N/IUPAC policy):

- :class:`TableDataModule`: a table of sequences,
  :class:`~seqnn.data.datasets.SequenceDataset`, split by its ``split`` column (train / val /
  test) when it has one, else at random (stratified by class for binary and multiclass
  targets) with ``val_fraction`` / ``test_fraction``, or as fold ``fold`` of a stratified
  ``folds``-fold cross-validation (one run per fold);
- :class:`IntervalDataModule`: a genome and intervals,
  :class:`~seqnn.data.datasets.IntervalDataset`, split by the ``split`` column, by held-out
  chromosomes (``val_chroms`` / ``test_chroms``), or else by random genome blocks.

The split schemes are the functions of :mod:`seqnn.data.splits`. ``SequenceDataModule(...)``
itself, the one class of earlier releases, still builds the module its arguments call for
(``table=``: a table, else intervals), with a DeprecationWarning.

``n_targets`` and ``input_length`` may be given up front (so configs can interpolate
``${data.n_targets}`` and ``${data.input_length}``); ``setup`` checks them against the data,
and when they are left None the properties of the same names measure them from the data.
``input_length`` is the one name of the sequence length (bp) from config to network to the
exported model; ``seq_len=`` and ``length=`` are its old names.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from seqnn.data.datasets import (
    DatasetError,
    IntervalDataset,
    SequenceDataset,
    TargetKind,
    read_table,
)
from seqnn.data.encoding import DEFAULT_POLICY, EncodingPolicy
from seqnn.data.genome import Genome
from seqnn.data.peaks import PeakLabels
from seqnn.data.splits import (
    STAGES,
    Split,
    fold_split,
    interval_split,
    redeal_val,
    split_by_label,
    stratified_split,
)
from seqnn.data.tiling import Windows, label_tiles
from seqnn.deprecation import renamed_keywords
from seqnn.kinds import kind_names, kinds_where, task_kind

# Objects stay out of the hparams: checkpoints then load with weights_only=True.
NOT_HPARAMS = [
    "table",
    "genome",
    "intervals",
    "policy",
    "transforms",
    "targets",
    "extra_train",
    "test_table",
]
log = logging.getLogger(__name__)


def check_loader_settings(
    batch_size: int, num_workers: int, val_fraction: float, test_fraction: float
) -> None:
    """Refuse settings that would only fail later, deep inside a DataLoader or a split.

    Raises:
        DatasetError: naming the setting (``data.<name>`` in a config) and what it takes.
    """
    for name, value, low in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise DatasetError(
                f"{name}={value!r}: give a whole number >= {low} (data.{name} in a config)"
            )
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise DatasetError(
                f"{name}={value!r}: give a fraction of the rows in [0, 1) "
                f"(data.{name} in a config)"
            )
    if val_fraction + test_fraction >= 1:
        raise DatasetError(
            f"val_fraction={val_fraction} + test_fraction={test_fraction} leave no training "
            "rows: give fractions that sum to less than 1"
        )


class SequenceDataModule(L.LightningDataModule):
    """The shared base of :class:`TableDataModule` and :class:`IntervalDataModule`: the three
    splits' datasets, their shapes and DataLoaders. Subclasses give the whole dataset
    (``_full_dataset``) and its split (``_split``).

    Args:
        target_columns: target column(s); None for no targets.
        target_kind: binary / multilabel / multiclass / regression; None infers it.
        input_length: the sequence length (bp) the network sees. Intervals are resized to it
            around their centres (:func:`~seqnn.data.intervals.centred_start`); a table's
            sequences must have it. None: the data's own length (the sequences or intervals
            must then share one), measured by the ``input_length`` property.
        split_column: a column of train / val / test labels, used when present.
        val_fraction, test_fraction: random (table) or block (genome) split fractions.
        transforms: training-set transforms (seeded; val / test get none).
        batch_size, num_workers, pin_memory, persistent_workers: DataLoader settings
            (persistent workers only when ``num_workers > 0``).
        output: ``"one_hot"`` (B, 4, L) float32 or ``"codes"`` (B, L) uint8 batches.
        policy: how N and IUPAC codes become one-hot columns. The data module is its one
            holder: a seqnn task module takes it from here at ``setup`` (codes batches are
            one-hot encoded on the device with it) and the exported model records it.
        n_targets: the expected number of targets, checked in ``setup`` (None: taken from
            the data).
        seed: seed of the random splits and of the training order.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> SequenceDataModule:
        if cls is SequenceDataModule:  # the one class of earlier releases: pick the module
            table = args[0] if args else kwargs.get("table")
            cls = TableDataModule if table is not None else IntervalDataModule
            warnings.warn(
                f"SequenceDataModule(...) is now {cls.__name__}(...) (data configs: _target_: "
                f"seqnn.data.datamodule.{cls.__name__}); the old name goes in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
        return super().__new__(cls)

    def __init__(
        self,
        target_columns: str | Sequence[str] | None = None,
        target_kind: TargetKind | None = None,
        input_length: int | None = None,
        split_column: str = "split",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        transforms: Sequence | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        output: Literal["one_hot", "codes"] = "one_hot",
        policy: EncodingPolicy = DEFAULT_POLICY,
        n_targets: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_loader_settings(batch_size, num_workers, val_fraction, test_fraction)
        # the subclass's own arguments too (Lightning reads every __init__ up the chain)
        self.save_hyperparameters(logger=False, ignore=NOT_HPARAMS)
        self.policy, self.transforms = policy, transforms
        self.datasets: dict[str, SequenceDataset | IntervalDataset] = {}

    # ------------------------------------------------------------------ what subclasses give
    def _full_dataset(self) -> tuple[SequenceDataset | IntervalDataset, pd.DataFrame]:
        """The whole dataset (errors name the file's rows) and the table its rows come from."""
        raise NotImplementedError

    def _split(self, frame: pd.DataFrame, full: SequenceDataset | IntervalDataset) -> Split:
        """Row indices of each split, when ``frame`` has no split column."""
        raise NotImplementedError

    def _source(self) -> str:
        """The data's name in messages."""
        raise NotImplementedError

    def _extended(self, full, frame: pd.DataFrame, rows: Split) -> tuple[Any, pd.DataFrame, Split]:
        """``full``, ``frame`` and ``rows`` with any rows that only train added."""
        return full, frame, rows

    # ------------------------------------------------------------------ setup
    def setup(self, stage: str | None = None) -> None:
        """Build the three splits once and check n_targets / input_length against them."""
        if self.datasets:
            return
        full, frame = self._full_dataset()
        rows = self._rows_of(frame, full)
        full, frame, rows = self._extended(full, frame, rows)
        self.datasets = {
            s: self._part(full, rows[s], self.transforms if s == "train" else None) for s in STAGES
        }
        source = self._source()
        classes = full.target_kind is not None and task_kind(full.target_kind).targets == "classes"
        two_labels = classes and full.n_targets == 2
        if two_labels and self.hparams.n_targets == 1 and "positive_label" in self.hparams:
            raise DatasetError(
                f"{source}: the target column {_columns(self.hparams.target_columns)[0]!r} "
                f"holds two class "
                f"labels {full.target_names}, and the task has one 0/1 output (binary): name the "
                f"positive one, e.g. data.positive_label={full.target_names[-1]} (or train "
                "task=multiclass with data.n_targets=2)"
            )
        self._check("n_targets", full.n_targets, f"target columns {full.target_names} of {source}")
        self._check("input_length", full.input_length, f"the sequences of {source}")
        self._full, self._frame, self._rows = full, frame, rows

    def _part(self, full, rows, transforms: Sequence | None):
        """The dataset of one split's rows."""
        return full.subset(rows, transforms)

    def _rows_of(self, frame: pd.DataFrame, full) -> Split:
        if self.hparams.split_column in frame.columns:
            return split_by_label(frame[self.hparams.split_column])
        return self._split(frame, full)

    def _check(self, name: str, found: int, what: str) -> None:
        expected = self.hparams[name]
        if expected is not None and expected != found:
            raise DatasetError(
                f"{type(self).__name__}: {name}={expected} was given but {what} give {found}: "
                f"fix {name} in the config (or leave it null to take it from the data)"
            )

    def _common(self) -> dict[str, Any]:
        hp = self.hparams
        return dict(policy=self.policy, output=hp.output, target_kind=hp.target_kind)

    # ------------------------------------------------------------------ shapes
    @property
    def n_targets(self) -> int:
        """Model outputs: the constructor value, else the data's (builds the splits)."""
        if self.hparams.n_targets is not None:
            return self.hparams.n_targets
        self.setup()
        return self._full.n_targets

    @property
    def input_length(self) -> int:
        """The sequence length (bp) the network sees: the constructor value, else the one
        measured from the data (builds the splits)."""
        if self.hparams.input_length is not None:
            return self.hparams.input_length
        self.setup()
        return self._full.input_length

    @property
    def seq_len(self) -> int:
        """The old name of :attr:`input_length`."""
        warnings.warn(
            f"{type(self).__name__}.seq_len is now input_length (the old name goes in the next "
            "release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.input_length

    @property
    def target_names(self) -> list[str]:
        self.setup()
        return self._full.target_names

    def split_frame(self, stage: str) -> pd.DataFrame:
        """The rows of the table (table mode) or of the intervals (interval mode) that make up
        split ``stage`` (``"train"``, ``"val"`` or ``"test"``), with the source's row index:
        e.g. the test sequences and their targets, to score a saved model on them
        (:func:`seqnn.inference.evaluate.evaluate_table`) or to keep with the run."""
        if stage not in STAGES:
            raise ValueError(
                f"{type(self).__name__}: stage must be one of {STAGES}, got {stage!r}"
            )
        self.setup()
        rows = self._rows[stage]
        return rows.to_frame() if isinstance(rows, Windows) else self._frame.iloc[rows]

    def split_rows(self) -> tuple[SequenceDataset | IntervalDataset, pd.DataFrame, Split]:
        """The whole dataset (without transforms; ``extra_train`` rows after the source's),
        the table its rows come from, and each split's row indices into both: what
        :mod:`seqnn.qc` checks, the splits exactly as training sees them."""
        self.setup()
        return self._full, self._frame, self._rows

    def drop_rows(self, stage: str, rows: np.ndarray) -> int:
        """Leave ``rows`` (indices into :meth:`split_rows`' dataset) out of split ``stage``,
        e.g. the test rows that duplicate training rows (``seqnn-train qc.drop=true``);
        returns how many went."""
        self.setup()
        return self._keep(stage, np.setdiff1d(self._rows[stage], rows))

    def _keep(self, stage: str, kept: np.ndarray | Windows) -> int:
        """Make ``kept`` (fewer rows or windows) split ``stage``; how many went."""
        dropped = len(self._rows[stage]) - len(kept)
        if dropped:
            self._rows = {**self._rows, stage: kept}
            transforms = self.transforms if stage == "train" else None
            self.datasets[stage] = self._part(self._full, kept, transforms)
        return dropped

    def positive_weight(self) -> list[float]:
        """Per target, the weight of a positive that balances the training rows' classes:
        n_negatives / n_positives. What ``+task.loss.pos_weight=balanced`` resolves to.

        Raises:
            DatasetError: targets that are not binary / multilabel, or a target without
                positive or negative training rows.
        """
        self.setup()
        train = self.datasets["train"]
        if task_kind(train.target_kind).targets != "labels":
            raise DatasetError(
                f"{type(self).__name__}: pos_weight=balanced needs "
                f"{kind_names(kinds_where(targets='labels'), 'or')} targets, "
                f"not {train.target_kind}: give a number, or drop it"
            )
        n, positive = len(train), tiled_positives(train)
        if positive is None:
            positive = np.zeros(train.n_targets)
            for start in range(0, n, 65536):  # window targets (peaks) are computed in chunks
                y = train.targets_of(np.arange(start, min(start + 65536, n)))
                positive += y.double().reshape(len(y), -1).sum(0).numpy()
        negative = n - positive
        for name, pos, neg in zip(train.target_names, positive, negative, strict=True):
            if pos <= 0 or neg <= 0:
                raise DatasetError(
                    f"{type(self).__name__}: target {name!r} has no "
                    f"{'positive' if pos <= 0 else 'negative'} training rows: pos_weight="
                    "balanced is undefined; give a number"
                )
        return [round(float(neg / pos), 6) for pos, neg in zip(positive, negative, strict=True)]

    # ------------------------------------------------------------------ loaders
    def _loader(self, stage: str) -> DataLoader:
        self.setup()
        hp = self.hparams
        return self.datasets[stage].loader(
            batch_size=hp.batch_size,
            shuffle=stage == "train",
            seed=hp.seed,
            num_workers=hp.num_workers,
            pin_memory=hp.pin_memory,
            persistent_workers=hp.persistent_workers and hp.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


@renamed_keywords(seq_len="input_length", length="input_length")
class TableDataModule(SequenceDataModule):
    """Splits + DataLoaders over a table of sequences.

    Args:
        table: a CSV/TSV path or DataFrame with a sequence column.
        sequence_column: the column of DNA strings.
        folds, fold: k-fold cross-validation instead of ``test_fraction``: the rows are dealt
            into ``folds`` stratified folds (seeded) and fold ``fold`` (0-based) is the test
            set; ``val_fraction`` of all rows, from the other folds, is validation. Run
            ``fold=0 .. folds-1`` (a Hydra sweep) for the whole CV
            (:func:`~seqnn.data.splits.fold_split`).
        val_seed: seed of which non-test rows are validation (None: ``seed``'s split). The
            test rows stay ``seed``'s, so ``val_seed=${seed}`` lets each training seed of a
            seed ensemble early-stop on its own validation rows (and learn from the others'),
            all tested on the same rows.
        extra_train: a CSV/TSV path or DataFrame of more rows (same sequence and target
            columns) that join the training split only, never validation or test, and of
            every fold of a cross-validation: e.g. a related species' promoters beside the
            organism's own. ``split_frame("train")`` lists them after the table's rows.
        test_table: a CSV/TSV path or DataFrame of the test rows (same columns), instead of
            rows held out of ``table``: the table's rows are then all train + val
            (``val_fraction`` of them val; ``test_fraction`` and ``folds`` do not apply).
            ``split_frame("test")`` lists them after the table's (and extra) rows.
        resize: sequences of several lengths, or not of ``input_length``: ``"error"`` refuses
            them naming the row; ``"centre"`` brings every table's to ``input_length`` (None:
            the longest of ``table``) by padding with N / cropping around each one's centre
            (:mod:`seqnn.data.datasets`).
        positive_label: a binary task's positive class when the target column holds other
            labels than 0/1 (``"promoter"`` vs ``"non-promoter"``, 1 vs -1): rows with this
            value are 1, every other row 0 (in ``table``, ``extra_train`` and ``test_table``).
        **common: the arguments of :class:`SequenceDataModule` (target_columns, input_length,
            val_fraction, test_fraction, batch_size, output, policy, seed, ...).
    """

    def __init__(
        self,
        table: str | Path | pd.DataFrame,
        sequence_column: str = "sequence",
        folds: int | None = None,
        fold: int = 0,
        val_seed: int | None = None,
        extra_train: str | Path | pd.DataFrame | None = None,
        test_table: str | Path | pd.DataFrame | None = None,
        resize: Literal["error", "centre"] = "error",
        positive_label: Any = None,
        **common: Any,
    ) -> None:
        if folds is not None and (folds < 2 or not 0 <= fold < folds):
            raise ValueError(
                f"TableDataModule: need folds >= 2 and 0 <= fold < folds, got folds={folds}, "
                f"fold={fold}"
            )
        if folds is not None and test_table is not None:
            raise DatasetError(
                f"TableDataModule: test_table and folds={folds} were both given: the test rows "
                "are either a separate table or a fold of this one; drop one of them"
            )
        super().__init__(**common)
        self.table, self.extra_train, self.test_table = table, extra_train, test_table

    def _source(self) -> str:
        return _table_name(self.table, "the table")

    def _read(self, table: str | Path | pd.DataFrame, **kwargs: Any):
        """A table (path or DataFrame) as a SequenceDataset, and the table itself."""
        from_file = not isinstance(table, pd.DataFrame)
        frame = read_table(table) if from_file else table.reset_index(drop=True)
        source = Path(table).name if from_file else None
        hp = self.hparams
        labelled = self._positive(frame, source or "the table", table is self.table)
        dataset = SequenceDataset.from_table(
            labelled, hp.sequence_column, hp.target_columns, source=source, **kwargs
        )
        return dataset, frame

    def _positive(self, frame: pd.DataFrame, source: str, main: bool) -> pd.DataFrame:
        """``frame`` with each target column 1 where it holds ``positive_label``, else 0; the
        main table must hold the label (a typo), an extra or test table need not."""
        hp = self.hparams
        if hp.positive_label is None or not hp.target_columns:
            return frame
        frame = frame.copy()
        for column in _columns(hp.target_columns):
            if column not in frame.columns:
                continue  # from_table names the missing column
            hit = frame[column].astype(str).to_numpy() == str(hp.positive_label)
            if main and not hit.any():
                values = sorted(map(str, frame[column].dropna().unique()))[:10]
                raise DatasetError(
                    f"{source}: positive_label={hp.positive_label!r} is not a value of "
                    f"{column!r} (its values: {values}): give one of them"
                )
            frame[column] = hit.astype(np.int64)
        return frame

    def _full_dataset(self) -> tuple[SequenceDataset, pd.DataFrame]:
        hp = self.hparams
        full, frame = self._read(
            self.table, input_length=hp.input_length, resize=hp.resize, **self._common()
        )
        if full.n_padded or full.n_cropped:
            log.info(
                "%s: %d sequences padded with N and %d cropped around their centres to %d bp "
                "(data.resize=centre)",
                self._source(),
                full.n_padded,
                full.n_cropped,
                full.input_length,
            )
        return full, frame

    def _rows_of(self, frame: pd.DataFrame, full) -> Split:
        hp = self.hparams
        elsewhere = hp.folds is not None or self.test_table is not None
        if hp.split_column in frame.columns and elsewhere:
            given = f"folds={hp.folds}" if hp.folds is not None else "test_table"
            raise DatasetError(
                f"TableDataModule: the table has a {hp.split_column!r} column and {given} was "
                "given: drop the column or the setting"
            )
        return super()._rows_of(frame, full)

    def _split(self, frame: pd.DataFrame, full: SequenceDataset) -> Split:
        hp = self.hparams
        labels = full.targets.numpy() if task_kind(full.target_kind).stratify else None
        if hp.folds is not None:
            parts = fold_split(len(full), labels, hp.val_fraction, hp.folds, hp.fold, hp.seed)
        else:
            held = 0.0 if self.test_table is not None else hp.test_fraction
            parts = stratified_split(len(full), labels, hp.val_fraction, held, hp.seed)
        return redeal_val(parts, len(full), labels, hp.val_seed, hp.seed)

    def _extended(
        self, full: SequenceDataset, frame: pd.DataFrame, rows: Split
    ) -> tuple[SequenceDataset, pd.DataFrame, Split]:
        """``full`` and ``frame`` with the ``extra_train`` rows, then the ``test_table`` rows,
        after their own; those rows are the training split's extra and the test split."""
        for stage, table, what in (
            ("train", self.extra_train, "extra_train"),
            ("test", self.test_table, "test_table"),
        ):
            if table is None:
                continue
            full, frame, added = self._appended(full, frame, table, what)
            kept = rows[stage] if stage == "train" else rows[stage][:0]
            rows = {**rows, stage: np.concatenate([kept, added])}
        return full, frame, rows

    def _appended(
        self, full: SequenceDataset, frame: pd.DataFrame, table: Any, what: str
    ) -> tuple[SequenceDataset, pd.DataFrame, np.ndarray]:
        """``full`` and ``frame`` with ``table``'s rows after their own (brought to the
        table's sequence length by ``resize``), and the new rows' indices."""
        more, table_frame = self._read(
            table,
            policy=self.policy,
            output=self.hparams.output,
            target_kind=full.target_kind,
            classes=full.classes,
            input_length=full.input_length,
            resize=self.hparams.resize,
        )
        if more.input_length != full.input_length:
            raise DatasetError(
                f"{_table_name(table, f'the {what} table')}: sequences of length "
                f"{more.input_length}, but the table's are {full.input_length}: {what} rows must "
                "have the table's sequence length (or give data.resize=centre)"
            )
        merged = full.subset(np.arange(len(full)))
        merged.codes = np.concatenate([full.codes, more.codes])
        if full.targets is not None:
            merged.targets = torch.cat([full.targets, more.targets])
        added = len(full) + np.arange(len(more))
        return merged, pd.concat([frame, table_frame]), added


def _columns(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def _table_name(table: Any, default: str) -> str:
    """A table's name in messages: its file name, or ``default`` for a DataFrame."""
    return default if isinstance(table, pd.DataFrame) else Path(table).name


@renamed_keywords(seq_len="input_length", length="input_length")
class IntervalDataModule(SequenceDataModule):
    """Splits + DataLoaders over windows of a genome.

    With tiled :class:`~seqnn.data.tiling.Windows` as ``intervals``
    (:func:`~seqnn.data.tiling.tile_windows`, as ``data=peaks`` does), the splits are Windows
    too (:func:`~seqnn.data.splits.interval_split`) and the targets come per batch from
    ``targets``: no table of windows is made, so an epoch over the 15 million windows of hg38
    needs the memory of one over 10,000 plus the sampler's int32 order (4 bytes a window).

    Args:
        genome: a Genome or FASTA path.
        intervals: a BED/narrowPeak/TSV path, a DataFrame of intervals or tiled Windows.
        targets: instead of ``target_columns``: targets read per batch from files, e.g.
            :class:`~seqnn.data.coverage.CoverageTargets` (bigWig coverage) or
            :class:`~seqnn.data.peaks.PeakLabels` (peak files -> multi-label).
        on_invalid: intervals past a chromosome's ends (after resizing): ``"error"`` (the
            default) names the first, ``"pad"`` pads with N, ``"drop"`` drops.
        use_strand: reverse-complement '-' strand intervals.
        val_chroms, test_chroms: held-out chromosomes; none: held-out genome blocks.
        n_blocks: genome blocks for :func:`~seqnn.data.intervals.split_by_blocks`.
        **common: the arguments of :class:`SequenceDataModule` (target_columns, input_length,
            val_fraction, test_fraction, batch_size, output, policy, seed, ...).
    """

    def __init__(
        self,
        genome: Genome | str | Path,
        intervals: str | Path | pd.DataFrame,
        targets: Any = None,
        on_invalid: Literal["error", "drop", "pad"] = "error",
        use_strand: bool = False,
        val_chroms: Sequence[str] | None = None,
        test_chroms: Sequence[str] | None = None,
        n_blocks: int = 100,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        self.genome, self.intervals, self.targets = genome, intervals, targets

    def _source(self) -> str:
        if isinstance(self.intervals, pd.DataFrame | Windows):
            return "the intervals"
        return Path(self.intervals).name

    def _rows_of(self, frame, full) -> Split:
        if full.windows is None:
            return super()._rows_of(frame, full)
        return self._split(full.windows, full)

    def drop_windows(self, stage: str, contig: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> int:
        """Tiled windows: leave the windows numbered ``[lo[i], hi[i])`` of contig
        ``contig[i]`` out of split ``stage`` (e.g. the test windows that overlap training
        windows, ``seqnn-train qc_settings.drop=true``), by range subtraction on the split's
        runs (:meth:`~seqnn.data.tiling.Windows.without`); returns how many went.

        Raises:
            DatasetError: the intervals are not tiled windows (use :meth:`drop_rows`).
        """
        self.setup()
        windows = self._rows[stage]
        if not isinstance(windows, Windows):
            raise DatasetError(
                f"{type(self).__name__}: drop_windows needs tiled windows (data=peaks); "
                "these intervals are rows: use drop_rows"
            )
        return self._keep(stage, windows.without(contig, lo, hi))

    def _part(self, full, rows, transforms: Sequence | None):
        if isinstance(rows, Windows):
            return full.with_windows(rows, transforms)
        return super()._part(full, rows, transforms)

    def _full_dataset(self) -> tuple[IntervalDataset, pd.DataFrame]:
        hp = self.hparams
        full = IntervalDataset(
            self.genome,
            self.intervals,
            hp.target_columns,
            input_length=hp.input_length,
            use_strand=hp.use_strand,
            on_invalid=hp.on_invalid,
            targets=self.targets,
            **self._common(),
        )
        return full, full.intervals

    def _split(self, frame: pd.DataFrame | Windows, full: IntervalDataset) -> Split:
        hp = self.hparams
        return interval_split(
            frame,
            full.genome.sizes,
            hp.val_chroms,
            hp.test_chroms,
            hp.val_fraction,
            hp.test_fraction,
            hp.n_blocks,
            hp.seed,
        )


def tiled_positives(dataset) -> np.ndarray | None:
    """Positive windows per peak file of a tiled dataset labelled by peaks, counted from the
    bit-packed labels (:func:`~seqnn.data.tiling.label_tiles`: the cost grows with the peaks,
    not with windows x files, so 15M windows x 100 files take seconds); None for any other
    dataset. The windows as tiled, before any shift augmentation."""
    labels, windows = getattr(dataset, "target_fn", None), getattr(dataset, "windows", None)
    if windows is None or not isinstance(labels, PeakLabels):
        return None
    if dataset.input_length != windows.window:
        return None
    bits = label_tiles(windows, labels)
    n = labels.n_targets
    counts = [np.count_nonzero(bits[:, j >> 3] & (0x80 >> (j & 7))) for j in range(n)]
    return np.asarray(counts, dtype=np.float64)
