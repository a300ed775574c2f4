"""Predictions of a pretrained model on sequences and on FASTA regions.

Layout: the model sees uint8 codes (N, L) (one-hot (N, 4, L) is made on its device with the
model's own N/IUPAC policy) and returns (N, T) predictions, one column per target.

Regions shorter or longer than the model's input are resized around their centre (the rule
of :func:`seqnn.data.intervals.centred_start`), or, with ``tile=True``, cut into input-length
windows whose predictions are aggregated per region (mean or max). ``rc=True`` averages each
window's prediction with that of its reverse complement (a warning for a strand-specific
model, whose spec says ``strand_specific``: there ``rc="max"`` reads either strand). The
prediction for target ``t`` is always the column ``<t>_pred`` (``label_pred`` for ``label``),
whatever the input's columns. Example::

    model = seqnn.load_pretrained("ecoli-sigma70")
    table = seqnn.predict_regions(model, "genome.fa", "regions.bed")  # ... label_pred
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
import torch

from seqnn.atomic import atomic_open
from seqnn.data.datasets import centred_codes
from seqnn.data.encoding import reverse_complement_codes
from seqnn.data.genome import Genome
from seqnn.data.intervals import (
    LINE,
    contig_indices,
    iter_intervals,
    read_intervals,
    resize,
    strand_flags,
    tile,
    validate_intervals,
)
from seqnn.data.sequence_files import BLOCK_ROWS, is_fasta, iter_sequence_blocks
from seqnn.errors import SeqnnInputError
from seqnn.inference.pretrained import PretrainedModel
from seqnn.kinds import kind_names, kinds_where
from seqnn.progress import line_total, progress_bar

Tile = bool | Literal["auto"]
Aggregate = Literal["mean", "max"]
RC = bool | Literal["mean", "max"]


class PredictError(SeqnnInputError):
    """A prediction request that cannot be carried out (names the argument and the fix)."""


def prediction_columns(targets: Sequence[str]) -> list[str]:
    """The prediction column of each target: ``<target>_pred``, the one naming rule of every
    predicted table (a regions file's own ``label`` column stays beside ``label_pred``)."""
    return [f"{t}_pred" for t in targets]


def check_rc(model: PretrainedModel, rc: RC) -> None:
    """Warn when ``rc`` averages a strand-specific model with its reverse complement.

    Such a model (spec ``strand_specific``, e.g. a promoter model trained on windows read on
    the promoter's strand) predicts the other strand for the reverse complement: the mean of
    the two pulls a one-strand signal halfway to the other strand's (true promoters towards
    0.5). ``rc="max"`` (either strand) and ``rc=False`` (the strand given) do not.
    """
    if rc in (True, "mean") and model.spec.strand_specific:
        warnings.warn(
            f"rc={str(rc).lower()}: this model is strand-specific (trained on sequences read "
            "on their feature's strand), so averaging it with its reverse complement halves a "
            "one-strand signal; use rc=false (the strand given) or rc=max (either strand)",
            UserWarning,
            stacklevel=3,
        )


def autocast(model: PretrainedModel) -> contextlib.AbstractContextManager:
    """bf16 autocast for a model trained in bf16 (its card's ``precision``, e.g.
    ``bf16-mixed``) on a CUDA device; no change otherwise (CPU, or a float32-trained model,
    whose outputs bf16 would move)."""
    precision = str((model.spec.card or {}).get("precision", ""))
    if model.device.type == "cuda" and precision.startswith("bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def predict_codes(model: PretrainedModel, codes: np.ndarray, rc: RC = False) -> np.ndarray:
    """One batch: (B, L) uint8 codes -> (B, T) float32 predictions on the model's device.

    Args:
        model: a pretrained model (eval mode).
        codes: (B, L) uint8 codes.
        rc: ``True``/``"mean"`` averages with the prediction for the reverse complement;
            ``"max"`` takes the larger of the two (a strand-specific model's "either strand").
    """
    x = torch.from_numpy(np.ascontiguousarray(codes)).to(model.device, non_blocking=True)
    y = model(x)
    if rc not in (False, True, "mean", "max"):
        raise PredictError(f"rc must be true, false, 'mean' or 'max', got {rc!r}")
    if rc:
        y_rc = model(reverse_complement_codes(x))
        y = torch.maximum(y, y_rc) if rc == "max" else (y + y_rc) / 2
    if y.ndim != 2:
        raise PredictError(
            f"the model returns shape {tuple(y.shape)}: predict_* handles (N, T) outputs"
        )
    return y.float().cpu().numpy()


def predict_sequences(
    model: PretrainedModel,
    sequences: Sequence[str],
    batch_size: int = 256,
    rc: RC = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Predict for DNA strings of any length (each centred and cut or N-padded to the
    model's input length, a batch at a time by :func:`seqnn.data.datasets.centred_codes`).

    Args:
        model: a pretrained model.
        sequences: DNA strings (A C G T N and IUPAC codes, any case).
        batch_size: sequences per forward pass.
        rc: average each prediction with that of the reverse complement.
        progress: show a progress bar on stderr (only when it is a terminal).

    Returns:
        (N, T) DataFrame, one column ``<target>_pred`` per target, in input order.
    """
    check_rc(model, rc)
    seqs = [sequences] if isinstance(sequences, str) else list(sequences)
    with progress_bar(len(seqs), "predict", progress, "sequences") as advance:
        # a bad letter is named by the sequence's index and its position as given
        values, _ = _sequence_values(
            model, seqs, lambda k: f"sequences[{k}]", batch_size, rc, advance
        )
    return pd.DataFrame(values, columns=prediction_columns(model.targets))


def _sequence_values(
    model: PretrainedModel,
    seqs: list[str],
    where: Callable[[int], str],
    batch_size: int,
    rc: RC,
    advance: Callable[[int], None],
) -> tuple[np.ndarray, tuple[int, int]]:
    """(N, T) predictions of strings centred to the input length, a batch at a time, and how
    many were padded and cropped."""
    out = np.empty((len(seqs), len(model.targets)), dtype=np.float32)
    resized = np.zeros(2, dtype=np.int64)
    for i in range(0, len(seqs), _check_batch_size(batch_size)):
        raw = seqs[i : i + batch_size]
        codes, padded, cropped = centred_codes(
            raw, model.input_length, lambda k, i=i: where(i + k)
        )
        out[i : i + len(raw)] = predict_codes(model, codes, rc)
        resized += (padded, cropped)
        advance(len(raw))
    return out, (int(resized[0]), int(resized[1]))


def predict_sequences_to_file(
    model: PretrainedModel,
    sequences: str | Path,
    out: str | Path,
    sequence_column: str = "sequence",
    batch_size: int = 256,
    rc: RC = False,
    calls: bool = False,
    progress: bool = True,
    block_rows: int = BLOCK_ROWS,
) -> Path:
    """Predictions for every sequence of a FASTA or CSV/TSV file, streamed to a table file
    (``seqnn-predict sequences=``).

    The file is read ``block_rows`` rows at a time
    (:func:`seqnn.data.sequence_files.iter_sequence_blocks`); each block is predicted and its
    rows appended to a temp file, renamed to ``out`` once all are written (an error or an
    interrupt leaves no ``out``), so memory does not grow with the number of sequences. Each
    sequence is centred on the model's input length, cropped or padded with N
    (:func:`predict_sequences`); a warning counts those that were.

    Args:
        model, batch_size, rc, progress: as in :func:`predict_sequences`.
        sequences: a FASTA file (out: each record's ``name``) or a CSV/TSV table (out: all
            its columns).
        out: the table (TSV; CSV for ``.csv``): the rows' columns and ``<target>_pred``.
        sequence_column: a table's column of sequences.
        calls: add the 0/1 ``<target>_call`` columns (:func:`add_calls`).
        block_rows: rows per block.

    Returns:
        ``out``.
    """
    check_rc(model, rc)
    if calls:
        check_calls(model)  # before any prediction
    out = Path(out)
    path = Path(sequences)
    fasta = path.is_file() and is_fasta(path)  # a missing file: the reader's error below
    lines = None if fasta else line_total(path)  # a table's rows + its header (an upper bound)
    resized, n = np.zeros(2, dtype=np.int64), 0
    bar = progress_bar(lines - 1 if lines else None, "predict", progress, "sequences")
    with atomic_open(out) as fh, bar as advance:
        for i, (block, where) in enumerate(
            iter_sequence_blocks(path, sequence_column, block_rows)
        ):
            seqs = block[sequence_column].astype(str).tolist()
            values, counts = _sequence_values(model, seqs, where, batch_size, rc, advance)
            resized, n = resized + counts, n + len(seqs)
            rows = result_frame(block[["name"]] if fasta else block, values, model.targets)
            write_rows(add_calls(rows, model) if calls else rows, fh, out, header=i == 0)
    if resized.any():
        warnings.warn(
            f"{path.name}: of {n} sequences, {resized[0]} were shorter than the model's input "
            f"length ({model.input_length} bp) and padded with N, {resized[1]} longer and "
            "cropped around their centres",
            stacklevel=2,
        )
    return out


def predict_regions(
    model: PretrainedModel,
    genome: Genome | str | Path,
    regions: pd.DataFrame | str | Path,
    batch_size: int = 256,
    rc: RC = False,
    tile_regions: Tile = "auto",
    stride: int | None = None,
    aggregate: Aggregate = "mean",
    use_strand: bool = True,
    on_invalid: Literal["error", "drop", "pad"] = "error",
    progress: bool = True,
) -> pd.DataFrame:
    """Predict for genomic regions (a BED/TSV path or a DataFrame with chrom, start, end).

    Args:
        model: a pretrained model.
        genome: a :class:`Genome` or a FASTA path.
        regions: the regions; checked against the genome (``on_invalid`` as in
            :func:`seqnn.data.intervals.validate_intervals`).
        batch_size: windows per forward pass.
        rc: average each window with its reverse complement.
        tile_regions: cut each region into input-length windows (step ``stride``, default
            the input length; the last window ends at the region's end) and aggregate;
            ``"auto"`` (default) tiles the regions longer than the input length (a shorter
            one is one window centred on it either way), ``False`` scores only the central
            window of each.
        stride: the step between tiled windows.
        aggregate: ``"mean"`` or ``"max"`` over a region's windows.
        use_strand: reverse-complement regions on the ``-`` strand (when a strand column
            exists), as the training data did.
        on_invalid: ``"error"``, ``"drop"`` or ``"pad"`` (N past contig ends).
        progress: show a progress bar on stderr (only when it is a terminal).

    Returns:
        The regions' columns (without the file's line numbers) then one column
        ``<target>_pred`` per target.
    """
    check_rc(model, rc)
    check_tiling(tile_regions, stride, aggregate)
    genome, table = prepare_regions(genome, regions, on_invalid, use_strand)
    windows = plan_windows(table, model.input_length, tile_regions, stride)
    with progress_bar(len(windows), "predict", progress) as advance:
        values = _window_values(
            model, genome, windows, batch_size, rc, aggregate, use_strand, advance
        )
    return result_frame(table, values, model.targets)


def predict_regions_to_file(
    model: PretrainedModel,
    genome: Genome | str | Path,
    regions: str | Path,
    out: str | Path,
    batch_size: int = 256,
    rc: RC = False,
    tile_regions: Tile = "auto",
    stride: int | None = None,
    aggregate: Aggregate = "mean",
    use_strand: bool = True,
    on_invalid: Literal["error", "drop", "pad"] = "error",
    calls: bool = False,
    progress: bool = True,
    chunk_bytes: int = 1 << 22,
) -> Path:
    """:func:`predict_regions` streamed from a regions file to a table file (seqnn-predict).

    The regions are read a block at a time (:func:`seqnn.data.intervals.iter_intervals`),
    checked, predicted and their rows appended to a temp file, renamed to ``out`` once all
    are written (an error or an interrupt leaves no ``out``). Memory holds one block of
    regions and rows (``chunk_bytes`` of the file, ~100,000 BED lines), so 10,000 and
    10,000,000 regions need the same. The rows and columns are those of
    :func:`predict_regions` + :func:`write_table` (+ :func:`add_calls` with ``calls``).
    A bad region stops the run at its block (``on_invalid="error"``): rows are not written
    out of order, and the messages count the problems of that block.

    Args:
        model, genome, batch_size, rc, tile_regions, stride: as in :func:`predict_regions`.
        aggregate, use_strand, on_invalid, progress: as in :func:`predict_regions`.
        regions: a BED / narrowPeak / TSV / CSV file (plain or gzip).
        out: the table (TSV; CSV for ``.csv``).
        calls: add the 0/1 ``<target>_call`` columns (:func:`add_calls`).
        chunk_bytes: the size of a block of the regions file.

    Returns:
        ``out``.
    """
    check_rc(model, rc)
    check_tiling(tile_regions, stride, aggregate)
    if calls:
        check_calls(model)  # before any prediction
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    out = Path(out)
    total = None if tile_regions is True else line_total(regions)  # lines: an upper bound
    with atomic_open(out) as fh, progress_bar(total, "predict", progress) as advance:
        blocks = iter_intervals(regions, chunk_bytes=chunk_bytes)
        for i, block in enumerate(blocks):
            _, table = prepare_regions(genome, block, on_invalid, use_strand)
            windows = plan_windows(table, model.input_length, tile_regions, stride)
            values = _window_values(
                model, genome, windows, batch_size, rc, aggregate, use_strand, advance
            )
            rows = result_frame(table, values, model.targets)
            write_rows(add_calls(rows, model) if calls else rows, fh, out, header=i == 0)
    return out


def tiles_needed(tile_regions: Tile, table: pd.DataFrame, length: int) -> bool:
    """Whether these regions go through tiling: always for ``True``, never for ``False``,
    and for ``"auto"`` when one of them is longer than the input length (a region that fits
    gets its centred window either way, so the result is the same)."""
    if tile_regions == "auto":
        return bool(((table["end"] - table["start"]) > length).any())
    return bool(tile_regions)


def plan_windows(
    table: pd.DataFrame, length: int, tile_regions: Tile = "auto", stride: int | None = None
) -> pd.DataFrame:
    """The input-length windows a table of regions is predicted on, the one rule of every
    region path (one device or several): tiled windows with a ``_region`` column (the row of
    the region each belongs to) when :func:`tiles_needed`, else one centred window per region.
    :func:`aggregate_windows` turns the windows' predictions back into one row per region."""
    tiled = tiles_needed(tile_regions, table, length)
    return region_windows(table, length, tiled, stride)


def aggregate_windows(
    values: np.ndarray, windows: pd.DataFrame, aggregate: Aggregate = "mean"
) -> np.ndarray:
    """(n_windows, T) predictions -> (n_regions, T): the mean or max of each region's windows
    when ``windows`` are tiled (:func:`plan_windows`), else ``values`` as they are."""
    if "_region" not in windows.columns or not len(windows):
        return values
    grouped = pd.DataFrame(values).groupby(windows["_region"].to_numpy(), sort=True)
    return (grouped.mean() if aggregate == "mean" else grouped.max()).to_numpy(np.float32)


def check_tiling(tile_regions: Tile, stride: int | None, aggregate: str) -> None:
    """A clear error for a ``tile`` / ``stride`` / ``aggregate`` setting that cannot apply."""
    if tile_regions not in (True, False, "auto"):
        raise PredictError(f"tile must be true, false or auto, got {tile_regions!r}")
    if aggregate not in ("mean", "max"):
        raise PredictError(f"aggregate must be 'mean' or 'max', got {aggregate!r}")
    if tile_regions is False and (aggregate != "mean" or stride is not None):
        given = f"aggregate={aggregate!r}" if aggregate != "mean" else f"stride={stride}"
        raise PredictError(
            f"{given} acts on tiled regions: pass tile_regions=True (seqnn-predict: tile=true); "
            "untiled, each region is one window centred on it"
        )


def _window_values(
    model: PretrainedModel,
    genome: Genome,
    windows: pd.DataFrame,
    batch_size: int,
    rc: RC,
    aggregate: Aggregate,
    use_strand: bool,
    advance: Callable[[int], None],
) -> np.ndarray:
    """(n_regions, T) float32: the windows' predictions, aggregated per region when tiled."""
    values = np.empty((len(windows), len(model.targets)), dtype=np.float32)
    for sl, codes in _window_batches(genome, windows, batch_size, use_strand):
        values[sl] = predict_codes(model, codes, rc)
        advance(len(codes))
    return aggregate_windows(values, windows, aggregate)


@torch.inference_mode()
def predict_profiles(
    model: PretrainedModel,
    genome: Genome | str | Path,
    regions: pd.DataFrame | str | Path,
    batch_size: int = 256,
    rc: bool = False,
    use_strand: bool = True,
    on_invalid: Literal["error", "drop", "pad"] = "error",
    progress: bool = True,
) -> tuple[pd.DataFrame, np.ndarray]:
    """A profile model's per-position expected counts for genomic regions.

    Each region is resized around its centre to the model's input length; the model predicts
    the central ``L_out`` positions of that window.

    Args:
        model: a pretrained model with task ``"profile"``.
        genome, regions, batch_size, use_strand, on_invalid, progress: as in
            :func:`predict_regions`.
        rc: average with the reverse complement's profile (flipped back: for unstranded
            tracks).

    Returns:
        (table, profiles): the regions' columns plus ``profile_start`` / ``profile_end``, the
        genomic span of the predicted positions; and (N, T, L_out) float32 counts, in the
        window's reading direction (reverse-complemented for ``-`` regions with
        ``use_strand``).
    """
    check_rc(model, rc)
    genome, table = prepare_regions(genome, regions, on_invalid, use_strand)
    windows = region_windows(table, model.input_length, False, None)
    chunks = []
    with progress_bar(len(windows), "predict profiles", progress) as advance:
        for _, codes in _window_batches(genome, windows, batch_size, use_strand):
            x = torch.from_numpy(np.ascontiguousarray(codes)).to(model.device)
            y = model.profiles(x)
            if rc:
                y = (y + model.profiles(reverse_complement_codes(x)).flip(-1)) / 2
            chunks.append(y.cpu().numpy())
            advance(len(codes))
    n_out = chunks[0].shape[-1] if chunks else 0
    profiles = np.concatenate(chunks) if chunks else np.zeros((0, len(model.targets), 0))
    out = table.drop(columns=[LINE], errors="ignore").reset_index(drop=True)
    out["profile_start"] = windows["start"].to_numpy() + (model.input_length - n_out) // 2
    out["profile_end"] = out["profile_start"] + n_out
    return out, profiles.astype(np.float32, copy=False)


def prepare_regions(
    genome: Genome | str | Path,
    regions: pd.DataFrame | str | Path,
    on_invalid: str = "error",
    use_strand: bool = False,
) -> tuple[Genome, pd.DataFrame]:
    """Open the genome and read + check the regions against it (and, with ``use_strand``,
    their strand column, if any: only ``+``, ``-`` and ``.`` are strands)."""
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    table = regions if isinstance(regions, pd.DataFrame) else read_intervals(regions)
    table = validate_intervals(table, genome, on_invalid=on_invalid)
    if use_strand and "strand" in table.columns:
        strand_flags(table)  # a spelling read as '+' would predict the wrong strand
    return genome, table


def region_windows(
    table: pd.DataFrame, length: int, tiled: bool, stride: int | None
) -> pd.DataFrame:
    cols = [c for c in ("chrom", "start", "end", "strand") if c in table.columns]
    frame = table[cols].reset_index(drop=True)
    if not tiled:
        return resize(frame, length)
    if stride is not None and stride <= 0:
        raise PredictError(f"stride must be a positive number of bp, got {stride}")
    frame["_region"] = np.arange(len(frame))
    windows = tile(frame, length, stride or length, keep_last=True)
    # a short last window is moved back to end at the region's end (or centred if the
    # region is shorter than one window): every window has the model's length
    region_end = frame["end"].to_numpy()[windows["_region"].to_numpy()]
    start = np.minimum(windows["start"].to_numpy(), region_end - length)
    short = frame["end"].to_numpy() - frame["start"].to_numpy() < length
    centred = resize(frame, length)["start"].to_numpy()
    start = np.where(short[windows["_region"].to_numpy()], centred[windows["_region"]], start)
    windows["start"], windows["end"] = start, start + length
    return windows


def _window_batches(
    genome: Genome, windows: pd.DataFrame, batch_size: int, use_strand: bool
) -> Iterator[tuple[slice, np.ndarray]]:
    """(slice, (B, L) codes) for consecutive batches of equal-length windows."""
    contig = contig_indices(windows["chrom"], genome.names)
    starts = windows["start"].to_numpy(np.int64)
    length = int(windows["end"].iloc[0] - windows["start"].iloc[0]) if len(windows) else 0
    reverse = (
        windows["strand"].to_numpy() == "-"
        if use_strand and "strand" in windows.columns
        else np.zeros(len(windows), dtype=bool)
    )
    buffer = None
    for i in range(0, len(windows), _check_batch_size(batch_size)):
        sl = slice(i, i + batch_size)
        buffer = genome.fetch_batch(contig[sl], starts[sl], length, reverse[sl], out=buffer)
        yield sl, buffer


def result_frame(table: pd.DataFrame, values: np.ndarray, targets: list[str]) -> pd.DataFrame:
    out = table.drop(columns=[LINE], errors="ignore").reset_index(drop=True)
    # an earlier run's output given as regions holds <target>_pred: this run's replaces it
    columns = prediction_columns(targets)
    out = out.drop(columns=[c for c in columns if c in out.columns])
    for j, column in enumerate(columns):
        out[column] = values[:, j]
    return out


def add_calls(table: pd.DataFrame, model: PretrainedModel) -> pd.DataFrame:
    """Add a 0/1 column ``<target>_call`` after the predictions (``<target>_pred``): 1 where a
    probability is above the model's decision threshold (its spec's ``threshold``, the
    ``task.threshold`` it was trained with; 0.5 when the spec has none).

    Args:
        table: the output of :func:`predict_regions` or :func:`predict_sequences`.
        model: the model that predicted it (binary or multilabel).
    """
    check_calls(model)
    out = table.copy()
    columns = prediction_columns(model.targets)
    missing = [c for c in columns if c not in out.columns]
    if missing:
        raise PredictError(f"calls: the table has no prediction column {missing[0]!r}")
    for target, column in zip(model.targets, columns, strict=True):
        out[f"{target}_call"] = (out[column].to_numpy() > model.threshold).astype(np.int8)
    return out


def check_calls(model: PretrainedModel) -> None:
    if not model.kind.calls:
        raise PredictError(
            f"calls need a {kind_names(kinds_where(calls=True), 'or')} model; this one is "
            f"{model.spec.task!r} "
            "(its outputs are not probabilities of yes/no labels)"
        )


def _check_batch_size(batch_size: int) -> int:
    if batch_size <= 0:
        raise PredictError(f"batch_size must be positive, got {batch_size}")
    return batch_size


def write_table(table: pd.DataFrame, out: Path) -> None:
    """TSV (CSV for ``.csv``) written to a temp file and renamed: never a half file."""
    with atomic_open(out) as fh:
        write_rows(table, fh, Path(out))


def write_rows(table: pd.DataFrame, fh: IO[str], out: Path, header: bool = True) -> None:
    """Append ``table``'s rows to an open output ``out`` (TSV; CSV for ``.csv``) in the one
    format of seqnn's tables; ``header=False`` for the later blocks of a streamed table."""
    sep = "," if out.suffix.lower() == ".csv" else "\t"
    table.to_csv(fh, sep=sep, index=False, header=header, float_format="%.6g")
