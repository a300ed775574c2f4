"""SequenceDataModule: train/val/test splits of a sequence table or genome intervals, and
their DataLoaders.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T.

Two sources, one module:

- a table of sequences (``table=``): :class:`~seqnn.data.datasets.SequenceDataset`, split by
  its ``split`` column (train / val / test) when it has one, else at random (stratified by
  class for binary and multiclass targets) with ``val_fraction`` / ``test_fraction``, or as
  fold ``fold`` of a stratified ``folds``-fold cross-validation (one run per fold);
- a genome and intervals (``genome=``, ``intervals=``):
  :class:`~seqnn.data.datasets.IntervalDataset`, split by the ``split`` column, by held-out
  chromosomes (``val_chroms`` / ``test_chroms``), or else by random
  genome blocks (:func:`~seqnn.data.intervals.split_by_blocks`).

``n_targets`` and ``seq_len`` may be given up front (so configs can interpolate
``${data.n_targets}``); ``setup`` checks them against the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

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
from seqnn.data.intervals import split_by_blocks, split_by_chromosome
from seqnn.kinds import kind_names, kinds_where, task_kind

STAGES = ("train", "val", "test")


class SequenceDataModule(L.LightningDataModule):
    """Splits + DataLoaders over a sequence table or genome intervals.

    Args:
        table: a CSV/TSV path or DataFrame with a sequence column (table mode).
        genome: a Genome or FASTA path (interval mode, with ``intervals``).
        intervals: a BED/narrowPeak/TSV path or DataFrame of intervals.
        target_columns: target column(s); None for no targets.
        target_kind: binary / multilabel / multiclass / regression; None infers it.
        sequence_column: table mode: the column of DNA strings.
        length: interval mode: resize intervals to this length around their centres.
        on_invalid: interval mode: intervals past a chromosome's ends (after resizing):
            ``"error"`` (the default) names the first, ``"pad"`` pads with N, ``"drop"`` drops.
        split_column: a column of train / val / test labels, used when present.
        val_fraction, test_fraction: random (table) or block (genome) split fractions.
        folds, fold: table mode: k-fold cross-validation instead of ``test_fraction``: the
            rows are dealt into ``folds`` stratified folds (seeded) and fold ``fold``
            (0-based) is the test set; ``val_fraction`` of all rows, from the other folds, is
            validation. Run ``fold=0 .. folds-1`` (a Hydra sweep) for the whole CV.
        val_chroms, test_chroms: interval mode: held-out chromosomes.
        n_blocks: interval mode: genome blocks for :func:`split_by_blocks`.
        transforms: training-set transforms (seeded; val / test get none).
        batch_size, num_workers, pin_memory, persistent_workers: DataLoader settings
            (persistent workers only when ``num_workers > 0``).
        output: ``"one_hot"`` (B, 4, L) float32 or ``"codes"`` (B, L) uint8 batches.
        policy: how N and IUPAC codes become one-hot columns.
        use_strand: interval mode: reverse-complement '-' strand intervals.
        n_targets, seq_len: expected values, checked in ``setup`` (None: taken from the data).
        seed: seed of the random splits and of the training order.
        val_seed: table mode: seed of which non-test rows are validation (None: ``seed``'s
            split). The test rows stay ``seed``'s, so ``val_seed=${seed}`` lets each training
            seed of a seed ensemble early-stop on its own validation rows (and learn from the
            others'), all tested on the same rows.
        extra_train: table mode: a CSV/TSV path or DataFrame of more rows (same sequence
            length, sequence and target columns) that join the training split only, never
            validation or test, and of every fold of a cross-validation: e.g. a related
            species' promoters beside the organism's own. ``split_frame("train")`` lists them
            after the table's rows.
        targets: interval mode, instead of ``target_columns``: targets read per batch from
            files, e.g. :class:`~seqnn.data.coverage.CoverageTargets` (bigWig coverage) or
            :class:`~seqnn.data.peaks.PeakLabels` (peak files -> multi-label).
    """

    def __init__(
        self,
        table: str | Path | pd.DataFrame | None = None,
        genome: Genome | str | Path | None = None,
        intervals: str | Path | pd.DataFrame | None = None,
        target_columns: str | Sequence[str] | None = None,
        target_kind: TargetKind | None = None,
        sequence_column: str = "sequence",
        length: int | None = None,
        on_invalid: Literal["error", "drop", "pad"] = "error",
        split_column: str = "split",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        val_chroms: Sequence[str] | None = None,
        test_chroms: Sequence[str] | None = None,
        n_blocks: int = 100,
        transforms: Sequence | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        output: Literal["one_hot", "codes"] = "one_hot",
        policy: EncodingPolicy = DEFAULT_POLICY,
        use_strand: bool = False,
        n_targets: int | None = None,
        seq_len: int | None = None,
        seed: int = 0,
        targets=None,
        folds: int | None = None,
        fold: int = 0,
        val_seed: int | None = None,
        extra_train: str | Path | pd.DataFrame | None = None,
    ) -> None:
        super().__init__()
        if extra_train is not None and table is None:
            raise ValueError(
                "SequenceDataModule: extra_train= adds rows to a table's training split; with "
                "genome intervals, add the intervals (split column 'train') instead"
            )
        if val_seed is not None and table is None:
            raise ValueError(
                "SequenceDataModule: val_seed= re-deals a table's validation rows; genome "
                "intervals are split by chromosomes or blocks (val_chroms, seed)"
            )
        if folds is not None:
            if table is None:
                raise ValueError(
                    "SequenceDataModule: folds= splits a table; for genome intervals hold out "
                    "chromosomes (val_chroms / test_chroms) or blocks (test_fraction)"
                )
            if folds < 2 or not 0 <= fold < folds:
                raise ValueError(
                    f"SequenceDataModule: need folds >= 2 and 0 <= fold < folds, got "
                    f"folds={folds}, fold={fold}"
                )
        if (table is None) == (genome is None or intervals is None):
            raise ValueError(
                "SequenceDataModule: give either table= or both genome= and intervals="
            )
        # Objects stay out of the hparams: checkpoints then load with weights_only=True.
        self.save_hyperparameters(
            logger=False,
            ignore=[
                "table", "genome", "intervals", "policy", "transforms", "targets", "extra_train"
            ],
        )  # fmt: skip
        self.extra_train = extra_train
        self.policy, self.transforms, self.targets = policy, transforms, targets
        self.table, self.genome, self.intervals = table, genome, intervals
        self.datasets: dict[str, SequenceDataset | IntervalDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        """Build the three splits once and check n_targets / seq_len against them."""
        if self.datasets:
            return
        full, frame = self._full_dataset()
        splits = self._split_rows(frame, full)
        if self.extra_train is not None:
            full, frame, splits = self._add_extra_train(full, frame, splits)
        transforms = self.transforms
        self.datasets = {
            s: full.subset(splits[s], transforms if s == "train" else None) for s in STAGES
        }
        data = self.table if self.table is not None else self.intervals
        source = "the table" if isinstance(data, pd.DataFrame) else Path(data).name
        self._check("n_targets", full.n_targets, f"target columns {full.target_names} of {source}")
        self._check("seq_len", full.length, f"the sequences of {source}")
        self._full, self._frame, self._split_rows = full, frame, splits

    def _check(self, name: str, found: int, what: str) -> None:
        expected = self.hparams[name]
        if expected is not None and expected != found:
            raise DatasetError(
                f"SequenceDataModule: {name}={expected} was given but {what} give {found}: "
                f"fix {name} in the config (or leave it null to take it from the data)"
            )

    def _full_dataset(self) -> tuple[SequenceDataset | IntervalDataset, pd.DataFrame]:
        """The whole dataset (errors name the file's rows) and the table its rows come from."""
        hp = self.hparams
        common = dict(policy=self.policy, output=hp.output, target_kind=hp.target_kind)
        if self.table is not None:
            from_file = not isinstance(self.table, pd.DataFrame)
            table = read_table(self.table) if from_file else self.table.reset_index(drop=True)
            source = Path(self.table).name if from_file else None
            full = SequenceDataset.from_table(
                table, hp.sequence_column, hp.target_columns, source=source, **common
            )
            return full, table
        full = IntervalDataset(
            self.genome,
            self.intervals,
            hp.target_columns,
            length=hp.length,
            use_strand=hp.use_strand,
            on_invalid=hp.on_invalid,
            targets=self.targets,
            **common,
        )
        return full, full.intervals

    def _add_extra_train(
        self, full: SequenceDataset, frame: pd.DataFrame, splits: dict[str, np.ndarray]
    ) -> tuple[SequenceDataset, pd.DataFrame, dict[str, np.ndarray]]:
        """``full`` and ``frame`` with the ``extra_train`` rows after their own, and those rows
        in the training split."""
        hp, extra = self.hparams, self.extra_train
        from_file = not isinstance(extra, pd.DataFrame)
        table = read_table(extra) if from_file else extra.reset_index(drop=True)
        source = Path(extra).name if from_file else None
        more = SequenceDataset.from_table(
            table,
            hp.sequence_column,
            hp.target_columns,
            source=source,
            policy=self.policy,
            output=hp.output,
            target_kind=full.target_kind,
            classes=full.classes,
        )
        if more.length != full.length:
            raise DatasetError(
                f"{source or 'the extra_train table'}: sequences of length {more.length}, but "
                f"the table's are {full.length}: "
                "extra_train rows must have the table's sequence length"
            )
        merged = full.subset(np.arange(len(full)))
        merged.codes = np.concatenate([full.codes, more.codes])
        if full.targets is not None:
            merged.targets = torch.cat([full.targets, more.targets])
        added = len(full) + np.arange(len(more))
        splits = {**splits, "train": np.concatenate([splits["train"], added])}
        return merged, pd.concat([frame, table]), splits

    def _split_rows(self, frame: pd.DataFrame, full) -> dict[str, np.ndarray]:
        """Row indices of each split."""
        hp = self.hparams
        if hp.split_column in frame.columns:
            if hp.folds is not None:
                raise DatasetError(
                    f"SequenceDataModule: the table has a {hp.split_column!r} column and "
                    f"folds={hp.folds} was given: drop the column or set folds=null"
                )
            return _rows_by_label(frame[hp.split_column])
        if isinstance(full, SequenceDataset):
            labels = full.targets.numpy() if task_kind(full.target_kind).stratify else None
            if hp.folds is not None:
                parts = _fold_split(len(full), labels, hp.val_fraction, hp.folds, hp.fold, hp.seed)
            else:
                parts = _stratified_split(
                    len(full), labels, hp.val_fraction, hp.test_fraction, hp.seed
                )
            return _redeal_val(parts, len(full), labels, hp.get("val_seed"), hp.seed)
        frame = frame.assign(_row=np.arange(len(frame)))
        if hp.val_chroms or hp.test_chroms:
            parts = split_by_chromosome(
                frame, val=list(hp.val_chroms or []), test=list(hp.test_chroms or [])
            )
        else:
            parts = split_by_blocks(
                frame, full.genome.sizes, hp.val_fraction, hp.test_fraction, hp.n_blocks, hp.seed
            )
        return {s: np.sort(parts[s]["_row"].to_numpy(np.int64)) for s in STAGES}

    # ------------------------------------------------------------------ shapes
    @property
    def n_targets(self) -> int:
        """Model outputs: the constructor value, else the data's (builds the splits)."""
        if self.hparams.n_targets is not None:
            return self.hparams.n_targets
        self.setup()
        return self._full.n_targets

    @property
    def seq_len(self) -> int:
        """Sequence length: the constructor value, else the data's (builds the splits)."""
        if self.hparams.seq_len is not None:
            return self.hparams.seq_len
        self.setup()
        return self._full.length

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
            raise ValueError(f"SequenceDataModule: stage must be one of {STAGES}, got {stage!r}")
        self.setup()
        return self._frame.iloc[self._split_rows[stage]]

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
                "SequenceDataModule: pos_weight=balanced needs "
                f"{kind_names(kinds_where(targets='labels'), 'or')} targets, "
                f"not {train.target_kind}: give a number, or drop it"
            )
        n, positive = len(train), 0.0
        for start in range(0, n, 65536):  # window targets (peaks) are computed in chunks
            y = train.targets_of(np.arange(start, min(start + 65536, n)))
            positive = positive + y.double().reshape(len(y), -1).sum(0).numpy()
        negative = n - positive
        for name, pos, neg in zip(train.target_names, positive, negative, strict=True):
            if pos <= 0 or neg <= 0:
                raise DatasetError(
                    f"SequenceDataModule: target {name!r} has no "
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


def _rows_by_label(labels: pd.Series) -> dict[str, np.ndarray]:
    values = labels.astype(str).str.lower().replace({"valid": "val", "validation": "val"})
    bad = ~values.isin(STAGES)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise ValueError(
            f"row {i}: split {labels.iloc[i]!r} in column {labels.name!r} is not one of "
            f"{STAGES}: fix the label or drop the row"
        )
    return {s: np.flatnonzero((values == s).to_numpy()) for s in STAGES}


def _strata(n: int, labels: np.ndarray | None, seed: int):
    """Each class's rows (a class is a distinct row of labels), shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    strata = (
        np.zeros(n, np.int64)
        if labels is None
        else np.unique(labels.reshape(n, -1), axis=0, return_inverse=True)[1].ravel()
    )
    for stratum in np.unique(strata):
        yield rng.permutation(np.flatnonzero(strata == stratum))


def _stratified_split(
    n: int, labels: np.ndarray | None, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Random split; each class (row of labels) is split in the same fractions."""
    if not 0 <= val_fraction + test_fraction < 1:
        raise ValueError(
            f"val_fraction + test_fraction must be in [0, 1), got {val_fraction + test_fraction}"
        )
    parts: dict[str, list[np.ndarray]] = {s: [] for s in STAGES}
    for rows in _strata(n, labels, seed):
        n_val, n_test = round(len(rows) * val_fraction), round(len(rows) * test_fraction)
        parts["val"].append(rows[:n_val])
        parts["test"].append(rows[n_val : n_val + n_test])
        parts["train"].append(rows[n_val + n_test :])
    return {s: np.sort(np.concatenate(parts[s])) for s in STAGES}


def _redeal_val(
    parts: dict[str, np.ndarray],
    n: int,
    labels: np.ndarray | None,
    val_seed: int | None,
    seed: int,
) -> dict[str, np.ndarray]:
    """The same test rows, and each class's validation rows drawn anew with ``val_seed`` from
    its train + val rows (as many as before); ``parts`` itself for None or ``seed``."""
    if val_seed is None or val_seed == seed:
        return parts
    rng = np.random.default_rng(val_seed)
    pool = np.concatenate([parts["train"], parts["val"]])
    in_val = np.isin(pool, parts["val"])
    val = []
    for rows in _strata(n, labels, 0):
        mine = np.isin(pool, rows)
        candidates = rng.permutation(pool[mine])
        val.append(candidates[: int(in_val[mine].sum())])
    val = np.sort(np.concatenate(val))
    return {"train": np.setdiff1d(pool, val), "val": val, "test": parts["test"]}


def _fold_split(
    n: int, labels: np.ndarray | None, val_fraction: float, folds: int, fold: int, seed: int
) -> dict[str, np.ndarray]:
    """Fold ``fold`` of a stratified k-fold CV: each class's shuffled rows are dealt round-robin
    into ``folds`` folds; that fold is test, and ``val_fraction`` of the class (from the other
    folds) is val. The folds of one seed partition the rows."""
    if not 0 <= val_fraction + 1 / folds < 1:
        raise ValueError(f"val_fraction {val_fraction} + the test fold 1/{folds} must be below 1")
    parts: dict[str, list[np.ndarray]] = {s: [] for s in STAGES}
    for rows in _strata(n, labels, seed):
        held = np.zeros(len(rows), bool)
        held[fold::folds] = True
        rest = rows[~held]
        n_val = round(len(rows) * val_fraction)
        parts["test"].append(rows[held])
        parts["val"].append(rest[:n_val])
        parts["train"].append(rest[n_val:])
    return {s: np.sort(np.concatenate(parts[s])) for s in STAGES}
