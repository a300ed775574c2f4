"""Genome-wide scans: a model's prediction along every contig, as bedGraph or bigWig tracks.

Each contig is cut into bins of ``stride`` bp, ``[k * stride, (k + 1) * stride)`` (the last one
ends at the contig end), and bin ``k`` gets the prediction of the input-length window centred
on the bin's centre (N-padded past the contig ends). Bins are predicted and written in chunks,
so memory does not grow with the genome; the track is written to a temporary file and renamed
when complete (an interrupted scan, SIGINT or SIGTERM included, leaves no track and no temp
file). Example::

    scan_genome(load_pretrained("ecoli-sigma70"), "ecoli.fa", "sigma70.bedgraph", stride=10)

Methods (``method=``):

* ``"auto"`` (default): the fully convolutional pass of :mod:`seqnn.inference.fullconv` when it
  provably equals the window path (a valid-padded BassetCNN / DilatedResNet) and costs fewer
  multiply-adds per bp at this stride, else the window path, with one log line saying why (zero
  padding, a recurrent layer, attention, an unknown module; a stride near the input length).
* ``"windows"``: every window predicted on its own (batched); exact for any network.
* ``"contextual"``: the fully convolutional pass even for a zero-padded network, whose windows
  then see their real neighbours instead of their own edge zeros: a different function
  (its agreement with the window path is in docs/inference.md).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np

from seqnn.atomic import atomic_path, signals_raise
from seqnn.data.genome import Genome
from seqnn.data.intervals import centred_start
from seqnn.inference.fullconv import (
    CHUNK_BP,
    Plan,
    check_chunk,
    exactness_reason,
    plan_network,
    predict_contig,
    trunk_costs,
)
from seqnn.inference.predict import PredictError, autocast, check_rc, predict_codes
from seqnn.inference.pretrained import PretrainedModel
from seqnn.progress import progress_bar

BIGWIG_SUFFIXES = (".bw", ".bigwig")
METHODS = ("auto", "windows", "contextual")
Method = Literal["auto", "windows", "contextual"]
log = logging.getLogger(__name__)


def scan_genome(
    model: PretrainedModel,
    genome: Genome | str | Path,
    out: str | Path,
    stride: int,
    batch_size: int = 256,
    rc: bool | str = False,
    contigs: list[str] | None = None,
    chunk_bins: int = 65536,
    progress: bool = True,
    method: Method = "auto",
    chunk_bp: int = CHUNK_BP,
) -> list[Path]:
    """Predict along whole contigs and write one track per target.

    Args:
        model: a pretrained model.
        genome: a :class:`Genome` or a FASTA path.
        out: ``track.bedgraph`` (any suffix but ``.bw``/``.bigwig``) or ``track.bw`` (needs
            pyBigWig: ``pip install seqnn[bigwig]``). A model with several targets writes
            ``track.<target>.bedgraph`` for each.
        stride: bin width in bp, from 1 to the model's input length.
        batch_size: windows per forward pass.
        rc: ``True``/``"mean"`` averages each window with its reverse complement, ``"max"``
            takes the larger (a strand-specific model's signal on either strand).
        contigs: the contigs to scan (default: all, in FASTA order).
        chunk_bins: bins predicted before each write (bounds memory).
        progress: show a progress bar over all bins on stderr (only when it is a terminal).
        method: ``"auto"``, ``"windows"`` or ``"contextual"`` (see the module docstring).
        chunk_bp: fully convolutional methods: bp of window starts per trunk pass (at least
            the input length; bounds memory).

    Returns:
        The track files written.
    """
    plan = choose_method(model, method, stride, chunk_bp)
    check_rc(model, rc)
    genome, names = scan_contigs(genome, contigs)
    out = Path(out)
    paths = track_paths(out, model.targets)
    total = sum(n_bins(genome.sizes[name], int(stride)) for name in names)
    with contextlib.ExitStack() as stack:
        stack.enter_context(signals_raise())  # SIGTERM unwinds like Ctrl-C: temp files go
        writers = [stack.enter_context(TrackWriter(p, genome, names)) for p in paths]
        advance = stack.enter_context(progress_bar(total, "scan", progress, "bins"))
        for chrom, starts, ends, values in scan_chunks(
            model, genome, names, int(stride), plan, batch_size, rc, chunk_bins, chunk_bp, advance
        ):
            for j, writer in enumerate(writers):
                writer.write(chrom, starts, ends, values[:, j])
    return paths


def choose_method(
    model: PretrainedModel, method: str, stride: int, chunk_bp: int = CHUNK_BP
) -> Plan | None:
    """Check the scan settings and pick the path: a fully convolutional :class:`Plan`, or
    None for the window path (``auto`` logs one line saying why).

    Raises:
        PredictError: a bad ``stride``, ``method`` or ``chunk_bp``, a model without a fixed
            input length, or ``contextual`` for a network that has no convolutional pass.
    """
    length = model.spec.input_length
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        raise PredictError(
            f"the model has no fixed input length (input_length={length!r}): a scan centres "
            "one window of the model's input_length on every bin; save the model with "
            "input_length=<bp>"
        )
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride <= 0:
        raise PredictError(f"stride must be a positive number of bp, got {stride}")
    if stride > length:
        raise PredictError(
            f"stride={stride} is larger than the model's input length ({length} bp): bases "
            f"between windows would be seen by none; give stride <= {length}"
        )
    if method not in METHODS:
        raise PredictError(f"method={method!r}: give one of {', '.join(METHODS)}")
    if method == "windows":
        return None
    plan = plan_network(model.net, length)
    reason = exactness_reason(plan)
    if method == "contextual" and isinstance(plan, str):
        raise PredictError(f"method=contextual: no convolutional pass for this model: {plan}")
    if method == "auto" and reason:
        log.info("scan: method=windows (the whole-contig pass would not be exact: %s)", reason)
        return None
    if method == "auto":
        fast, windows = trunk_costs(plan, length, int(stride))
        if fast >= windows:
            log.info(
                "scan: method=windows (at stride %d the whole-contig pass would cost %.3g "
                "multiply-adds per bp, the windows %.3g)",
                stride,
                fast,
                windows,
            )
            return None
    check_chunk(plan, chunk_bp, length)
    return plan


def scan_contigs(
    genome: Genome | str | Path, contigs: list[str] | None
) -> tuple[Genome, list[str]]:
    """The genome and the contigs to scan (default: all, in FASTA order), checked.

    Raises:
        PredictError: a contig the genome does not have.
    """
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    names = contigs or genome.names
    for name in names:
        if name not in genome:
            raise PredictError(genome.unknown_contig_message(name))
    return genome, list(names)


def n_bins(size: int, stride: int) -> int:
    """Number of bins of a contig of ``size`` bp."""
    return -(-size // stride)


def scan_chunks(
    model: PretrainedModel,
    genome: Genome,
    names: list[str],
    stride: int,
    plan: Plan | None,
    batch_size: int = 256,
    rc: bool | str = False,
    chunk_bins: int = 65536,
    chunk_bp: int = CHUNK_BP,
    advance: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """The scan's values before they are written, chunk by chunk of bins.

    Args:
        model, genome, stride, batch_size, rc, chunk_bins, chunk_bp: as in
            :func:`scan_genome`.
        names: the contigs.
        plan: :func:`choose_method`'s answer (None: the window path).
        advance: called with the number of bins done after each chunk.

    Yields:
        ``(chrom, starts (n,), ends (n,), values (n, T) float32)`` per chunk.
    """
    advance = advance or (lambda n: None)
    for chrom in names:
        size = genome.sizes[chrom]
        for first in range(0, n_bins(size, stride), chunk_bins):
            bins = np.arange(first, min(first + chunk_bins, n_bins(size, stride)), dtype=np.int64)
            starts, ends, values = chunk_values(
                model, genome, chrom, bins, stride, plan, batch_size, rc, chunk_bp, advance
            )
            yield chrom, starts, ends, values


def chunk_values(
    model: PretrainedModel,
    genome: Genome,
    chrom: str,
    bins: np.ndarray,
    stride: int,
    plan: Plan | None,
    batch_size: int = 256,
    rc: bool | str = False,
    chunk_bp: int = CHUNK_BP,
    advance: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk of consecutive bins of one contig: the fully convolutional pass when
    ``plan`` is given, else batches of windows; under bf16 autocast on a GPU when the model
    was trained so (:func:`seqnn.inference.predict.autocast`).

    Args:
        model, genome, stride, plan, batch_size, rc, chunk_bp, advance: as in
            :func:`scan_chunks`.
        chrom: the contig.
        bins: (n,) int64 consecutive bin indices of the contig.

    Returns:
        ``starts (n,), ends (n,), values (n, T) float32``.
    """
    advance = advance or (lambda n: None)
    size, contig, length = genome.sizes[chrom], genome.names.index(chrom), model.input_length
    starts = bins * stride
    ends = np.minimum(starts + stride, size)
    window = centred_start(starts, ends, length)
    with autocast(model):
        if plan is not None:
            fetch = _contig_fetcher(genome, contig)
            values = predict_contig(model, plan, fetch, window, rc, batch_size, chunk_bp)
            advance(len(bins))
            return starts, ends, values
        values = np.empty((len(bins), len(model.targets)), dtype=np.float32)
        for i in range(0, len(bins), batch_size):
            sl = slice(i, i + batch_size)
            index = np.full(len(window[sl]), contig, dtype=np.int64)
            codes = genome.fetch_batch(index, window[sl], length)
            values[sl] = predict_codes(model, codes, rc)
            advance(len(codes))
    return starts, ends, values


def _contig_fetcher(genome: Genome, contig: int):
    """``fetch(start, length)`` -> (length,) codes of one contig, N-padded past its ends."""
    index = np.array([contig], dtype=np.int64)
    return lambda start, width: genome.fetch_batch(index, np.array([start]), width)[0]


def track_paths(out: Path, targets: list[str]) -> list[Path]:
    """One file per target, ``<out stem>.<target><suffix>``; a target name that is not a
    file name (``a/b``, ``..``) has its other characters replaced by ``_``."""
    if len(targets) == 1:
        return [out]
    names = [re.sub(r"[^A-Za-z0-9_.+-]", "_", t).strip(".") or "_" for t in targets]
    if len(set(names)) < len(names):
        raise PredictError(
            f"targets {targets} give the same track file name twice ({names}): scan them "
            "one model per target, or rename the targets in seqnn.json"
        )
    return [out.with_name(f"{out.stem}.{n}{out.suffix}") for n in names]


class TrackWriter:
    """bedGraph or bigWig writer into a temp file, renamed on a clean exit, removed on error."""

    def __init__(self, path: Path, genome: Genome, names: list[str]) -> None:
        self.path = path
        self.bigwig = path.suffix.lower() in BIGWIG_SUFFIXES
        if self.bigwig:
            try:
                import pyBigWig  # noqa: F401
            except ImportError:
                raise PredictError(
                    f"{path}: writing bigWig needs pyBigWig (pip install 'seqnn[bigwig]'); or "
                    "write a .bedgraph"
                ) from None
        self.header = [(n, int(genome.sizes[n])) for n in names]
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> TrackWriter:
        tmp = self.stack.enter_context(atomic_path(self.path))
        if self.bigwig:
            import pyBigWig

            self.handle = pyBigWig.open(tmp, "w")
            self.handle.addHeader(self.header)
            self.stack.callback(self.handle.close)  # closed before the rename
        else:
            self.handle = self.stack.enter_context(open(tmp, "w"))
        return self

    def write(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        if self.bigwig:
            self._write_bigwig(chrom, starts, ends, values.astype(np.float64))
            return
        # one %-format over the whole chunk: a single C loop, no Python code per line
        # (1.5x the per-line f-strings; docs/speed.md)
        fields: list = [None] * (3 * len(starts))
        fields[0::3], fields[1::3], fields[2::3] = starts.tolist(), ends.tolist(), values.tolist()
        line = chrom.replace("%", "%%") + "\t%d\t%d\t%.6g\n"
        self.handle.write(line * len(starts) % tuple(fields))

    def _write_bigwig(self, chrom: str, starts, ends, values) -> None:
        """Equal back-to-back bins as one fixed-step record (numpy values, ~3x the per-entry
        form); the contig's shorter last bin, or irregular bins, entry by entry."""
        width = int(ends[0] - starts[0])
        regular = bool(
            np.all(np.diff(starts) == width) and np.all(ends[:-1] - starts[:-1] == width)
        )
        n = len(starts) - int(ends[-1] - starts[-1] != width) if regular else 0
        if n:
            self.handle.addEntries(
                chrom, int(starts[0]), values=values[:n], span=width, step=width
            )
        if n < len(starts):
            self.handle.addEntries(
                [chrom] * (len(starts) - n),
                starts[n:].tolist(),
                ends=ends[n:].tolist(),
                values=values[n:].tolist(),
            )

    def __exit__(self, *exc) -> bool | None:
        return self.stack.__exit__(*exc)
