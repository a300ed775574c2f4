"""What the checks read: a dataset's sequences as uint8 codes, fetched a chunk of rows at a time,
with each row's labels, split and (for genome intervals) coordinates.

Layout: codes are (rows, L) uint8 (A0 C1 G2 T3 N4, :mod:`seqnn.data.encoding`), padded with N
past a row's own length (``lengths``), so that a table of mixed lengths is one array.

- :func:`qc_data`: from a seqnn data module (what ``seqnn-train`` and ``seqnn-qc`` check: the
  splits exactly as training sees them, ``extra_train`` rows in train); tiled genome windows
  (``data=peaks``, tiled ``data=coverage``) as a seeded random sample of each split's windows
  (:func:`tiled_data`), with the whole splits' runs kept for the interval-overlap count;
- :func:`table_data`: from a table of sequences (any lengths) and a split column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seqnn.data.encoding import BYTE_TO_CODE, INVALID, N_CODE
from seqnn.data.intervals import contig_indices
from seqnn.data.splits import STAGES, split_by_label
from seqnn.data.tiling import Windows
from seqnn.errors import SeqnnInputError
from seqnn.kinds import Targets, task_kind

CHUNK = 65536  # rows fetched at once: memory stays near CHUNK x L bytes


class QCError(SeqnnInputError):
    """Data the checks cannot run on (empty split, one class, an index too large...)."""


@dataclass
class QCData:
    """Everything the checks read.

    Attributes:
        codes: a callable ``rows -> (codes (n, L) uint8, lengths (n,))``.
        n_rows: rows in all.
        split: each stage's row indices (``train`` / ``val`` / ``test``).
        labels: (n_rows, T) float32 targets, (n_rows,) class indices (multiclass) or None.
        target_names: one name per target (per class for multiclass).
        target_kind: binary / multilabel / multiclass / regression, or None.
        intervals: genome intervals of the rows as fetched (chrom, start, end), or None.
        sizes: contig sizes of the genome of ``intervals``.
        soft_mask: (n_rows,) fraction of lower-case (soft-masked) letters (a table's
            strings, or for genome intervals the FASTA's letters), or None.
        source: the data's name in messages.
        windows: tiled data: each split's whole :class:`~seqnn.data.tiling.Windows` (the
            rows are then a sample of them, and the interval overlaps are counted on these).
        sample: tiled data: per split, ``{"rows": sampled, "of": windows in the split}``.
    """

    codes: Any
    n_rows: int
    split: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    target_names: list[str] = field(default_factory=list)
    target_kind: str | None = None
    intervals: pd.DataFrame | None = None
    sizes: dict[str, int] | None = None
    soft_mask: np.ndarray | None = None
    source: str = "the data"
    windows: dict[str, Windows] | None = None
    sample: dict[str, dict[str, int]] | None = None

    @property
    def label_form(self) -> Targets | None:
        """How the labels look (:data:`seqnn.kinds.Targets`: ``labels`` 0/1 per target,
        ``classes`` one class index per row, ``values`` real numbers); None: no known kind."""
        return task_kind(self.target_kind).targets if self.target_kind else None

    def chunks(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(rows, codes, lengths)`` of ``rows``, :data:`CHUNK` rows at a time."""
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            codes, lengths = self.codes(part)
            yield part, codes, lengths

    def split_of(self) -> np.ndarray:
        """(n_rows,) int8: 0 train, 1 val, 2 test, -1 in no split."""
        out = np.full(self.n_rows, -1, np.int8)
        for i, stage in enumerate(STAGES):
            out[self.split[stage]] = i
        return out

    def check(self) -> None:
        """Refuse what no check can run on: no rows, or an empty training split."""
        if self.n_rows == 0:
            raise QCError(f"{self.source}: no rows to check")
        empty = [s for s in STAGES if len(self.split.get(s, ())) == 0]
        if "train" in empty:
            raise QCError(
                f"{self.source}: the training split is empty: check the split column or "
                "val_fraction / test_fraction"
            )


def qc_data(
    datamodule, sample_train: int = 100_000, sample_eval: int = 20_000, seed: int = 0
) -> QCData:
    """The checks' view of a seqnn data module (:class:`~seqnn.data.datamodule.TableDataModule`
    or :class:`~seqnn.data.datamodule.IntervalDataModule`): its whole dataset without
    transforms and each split's rows. Tiled windows (``data=peaks``) are sampled:
    :func:`tiled_data` (``sample_train`` / ``sample_eval`` windows of the training / each
    evaluated split at most, seeded by ``seed``)."""
    full, frame, rows = datamodule.split_rows()
    if getattr(full, "windows", None) is not None:
        return tiled_data(full, rows, sample_train, sample_eval, seed, type(datamodule).__name__)
    targets = getattr(full, "targets", None)
    labels = None if targets is None else targets.numpy()
    intervals = sizes = None
    length = full.input_length
    if getattr(full, "intervals", None) is not None:
        intervals = full.intervals[["chrom", "start", "end"]].reset_index(drop=True)
        sizes = dict(full.genome.sizes)
        contig = contig_indices(intervals["chrom"], full.genome.names)
        starts = intervals["start"].to_numpy(np.int64)
        soft_mask = full.genome.soft_masked_fraction(contig, starts, length)
        if labels is None:  # targets= read per batch (coverage): one pass over the rows
            chroms = intervals["chrom"].astype(str).to_numpy(object)
            labels = _window_targets(getattr(full, "target_fn", None), chroms, starts, length)
    else:
        soft_mask = soft_mask_fraction(frame[datamodule.hparams.sequence_column])

    def codes(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return full.codes_of(index), np.full(len(index), length, np.int64)

    return QCData(
        codes=codes,
        n_rows=len(full),
        split={s: np.asarray(rows[s], np.int64) for s in STAGES},
        labels=labels,
        target_names=list(getattr(full, "target_names", None) or []),
        target_kind=getattr(full, "target_kind", None),
        intervals=intervals,
        sizes=sizes,
        soft_mask=soft_mask,
        source=type(datamodule).__name__,
    )


def _sampled(windows: Windows, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` rows of ``windows``, drawn without replacement, sorted (genome order)."""
    if len(windows) <= n:
        return np.arange(len(windows), dtype=np.int64)
    return np.sort(rng.choice(len(windows), n, replace=False)).astype(np.int64)


def tiled_data(
    full,
    splits: dict[str, Windows],
    sample_train: int = 100_000,
    sample_eval: int = 20_000,
    seed: int = 0,
    source: str = "the windows",
) -> QCData:
    """The checks' view of tiled genome windows: a seeded random sample of each split's
    windows (``sample_train`` of the training split, ``sample_eval`` of each evaluated split
    at most), with their codes, targets (``full.target_fn`` on the windows as tiled;
    per-position targets averaged over positions), coordinates and soft-masked fraction,
    and the splits' whole :class:`~seqnn.data.tiling.Windows` for the overlap count (which
    is exact, on the runs). Memory: the sample's rows, not the genome's windows.

    Args:
        full: a tiled :class:`~seqnn.data.datasets.IntervalDataset`.
        splits: each split's windows (the data module's split).
        sample_train, sample_eval: the most windows sampled per split.
        seed: the sample's seed.
        source: the data's name in messages.
    """
    rng = np.random.default_rng(seed)
    contig, starts, split, sample, done = [], [], {}, {}, 0
    for stage in STAGES:
        windows = splits[stage]
        rows = _sampled(windows, sample_train if stage == "train" else sample_eval, rng)
        c, s = windows.locate(rows)
        contig.append(c)
        starts.append(s)
        split[stage] = np.arange(done, done + len(rows), dtype=np.int64)
        sample[stage] = {"rows": int(len(rows)), "of": int(len(windows))}
        done += len(rows)
    if not len(splits["train"]):
        raise QCError(
            f"{source}: no training windows: with block splits a window that straddles two "
            "genome blocks is in no split; lower data.n_blocks (or name val_chroms / "
            "test_chroms)"
        )
    contig, starts = np.concatenate(contig), np.concatenate(starts)
    genome, length = full.genome, full.input_length
    names = np.asarray(genome.names, dtype=object)
    intervals = pd.DataFrame({"chrom": names[contig], "start": starts, "end": starts + length})

    def codes(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = genome.fetch_batch(contig[index], starts[index], length)
        return batch, np.full(len(index), length, np.int64)

    return QCData(
        codes=codes,
        n_rows=done,
        split=split,
        labels=_window_targets(full.target_fn, names[contig], starts, length),
        target_names=list(getattr(full, "target_names", None) or []),
        target_kind=getattr(full, "target_kind", None),
        intervals=intervals,
        sizes=dict(genome.sizes),
        soft_mask=genome.soft_masked_fraction(contig, starts, length),
        source=f"{source} (tiled windows, sampled)",
        windows=dict(splits),
        sample=sample,
    )


TARGET_CHUNK = 4096  # windows whose targets are read at once (a profile: T x L values each)


def _window_targets(target_fn, chroms: np.ndarray, starts: np.ndarray, length: int):
    """(n, T) float32 targets of windows, :data:`TARGET_CHUNK` at a time (per-position
    targets averaged over positions: one value a window); None without ``target_fn``."""
    if target_fn is None:
        return None
    parts = []
    for a in range(0, len(starts), TARGET_CHUNK):
        s = starts[a : a + TARGET_CHUNK]
        part = chroms[a : a + TARGET_CHUNK]
        y = np.asarray(target_fn(part, s, s + length, np.zeros(len(s), bool)))
        y = y.reshape(len(s), -1) if y.ndim < 3 else np.nanmean(y, axis=2)
        parts.append(y.astype(np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)


def table_data(
    table: pd.DataFrame,
    target_columns: Sequence[str] | None,
    split_column: str | None = "split",
    sequence_column: str = "sequence",
    source: str = "the table",
) -> QCData:
    """The checks' view of a table of sequences of any lengths (padded with N) with 0/1 or
    numeric targets; rows by ``split_column`` (train / val / test), or all in train without one.
    """
    if sequence_column not in table.columns:
        raise QCError(f"{source}: no {sequence_column!r} column (columns: {list(table.columns)})")
    codes, lengths = encode_padded(table[sequence_column].astype(str).tolist(), source)
    if split_column and split_column in table.columns:
        split = split_by_label(table[split_column])
    else:
        split = {"train": np.arange(len(table)), "val": np.arange(0), "test": np.arange(0)}
    labels = None
    if target_columns:
        missing = [c for c in target_columns if c not in table.columns]
        if missing:
            raise QCError(f"{source}: no target column(s) {missing}")
        labels = table[list(target_columns)].to_numpy(np.float32)
    return QCData(
        codes=lambda index: (codes[index], lengths[index]),
        n_rows=len(table),
        split=split,
        labels=labels,
        target_names=[str(c) for c in target_columns or []],
        target_kind="binary" if labels is not None and labels.shape[1] == 1 else None,
        soft_mask=soft_mask_fraction(table[sequence_column]),
        source=source,
    )


def _as_bytes(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All sequences as one byte array and each one's length (one join, no per-row loop)."""
    lengths = np.fromiter((len(s) for s in sequences), np.int64, len(sequences))
    return np.frombuffer("".join(sequences).encode("ascii", "replace"), np.uint8), lengths


def encode_padded(sequences: Sequence[str], source: str = "the table") -> tuple[np.ndarray, ...]:
    """Strings of any lengths -> (codes (N, max length) uint8 padded with N, lengths (N,)).

    Raises:
        QCError: a letter that is not DNA, naming the row and position.
    """
    flat, lengths = _as_bytes(sequences)
    codes_flat = BYTE_TO_CODE[flat]
    bad = np.flatnonzero(codes_flat == INVALID)
    ends = np.cumsum(lengths)
    if len(bad):
        row = int(np.searchsorted(ends, bad[0], side="right"))
        pos = int(bad[0] - (ends[row] - lengths[row]))
        raise QCError(
            f"{source}: row {row}: {chr(flat[bad[0]])!r} at position {pos + 1} is not a DNA "
            "letter: fix or drop the row"
        )
    width = int(lengths.max()) if len(lengths) else 0
    out = np.full((len(lengths), width), N_CODE, np.uint8)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.arange(len(flat)) - np.repeat(ends - lengths, lengths)
    out[rows, cols] = codes_flat
    return out, lengths


def soft_mask_fraction(sequences: pd.Series | Sequence[str]) -> np.ndarray:
    """(N,) fraction of lower-case (soft-masked) letters of each sequence."""
    values = [str(s) for s in sequences]
    flat, lengths = _as_bytes(values)
    lower = (flat >= ord("a")).astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    at = np.minimum(starts, max(len(lower) - 1, 0))
    counts = np.add.reduceat(lower, at) if len(lower) else 0
    counts = np.where(lengths > 0, counts, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(lengths > 0, counts / np.maximum(lengths, 1), np.nan)


def stages_present(data: QCData) -> list[str]:
    """The evaluated stages (val, test) that hold rows."""
    return [s for s in STAGES[1:] if len(data.split.get(s, ())) > 0]
