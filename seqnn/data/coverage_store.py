"""Coverage store: a bigWig's values binned once, memory-mapped, read by a vectorised gather.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; a
store hands out the (batch, n_bins) coverage values that line up with those windows.

Reading a bigWig costs one pyBigWig call per window and track (~0.2 ms), so with tens of
tracks the data loader, not the GPU, sets the pace. A :class:`CoverageStore` reads the bigWig
once, contig by contig in chunks, reduces every ``bin_size`` bases to one float32 value with
numpy, and writes the bins of all contigs end to end into one flat file,
``<bigWig>.bin<S>.<stat>-<nan>.seqnn-cov`` (+ ``.json`` sidecar), opened with ``mmap`` so
DataLoader workers and DDP ranks share its pages. A batch of windows is then one numpy gather
per track.

What a bin holds (the values depend on these, so each is part of the file name and the key):

- ``stat="sum"``: the sum of the bin's bases (mean and log-count targets are derived from
  it), ``stat="max"``: their maximum;
- ``nan="zero"``: bases without data (and bases past a contig's end, in its last bin) count
  as 0; ``nan="mask"``: a bin with any such base is NaN.

float32, not float16: coverage values are counts or fold changes up to the thousands, and
float16 keeps 11 significant bits (a spacing of 1 from 1,024 to 2,048, of 32 above 32,768), so
binned sums would no longer equal pyBigWig's values within float32 tolerance. Disk per track
for hg38 (3.1 Gb): 12.4 GB at ``bin_size=1``, 388 MB at 32.

Where and when: next to the bigWig, or in ``cache_dir`` / ``$SEQNN_CACHE_DIR`` (named as the
genome's code cache names its files there). The sidecar keeps the bigWig's path, size, mtime
and inode, a digest of 64 blocks sampled from it and from the store, the store's version and
a digest of itself; each open checks them (about a millisecond) and rebuilds the store when any
differs, so a bigWig replaced by another version is never read through a stale store, and a
truncated or overwritten store file is rebuilt. Building writes a temporary file renamed into
place, under a lock file (``fcntl.flock``) so that two processes opening the same store at once
build it once; where locks are not available, the rename alone keeps every reader correct.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from seqnn.atomic import OutputError, atomic_path
from seqnn.data.genome import (
    CACHE_ENV,
    _meta_digest,
    _sample_digest,
    _writable,
    cache_stem,
    sidecar_matches,
)
from seqnn.errors import SeqnnInputError
from seqnn.progress import progress_bar

STORE_VERSION = 1
Stat = Literal["sum", "max"]
NanRule = Literal["zero", "mask"]
_CHUNK = 1 << 22  # bases read from the bigWig per pyBigWig call while building (4 Mb)


class TargetError(SeqnnInputError):
    """Target files (bigWig, BED, coverage store) that do not fit the genome or the windows."""


def open_bigwig(path: Path):
    """A pyBigWig handle on ``path``; :class:`TargetError` if it is not a readable bigWig."""
    import pyBigWig

    try:
        handle = pyBigWig.open(str(path))
    except RuntimeError:
        handle = None
    if handle is None or not handle.isBigWig():
        raise TargetError(f"{path}: cannot be read as a bigWig file: check the file (bigBed?)")
    return handle


class CoverageStore:
    """One bigWig binned at ``bin_size`` (see the module docstring), built on first open.

    Args:
        bigwig: the bigWig file.
        bin_size: bases per stored value; windows whose first target base is a multiple of it
            (and whose length is) are read exactly.
        stat: what a bin holds: ``"sum"`` or ``"max"`` of its bases.
        nan: bases without data: ``"zero"`` counts them as 0, ``"mask"`` makes the bin NaN.
        cache_dir: folder for the store; default ``$SEQNN_CACHE_DIR`` if set, else the
            bigWig's folder.
        progress: draw a progress bar while building (on a terminal only).

    Raises:
        TargetError: an unreadable bigWig, or a store that cannot be written where asked.

    Example:
        >>> store = CoverageStore("chip.bw", bin_size=32).open()
        >>> rows = store.contig_index(["chr1", "chr2"])
        >>> values = store.gather(rows, np.array([10, 20]), 32)  # (2, 32) bins of 32 bp
    """

    def __init__(
        self,
        bigwig: str | Path,
        bin_size: int = 1,
        stat: Stat = "sum",
        nan: NanRule = "zero",
        cache_dir: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        self.bigwig = Path(bigwig).expanduser().absolute()
        self.bin_size, self.stat, self.nan, self.progress = int(bin_size), stat, nan, progress
        if self.bin_size < 1 or stat not in ("sum", "max") or nan not in ("zero", "mask"):
            raise ValueError(f"CoverageStore: bad bin_size/stat/nan: {bin_size}, {stat}, {nan}")
        cache_dir = cache_dir or os.environ.get(CACHE_ENV) or None
        stem = cache_stem(self.bigwig, Path(cache_dir).expanduser() if cache_dir else None)
        self.path = stem.with_name(f"{stem.name}.bin{self.bin_size}.{stat}-{nan}.seqnn-cov")
        self.meta_path = self.path.with_name(self.path.name + ".json")
        self._meta: dict | None = None
        self._values: np.ndarray | None = None
        self._index: pd.Index | None = None

    def __repr__(self) -> str:
        return f"CoverageStore({str(self.bigwig)!r}, bin_size={self.bin_size}, {self.stat})"

    def __getstate__(self) -> dict:
        # the map stays behind: a worker maps the store file again
        return {**self.__dict__, "_values": None}

    # ------------------------------------------------------------------ open / build
    def open(self) -> CoverageStore:
        """Check the store against the bigWig as it is now; build it if absent or stale."""
        if self._meta is None:
            meta = self._load_meta()
            if meta is None:
                with self._lock():
                    meta = self._load_meta() or self._build()  # another process may have built it
            self._meta = meta
            self._index = pd.Index(meta["names"])
            self.offsets = np.asarray(meta["offsets"], dtype=np.int64)
            self.n_bins = np.asarray(meta["n_bins"], dtype=np.int64)
            self._layout = (tuple(meta["names"]), tuple(meta["sizes"]), self.bin_size)
        return self

    @property
    def layout(self) -> tuple:
        """Contig names, sizes and bin size: stores of one layout (bigWigs with one header)
        share the positions :meth:`locate` computes."""
        return self.open()._layout

    def _key(self) -> dict:
        st = self.bigwig.stat()
        return {
            "version": STORE_VERSION,
            "bigwig": str(self.bigwig),
            "bigwig_size": st.st_size,
            "bigwig_mtime_ns": st.st_mtime_ns,
            "bigwig_inode": st.st_ino,
            "bin_size": self.bin_size,
            "stat": self.stat,
            "nan": self.nan,
            "dtype": "float32",
        }

    def _load_meta(self) -> dict | None:
        """The sidecar if the store matches the bigWig as it is now, else None."""
        try:
            meta = json.loads(self.meta_path.read_text())
            size = self.path.stat().st_size
            key = self._key()
        except (OSError, ValueError):
            return None
        if any(meta.get(k) != v for k, v in key.items()) or size != 4 * meta.get("total", -1):
            return None
        # the content, not only sizes and dates
        same = sidecar_matches(meta, {"bigwig_sample": self.bigwig, "store_sample": self.path})
        return meta if same else None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """An exclusive lock on ``<store>.lock`` while building (none where flock fails:
        the atomic rename still keeps readers correct)."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        except OSError:
            yield  # a read-only folder: _build names it
            return
        try:
            with contextlib.suppress(OSError):
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield
        finally:
            fh.close()  # releases the lock

    def _build(self) -> dict:
        """Bin the bigWig contig by contig into the store; write its sidecar; return it."""
        if not _writable(self.path.parent):
            raise TargetError(
                f"{self.bigwig}: cannot write its coverage store to {self.path.parent} "
                f"(read-only folder?): pass cache_dir= or set {CACHE_ENV} to a writable folder"
            )
        key = {**self._key(), "bigwig_sample": _sample_digest(self.bigwig)}
        handle = open_bigwig(self.bigwig)
        try:
            contigs = {str(k): int(v) for k, v in handle.chroms().items()}
            n_bins = [-(-size // self.bin_size) for size in contigs.values()]
            self._write(handle, contigs)
        finally:
            handle.close()
        meta = {
            **key,
            "names": list(contigs),
            "sizes": list(contigs.values()),
            "n_bins": n_bins,
            "offsets": np.concatenate([[0], np.cumsum(n_bins)[:-1]]).astype(int).tolist(),
            "total": int(sum(n_bins)),
            "store_sample": _sample_digest(self.path),
        }
        meta["digest"] = _meta_digest(meta)
        self._atomic(self.meta_path, lambda fh: fh.write(json.dumps(meta).encode()))
        return meta

    def _write(self, handle, contigs: dict[str, int]) -> None:
        """Stream the binned values of every contig into the store file (atomically)."""
        chunk = _CHUNK // self.bin_size * self.bin_size or self.bin_size

        def write(fh) -> None:
            total = sum(contigs.values())
            label = f"coverage store {self.bigwig.name}"
            with progress_bar(total, label, self.progress, unit="bases") as advance:
                for name, size in contigs.items():
                    for start in range(0, size, chunk):
                        end = min(start + chunk, size)
                        fh.write(bin_values(self._read(handle, name, start, end), self).tobytes())
                        advance(end - start)

        self._atomic(self.path, write)

    def _read(self, handle, name: str, start: int, end: int) -> np.ndarray:
        try:
            return handle.values(name, start, end, numpy=True)
        except RuntimeError as err:  # pyBigWig on a corrupt or truncated block
            raise TargetError(
                f"{self.bigwig}: {name}:{start}-{end}: cannot read its values ({err}) while "
                "building its coverage store: is the bigWig complete? Fetch it again"
            ) from None

    def _atomic(self, path: Path, write) -> None:
        try:
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                write(fh)
        except OutputError as err:
            raise TargetError(
                f"{self.bigwig}: cannot write its coverage store {path} ({err}): pass "
                f"cache_dir= or set {CACHE_ENV} to a writable folder with space"
            ) from None

    # ------------------------------------------------------------------ read
    @property
    def values(self) -> np.ndarray:
        """All bins of all contigs, end to end: a read-only float32 array (memory-mapped)."""
        if self._values is None:
            total = self.open()._meta["total"]
            try:
                with open(self.path, "rb") as fh:
                    if os.fstat(fh.fileno()).st_size != 4 * total:
                        raise ValueError(f"{os.fstat(fh.fileno()).st_size} bytes, not {4 * total}")
                    mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if total else b""
            except (OSError, ValueError) as err:
                raise TargetError(
                    f"{self.path}: cannot map the coverage store ({err}): it changed since it "
                    "was opened; run again (it is checked and rebuilt on open)"
                ) from None
            self._values = np.frombuffer(mapped, dtype=np.float32)
        return self._values

    def contig_index(self, chroms: Sequence[str] | np.ndarray) -> np.ndarray:
        """(B,) int64 index of each contig name in the store, -1 where the bigWig lacks it."""
        self.open()
        return self._index.get_indexer(np.asarray(chroms, dtype=object)).astype(np.int64)

    def locate(
        self, rows: np.ndarray, first: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Flat positions of ``n`` bins from bin ``first`` of contig ``rows``, per window.

        Args:
            rows: (B,) contig indices from :meth:`contig_index` (-1: not in the bigWig).
            first: (B,) the first bin of each window (negative before a contig start).
            n: bins per window.

        Returns:
            (index (B, n) int64 into :attr:`values`, missing (B, n) bool or None): bins outside
            their contig, or of a contig the bigWig lacks, are missing (index 0).
        """
        self.open()
        known = rows >= 0
        safe = np.where(known, rows, 0)
        size = np.where(known, self.n_bins[safe], 0)
        bins = first[:, None] + np.arange(n, dtype=np.int64)  # (B, n)
        missing = (bins < 0) | (bins >= size[:, None])
        index = self.offsets[safe][:, None] + bins
        if not missing.any():
            return index, None
        index[missing] = 0
        return index, missing

    def take(self, index: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
        """The stored values at ``index`` (from :meth:`locate`); missing bins read as
        0 (``nan="zero"``) or NaN (``nan="mask"``)."""
        out = np.take(self.values, index)
        if missing is not None:
            out[missing] = 0.0 if self.nan == "zero" else np.nan
        return out

    def gather(self, rows: np.ndarray, first: np.ndarray, n: int) -> np.ndarray:
        """(B, n) float32: ``n`` stored bins from bin ``first`` of contig ``rows``, per window."""
        return self.take(*self.locate(rows, first, n))


def bin_values(values: np.ndarray, store: CoverageStore) -> np.ndarray:
    """Per-base values (n,) with NaN for no data -> (ceil(n / bin),) float32 bins, the last
    one padded with missing bases (see the module docstring for stat and nan)."""
    size = store.bin_size
    pad = -len(values) % size
    if pad:
        values = np.concatenate([values, np.full(pad, np.nan, dtype=values.dtype)])
    values = values.astype(np.float32, copy=False)
    if store.nan == "zero":  # (copyto: 3x faster than nan_to_num)
        np.copyto(values, np.float32(0), where=np.isnan(values))
    bins = values.reshape(-1, size)  # (n,) -> (n / bin, bin)
    if size == 1:
        return np.ascontiguousarray(bins[:, 0])
    if store.stat == "sum":  # float32 pairwise sums, as np.mean/np.sum do on direct reads
        return bins.sum(axis=1)
    # fmax skips NaN checks (2x faster); with nan="mask" a NaN must win: max
    return np.fmax.reduce(bins, axis=1) if store.nan == "zero" else bins.max(axis=1)
