"""Coverage store: bigWig tracks binned once, memory-mapped, read by a vectorised gather.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; a
store hands out the (batch, n_bins, n_tracks) coverage values that line up with those windows.

Reading a bigWig costs one pyBigWig call per window and track (~0.2 ms), so with tens of
tracks the data loader, not the GPU, sets the pace. A :class:`CoverageStore` reads the
bigWigs once, contig by contig in chunks, reduces every ``bin_size`` bases to one float32 value
with numpy, and writes the bins of all contigs end to end into one file of shape
(bins, tracks): the tracks of one bin side by side. It is opened with ``mmap`` so DataLoader
workers and DDP ranks share its pages, and a batch of windows is one numpy gather of
contiguous rows.

Why the tracks of a bin lie together: a window then reads one contiguous block
(bins x tracks x 4 bytes: 12.8 kB for 32 bins of 100 tracks) instead of one scattered block
per track. At hg38 size with 10 tracks a store per track read 1.6x slower per window than at
0.1 Gb (a page and a cache miss per track and window); 100 tracks x 388 MB no longer fit in the
page cache of a 24 GB machine, while the blocks an epoch's windows touch in one stacked store
do. The price: a store belongs to one list of tracks (in its order); another list builds
another store. One bigWig's store is ``<bigWig>.bin<S>.<stat>-<nan>.seqnn-cov``, a list's is
``<first bigWig>.<T>tracks-<digest of the paths>.bin<S>.<stat>-<nan>.seqnn-cov`` (each with a
``.json`` sidecar). Tracks whose bigWigs name different contigs share the union of them
(first seen first); a track without a contig, or past its own end of it, has no data there.

What a bin holds (the values depend on these, so each is part of the file name and the key):

- ``stat="sum"``: the sum of the bin's bases (mean and log-count targets are derived from
  it), ``stat="max"``: their maximum;
- ``nan="zero"``: bases without data (and bases past a contig's end, in its last bin) count
  as 0; ``nan="mask"``: a bin with any such base is NaN.

float32, not float16: coverage values are counts or fold changes up to the thousands, and
float16 keeps 11 significant bits (a spacing of 1 from 1,024 to 2,048, of 32 above 32,768), so
binned sums would no longer equal pyBigWig's values within float32 tolerance. Disk per track
for hg38 (3.1 Gb): 12.4 GB at ``bin_size=1``, 388 MB at 32 (38.8 GB for 100 tracks).

Where and when: next to the (first) bigWig, or in ``cache_dir`` / ``$SEQNN_CACHE_DIR`` (named
as the genome's code cache names its files there). The sidecar keeps each bigWig's path, size,
mtime and inode, a digest of 64 blocks sampled from each and from the store, the store's
version and a digest of itself; each open checks them (about a millisecond per track) and
rebuilds the store when any differs, so a bigWig replaced by another version is never read
through a stale store, and a truncated or overwritten store file is rebuilt. Building writes a
temporary file renamed into place, under a lock file (``fcntl.flock``) so that two processes
opening the same store at once build it once; where locks are not available, the rename alone
keeps every reader correct.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
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

STORE_VERSION = 2  # 2: (bins, tracks) for a list of bigWigs
Stat = Literal["sum", "max"]
NanRule = Literal["zero", "mask"]
_CHUNK = 1 << 22  # bases read from a bigWig per pyBigWig call while building (4 Mb) ...
_CHUNK_VALUES = 1 << 24  # ... and at most this many values of all tracks at once (64 MB)


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
    """bigWig tracks binned at ``bin_size`` (see the module docstring), built on first open.

    Args:
        bigwigs: one bigWig file, or a list of them (the store's tracks, in this order).
        bin_size: bases per stored value; windows whose first target base is a multiple of it
            (and whose length is) are read exactly.
        stat: what a bin holds: ``"sum"`` or ``"max"`` of its bases.
        nan: bases without data: ``"zero"`` counts them as 0, ``"mask"`` makes the bin NaN.
        cache_dir: folder for the store; default ``$SEQNN_CACHE_DIR`` if set, else the
            (first) bigWig's folder.
        progress: draw a progress bar while building (on a terminal only).

    Raises:
        TargetError: an unreadable bigWig, or a store that cannot be written where asked.

    Example:
        >>> store = CoverageStore(["chip.bw", "input.bw"], bin_size=32).open()
        >>> rows = store.contig_index(["chr1", "chr2"])
        >>> values = store.gather(rows, np.array([10, 20]), 32)  # (2, 32, 2): 32 bins, 2 tracks
    """

    def __init__(
        self,
        bigwigs: str | Path | Sequence[str | Path],
        bin_size: int = 1,
        stat: Stat = "sum",
        nan: NanRule = "zero",
        cache_dir: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        single = isinstance(bigwigs, str | Path)
        listed = [bigwigs] if single else bigwigs
        self.bigwigs = [Path(p).expanduser().absolute() for p in listed]
        if not self.bigwigs:
            raise ValueError("CoverageStore: give at least one bigWig")
        self.bin_size, self.stat, self.nan, self.progress = int(bin_size), stat, nan, progress
        if self.bin_size < 1 or stat not in ("sum", "max") or nan not in ("zero", "mask"):
            raise ValueError(f"CoverageStore: bad bin_size/stat/nan: {bin_size}, {stat}, {nan}")
        cache_dir = cache_dir or os.environ.get(CACHE_ENV) or None
        first = self.bigwigs[0]
        stem = cache_stem(first, Path(cache_dir).expanduser() if cache_dir else None)
        if len(self.bigwigs) > 1:
            digest = hashlib.sha1("\n".join(map(str, self.bigwigs)).encode()).hexdigest()[:12]
            stem = stem.with_name(f"{stem.name}.{len(self.bigwigs)}tracks-{digest}")
        self.path = stem.with_name(f"{stem.name}.bin{self.bin_size}.{stat}-{nan}.seqnn-cov")
        self.meta_path = self.path.with_name(self.path.name + ".json")
        self._meta: dict | None = None
        self._values: np.ndarray | None = None
        self._index: pd.Index | None = None

    def __repr__(self) -> str:
        files = ", ".join(repr(str(p)) for p in self.bigwigs)
        return f"CoverageStore([{files}], bin_size={self.bin_size}, {self.stat})"

    def __getstate__(self) -> dict:
        # the map stays behind: a worker maps the store file again
        return {**self.__dict__, "_values": None}

    @property
    def n_tracks(self) -> int:
        """The number of tracks (bigWigs), the last axis of :attr:`values`."""
        return len(self.bigwigs)

    # ------------------------------------------------------------------ open / build
    def open(self) -> CoverageStore:
        """Check the store against the bigWigs as they are now; build it if absent or stale."""
        if self._meta is None:
            meta = self._load_meta()
            if meta is None:
                with self._lock():
                    meta = self._load_meta() or self._build()  # another process may have built it
            self._meta = meta
            self._index = pd.Index(meta["names"])
            self.offsets = np.asarray(meta["offsets"], dtype=np.int64)
            self.n_bins = np.asarray(meta["n_bins"], dtype=np.int64)
            self.sizes = np.asarray(meta["sizes"], dtype=np.int64)  # bases per contig
        return self

    def _key(self) -> dict:
        files = []
        for path in self.bigwigs:
            st = path.stat()
            files.append([str(path), st.st_size, st.st_mtime_ns, st.st_ino])
        return {
            "version": STORE_VERSION,
            "bigwigs": files,  # path, size, mtime (ns), inode
            "bin_size": self.bin_size,
            "stat": self.stat,
            "nan": self.nan,
            "dtype": "float32",
        }

    def _samples(self) -> dict[str, Path]:
        """The files whose sampled digests the sidecar keeps: every bigWig and the store."""
        return {f"bigwig_sample_{i}": p for i, p in enumerate(self.bigwigs)} | {
            "store_sample": self.path
        }

    def _load_meta(self) -> dict | None:
        """The sidecar if the store matches the bigWigs as they are now, else None."""
        try:
            meta = json.loads(self.meta_path.read_text())
            size = self.path.stat().st_size
            key = self._key()
        except (OSError, ValueError):
            return None
        expected = 4 * meta.get("total", -1) * self.n_tracks
        if any(meta.get(k) != v for k, v in key.items()) or size != expected:
            return None
        return meta if sidecar_matches(meta, self._samples()) else None  # the content too

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
        """Bin the bigWigs contig by contig into the store; write its sidecar; return it."""
        if not _writable(self.path.parent):
            raise TargetError(
                f"{self.bigwigs[0]}: cannot write its coverage store to {self.path.parent} "
                f"(read-only folder?): pass cache_dir= or set {CACHE_ENV} to a writable folder"
            )
        key = self._key()
        key |= {f"bigwig_sample_{i}": _sample_digest(p) for i, p in enumerate(self.bigwigs)}
        handles = []
        try:
            for path in self.bigwigs:
                handles.append(open_bigwig(path))
            per_track = [{str(k): int(v) for k, v in h.chroms().items()} for h in handles]
            contigs: dict[str, int] = {}  # the union, first seen first, the longest size
            for sizes in per_track:
                for name, size in sizes.items():
                    contigs[name] = max(size, contigs.get(name, 0))
            self._write(handles, per_track, contigs)
        finally:
            for handle in handles:
                handle.close()
        n_bins = [-(-size // self.bin_size) for size in contigs.values()]
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

    def _write(self, handles: list, per_track: list[dict], contigs: dict[str, int]) -> None:
        """Stream the binned values of every contig, all tracks side by side, into the
        store file (atomically); chunks hold at most _CHUNK_VALUES values of all tracks."""
        size = self.bin_size
        chunk = min(_CHUNK, _CHUNK_VALUES // self.n_tracks) // size * size or size

        def write(fh) -> None:
            total = sum(contigs.values())
            label = f"coverage store {self.bigwigs[0].name}"
            if self.n_tracks > 1:
                label += f" (+{self.n_tracks - 1} tracks)"
            with progress_bar(total, label, self.progress, unit="bases") as advance:
                for name, length in contigs.items():
                    for start in range(0, length, chunk):
                        end = min(start + chunk, length)
                        bins = np.empty((-(-(end - start) // size), self.n_tracks), np.float32)
                        for t, handle in enumerate(handles):
                            values = self._read(t, handle, per_track[t], name, start, end)
                            bins[:, t] = bin_values(values, self)
                        fh.write(bins.tobytes())
                        advance(end - start)

        self._atomic(self.path, write)

    def _read(
        self, t: int, handle, sizes: dict[str, int], name: str, start: int, end: int
    ) -> np.ndarray:
        """Track ``t``'s values of ``name:start-end``, NaN where the track has no data: past
        its own end of the contig, or the whole range when it lacks the contig."""
        out = np.full(end - start, np.nan, dtype=np.float32)
        stop = min(end, sizes.get(name, 0))
        if stop <= start:
            return out
        try:
            out[: stop - start] = handle.values(name, start, stop, numpy=True)
        except RuntimeError as err:  # pyBigWig on a corrupt or truncated block
            raise TargetError(
                f"{self.bigwigs[t]}: {name}:{start}-{stop}: cannot read its values ({err}) "
                "while building its coverage store: is the bigWig complete? Fetch it again"
            ) from None
        return out

    def _atomic(self, path: Path, write) -> None:
        try:
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                write(fh)
        except OutputError as err:
            raise TargetError(
                f"{self.bigwigs[0]}: cannot write its coverage store {path} ({err}): pass "
                f"cache_dir= or set {CACHE_ENV} to a writable folder with space"
            ) from None

    # ------------------------------------------------------------------ read
    @property
    def values(self) -> np.ndarray:
        """All bins of all contigs, end to end: a read-only float32 array (bins, tracks),
        memory-mapped with ``MADV_RANDOM``.

        Windows are read at random, and without that advice each page fault on a store that
        is not in the page cache reads the disk's read-ahead around it (8 MB on the machine
        that measured it): 100 tracks of hg38 (38.8 GB, more than its page cache) read 764 GB
        from disk for a few passes of 100k windows, evicting the pages the next pass needed.
        With it a fault reads its own pages only."""
        if self._values is None:
            total, width = self.open()._meta["total"], self.n_tracks
            try:
                with open(self.path, "rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    if size != 4 * total * width:
                        raise ValueError(f"{size} bytes, not {4 * total * width}")
                    mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if total else b""
                if isinstance(mapped, mmap.mmap) and hasattr(mapped, "madvise"):
                    mapped.madvise(mmap.MADV_RANDOM)  # no read-around: see the docstring
            except (OSError, ValueError) as err:
                raise TargetError(
                    f"{self.path}: cannot map the coverage store ({err}): it changed since it "
                    "was opened; run again (it is checked and rebuilt on open)"
                ) from None
            self._values = np.frombuffer(mapped, dtype=np.float32).reshape(total, width)
        return self._values

    def contig_index(self, chroms: Sequence[str] | np.ndarray) -> np.ndarray:
        """(B,) int64 index of each contig name in the store, -1 where no bigWig has it."""
        self.open()
        return self._index.get_indexer(np.asarray(chroms, dtype=object)).astype(np.int64)

    def locate(
        self, rows: np.ndarray, first: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows of :attr:`values` holding ``n`` bins from bin ``first`` of contig ``rows``.

        Args:
            rows: (B,) contig indices from :meth:`contig_index` (-1: not in the store).
            first: (B,) the first bin of each window (negative before a contig start).
            n: bins per window.

        Returns:
            (index (B, n) int64 into :attr:`values`, missing (B, n) bool or None): bins outside
            their contig, or of a contig the store lacks, are missing (index 0).
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
        """(B, n, tracks): the stored rows at ``index`` (from :meth:`locate`); missing bins
        read as 0 (``nan="zero"``) or NaN (``nan="mask"``)."""
        out = np.take(self.values, index, axis=0)
        if missing is not None:
            out[missing] = 0.0 if self.nan == "zero" else np.nan
        return out

    def gather(self, rows: np.ndarray, first: np.ndarray, n: int) -> np.ndarray:
        """(B, n, tracks) float32: ``n`` stored bins from bin ``first`` of contig ``rows``."""
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
