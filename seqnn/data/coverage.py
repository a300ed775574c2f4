"""Coverage targets from bigWig tracks: per-base or binned profiles, or one value per window.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T.
Coverage targets line up with them: profiles are (batch, n_tracks, length_out), scalars
(batch, n_tracks).

:class:`CoverageTargets` is a callable over one batch of windows,
``targets(chroms, starts, ends, strands) -> np.ndarray``; pass it to
:class:`~seqnn.data.datasets.IntervalDataset` as ``targets=`` and it is called with the same
(possibly shifted) windows as the sequence fetch. It keeps only the bigWig paths; each process
(each DataLoader worker) opens its own handles on first use, so pickling it is cheap and memory
does not grow with the genome.

With ``cache=True`` (the default) the bigWigs are read once into a
:class:`~seqnn.data.coverage_store.CoverageStore` (binned float32 values, the tracks of a bin
side by side, memory-mapped; built on first use, rebuilt when a bigWig changes) and a batch is
one numpy gather of contiguous rows.
The store's grid is ``store_bin_size`` (default: ``bin_size``): a window whose first target
base (after the ``target_length`` crop, mirrored on '-') lies on that grid is read from the
store, exactly; any other window (a tiling stride or a ``RandomShift`` that is not a multiple
of the grid) is read directly from the bigWig for that batch, with a warning, never from
misaligned bins. ``store_bin_size=1`` (per-base, 4 bytes per base and track) puts every window
on the grid. ``cache=False`` reads every window directly (one-off use, no files written).

Missing coverage (bases without data in the bigWig, contigs it lacks, bases past a contig end)
is NaN in the file. ``nan="zero"`` (the default) reads it as 0; ``nan="mask"`` keeps it as NaN
in the targets, so a loss can ignore those positions (``mask = ~torch.isnan(y)``); a bin or a
window with any missing base is then NaN as a whole.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from seqnn.data.coverage_store import CoverageStore, TargetError, open_bigwig
from seqnn.data.genome import Genome, _reverse_flags, suggest_contig
from seqnn.kinds import REGRESSION

Mode = Literal["profile", "scalar"]
Aggregation = Literal["mean", "sum", "max", "log_count"]
Transform = Literal["none", "log1p", "clip"]
NanRule = Literal["zero", "mask"]

_REDUCE = {"mean": np.mean, "sum": np.sum, "max": np.max}


class CoverageTargets:
    """Coverage of one or many bigWig tracks over batches of genome windows.

    Args:
        paths: one bigWig path or a list of them (one track each).
        names: the track names (default: the file stems).
        mode: ``"profile"`` -> (B, n_tracks, target_length // bin_size) values along the
            window; ``"scalar"`` -> (B, n_tracks), one value per window and track.
        bin_size: profile only: bases per bin (1: per-base values); must divide the
            target length.
        aggregation: how bases are combined in a bin (profile: mean, sum, max) or a window
            (scalar: mean, sum, max, or log_count = log(1 + sum)).
        target_length: the central bases of each window the targets cover (e.g. input 2114
            bp -> 1000 bp of targets); None: the whole window.
        transform: applied last: ``"none"``, ``"log1p"``, or ``"clip"`` (at ``clip_max``).
        clip_max: the upper bound for ``transform="clip"``.
        nan: missing coverage: ``"zero"`` reads it as 0, ``"mask"`` keeps NaN (see module).
        cache: read through coverage stores (see module); False: one pyBigWig read per
            window and track.
        store_bin_size: the stores' grid in bases (default ``bin_size``); must divide
            ``bin_size`` (profiles) and the target length. Scalar targets over long windows
            read fastest with a coarse grid (e.g. 100 for 1-kb windows on a 100-bp tiling).
        cache_dir: folder for the stores (default ``$SEQNN_CACHE_DIR``, else beside each
            bigWig).

    Windows on the '-' strand are reverse-complemented by the dataset, so their profiles are
    reversed along the length (the track order is kept): position j of the targets is the
    coverage under base j of the input the model sees.
    """

    target_kind = REGRESSION.name  # what IntervalDataset(targets=...) trains on

    def __init__(
        self,
        paths: str | Path | Sequence[str | Path],
        names: Sequence[str] | None = None,
        mode: Mode = "profile",
        bin_size: int = 1,
        aggregation: Aggregation = "mean",
        target_length: int | None = None,
        transform: Transform = "none",
        clip_max: float | None = None,
        nan: NanRule = "zero",
        cache: bool = True,
        store_bin_size: int | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        single = isinstance(paths, str | Path)
        self.paths = [Path(p).expanduser().absolute() for p in ([paths] if single else paths)]
        self.names = [p.stem for p in self.paths] if names is None else [str(n) for n in names]
        self.mode, self.bin_size, self.aggregation = mode, int(bin_size), aggregation
        self.target_length = None if target_length is None else int(target_length)
        self.transform, self.clip_max, self.nan = transform, clip_max, nan
        self.cache, self.cache_dir = bool(cache), cache_dir
        self.store_bin_size = int(store_bin_size or self.bin_size)
        _check_options(self)
        for path in self.paths:
            if not path.is_file():
                raise TargetError(f"{path}: no such bigWig file: check the path")
        self._handles: list | None = None
        self._pid: int | None = None
        self._store: CoverageStore | None = None
        self._warned = False

    def __repr__(self) -> str:
        files = ", ".join(p.name for p in self.paths)
        return f"CoverageTargets([{files}], mode={self.mode!r}, bin_size={self.bin_size})"

    @property
    def target_names(self) -> list[str]:
        """One name per track (the model's output channels)."""
        return list(self.names)

    @property
    def n_targets(self) -> int:
        """The number of tracks."""
        return len(self.paths)

    def __getstate__(self) -> dict:
        # Open handles stay behind: each process opens its own on first use.
        return {**self.__dict__, "_handles": None, "_pid": None}

    def store(self) -> CoverageStore:
        """The open coverage store of all tracks (built on first use; see the module)."""
        if self._store is None:
            stat = "max" if self.aggregation == "max" else "sum"
            store = CoverageStore(self.paths, self.store_bin_size, stat, self.nan, self.cache_dir)
            self._store = store.open()
        return self._store

    def _open(self) -> list:
        """This process's bigWig handles, opened on first use (again after a fork)."""
        if self._handles is None or self._pid != os.getpid():
            self._handles = [open_bigwig(path) for path in self.paths]
            self._pid = os.getpid()
        return self._handles

    def check(self, genome: Genome) -> None:
        """Raise :class:`TargetError` if the bigWigs name their contigs unlike the FASTA;
        then, with ``cache``, open (build) the stores here, once, before workers start."""
        check_contig_names(genome, bigwig_paths=self.paths)
        if self.cache:
            self.store()

    def output_length(self, length: int) -> int:
        """The profile length for input windows of ``length`` bases."""
        return _target_length(self, length) // self.bin_size

    def __call__(
        self,
        chroms: Sequence[str] | np.ndarray,
        starts: Sequence[int] | np.ndarray,
        ends: Sequence[int] | np.ndarray,
        strands: Sequence | np.ndarray | None = None,
    ) -> np.ndarray:
        """Targets for one batch of equal-width windows.

        Args:
            chroms: (B,) contig names.
            starts, ends: (B,) 0-based half-open window coordinates, one width L.
            strands: (B,) '+'/'-'/'.' strings or booleans (True = '-'); None: all '+'.

        Returns:
            float32 (B, n_tracks, L_out) for profiles, (B, n_tracks) for scalars.
        """
        starts = np.atleast_1d(np.asarray(starts, dtype=np.int64))
        ends = np.atleast_1d(np.asarray(ends, dtype=np.int64))
        chroms = np.atleast_1d(np.asarray(chroms, dtype=object))
        length = _window_width(starts, ends, len(chroms))
        reverse = _reverse_flags(strands, len(starts))
        crop = _target_length(self, length)
        offset = (length - crop) // 2
        # '-' windows are read right to left: their crop is mirrored in genome coordinates
        lo = starts + np.where(reverse, length - offset - crop, offset)
        if not self.cache:
            return _finish(self, self._direct(chroms, lo, crop), reverse)
        grid = self.store_bin_size
        on_grid = (lo % grid == 0) if crop % grid == 0 else np.zeros(len(lo), dtype=np.bool_)
        if on_grid.all():
            return _finish(self, self._gather(chroms, lo, crop), reverse)
        if not self._warned:  # once per process: a RandomShift would warn every batch
            self._warned = True
            warnings.warn(
                f"CoverageTargets: {int((~on_grid).sum())} of {len(lo)} windows do not start "
                f"on the {grid}-bp grid of the coverage store: read directly from the bigWig "
                f"(slower); tile and shift windows by multiples of {grid} bp, or pass "
                "store_bin_size=1",
                stacklevel=2,
            )
        out = np.empty((len(lo), self.n_targets, *self._out_shape(crop)), dtype=np.float32)
        out[on_grid] = self._gather(chroms[on_grid], lo[on_grid], crop)
        out[~on_grid] = self._direct(chroms[~on_grid], lo[~on_grid], crop)
        return _finish(self, out, reverse)

    def _out_shape(self, crop: int) -> tuple[int, ...]:
        return (crop // self.bin_size,) if self.mode == "profile" else ()

    def _direct(self, chroms: np.ndarray, lo: np.ndarray, crop: int) -> np.ndarray:
        """(B, T, L_out) profiles or (B, T) scalars, before the transform, in genome order,
        from one pyBigWig read per window and track."""
        values = np.empty((len(lo), self.n_targets, crop), dtype=np.float32)
        for t, handle in enumerate(self._open()):
            for b, chrom in enumerate(chroms):
                try:
                    values[b, t] = _read(handle, str(chrom), int(lo[b]), crop)
                except RuntimeError as err:  # pyBigWig on a corrupt or truncated block
                    raise TargetError(
                        f"{self.paths[t]}: {chrom}:{int(lo[b])}-{int(lo[b]) + crop}: cannot "
                        f"read its values ({err}): is the bigWig complete?"
                    ) from None
        if self.nan == "zero":
            np.nan_to_num(values, copy=False, nan=0.0)
        return _reduce(self, values)

    def _gather(self, chroms: np.ndarray, lo: np.ndarray, crop: int) -> np.ndarray:
        """As :meth:`_direct`, from the store: one gather of contiguous rows (bins x tracks)
        per batch, no loop over windows. ``lo`` and ``crop`` are multiples of the store's grid."""
        grid = self.store_bin_size
        group = (self.bin_size if self.mode == "profile" else crop) // grid
        store = self.store()
        bins = store.gather(store.contig_index(chroms), lo // grid, crop // grid)  # (B, n, T)
        if group > 1:  # (B, n, T) -> (B, n / group, group, T): reduce the group axis
            bins = bins.reshape(len(lo), crop // grid // group, group, self.n_targets)
            bins = bins.max(axis=2) if store.stat == "max" else bins.sum(axis=2)
        out = np.ascontiguousarray(bins.transpose(0, 2, 1))  # (B, T, L_out)
        if self.mode == "scalar":
            out = out[..., 0]
        if self.aggregation == "mean":
            out /= np.float32(self.bin_size if self.mode == "profile" else crop)
        elif self.aggregation == "log_count":
            np.log1p(out, out=out)
        return out


def _check_options(targets: CoverageTargets) -> None:
    """Raise ValueError for an option outside its choices or a combination that cannot work."""
    t = targets
    if not t.paths:
        raise ValueError("CoverageTargets: give at least one bigWig path")
    if len(t.names) != len(t.paths):
        raise ValueError(f"CoverageTargets: {len(t.names)} names for {len(t.paths)} bigWigs")
    choices = {
        "mode": (t.mode, ("profile", "scalar")),
        "transform": (t.transform, ("none", "log1p", "clip")),
        "nan": (t.nan, ("zero", "mask")),
        "aggregation": (
            t.aggregation,
            ("mean", "sum", "max") + (("log_count",) if t.mode == "scalar" else ()),
        ),
    }
    for option, (value, allowed) in choices.items():
        if value not in allowed:
            raise ValueError(f"CoverageTargets: {option} must be one of {allowed}, got {value!r}")
    if t.bin_size < 1:
        raise ValueError(f"CoverageTargets: bin_size must be >= 1, got {t.bin_size}")
    if t.mode == "scalar" and t.bin_size != 1:
        raise ValueError("CoverageTargets: bin_size is for profiles; scalar mode takes none")
    if t.store_bin_size < 1 or (t.mode == "profile" and t.bin_size % t.store_bin_size):
        raise ValueError(
            f"CoverageTargets: store_bin_size {t.store_bin_size} must be >= 1 and divide "
            f"bin_size {t.bin_size}"
        )
    if t.transform == "clip" and t.clip_max is None:
        raise ValueError("CoverageTargets: transform='clip' needs clip_max")
    if t.target_length is not None and t.target_length < 1:
        raise ValueError(f"CoverageTargets: target_length must be >= 1, got {t.target_length}")


def _target_length(targets: CoverageTargets, length: int) -> int:
    """The cropped length for windows of ``length``, checked against the window and bins."""
    crop = length if targets.target_length is None else targets.target_length
    if crop > length:
        raise TargetError(
            f"CoverageTargets: target_length {crop} is longer than the {length} bp windows: "
            "use a target_length of at most the window length"
        )
    if crop % targets.bin_size:
        raise TargetError(
            f"CoverageTargets: bin_size {targets.bin_size} does not divide the {crop} bp of "
            f"targets: pick a bin_size that divides {crop} (or change target_length / length)"
        )
    return crop


def _window_width(starts: np.ndarray, ends: np.ndarray, n_chroms: int) -> int:
    if not n_chroms == len(starts) == len(ends):
        raise TargetError(
            f"CoverageTargets: {n_chroms} chroms, {len(starts)} starts, {len(ends)} ends: "
            "give one of each per window"
        )
    widths = ends - starts
    if len(widths) and (np.any(widths != widths[0]) or widths[0] < 1):
        i = int(np.argmax(widths != widths[0])) if widths[0] >= 1 else 0
        raise TargetError(
            f"CoverageTargets: window {i} ({starts[i]}-{ends[i]}) has width {widths[i]}, "
            f"window 0 has {widths[0]}: a batch needs one positive width"
        )
    return int(widths[0]) if len(widths) else 0


def _read(handle, chrom: str, start: int, length: int) -> np.ndarray:
    """(length,) float32 coverage of [start, start + length); NaN past the contig ends."""
    out = np.full(length, np.nan, dtype=np.float32)
    size = handle.chroms(chrom)
    if size is None:  # a contig the bigWig has no data for
        return out
    lo, hi = max(start, 0), min(start + length, size)
    if lo < hi:
        out[lo - start : hi - start] = handle.values(chrom, lo, hi, numpy=True)
    return out


def _reduce(targets: CoverageTargets, values: np.ndarray) -> np.ndarray:
    """(B, T, L) per-base values -> (B, T, L // bin) binned profiles or (B, T) scalars."""
    if targets.mode == "profile":
        n, tracks, length = values.shape
        # (B, T, L) -> (B, T, L // bin, bin): reduce over the last axis
        bins = values.reshape(n, tracks, length // targets.bin_size, targets.bin_size)
        return _REDUCE[targets.aggregation](bins, axis=-1)
    if targets.aggregation == "log_count":
        return np.log1p(values.sum(axis=-1))
    return _REDUCE[targets.aggregation](values, axis=-1)


def _finish(targets: CoverageTargets, out: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """Reduced targets in genome order -> '-' profiles reversed, then the transform."""
    if targets.mode == "profile":
        out[reverse] = out[reverse][..., ::-1]
    if targets.transform == "log1p":
        out = np.log1p(out)
    elif targets.transform == "clip":
        out = np.minimum(out, np.float32(targets.clip_max))
    return np.ascontiguousarray(out, dtype=np.float32)


# ----------------------------------------------------------------------------- contig names
def check_contig_names(
    genome: Genome,
    bed_names: Mapping[str, Iterable[str]] | Iterable[str] = (),
    bigwig_paths: Iterable[str | Path] = (),
) -> None:
    """Check that BED and bigWig files name their contigs as the FASTA does.

    Every BED contig must be in the FASTA. A bigWig may carry contigs the FASTA lacks
    (ENCODE tracks hold alt and decoy contigs a primary-assembly FASTA leaves out: harmless,
    no window asks for them), but not renamed ones (``1`` for ``chr1``, ``chrm`` for ``chrM``),
    and it must share at least one contig with the FASTA.

    Args:
        genome: the genome the windows come from.
        bed_names: file name -> the contig names used in it; or just names (source "BED").
        bigwig_paths: bigWig files.

    Raises:
        TargetError: one line per file, naming its offending contigs with a suggestion.
    """
    known = set(genome.names)
    if not isinstance(bed_names, Mapping):
        bed_names = {"BED": bed_names}
    problems = []
    for source, names in bed_names.items():
        missing = sorted({str(n) for n in names} - known)
        if missing:
            problems.append(_missing_line(str(source), missing, genome))
    for path in bigwig_paths:
        names = list(_bigwig_contigs(Path(path)))
        renamed = [n for n in names if n not in known and _renamed(n, genome.names)]
        if renamed or (names and known.isdisjoint(names)):
            missing = renamed or sorted(set(names) - known)
            problems.append(_missing_line(Path(path).name, missing, genome))
    if problems:
        raise TargetError(
            "contig names differ from the FASTA:\n  "
            + "\n  ".join(problems)
            + f"\nrename the contigs in these files to the names of {genome.path.name} "
            "(or use a FASTA named like them)"
        )


def _bigwig_contigs(path: Path) -> list[str]:
    handle = open_bigwig(path.expanduser().absolute())
    try:
        return list(handle.chroms())
    finally:
        handle.close()


def _renamed(name: str, names: Sequence[str]) -> bool:
    """Whether ``name`` is a FASTA contig under another prefix or case (``1`` vs ``chr1``)."""
    key = name.lower().removeprefix("chr")
    return any(n.lower().removeprefix("chr") == key for n in names)


def _missing_line(source: str, missing: Sequence[str], genome: Genome) -> str:
    shown = []
    for name in missing[:5]:
        near = suggest_contig(name, genome.names)
        shown.append(f"{name!r}" + (f" (did you mean {near!r}?)" if near else ""))
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return f"{source}: contigs not in {genome.path.name}: {', '.join(shown)}{more}"
