"""Genome-wide scans: a model's prediction along every contig, as bedGraph or bigWig tracks.

Each contig is cut into bins of ``stride`` bp, ``[k * stride, (k + 1) * stride)`` (the last one
ends at the contig end), and bin ``k`` gets the prediction of the input-length window centred
on the bin's centre (N-padded past the contig ends). Bins are predicted and written in chunks,
so memory does not grow with the genome; the track is written to a temporary file and renamed
when complete. Example::

    scan_genome(load_pretrained("ecoli-sigma70"), "ecoli.fa", "sigma70.bedgraph", stride=10)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from seqnn.atomic import atomic_path
from seqnn.data.genome import Genome
from seqnn.data.intervals import centred_start
from seqnn.inference.predict import PredictError, check_rc, predict_codes
from seqnn.inference.pretrained import PretrainedModel
from seqnn.progress import progress_bar

BIGWIG_SUFFIXES = (".bw", ".bigwig")


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
) -> list[Path]:
    """Predict along whole contigs and write one track per target.

    Args:
        model: a pretrained model.
        genome: a :class:`Genome` or a FASTA path.
        out: ``track.bedgraph`` (any suffix but ``.bw``/``.bigwig``) or ``track.bw`` (needs
            pyBigWig: ``pip install seqnn[bigwig]``). A model with several targets writes
            ``track.<target>.bedgraph`` for each.
        stride: bin width in bp (> 0).
        batch_size: windows per forward pass.
        rc: ``True``/``"mean"`` averages each window with its reverse complement, ``"max"``
            takes the larger (a strand-specific model's signal on either strand).
        contigs: the contigs to scan (default: all, in FASTA order).
        chunk_bins: bins predicted before each write (bounds memory).
        progress: show a progress bar over all bins on stderr (only when it is a terminal).

    Returns:
        The track files written.
    """
    if stride is None or int(stride) <= 0:
        raise PredictError(f"stride must be a positive number of bp, got {stride}")
    check_rc(model, rc)
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    names = contigs or genome.names
    for name in names:
        if name not in genome:
            raise PredictError(genome.unknown_contig_message(name))
    out = Path(out)
    paths = _track_paths(out, model.targets)
    total = sum(n_bins(genome.sizes[name], int(stride)) for name in names)
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(_TrackWriter(p, genome, names)) for p in paths]
        advance = stack.enter_context(progress_bar(total, "scan", progress, "bins"))
        for chrom, starts, ends, values in _scan_chunks(
            model, genome, names, int(stride), batch_size, rc, chunk_bins, advance
        ):
            for j, writer in enumerate(writers):
                writer.write(chrom, starts, ends, values[:, j])
    return paths


def n_bins(size: int, stride: int) -> int:
    """Number of bins of a contig of ``size`` bp."""
    return -(-size // stride)


def _scan_chunks(model, genome, names, stride, batch_size, rc, chunk_bins, advance) -> Iterator:
    length = model.input_length
    for chrom in names:
        size = genome.sizes[chrom]
        contig = genome.names.index(chrom)
        for first in range(0, n_bins(size, stride), chunk_bins):
            bins = np.arange(first, min(first + chunk_bins, n_bins(size, stride)), dtype=np.int64)
            starts = bins * stride
            ends = np.minimum(starts + stride, size)
            window = centred_start(starts, ends, length)
            values = np.empty((len(bins), len(model.targets)), dtype=np.float32)
            for i in range(0, len(bins), batch_size):
                sl = slice(i, i + batch_size)
                index = np.full(len(window[sl]), contig, dtype=np.int64)
                codes = genome.fetch_batch(index, window[sl], length)
                values[sl] = predict_codes(model, codes, rc)
                advance(len(codes))
            yield chrom, starts, ends, values


def _track_paths(out: Path, targets: list[str]) -> list[Path]:
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


class _TrackWriter:
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

    def __enter__(self) -> _TrackWriter:
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
            self.handle.addEntries(
                [chrom] * len(starts),
                starts.tolist(),
                ends=ends.tolist(),
                values=values.astype(np.float64).tolist(),
            )
            return
        lines = [
            f"{chrom}\t{s}\t{e}\t{v:.6g}\n"
            for s, e, v in zip(starts.tolist(), ends.tolist(), values.tolist(), strict=True)
        ]
        self.handle.write("".join(lines))

    def __exit__(self, *exc) -> bool | None:
        return self.stack.__exit__(*exc)
