"""Torch datasets of DNA sequences: in-memory sequences and genome intervals.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T.

Both datasets hold their sequences as uint8 codes (in memory, or as genome coordinates) and
build a whole batch at once: ``__getitems__(indices)`` gathers the batch's codes in one call
(one ``Genome.fetch_batch`` over contig indices mapped once at init, for intervals), runs the
transforms on the codes, one-hot encodes the batch in one ``one_hot`` call and returns batched
tensors. Intervals without code transforms are one-hot encoded by the fetch kernel itself (one
pass, into a fresh array: batches handed out are never overwritten later). torch's DataLoader
calls ``__getitems__`` by itself when it batches, and hands its result to ``collate_fn``:
pass ``collate_fn=collate_batched`` (which returns the batch as it is), as
:class:`~seqnn.data.datamodule.SequenceDataModule` does.

Items are ``(x, y)`` when the dataset has targets and ``x`` alone otherwise:

- ``x``: float32 one-hot (4, L) (``output="one_hot"``) or uint8 codes (L,) (``output="codes"``;
  encode on the GPU with :class:`~seqnn.data.encoding.OneHot`, 16x less host->device traffic).
- ``y``: float32 (n_targets,) for binary, multilabel and regression targets; an int64 scalar
  class index for multiclass targets; with ``IntervalDataset(targets=CoverageTargets(...))``
  float32 (n_tracks,) scalars or (n_tracks, L_out) profiles. Batches add a leading batch axis.

A table's sequences of several lengths (``SequenceDataset(..., resize="centre")``) are brought to
one: ``input_length`` when given, else the longest. Each keeps the window of that length centred
on it by the one centring rule (:func:`~seqnn.data.intervals.centred_start`: the window starts
``input_length // 2`` before the sequence's centre, ``len // 2``): a shorter one is padded with
N on both sides, a longer one loses both ends. With ``resize="error"`` (the default)
sequences of another length are an error.

Transforms are seeded per item from (seed, epoch, index) (see :mod:`seqnn.data.transforms`),
so runs repeat exactly with any number of workers. :class:`EpochSampler` passes Lightning's
``set_epoch`` on to the dataset; the epoch lives in shared memory so persistent workers see it.
"""

from __future__ import annotations

import copy
import gzip
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, Sampler

from seqnn.data.encoding import (
    BYTE_TO_CODE,
    DEFAULT_POLICY,
    INVALID,
    N_CODE,
    EncodingError,
    EncodingPolicy,
    encode,
    one_hot,
)
from seqnn.data.genome import Genome
from seqnn.data.intervals import (
    centred_start,
    checked_intervals,
    read_intervals,
    resize,
    strand_flags,
)
from seqnn.data.tiling import Windows
from seqnn.data.transforms import offsets_of
from seqnn.deprecation import renamed_keywords
from seqnn.errors import SeqnnInputError
from seqnn.kinds import BINARY, MULTICLASS, MULTILABEL, REGRESSION, TASK_KINDS, task_kind

#: a task kind's name (seqnn.kinds) whose targets are columns of values per row
TargetKind = str
Output = Literal["one_hot", "codes"]
# what SequenceDataset does with strings of several lengths (the module docstring's rule)
Resize = Literal["error", "centre"]
COLUMN_TARGET_KINDS = tuple(
    k for k in TASK_KINDS.values() if k.targets in ("labels", "classes", "values")
)
TARGET_KINDS = tuple(k.name for k in COLUMN_TARGET_KINDS)
# (chroms (B,), starts (B,), ends (B,), reverse (B,) bool) -> (B, T) or (B, T, L_out) targets
WindowTargets = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class DatasetError(SeqnnInputError):
    """A table, FASTA or interval file cannot become a dataset (the message names the row)."""


def collate_batched(batch):
    """The DataLoader ``collate_fn`` for datasets whose ``__getitems__`` returns whole batches."""
    return batch


# ----------------------------------------------------------------------------- targets
def infer_target_kind(values: pd.DataFrame) -> TargetKind:
    """Guess the kind of target columns (rows are items).

    Text or categorical labels, or one integer column with values beyond {0, 1}, are
    ``multiclass``; 0/1 columns are ``binary`` (one) or ``multilabel`` (several); anything
    else is ``regression``. Pass ``target_kind`` to override (e.g. integer counts as regression).
    """
    if any(
        isinstance(t, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(t)
        for t in values.dtypes
    ):
        return MULTICLASS.name
    arr = values.to_numpy(dtype=np.float64)
    if np.isin(arr, (0.0, 1.0)).all():
        return BINARY.name if values.shape[1] == 1 else MULTILABEL.name
    if values.shape[1] == 1 and pd.api.types.is_integer_dtype(values.dtypes.iloc[0]):
        return MULTICLASS.name
    return REGRESSION.name


def _text_among_numbers(values: pd.DataFrame) -> tuple[int, str, object] | None:
    """(row, column, value) of the first text value in a target column whose values are mostly
    numbers (a typo, not class labels); None if there is none."""
    for col in values:
        column = values[col]
        if pd.api.types.is_numeric_dtype(column) or isinstance(column.dtype, pd.CategoricalDtype):
            continue
        given = column.notna().to_numpy()
        text = pd.to_numeric(column, errors="coerce").isna().to_numpy() & given
        if text.any() and (given & ~text).sum() > text.sum():  # mostly numbers: a typo
            row = int(np.argmax(text))
            return row, col, column.iloc[row]
    return None


def encode_targets(
    values: pd.DataFrame,
    kind: TargetKind | None = None,
    classes: Sequence | None = None,
    where: Callable[[int], str] = lambda i: f"row {i}",
) -> tuple[torch.Tensor, TargetKind, list[str], list | None]:
    """Target columns -> one tensor, checked row by row.

    Args:
        values: (n, T) target columns.
        kind: the target kind, or None to infer it (:func:`infer_target_kind`).
        classes: multiclass only: the class labels in index order (default: 0..max for
            integer labels, the sorted labels otherwise).
        where: row index -> location for error messages (``"promoters.csv:17"``).

    Returns:
        (targets, kind, target_names, classes): targets float32 (n, T), or int64 (n,) class
        indices for multiclass (then target_names are the class names).
    """
    missing = values.isna().to_numpy()
    if missing.any():
        row, col = np.argwhere(missing)[0]
        raise DatasetError(
            f"{where(row)}: target {values.columns[col]!r} is missing (NaN): "
            "fill it or drop the row"
        )
    classes_given = kind is not None and task_kind(kind).targets == "classes"
    if not classes_given and (found := _text_among_numbers(values)) is not None:
        row, col, value = found
        raise DatasetError(
            f"{where(row)}: target {col!r} is {value!r}, not a number like the column's other "
            "values: fix it (or, for class labels, target_kind='multiclass')"
        )
    kind = kind or infer_target_kind(values)
    try:
        spec = task_kind(kind, COLUMN_TARGET_KINDS)
    except ValueError as err:
        raise ValueError(f"target_kind: {err}") from None
    if spec.targets == "classes":
        return _encode_classes(values, classes, where)
    try:
        arr = values.to_numpy(dtype=np.float32)
    except (TypeError, ValueError):
        # the first value that does not convert: its column and row
        text = values.apply(pd.to_numeric, errors="coerce").isna().to_numpy()
        row, c = np.argwhere(text)[0]
        col = values.columns[c]
        raise DatasetError(
            f"{where(row)}: target {col!r} is {values[col].iloc[row]!r}, not a number: for class "
            "labels use target_kind='multiclass' (seqnn-train: data.target_kind=multiclass "
            "task=multiclass)"
        ) from None
    if spec.targets == "labels":
        bad = ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DatasetError(
                f"{where(row)}: {kind} target {values.columns[col]!r} is {arr[row, col]:g}, "
                "expected 0 or 1: use target_kind='regression' for other values"
            )
    return torch.from_numpy(arr.copy()), kind, [str(c) for c in values], None


def _encode_classes(
    values: pd.DataFrame, classes: Sequence | None, where: Callable[[int], str]
) -> tuple[torch.Tensor, TargetKind, list[str], list]:
    if values.shape[1] != 1:
        raise DatasetError(
            f"multiclass targets need one column of class labels, got {list(values.columns)}"
        )
    col = values.iloc[:, 0]
    integer = pd.api.types.is_integer_dtype(col.dtype)
    if classes is None:  # integers 0..max, else (text, negative numbers) the sorted labels
        counted = integer and col.min() >= 0
        classes = list(range(int(col.max()) + 1)) if counted else sorted(col.unique().tolist())
    classes = list(classes)
    labels = col.to_numpy() if integer and classes == list(range(len(classes))) else None
    if labels is None:
        labels = pd.Categorical(col, categories=classes).codes.astype(np.int64)
    bad = (labels < 0) | (labels >= len(classes))
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(
            f"{where(row)}: class label {col.iloc[row]!r} of {col.name!r} is not one of the "
            f"{len(classes)} classes {classes[:10]}: pass classes= with every label"
        )
    names = [str(c) for c in classes]
    return torch.from_numpy(labels.astype(np.int64)), MULTICLASS.name, names, classes


# ----------------------------------------------------------------------------- base
class _BatchedDataset(Dataset):
    """Targets, transforms, epoch and one-hot encoding shared by the datasets below.

    Subclasses set ``self.input_length`` (L, bp) and implement
    ``_codes(index) -> (B, L) uint8``.
    """

    input_length: int

    @property
    def length(self) -> int:
        """The old name of ``input_length``."""
        return self.input_length

    def _init_common(
        self, policy: EncodingPolicy, output: Output, transforms: Sequence | None
    ) -> None:
        if output not in ("one_hot", "codes"):
            raise ValueError(f"output must be 'one_hot' or 'codes', got {output!r}")
        self.policy = policy
        self.output = output
        self.transforms = list(transforms or [])
        self.targets: torch.Tensor | None = None
        self.target_kind: TargetKind | None = None
        self.target_names: list[str] = []
        self.classes: list | None = None
        # Shared memory: DataLoader workers (persistent ones too) see set_epoch.
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()

    def _set_targets(self, encoded: tuple[torch.Tensor, TargetKind, list[str], list | None]):
        self.targets, self.target_kind, self.target_names, self.classes = encoded

    @property
    def n_targets(self) -> int:
        """Number of model outputs: target columns, or classes for multiclass (0 without)."""
        return len(self.target_names)

    @property
    def epoch(self) -> int:
        return int(self._epoch.numpy()[0])  # a numpy read: tensor indexing costs ~10x more

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch the transforms draw from (call before iterating a DataLoader)."""
        self._epoch[0] = epoch

    def _codes(self, index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def codes_of(self, index: Sequence[int]) -> np.ndarray:
        """(B, L) uint8 codes of the rows ``index`` as stored (no transforms; '-' strand
        intervals reverse-complemented when the dataset reads strands)."""
        return self._codes(np.asarray(index, dtype=np.int64))

    def _select(self, index: np.ndarray) -> None:
        """Keep only the rows ``index`` (on a fresh copy made by :meth:`subset`)."""
        raise NotImplementedError

    def subset(self, index: Sequence[int], transforms: Sequence | None = None):
        """A dataset of the rows ``index`` (same kind, targets, policy and output).

        Args:
            index: row indices.
            transforms: the subset's transforms (default: none, e.g. for validation).
        """
        index = np.asarray(index, dtype=np.int64)
        new = self._fresh_copy(transforms)
        new._select(index)
        if self.targets is not None:
            new.targets = self.targets[torch.from_numpy(index)]
        return new

    def _fresh_copy(self, transforms: Sequence | None):
        """A shallow copy with its own transforms and epoch."""
        new = copy.copy(self)
        new.transforms = list(transforms or [])
        new._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        return new

    def _post_transforms(self) -> list:
        return self.transforms

    def targets_of(self, index: np.ndarray) -> torch.Tensor | None:
        """The targets of the rows ``index`` (None without targets), without their sequences
        (file-backed targets such as coverage or peak labels are read for those windows)."""
        return None if self.targets is None else self.targets[torch.from_numpy(index)]

    def loader(
        self, batch_size: int = 128, shuffle: bool = False, seed: int = 0, **kwargs
    ) -> DataLoader:
        """A DataLoader over whole-batch fetches (``collate_fn=collate_batched``).

        A plain ``DataLoader(dataset, batch_size=...)`` would hand each fetched batch to
        torch's ``default_collate``, which expects single items; use this (or pass
        ``collate_fn=collate_batched``). ``shuffle`` uses a seeded :class:`EpochSampler`;
        other keyword arguments (``num_workers``, ``pin_memory`` ...) go to the DataLoader.
        """
        sampler = EpochSampler(self, shuffle=shuffle, seed=seed)
        return BatchLoader(
            self, batch_size=batch_size, sampler=sampler, collate_fn=collate_batched, **kwargs
        )

    def __getitems__(self, indices: Sequence[int]):
        """A whole batch: x (B, 4, L) float32 or (B, L) uint8 (with more leading axes for
        datasets whose items hold several windows), and y (B, T) or (B,)."""
        index = np.asarray(indices, dtype=np.int64)
        codes = self._codes(index)
        y = self.targets_of(index)
        epoch = self.epoch
        for transform in self._post_transforms():
            codes, y = transform(codes, y, index, epoch)
        if self.output == "one_hot":  # leading axes carry through: (B, 2, L) -> (B, 2, 4, L)
            x = one_hot(codes.reshape(-1, codes.shape[-1]), policy=self.policy)
            x = torch.from_numpy(x.reshape(*codes.shape[:-1], *x.shape[-2:]))
        else:
            x = torch.from_numpy(np.ascontiguousarray(codes))
        return x if y is None else (x, y)

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for a dataset of {len(self)} items")
        batch = self.__getitems__([i % len(self)])
        if isinstance(batch, tuple):
            return batch[0][0], batch[1][0]
        return batch[0]


# ----------------------------------------------------------------------------- sequences
def table_separator(path: Path) -> str | None:
    """The column separator a table's extension names (``.csv``: comma; ``.tsv``, ``.tab``,
    ``.txt``: tab; compression suffixes skipped), else None (pandas sniffs it)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".xz")]
    ext = suffixes[-1] if suffixes else ""
    return {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": "\t"}.get(ext)


def read_table(path: str | Path, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV table (gzip ok); the separator from the extension, else sniffed.

    Raises:
        DatasetError: the file does not exist, is empty, holds only a header row, or is not
            a table.
    """
    path = Path(path)
    sep = table_separator(path) if sep is None else sep
    if not path.is_file():
        raise DatasetError(
            f"{path}: no such table file: check the path (a relative path starts from the folder "
            "you run in)"
        )
    try:
        table = pd.read_csv(path, sep=sep, engine="python" if sep is None else "c")
    except pd.errors.EmptyDataError:
        raise DatasetError(
            f"{path}: the table is empty (not even a header row): write a header row naming "
            "the columns (e.g. sequence,label), then one row per sequence"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DatasetError(
            f"{path}: cannot read it as a table ({err}): is it a CSV/TSV?"
        ) from None
    if table.empty:
        raise DatasetError(
            f"{path}: only a header row ({', '.join(map(str, table.columns))}), no rows: add "
            "one row per sequence"
        )
    return table


def _checked_strings(seqs: list, where: Callable[[int], str]) -> list[str]:
    """``seqs``, refusing a missing one (NaN in a table) by its row."""
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise DatasetError(f"{where(i)}: sequence is missing ({s!r}): fill it or drop the row")
    return seqs


def centred_codes(
    seqs: list[str], input_length: int | None, where: Callable[[int], str]
) -> tuple[np.ndarray, int, int]:
    """Strings of any lengths -> (n, L) uint8 codes, each the window of ``L`` (``input_length``,
    else the longest) centred on it: N beyond its ends. Returns the codes and how many rows
    were padded and cropped. All rows are gathered at once from their concatenated codes."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    length = int(input_length if input_length is not None else lengths.max(initial=0))
    if len(seqs) and np.all(lengths == length):
        return _encode_sequences(seqs, where), 0, 0
    joined = np.frombuffer("".join(seqs).encode("ascii", "replace"), dtype=np.uint8)
    flat = BYTE_TO_CODE[joined]
    if (flat == INVALID).any():
        _raise_bad_letter(seqs, where)
    # (n, L) positions in each sequence of the window's bases; outside [0, length_i): N
    pos = centred_start(0, lengths, length)[:, None] + np.arange(length)[None, :]
    inside = (pos >= 0) & (pos < lengths[:, None])
    starts = np.cumsum(lengths) - lengths
    codes = np.full((len(seqs), length), N_CODE, dtype=np.uint8)
    codes[inside] = flat[(starts[:, None] + pos)[inside]]
    return codes, int((lengths < length).sum()), int((lengths > length).sum())


def _raise_bad_letter(seqs: Sequence[str], where: Callable[[int], str]) -> None:
    """Raise EncodingError naming the row and position of the first letter that is not DNA."""
    for i, s in enumerate(seqs):
        codes = BYTE_TO_CODE[np.frombuffer(s.encode("ascii", "replace"), dtype=np.uint8)]
        if (codes == INVALID).any():
            pos = int(np.argmax(codes == INVALID))
            raise EncodingError(
                f"{where(i)}: position {pos}: {s[pos]!r} is not a DNA letter (expected "
                "A, C, G, T, N or an IUPAC code): fix the sequence or drop the row"
            ) from None


def _encode_sequences(seqs: Sequence, where: Callable[[int], str]) -> np.ndarray:
    """Strings of one length -> (n, L) uint8 codes, with errors that name the row."""
    _checked_strings(seqs, where)
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    if len(seqs) and np.any(lengths != lengths[0]):
        i = int(np.argmax(lengths != lengths[0]))
        raise DatasetError(
            f"{where(i)}: sequence has length {lengths[i]}, expected {lengths[0]} (the length "
            f"of the first sequence): all sequences must have one length; trim or pad them "
            "(data.resize=centre pads / crops a table's around their centres; "
            "IntervalDataset with input_length= resizes genome intervals)"
        )
    try:
        return encode(list(seqs)) if len(seqs) else np.zeros((0, 0), dtype=np.uint8)
    except EncodingError:
        _raise_bad_letter(seqs, where)
        raise


class SequenceDataset(_BatchedDataset):
    """Equal-length DNA sequences held in memory as one (n, L) uint8 code array.

    Args:
        sequences: n strings of one length, or an (n, L) uint8 code array.
        targets: None, an (n,) / (n, T) array, or a DataFrame of target columns.
        policy: how N and IUPAC codes become one-hot columns.
        output: ``"one_hot"`` -> x float32 (4, L); ``"codes"`` -> x uint8 (L,).
        transforms: batch transforms (:mod:`seqnn.data.transforms`), run on the codes.
        target_kind: binary / multilabel / multiclass / regression; None infers it.
        classes: multiclass only: the class labels in index order.
        where: row index -> location for error messages.
        input_length: strings only: the length (bp) to bring them to with ``resize="centre"``
            (None: the longest one's).
        resize: strings of several lengths (or not of ``input_length``): ``"error"`` refuses
            them, naming the first; ``"centre"`` pads or crops each around its centre (the
            module docstring's rule). ``n_padded`` / ``n_cropped`` count the rows changed.
    """

    def __init__(
        self,
        sequences: Sequence[str] | np.ndarray,
        targets: np.ndarray | pd.DataFrame | None = None,
        policy: EncodingPolicy = DEFAULT_POLICY,
        output: Output = "one_hot",
        transforms: Sequence | None = None,
        target_kind: TargetKind | None = None,
        classes: Sequence | None = None,
        where: Callable[[int], str] | None = None,
        input_length: int | None = None,
        resize: Resize = "error",
    ) -> None:
        self._init_common(policy, output, transforms)
        where = where or (lambda i: f"sequence {i}")
        self.n_padded = self.n_cropped = 0
        if isinstance(sequences, np.ndarray) and sequences.dtype == np.uint8:
            self.codes = np.ascontiguousarray(np.atleast_2d(sequences))
        elif resize == "centre":
            seqs = _checked_strings(list(sequences), where)
            self.codes, self.n_padded, self.n_cropped = centred_codes(seqs, input_length, where)
        elif resize == "error":
            self.codes = _encode_sequences(list(sequences), where)
        else:
            raise DatasetError(f"resize={resize!r}: give 'error' or 'centre'")
        self.input_length = self.codes.shape[1]
        if targets is not None:
            frame = targets if isinstance(targets, pd.DataFrame) else _as_frame(targets)
            if len(frame) != len(self.codes):
                raise DatasetError(
                    f"{len(frame)} target rows for {len(self.codes)} sequences: give one per row"
                )
            self._set_targets(
                encode_targets(frame.reset_index(drop=True), target_kind, classes, where)
            )

    def __len__(self) -> int:
        return len(self.codes)

    def _codes(self, index: np.ndarray) -> np.ndarray:
        return self.codes[index]

    def _select(self, index: np.ndarray) -> None:
        self.codes = self.codes[index]
        if hasattr(self, "names"):
            self.names = [self.names[i] for i in index]

    @classmethod
    def from_table(
        cls,
        path: str | Path | pd.DataFrame,
        sequence_column: str = "sequence",
        target_columns: str | Sequence[str] | None = None,
        sep: str | None = None,
        source: str | None = None,
        **kwargs,
    ) -> SequenceDataset:
        """Sequences and targets from a CSV/TSV table (gzip ok) or a DataFrame.

        Errors name the file and line (the header is line 1), e.g.
        ``promoters.csv:17: sequence has length 80, expected 81 ...``.

        Args:
            path: the table, or a DataFrame (errors then name the row).
            sequence_column: the column of DNA strings.
            target_columns: a column name, a list of them, or None for no targets.
            sep: the separator; None picks it from the extension or sniffs it.
            source: for a DataFrame read from a file: the file name for error messages.
            **kwargs: passed on to :class:`SequenceDataset` (policy, output, transforms, ...).
        """
        if isinstance(path, pd.DataFrame):
            table, name = path.reset_index(drop=True), source
        else:
            table, name = read_table(path, sep), Path(path).name

        def where(i: int) -> str:  # file line numbers: the header is line 1
            return f"{name}:{i + 2}" if name else f"table row {i}"

        columns = [target_columns] if isinstance(target_columns, str) else target_columns
        source = name or "table"
        _require_columns(table, [sequence_column], source, "sequence_column")
        _require_columns(table, list(columns or []), source, "target_columns")
        targets = table[list(columns)] if columns else None
        return cls(table[sequence_column].tolist(), targets, where=where, **kwargs)

    @classmethod
    def from_fasta(
        cls, path: str | Path, targets: np.ndarray | pd.DataFrame | None = None, **kwargs
    ) -> SequenceDataset:
        """Sequences from a FASTA file (gzip ok), one record per item.

        Args:
            path: the FASTA file.
            targets: None; an (n,) / (n, T) array in record order; or a DataFrame indexed by
                record name (its columns are the targets).
            **kwargs: passed on to :class:`SequenceDataset`.
        """
        names, seqs = read_fasta_records(path)
        source = Path(path).name
        if isinstance(targets, pd.DataFrame):
            absent = [n for n in names if n not in targets.index]
            if absent:
                raise DatasetError(
                    f"{source}: record {absent[0]!r} has no row in the targets table "
                    f"({len(absent)} records missing): index the targets by record name"
                )
            targets = targets.loc[names]
        dataset = cls(seqs, targets, where=lambda i: f"{source}: record {names[i]!r}", **kwargs)
        dataset.names = names
        return dataset


def read_fasta_records(path: str | Path) -> tuple[list[str], list[str]]:
    """All records of a (gzipped) FASTA file: (names, sequences), names up to the first space."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        text = handle.read()
    head, *chunks = text.split(">")
    if head.strip():
        raise DatasetError(f"{path.name}:1: a FASTA file must start with a '>name' line")
    names, seqs = [], []
    for chunk in chunks:
        header, _, body = chunk.partition("\n")
        names.append(header.split(maxsplit=1)[0] if header.strip() else "")
        seqs.append(body.replace("\n", "").replace("\r", ""))
    return names, seqs


def _as_frame(values: np.ndarray) -> pd.DataFrame:
    """(n,) or (n, T) targets -> DataFrame with columns target_0 ... (or 'target')."""
    arr = np.asarray(values)
    if arr.ndim == 1:
        return pd.DataFrame({"target": arr})
    return pd.DataFrame(arr, columns=[f"target_{j}" for j in range(arr.shape[1])])


def _require_columns(
    table: pd.DataFrame, columns: Sequence[str], source: str, setting: str | None = None
) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        close = [c for c in table.columns if str(c).lower() == str(missing[0]).lower()]
        fix = (
            f"name the column with {setting}= (seqnn-train: data.{setting}=...)"
            if setting
            else "check the header or the column arguments"
        )
        raise DatasetError(
            f"{source}: no column {missing[0]!r} (columns are {list(table.columns)}"
            + (f"; did you mean {close[0]!r}?" if close else "")
            + f"): {fix}"
        )


# ----------------------------------------------------------------------------- intervals
@renamed_keywords(length="input_length")
class IntervalDataset(_BatchedDataset):
    """Genome windows of one length, fetched a batch at a time.

    Args:
        genome: a :class:`~seqnn.data.genome.Genome` or the path of a FASTA file.
        intervals: a DataFrame (chrom, start, end, ...), a BED/narrowPeak/TSV path, or tiled
            :class:`~seqnn.data.tiling.Windows` (:func:`~seqnn.data.tiling.tile_windows`):
            kept as runs, so the dataset's memory does not grow with the number of windows
            (targets then come from ``targets=``; no strands, no resizing).
        target_columns: columns of ``intervals`` to use as targets (None: no targets).
        input_length: resize every interval to this length (bp) around its centre
            (:func:`~seqnn.data.intervals.centred_start`); None requires the intervals to
            share one length. ``length=`` is its old name.
        policy: how N and IUPAC codes become one-hot columns.
        output: ``"one_hot"`` -> x float32 (4, L); ``"codes"`` -> x uint8 (L,).
        transforms: batch transforms. Those that move windows (``RandomShift``) are applied
            to the coordinates before fetching, so real neighbouring bases come in.
        use_strand: reverse-complement intervals on the '-' strand (``strand_column``).
        strand_column: the column of '+' / '-' / '.' strands.
        target_kind: binary / multilabel / multiclass / regression; None infers it.
        classes: multiclass only: the class labels in index order.
        on_invalid: intervals past chromosome ends: ``"error"``, ``"drop"`` or ``"pad"``.
        targets: instead of ``target_columns``: a callable over a batch of windows,
            ``targets(chroms, starts, ends, reverse) -> (B, T) or (B, T, L_out)`` array (e.g.
            :class:`~seqnn.data.coverage.CoverageTargets`), called with the windows the
            sequence is fetched from (after ``RandomShift``; ``reverse`` is the (B,) bool
            '-' strand flags when ``use_strand``). Its ``check(genome)``, if any, runs here.
            Its ``target_kind`` (default regression; :class:`~seqnn.data.peaks.PeakLabels`:
            multilabel) and ``target_names`` are the dataset's.
    """

    def __init__(
        self,
        genome: Genome | str | Path,
        intervals: pd.DataFrame | str | Path,
        target_columns: str | Sequence[str] | None = None,
        input_length: int | None = None,
        policy: EncodingPolicy = DEFAULT_POLICY,
        output: Output = "one_hot",
        transforms: Sequence | None = None,
        use_strand: bool = False,
        strand_column: str = "strand",
        target_kind: TargetKind | None = None,
        classes: Sequence | None = None,
        on_invalid: Literal["error", "drop", "pad"] = "error",
        targets: WindowTargets | None = None,
    ) -> None:
        self._init_common(policy, output, transforms)
        self.target_fn = targets
        self.genome = genome if isinstance(genome, Genome) else Genome(genome)
        columns = [target_columns] if isinstance(target_columns, str) else target_columns
        self.windows: Windows | None = None
        if isinstance(intervals, Windows):
            self._init_tiled(intervals, input_length, use_strand, columns)
            source = "windows"
        else:
            source = "intervals" if isinstance(intervals, pd.DataFrame) else Path(intervals).name
            frame = intervals if isinstance(intervals, pd.DataFrame) else read_intervals(intervals)
            if input_length is not None:
                frame = resize(frame, input_length)
            frame, contig = checked_intervals(frame, self.genome, on_invalid=on_invalid)
            self.intervals = frame.reset_index(drop=True)
            # chrom held as contig indices with the genome's name table (a pandas Categorical:
            # int8 / int16 codes) instead of a Python str per row (57 MB per million); it
            # still reads as the names
            names = list(self.genome.names)
            self.intervals["chrom"] = pd.Categorical.from_codes(contig, categories=names)
            self.input_length = _common_length(self.intervals, source)
            # The batch path indexes plain arrays: contig indices, starts, reverse flags.
            self._contig = contig
            self._starts = self.intervals["start"].to_numpy(dtype=np.int64)
            strands = _reverse(self.intervals, strand_column, source) if use_strand else None
            self._reverse = strands
        if targets is not None:
            self._init_window_targets(targets, columns, target_kind)
        elif columns:
            _require_columns(self.intervals, columns, source)
            where = lambda i: f"{source}: interval {i}"  # noqa: E731
            self._set_targets(
                encode_targets(self.intervals[list(columns)], target_kind, classes, where)
            )

    def _init_tiled(
        self,
        windows: Windows,
        input_length: int | None,
        use_strand: bool,
        columns: Sequence[str] | None,
    ) -> None:
        """Tiled windows, kept as runs: no DataFrame and no per-window array."""
        if windows.names != list(self.genome.names):
            raise DatasetError(
                f"IntervalDataset: the windows were tiled on another genome than "
                f"{self.genome.path.name} (contigs {windows.names[:3]}...): tile this genome"
            )
        if input_length not in (None, windows.window) or use_strand or columns:
            raise DatasetError(
                f"IntervalDataset: tiled windows are {windows.window} bp, unstranded and carry "
                f"no target columns; got input_length={input_length}, use_strand={use_strand}, "
                f"target_columns={columns}: tile with window=input_length and give targets="
            )
        self.windows, self.intervals = windows, None
        self.input_length = windows.window
        self._contig = self._starts = self._reverse = None

    def with_windows(self, windows: Windows, transforms: Sequence | None = None):
        """This tiled dataset over other windows of its genome (e.g. one split's), with
        ``transforms`` (default none)."""
        new = self._fresh_copy(transforms)
        new.windows = windows
        return new

    def _init_window_targets(
        self, targets: WindowTargets, columns: Sequence[str] | None, kind: TargetKind | None
    ) -> None:
        if columns:
            raise DatasetError(
                f"IntervalDataset: both target_columns {list(columns)} and targets= given: "
                "pass one of them"
            )
        given = getattr(targets, "target_kind", REGRESSION.name)  # PeakLabels: multilabel
        if kind not in (None, given):
            raise DatasetError(
                f"IntervalDataset: targets= gives {given} targets, not {kind!r}: "
                "leave target_kind unset"
            )
        if hasattr(targets, "check"):
            targets.check(self.genome)
        self._names = np.asarray(self.genome.names, dtype=object)
        self.target_kind = given
        self.target_names = list(getattr(targets, "target_names", []))

    def __len__(self) -> int:
        return len(self._starts) if self.windows is None else len(self.windows)

    def _post_transforms(self) -> list:
        return [t for t in self.transforms if not hasattr(t, "offsets")]

    def _windows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The rows' windows as fetched: (contig indices, starts after shifts, reverse flags)."""
        if self.windows is not None:
            contig, starts = self.windows.locate(index)
        else:
            contig, starts = self._contig[index], self._starts[index]
        if self.transforms:
            shift = offsets_of(self.transforms, index, self.epoch)
            starts = starts if shift is None else starts + shift
        reverse = None if self._reverse is None else self._reverse[index]
        return contig, starts, reverse

    def targets_of(self, index: np.ndarray) -> torch.Tensor | None:
        if self.target_fn is None:
            return super().targets_of(index)
        contig, starts, reverse = self._windows(index)
        if reverse is None:
            reverse = np.zeros(len(starts), dtype=np.bool_)
        y = self.target_fn(self._names[contig], starts, starts + self.input_length, reverse)
        return torch.from_numpy(np.asarray(y, dtype=np.float32))

    def _select(self, index: np.ndarray) -> None:
        if self.windows is not None:
            self.windows = self.windows.take(index)
            return
        self.intervals = self.intervals.iloc[index].reset_index(drop=True)
        self._contig, self._starts = self._contig[index], self._starts[index]
        if self._reverse is not None:
            self._reverse = self._reverse[index]

    def _fetch(self, index: np.ndarray, policy: EncodingPolicy | None) -> np.ndarray:
        """One genome fetch: (B, L) codes, or (B, 4, L) one-hot when ``policy`` is given."""
        contig, starts, reverse = self._windows(index)
        return self.genome.fetch_batch(contig, starts, self.input_length, reverse, policy=policy)

    def _codes(self, index: np.ndarray) -> np.ndarray:
        return self._fetch(index, None)

    def __getitems__(self, indices: Sequence[int]):
        """A whole batch; without code transforms one-hot is written by the fetch itself."""
        if self.output != "one_hot" or self._post_transforms():
            return super().__getitems__(indices)
        index = np.asarray(indices, dtype=np.int64)
        x = torch.from_numpy(self._fetch(index, self.policy))
        y = self.targets_of(index)
        return x if y is None else (x, y)


def _common_length(intervals: pd.DataFrame, source: str) -> int:
    widths = (intervals["end"] - intervals["start"]).to_numpy(dtype=np.int64)
    if len(widths) == 0:
        raise DatasetError(f"{source}: no intervals left (after validation)")
    if np.any(widths != widths[0]):
        i = int(np.argmax(widths != widths[0]))
        row = intervals.iloc[i]
        raise DatasetError(
            f"{source}: interval {i} ({row['chrom']}:{row['start']}-{row['end']}) has length "
            f"{widths[i]}, expected {widths[0]}: pass input_length= (data.input_length) to "
            "resize every interval around its centre"
        )
    return int(widths[0])


def _reverse(intervals: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """(n,) bool: which intervals are on the '-' strand."""
    _require_columns(intervals, [column], source)
    return strand_flags(intervals, column, source)


# ----------------------------------------------------------------------------- sampling
class EpochSampler(Sampler[int]):
    """Indices in a seeded order that changes with the epoch; passes ``set_epoch`` on.

    Lightning calls ``set_epoch`` on the DataLoader's sampler at each epoch start; this
    forwards it to the dataset so its transforms draw new (but repeatable) augmentations.

    Args:
        dataset: the dataset (anything with ``__len__``; ``set_epoch`` is optional).
        shuffle: a permutation from (seed, epoch) when True, 0..n-1 otherwise.
        seed: base seed of the permutations.
    """

    def __init__(self, dataset: Dataset, shuffle: bool = True, seed: int = 0) -> None:
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.resume: tuple[int, int] | None = None  # (epoch, items already served)
        self.skipped = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        order = self.indices()
        for start in range(0, len(order), 65536):  # Python ints a chunk at a time
            yield from order[start : start + 65536].tolist()

    def indices(self) -> np.ndarray:
        """This pass's indices as one array (what iterating yields, item by item): int32 below
        2**31 items (4 bytes a window: 60 MB for 15 million), else int64."""
        n = len(self.dataset)
        skip = 0
        if self.resume is not None:  # a mid-epoch resume applies to that epoch only
            (epoch, items), self.resume = self.resume, None
            skip = items if epoch == self.epoch else 0
        self.skipped = skip
        dtype = np.int32 if n < 2**31 else np.int64
        if not self.shuffle:
            return np.arange(skip, n, dtype=dtype)
        # the same order as Generator.permutation(n) (which shuffles an int64 arange)
        order = np.arange(n, dtype=dtype)
        np.random.default_rng([self.seed, self.epoch]).shuffle(order)
        return order[skip:]


class BatchLoader(DataLoader):
    """A DataLoader over whole-batch fetches that resumes mid-epoch.

    Lightning stores :meth:`state_dict` (the epoch and the batches served so far) in its
    checkpoints and calls :meth:`load_state_dict` on resume; the next pass then skips the
    batches already trained on, so a run stopped mid-epoch and resumed sees the same batches
    as one never interrupted. Needs an :class:`EpochSampler` (``dataset.loader()`` makes one).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._served = 0
        self._active: object | None = None
        self._resume: tuple[int, int] | None = None

    def __iter__(self):
        if self._resume is not None and isinstance(self.sampler, EpochSampler):
            epoch, batches = self._resume
            self.sampler.resume = (epoch, batches * self.batch_size)
        self._resume = None
        in_process = self.num_workers == 0 and not self.pin_memory and self.timeout == 0
        if (
            in_process
            and self.batch_sampler is not None
            and not isinstance(self.dataset, IterableDataset)
        ):
            # DataLoader's own in-process iterator wraps every batch in a profiler scope, ~20
            # us a batch (a fifth of a 256 x 1 kb code batch); this does what it does without
            # it, its one seed draw from torch's RNG included (made now, as it makes it)
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
            return self._counted(self._in_process(), self._newest())
        # created now, as a plain DataLoader would: its seed draw from torch's RNG happens at
        # the same point of the run, resumed or not
        return self._counted(super().__iter__(), self._newest())

    def _newest(self) -> object:
        """A token for the iterator being made; only the newest one counts served batches."""
        self._active = object()
        return self._active

    def _in_process(self):
        """Batches as DataLoader's in-process iterator makes them: the batch sampler's
        indices, the dataset's ``__getitems__`` (else item by item), then ``collate_fn``."""
        fetch = getattr(self.dataset, "__getitems__", None)
        for indices in self._batches():
            try:  # as in DataLoader, a StopIteration from the dataset ends the epoch
                items = fetch(indices) if fetch else [self.dataset[i] for i in indices]
                batch = self.collate_fn(items)
            except StopIteration:
                return
            yield batch

    def _batches(self):
        """The batch sampler's index batches; over an EpochSampler, slices of its index array
        (the same batches, without a Python int per item)."""
        batches = self.batch_sampler
        sliced = type(batches) is BatchSampler and isinstance(batches.sampler, EpochSampler)
        if not sliced or not hasattr(self.dataset, "__getitems__"):  # items get Python ints
            yield from batches
            return
        order, size = batches.sampler.indices(), batches.batch_size
        stop = len(order) - len(order) % size if batches.drop_last else len(order)
        for start in range(0, stop, size):
            yield order[start : start + size]

    def _counted(self, iterator, token: object):
        """Count the batches served, for :meth:`state_dict`. An older iterator still being
        read (e.g. one abandoned mid-epoch) is not counted: the state is the newest pass's."""
        for i, batch in enumerate(iterator):
            if token is not self._active:
                yield batch
                continue
            if i == 0:  # the sampler has started: it knows what it skipped
                skipped = getattr(self.sampler, "skipped", 0)
                self._served = skipped // self.batch_size if self.batch_size else 0
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": int(getattr(self.sampler, "epoch", 0)), "batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._resume = (int(state["epoch"]), int(state["batches"]))
