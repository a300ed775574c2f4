"""Genome: a FASTA file as uint8 codes, fetched in batches of equal-length intervals.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; this
module hands out the uint8 codes (batch, length) they are made from (A0 C1 G2 T3 N4, IUPAC 5-14,
see :mod:`seqnn.data.encoding`).

Opening a FASTA builds two files once, next to it (or in ``cache_dir`` / ``$SEQNN_CACHE_DIR``):

- ``<fasta>.fai``: a samtools-style index (name, length, offset, line bases, line width),
  written by a few numpy passes per chunk for the usual file, or, for anything unusual (CRLF,
  blank or comment lines, bad letters), by a compiled scan (numba, loaded only then) that
  checks the line structure and names the bad line;
  :attr:`Genome.fasta` opens the FASTA through pyfaidx with it.
- ``<fasta>.seqnn-codes`` (+ ``.json``): the whole genome as one flat uint8 code array
  (contigs end to end), shared by DataLoader workers and DDP ranks through the page cache
  instead of each holding a copy. Batches of windows are read with one ``pread`` per window
  (see :meth:`Genome.fetch_batch`); whole contigs, scans and tiling read a memory map. The
  JSON sidecar keeps the contig offsets, the FASTA's size, mtime and inode, digests of 64
  blocks sampled from the FASTA and from the code file, and a digest of itself. Each open
  checks them all (128 KiB read, about half a millisecond) and rebuilds the cache when any
  differs: a FASTA replaced by another of the same size with its mtime restored, a code file
  overwritten, or an edited sidecar.

Both are written to a temporary file and renamed, so processes that build at the same time do not
corrupt each other. The FASTA is read through ``mmap`` a chunk at a time and the chunk's pages are
released, so building costs a few tens of MB of memory whatever the genome size.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import stat
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.atomic import OutputError, atomic_path
from seqnn.data.encoding import (
    BYTE_TO_CODE,
    CODE_TO_BYTE,
    COMPLEMENT_CODE,
    DEFAULT_POLICY,
    INVALID,
    N_CODE,
    EncodingPolicy,
    codes_to_one_hot,
)
from seqnn.data.jit import njit
from seqnn.errors import SeqnnInputError

CACHE_VERSION = 2  # 2: content samples and a digest of the sidecar
CACHE_ENV = "SEQNN_CACHE_DIR"
_SCAN_CHUNK = 8 << 20  # FASTA bytes scanned between page releases
_CODE_CHUNK = 4 << 20  # codes converted and written per step
_CODE_TABLE = BYTE_TO_CODE.tobytes()  # bytes.translate table: byte -> code
_SLACK = 64  # the block kernel may write up to a block past a line's end
_SAMPLES, _SAMPLE_BYTES = 64, 1024  # blocks hashed per file to check a cache on open
# the empty block that ends every BGZF file (SAM spec, section 4.1.2)
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")

_SCAN_ERRORS = {
    1: "text before the first '>' header (a FASTA file starts with a '>name' line)",
    2: "blank line in the middle of a sequence (remove it)",
    3: "this line is longer than the first line of the sequence (every line but the last must "
    "hold the same number of bases: rewrap it, e.g. `seqkit seq -w 60` or `samtools faidx`)",
    4: "a shorter line that is not the last line of its sequence (every line but the last must "
    "hold the same number of bases: rewrap it, e.g. `seqkit seq -w 60` or `samtools faidx`)",
    5: "mixed line endings (\\r\\n and \\n): convert the file with `dos2unix`",
}


class GenomeError(SeqnnInputError):
    """A FASTA file that cannot be opened, indexed or cached, or a bad fetch request."""


# ----------------------------------------------------------------------------- writing
def write_fasta(path: str | Path, records: Mapping[str, str], line_width: int = 60) -> Path:
    """Write sequences to a FASTA file, atomically (a temporary file renamed into place).

    Args:
        path: the FASTA file to write.
        records: contig name -> sequence (letters as given, case kept).
        line_width: bases per line; 0 writes each sequence on one line.

    Returns:
        The path written.
    """
    path = Path(path)

    def write(fh) -> None:
        for name, seq in records.items():
            fh.write(f">{name}\n".encode())
            raw = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
            width = line_width if line_width > 0 else max(raw.size, 1)
            full = raw.size // width * width
            lines = raw[:full].reshape(-1, width)  # (n_lines, width)
            newlines = np.full((lines.shape[0], 1), ord("\n"), dtype=np.uint8)
            fh.write(np.concatenate([lines, newlines], axis=1).tobytes())
            if raw.size > full:
                fh.write(raw[full:].tobytes() + b"\n")

    path.parent.mkdir(parents=True, exist_ok=True)  # as every seqnn writer does
    _atomic_write(path, write)
    return path


def _atomic_write(path: Path, write: Callable) -> None:
    """``write(fh)`` through :func:`seqnn.atomic.atomic_path` (a temp file renamed into place);
    a folder that cannot take the file is a :class:`GenomeError` naming the cache settings."""
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            write(fh)
    except OutputError as err:
        reason = getattr(err.__context__, "strerror", None) or "not writable"
        raise GenomeError(
            f"{path.parent}: cannot write {path.name} there ({reason}): pass cache_dir= "
            f"to Genome or set the environment variable {CACHE_ENV} to a writable folder"
        ) from None


def _settle(path: Path) -> None:
    """Flush a just-written cache file to disk and drop it from the page cache. Written
    pages sit in large page-cache folios, and a mapped read of one base then maps the whole
    folio (measured: ~220 KB per random 1-kb window, 2.2 GB of resident set for 10,000
    windows of a 3.1 Gb genome). Best effort (no-op where the OS lacks it)."""
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (tried for real: os.access is wrong as root
    and on read-only mounts)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".seqnn-probe.")
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


def cache_stem(path: Path, cache_dir: Path | None) -> Path:
    """Where the caches built from ``path`` go, less their suffixes: beside it
    (``<folder>/<name>``), or in ``cache_dir`` as ``<name>.<digest of the absolute path>`` so
    that files of one name in different folders do not share a cache. Creates ``cache_dir``.

    Raises:
        GenomeError: ``cache_dir`` cannot be created.
    """
    if cache_dir is None:
        return path.parent / path.name
    cache_dir = Path(cache_dir).absolute()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GenomeError(f"{cache_dir}: cannot create the cache folder: {err}") from None
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    return cache_dir / f"{path.name}.{digest}"


# ----------------------------------------------------------------------------- file checks
def _check_file(path: Path) -> bool:
    """Raise for a missing, empty, non-regular (a pipe), plain-gzip or truncated bgzip file;
    return True for a bgzip (BGZF) FASTA."""
    try:
        st = path.stat()
    except OSError:
        raise GenomeError(f"{path}: no such FASTA file (check the path)") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise GenomeError(f"{path}: is a folder, expected a FASTA file")
    if not stat.S_ISREG(mode):
        # <(cat g.fa) is a pipe: reading it consumes it, and the index needs positions
        raise GenomeError(
            f"{path}: is not a regular file (a pipe such as <(...), or a device): seqnn indexes "
            "the FASTA by position, so it must be a file on disk: write it to one first "
            "(e.g. `zcat genome.fa.gz > genome.fa`) and pass that path"
        )
    with open(path, "rb") as fh:
        head = fh.read(18)
        fh.seek(max(st.st_size - len(_BGZF_EOF), 0))
        tail = fh.read()
    if not head:
        raise GenomeError(
            f"{path}: the FASTA file is empty (0 bytes): was its download or decompression cut "
            "short? Write or fetch it again"
        )
    if head[:3] == b"\xef\xbb\xbf":
        raise GenomeError(
            f"{path}:1: the file starts with a UTF-8 byte-order mark (BOM, an editor's mark "
            "before the first '>'): remove it, e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' "
            f"{path.name}`"
        )
    if head[:2] != b"\x1f\x8b":
        return False
    # BGZF = gzip with the FEXTRA flag and a 'BC' subfield (SAM spec, section 4.1).
    if not (len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"):
        raise GenomeError(
            f"{path}: plain gzip cannot be read by position: decompress it with "
            f"`gunzip {path.name}` or recompress it with `bgzip` "
            f"(`gunzip -c {path.name} | bgzip > {path.stem}.bgz`)"
        )
    if tail != _BGZF_EOF:  # a file cut at a block boundary reads cleanly, but short
        raise GenomeError(_truncated_bgzf(path, "it lacks bgzip's end-of-file block"))
    return True


def _truncated_bgzf(path: Path, why: str) -> str:
    return (
        f"{path}: the bgzip file is truncated or corrupt ({why}): was its download or "
        "compression cut short? Fetch it again, or recompress the FASTA with `bgzip`"
    )


def _stat_key(path: Path) -> dict:
    st = path.stat()
    return {"fasta_size": st.st_size, "fasta_mtime_ns": st.st_mtime_ns, "fasta_inode": st.st_ino}


def _sample_digest(path: Path) -> str:
    """A digest of a file's size and of 64 blocks of 1 KiB spread evenly over it (the whole
    file when smaller): a content check that reads 64 KiB however large the file is.

    Size, mtime and inode miss a file replaced by another of the same size with its mtime
    restored, or recreated on the same inode; a different genome differs in every block.
    """
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb", buffering=0) as fh:  # unbuffered: a read is one block, no more
        size = os.fstat(fh.fileno()).st_size
        digest.update(size.to_bytes(8, "little"))
        if size <= _SAMPLES * _SAMPLE_BYTES:
            digest.update(fh.read())
        else:
            step = (size - _SAMPLE_BYTES) / (_SAMPLES - 1)  # the first and the last block
            for k in range(_SAMPLES):
                fh.seek(round(k * step))
                digest.update(fh.read(_SAMPLE_BYTES))
    return digest.hexdigest()


def _meta_digest(meta: dict) -> str:
    """A digest of the sidecar's fields (all but itself): an edited sidecar (contigs
    reordered, offsets changed) no longer matches it."""
    fields = {k: v for k, v in meta.items() if k != "digest"}
    return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode(), digest_size=16).hexdigest()


def sidecar_matches(meta: dict, samples: Mapping[str, Path]) -> bool:
    """Whether a cache's sidecar still holds: its own digest, and for each ``key: path`` of
    ``samples`` the sampled digest of that file (False when one cannot be read)."""
    try:
        return meta.get("digest") == _meta_digest(meta) and all(
            meta.get(key) == _sample_digest(path) for key, path in samples.items()
        )
    except OSError:
        return False


# ----------------------------------------------------------------------------- index scan
@njit(cache=True, nogil=True)
def _scan_kernel(buf: np.ndarray, stop: int, st: np.ndarray, rec: np.ndarray) -> int:
    """Scan FASTA bytes into index records, from st[0] until a line start at or past ``stop``.

    rec (capacity, 7) int64: header start, header end, sequence offset, length, line bases,
    line width, header line number. st (resumable state): position, line number, records,
    phase (0 before the first record, 1 after a header, 2 in a sequence, 3 after a short line,
    4 after a blank line), -, error line, line of the last short/blank line. Full lines are
    checked for a newline inside before they are taken whole. Returns 0,
    an error code (see _SCAN_ERRORS) or 6 when ``rec`` is full.
    """
    n = buf.size
    pos, line, k, phase, aux = st[0], st[1], st[2], st[3], st[6]
    status = 0
    while pos < n and pos < stop:
        b = buf[pos]
        if phase == 2 and b != 62 and b != 10 and b != 13:
            lb, lw = rec[k - 1, 4], rec[k - 1, 5]
            e = pos + lw - 1
            if e < n and buf[e] == 10 and (lw - lb == 1 or buf[pos + lb] == 13):
                # a full line, unless a shorter last line and the next header fit in it
                full = True
                for j in range(pos, pos + lb):
                    if buf[j] == 10:
                        full = False
                        break
                if full:
                    rec[k - 1, 3] += lb
                    pos, line = e + 1, line + 1
                    continue
        e = pos
        while e < n and buf[e] != 10:
            e += 1
        if b == 62:  # '>'
            if k == rec.shape[0]:
                status = 6
                break
            he = e - 1 if e > pos + 1 and buf[e - 1] == 13 else e
            rec[k, 0], rec[k, 1], rec[k, 2] = pos + 1, he, min(e + 1, n)
            rec[k, 3], rec[k, 4], rec[k, 5], rec[k, 6] = 0, 0, 0, line
            k, phase = k + 1, 1
        else:
            cr = 1 if e > pos and buf[e - 1] == 13 else 0
            size = e - pos - cr
            status = _scan_line(rec, k, phase, size, cr, e < n, b)
            if status > 0:
                st[5] = aux if status == 2 or status == 4 else line
                break
            if size == 0 and 0 < phase < 4:
                phase, aux = 4, line
            elif size > 0 and phase == 1:
                phase = 2
            elif size > 0 and phase == 2 and size < rec[k - 1, 4]:
                phase, aux = 3, line
        pos, line = e + 1, line + 1
    st[0], st[1], st[2], st[3], st[6] = pos, line, k, phase, aux
    return status


@njit(cache=True, nogil=True, inline="always")
def _scan_line(rec, k, phase, size, cr, has_newline, first) -> int:
    """Check one sequence line and add it to record k - 1; returns an error code or 0."""
    if size == 0:
        return 0
    if phase == 0:
        return 0 if first == 59 else 1  # ';' comment lines may precede the first record
    if phase == 4:
        return 2
    if phase == 3:
        return 4
    if phase == 1:
        rec[k - 1, 3], rec[k - 1, 4], rec[k - 1, 5] = size, size, size + cr + 1
        return 0
    lb, lw = rec[k - 1, 4], rec[k - 1, 5]
    if size > lb:
        return 3
    if has_newline and cr != lw - lb - 1:
        return 5
    rec[k - 1, 3] += size
    return 0


class _Index:
    """The .fai records of a FASTA: names and int64 arrays, in file order."""

    def __init__(self, names: list[str], rec: np.ndarray) -> None:
        self.names = names
        self.lengths, self.offsets = rec[:, 3].copy(), rec[:, 2].copy()
        self.linebases, self.linewidths = rec[:, 4].copy(), rec[:, 5].copy()
        self.header_lines = rec[:, 6].copy()

    def fai_text(self) -> str:
        rows = zip(
            self.names, self.lengths, self.offsets, self.linebases, self.linewidths, strict=True
        )
        return "".join(f"{n}\t{a}\t{b}\t{c}\t{d}\n" for n, a, b, c, d in rows)


def _scan_fasta(path: Path, buf: np.ndarray, release: Callable[[int], None]) -> _Index:
    """Index a FASTA (``buf``: its bytes) with the compiled scan, raising GenomeError on the
    first malformed line."""
    st = np.zeros(8, dtype=np.int64)
    st[1] = 1
    rec = np.zeros((64, 7), dtype=np.int64)
    while True:
        status = _scan_kernel(buf, int(st[0]) + _SCAN_CHUNK, st, rec)
        release(int(st[0]))
        if status == 6:
            rec = np.concatenate([rec, np.zeros_like(rec)])
        elif status > 0:
            raise GenomeError(f"{path}:{st[5]}: {_SCAN_ERRORS[status]}")
        elif st[0] >= buf.size:
            break
    rec = rec[: st[2]]
    if len(rec) == 0:
        raise GenomeError(f"{path}: no FASTA records (a record starts with a '>name' line)")
    return _Index(_record_names(path, buf, rec), rec)


def _record_names(path: Path, buf: np.ndarray, rec: np.ndarray) -> list[str]:
    """Contig names (the header up to the first whitespace), checked for blanks and repeats."""
    names, seen = [], {}
    for start, end, line in zip(rec[:, 0], rec[:, 1], rec[:, 6], strict=True):
        header = bytes(buf[start:end]).decode("utf-8", "replace").split()
        if not header:
            raise GenomeError(f"{path}:{line}: a '>' header without a name (write '>name')")
        if header[0] in seen:
            raise GenomeError(
                f"{path}:{line}: duplicate sequence name {header[0]!r} (first at line "
                f"{seen[header[0]]}): contig names must be unique, rename one of them"
            )
        seen[header[0]] = int(line)
        names.append(header[0])
    return names


# ----------------------------------------------------------------------------- codes
@njit(cache=True, nogil=True, inline="always")
def _block_codes(src: np.ndarray, dst: np.ndarray, acc: np.ndarray, valid: int) -> None:
    """32 bytes -> codes for A C G T N (any case), 255 for anything else (IUPAC included).

    A fixed 32-lane loop of compares and selects, which LLVM turns into a few vector
    instructions; ``acc`` ORs the codes of the first ``valid`` lanes (255 flags a retry).
    """
    for t in range(32):
        u = src[t] & np.uint8(0xDF)  # upper case
        c = np.uint8(INVALID)
        c = np.uint8(0) if u == np.uint8(65) else c
        c = np.uint8(1) if u == np.uint8(67) else c
        c = np.uint8(2) if u == np.uint8(71) else c
        c = np.uint8(3) if u == np.uint8(84) else c
        c = np.uint8(N_CODE) if u == np.uint8(78) else c
        dst[t] = c
        acc[t] |= c if t < valid else np.uint8(0)


@njit(cache=True, nogil=True)
def _codes_kernel(
    buf: np.ndarray, index: np.ndarray, st: np.ndarray, dst: np.ndarray, exact: bool
) -> int:
    """Convert FASTA lines to codes into ``dst``, from record st[0], line st[1], column st[4].

    index (n_records, 4) int64: offset, length, line bases, line width. Stops when ``dst``
    (less _SLACK) is full, splitting a line if it must, and sets st[2] = codes written. The
    fast path knows only ACGTN and returns -2 when a chunk holds anything else; the caller
    then redoes the chunk with ``exact`` (the BYTE_TO_CODE table, IUPAC included). Returns -1
    when done, -2, or the dst index of the first invalid byte (at column st[4] + st[3]).
    """
    acc = np.zeros(32, dtype=np.uint8)
    cap = dst.size - _SLACK
    r, line, col, d = st[0], st[1], st[4], 0
    while r < index.shape[0] and d < cap:
        off, length, lb, lw = index[r, 0], index[r, 1], index[r, 2], index[r, 3]
        while line * lb + col < length and d < cap:
            n = min(lb - col, length - line * lb - col, cap - d)
            s = off + line * lw + col
            if not exact and s + n + 32 <= buf.size:
                for j in range(0, n, 32):
                    _block_codes(buf[s + j : s + j + 32], dst[d + j : d + j + 32], acc, n - j)
            else:
                for j in range(n):
                    c = BYTE_TO_CODE[buf[s + j]]
                    if c == INVALID:
                        st[0], st[1], st[2], st[3], st[4] = r, line, d + j, j, col
                        return d + j
                    dst[d + j] = c
            d += n
            col += n
            if col == lb:
                line, col = line + 1, 0
        if line * lb + col >= length:
            r, line, col = r + 1, 0, 0
    st[0], st[1], st[2], st[3], st[4] = r, line, d, 0, col
    return -1 if acc.max() < 16 else -2


class _FastaBytes:
    """A FASTA file mapped read-only as a uint8 array. ``release(start, end)`` drops those pages
    from this process (they stay in the page cache), so a scan costs a chunk of memory, not the
    file."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.buf = np.frombuffer(self._mm, dtype=np.uint8)

    def rfind_newline(self, start: int, end: int) -> int:
        """Offset of the last ``\\n`` in [start, end), or -1."""
        return self._mm.rfind(b"\n", start, end)

    def release(self, start: int, end: int) -> None:
        start = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
        end = min(end, self.buf.size) // mmap.PAGESIZE * mmap.PAGESIZE
        if end > start and hasattr(self._mm, "madvise"):
            self._mm.madvise(mmap.MADV_DONTNEED, start, end - start)

    def __enter__(self) -> _FastaBytes:
        return self

    def __exit__(self, *exc) -> None:
        del self.buf
        try:
            self._mm.close()
        except BufferError:  # an exception's traceback still holds a view; GC unmaps it
            pass
        self._fh.close()


def _write_codes(path: Path, fasta: _FastaBytes, index: _Index, target: Path) -> None:
    """Convert the FASTA to codes chunk by chunk and write them to ``target`` (atomically)."""
    table = np.stack([index.offsets, index.lengths, index.linebases, index.linewidths], axis=1)
    dst = np.empty(_CODE_CHUNK + _SLACK, dtype=np.uint8)
    st = np.zeros(8, dtype=np.int64)

    def source_pos(r: int, line: int, col: int) -> int:
        return int(table[r, 0] + line * table[r, 3] + col) if r < len(table) else fasta.buf.size

    def write(fh) -> None:
        done = 0
        while st[0] < len(table):
            saved = st.copy()
            bad = _codes_kernel(fasta.buf, table, st, dst, False)
            if bad == -2:  # IUPAC or invalid letters in this chunk: redo it exactly
                st[:] = saved
                bad = _codes_kernel(fasta.buf, table, st, dst, True)
            if bad >= 0:
                _raise_bad_byte(path, fasta.buf, index, st)
            fh.write(memoryview(dst[: st[2]]))
            here = source_pos(int(st[0]), int(st[1]), int(st[4]))
            fasta.release(done, here)
            done = here

    _atomic_write(target, write)


class _Irregular(Exception):
    """Raised inside :func:`_fast_build` for input its vectorised checks do not cover."""


def _fast_build(path: Path, fasta: _FastaBytes, target: Path) -> _Index | None:
    """Index a FASTA and write its code cache in numpy passes, chunk by chunk.

    Covers the usual file: LF line ends, a header first, no blank or comment lines, every
    record's lines of one width but the last (any width, unwrapped sequences of any length
    included), letters A/C/G/T/N/IUPAC in any case.
    Returns None for anything else (nothing written): the compiled scan (numba, loaded only
    then) reads it exactly and names the line of any error. Keeping this path free of numba
    keeps LLVM out of the processes that open a genome for the first time.
    """
    buf = fasta.buf
    if buf.size == 0 or buf[0] != ord(">"):
        return None
    rec: list[list[int]] = []  # header start, header end, offset, length, lb, lw, line
    # the open record's line width, whether the last line was a header / a short line, and
    # the bases already read of a line longer than a chunk
    state = {"lb": 0, "after_header": False, "short": False, "line": 1, "carry": 0}

    names: list[str] = []

    def write(fh) -> None:
        pos = 0
        while pos < buf.size:
            end = min(pos + _SCAN_CHUNK, buf.size)
            if end < buf.size:
                cut = fasta.rfind_newline(pos, end)
                if cut < 0:  # inside a line longer than a chunk: its bases so far
                    fh.write(_fast_part(buf[pos:end], state))
                    fasta.release(0, end)
                    pos = end
                    continue
                end = cut + 1
            fh.write(_fast_chunk(buf[pos:end], pos, rec, state))
            fasta.release(0, end)
            pos = end
        if state["after_header"]:
            raise _Irregular  # the file ends with a header: an empty record
        names.extend(_record_names(path, buf, np.array(rec, dtype=np.int64)))

    try:
        _atomic_write(target, write)  # nothing is left behind if it raises
    except _Irregular:
        return None
    return _Index(names, np.array(rec, dtype=np.int64))


def _fast_part(part: np.ndarray, state: dict) -> bytes:
    """Bases of a sequence line longer than a chunk (no newline in ``part``) -> their codes."""
    if state["carry"] == 0 and (part[0] == ord(">") or state["short"]):
        raise _Irregular  # a header longer than a chunk; a short line that was not the last
    codes = part.tobytes().translate(_CODE_TABLE)
    if bytes([INVALID]) in codes:
        raise _Irregular  # '\r', '>' or a letter outside A/C/G/T/N/IUPAC
    state["carry"] += part.size
    return codes


def _fast_chunk(chunk: np.ndarray, pos: int, rec: list, state: dict) -> bytes:
    """One chunk of whole lines (file offset ``pos``) -> its codes; extends ``rec``/``state``.
    Its first line may be the end of a line whose first ``state["carry"]`` bases came as
    parts (:func:`_fast_part`)."""
    newlines = np.flatnonzero(chunk == 10)
    starts = np.concatenate([[0], newlines + 1])
    ends = np.concatenate([newlines, [chunk.size]])
    if chunk[-1] == 10:  # no line after the final newline
        starts, ends = starts[:-1], ends[:-1]
    sizes = ends - starts
    carry, state["carry"] = state["carry"], 0
    sizes[0] += carry
    if np.any(sizes == 0) or np.any(chunk[ends - 1] == 13):
        raise _Irregular  # blank lines, \r\n ends (a part's '\r' failed in _fast_part)
    header = chunk[starts] == ord(">")
    header[0] &= carry == 0  # a '>' inside a line fails the translation below
    if state["short"] and not header[0] and not carry:
        raise _Irregular  # a short line that was not its record's last
    n_lines = sizes.size
    follows_header = np.concatenate([[state["after_header"]], header[:-1]])
    if np.any(header & follows_header):
        raise _Irregular  # an empty record
    first = ~header & follows_header  # each record's first sequence line sets its width
    last_mark = np.maximum.accumulate(np.where(first | header, np.arange(n_lines), -1))
    width = np.where(last_mark >= 0, sizes[np.maximum(last_mark, 0)], state["lb"])
    seq = ~header
    next_header = np.concatenate([header[1:], [True]])
    if np.any(seq & ((sizes > width) | ((sizes < width) & ~next_header))):
        raise _Irregular  # lines of uneven width
    slot = np.cumsum(header)  # 0: the record open before this chunk
    lengths = np.bincount(slot[seq], weights=sizes[seq], minlength=slot[-1] + 1)
    if state["after_header"]:  # the open record's first line is this chunk's first
        rec[-1][4], rec[-1][5] = int(sizes[0]), int(sizes[0]) + 1
    if rec:
        rec[-1][3] += int(lengths[0])
    raw, pieces, done = chunk.tobytes(), [], 0
    for k, i in enumerate(np.flatnonzero(header), start=1):
        pieces.append(raw[done : starts[i]])
        done = int(ends[i])
        lb = int(sizes[i + 1]) if i + 1 < n_lines else 0
        offset = pos + int(starts[i + 1]) if i + 1 < n_lines else pos + int(chunk.size)
        line = state["line"] + int(i)
        rec.append([pos + int(starts[i]) + 1, pos + int(ends[i]), offset, int(lengths[k]), lb,
                    lb + 1, line])  # fmt: skip
    state["after_header"] = bool(header[-1])
    state["lb"] = 0 if header[-1] else rec[-1][4]
    state["short"] = bool(seq[-1] and sizes[-1] < width[-1])
    state["line"] += n_lines
    # one C pass: newlines deleted, letters mapped to codes (headers were cut out above)
    codes = (b"".join(pieces) + raw[done:] if pieces else raw).translate(_CODE_TABLE, b"\n")
    if bytes([INVALID]) in codes:
        raise _Irregular  # a letter outside A/C/G/T/N/IUPAC (or '>' inside a line)
    return codes


def _raise_bad_byte(path: Path, buf: np.ndarray, index: _Index, st: np.ndarray) -> None:
    """The GenomeError for the byte the code kernel stopped at (record st[0], line st[1])."""
    r, line, col = int(st[0]), int(st[1]), int(st[4]) + int(st[3])
    value = int(buf[index.offsets[r] + line * index.linewidths[r] + col])
    where = f"{path}:{index.header_lines[r] + 1 + line}"
    if value == ord("\r"):
        raise GenomeError(f"{where}: {_SCAN_ERRORS[5]}")
    if value == ord(">"):
        raise GenomeError(
            f"{where}: '>' inside a sequence line (column {col + 1}): a header must start its "
            "own line: add the missing line break before it, or remove the '>'"
        )
    if value == ord("\n"):
        raise GenomeError(f"{where}: {_SCAN_ERRORS[4]}")
    letter = repr(chr(value)) if 32 <= value < 127 else f"byte {value}"
    raise GenomeError(
        f"{where}: invalid letter {letter} in sequence {index.names[r]!r} (column {col + 1}): "
        "expected A, C, G, T, N or an IUPAC code (R Y S W K M B D H V); replace it, e.g. by N"
    )


# ----------------------------------------------------------------------------- fetching
# Plain numpy on purpose: the per-batch path of every DataLoader worker loads no numba (LLVM),
# and a batch of in-bounds windows is one fancy-index copy of L-byte rows out of a strided
# view of the cache, as fast as a compiled loop (memory-bound either way).
def _fetch_codes(
    read: Callable[[np.ndarray, int], np.ndarray],
    offsets: np.ndarray,
    lengths: np.ndarray,
    contig: np.ndarray,
    starts: np.ndarray,
    reverse: np.ndarray,
    length: int,
) -> np.ndarray:
    """The windows [start, start + length) of the given contigs as (B, length) uint8 codes,
    N-padded past either contig end, reverse-complemented where ``reverse``. The contig
    indices must be in range; ``read(first, width)`` gives the (k, width) writable codes at
    the cache offsets ``first``."""
    size = lengths[contig]
    inside = (starts >= 0) & (starts + length <= size)
    first = offsets[contig] + starts
    if length > 0 and inside.all():
        out = read(first, length)
    else:
        out = np.full((len(starts), length), N_CODE, dtype=np.uint8)
        if length > 0 and inside.any():
            out[inside] = read(first[inside], length)
        for i in np.flatnonzero(~inside):  # windows reaching past a contig end (rare)
            a = min(max(-int(starts[i]), 0), length)
            b = max(min(int(size[i] - starts[i]), length), a)
            if b > a:
                out[i, a:b] = read(first[i : i + 1] + a, b - a)[0]
    if reverse.any():
        out[reverse] = COMPLEMENT_CODE[out[reverse, ::-1]]
    return out


# ----------------------------------------------------------------------------- Genome
class Genome:
    """A FASTA genome: contig names and sizes, and batched fetches as uint8 codes.

    The first open builds a ``.fai`` index and a memory-mapped code cache (see the module
    docstring); later opens read a small JSON file and map the cache. Pickling is cheap (no
    sequence data travels): a DataLoader worker maps the same cache file again.

    Args:
        path: a FASTA file, plain or bgzip-compressed (``.fa.gz``/``.bgz``, needs biopython).
        cache_dir: folder for the index and code cache; default ``$SEQNN_CACHE_DIR`` if set,
            else the FASTA's folder.

    Raises:
        GenomeError: naming the file (and line) for a missing, plain-gzip or malformed FASTA,
            or an index/cache folder that cannot be written.

    Example:
        >>> genome = Genome("hg38.fa")
        >>> codes = genome.fetch_codes(["chr1", "chr2"], [1000, 5000], [2000, 6000])  # (2, 1000)
    """

    _window_view: np.ndarray | None = None  # also for a Genome pickled before it existed
    _reader = None  # the cache file opened for batch reads (None until the first batch)

    def __init__(self, path: str | Path, cache_dir: str | Path | None = None) -> None:
        self.path = Path(path).expanduser().absolute()
        self._bgzf = _check_file(self.path)
        cache_dir = cache_dir or os.environ.get(CACHE_ENV) or None
        self.cache_dir = Path(cache_dir).expanduser().absolute() if cache_dir else None
        folder, stem = self._cache_location()
        self.cache_path = folder / f"{stem}.seqnn-codes"
        self.fai_path = folder / f"{stem}.fai"
        self._meta_path = folder / f"{stem}.seqnn-codes.json"
        meta = self._load_meta() or self._build(folder)
        self.names: list[str] = list(meta["names"])
        self.sizes: dict[str, int] = dict(zip(self.names, meta["sizes"], strict=True))
        self._lengths = np.asarray(meta["sizes"], dtype=np.int64)
        self._offsets = np.asarray(meta["offsets"], dtype=np.int64)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._codes: np.ndarray | None = None
        self._fasta = None

    def _cache_location(self) -> tuple[Path, str]:
        stem = cache_stem(self.path, self.cache_dir)
        return stem.parent, stem.name

    # ------------------------------------------------------------------ cache
    def _load_meta(self) -> dict | None:
        """The cache's JSON sidecar if it matches the FASTA as it is now, else None."""
        try:
            meta = json.loads(self._meta_path.read_text())
            size = self.cache_path.stat().st_size
        except (OSError, ValueError):
            return None
        current = {"version": CACHE_VERSION, **_stat_key(self.path)}
        if any(meta.get(k) != v for k, v in current.items()) or size != meta.get("total"):
            return None
        # the content, not only the file's size and dates (128 KiB read)
        same = sidecar_matches(meta, {"fasta_sample": self.path, "codes_sample": self.cache_path})
        return meta if same else None

    def _build(self, folder: Path) -> dict:
        """Index the FASTA, write the code cache and its sidecar; return the sidecar."""
        if not _writable(folder):
            fix = (
                f"pass cache_dir= to Genome or set the environment variable {CACHE_ENV} to a "
                "writable folder"
                if self.cache_dir is None
                else "choose a writable cache_dir"
            )
            raise GenomeError(
                f"{self.path}: cannot write its index and code cache to {folder} "
                f"(read-only folder?): {fix}"
            )
        key = {**_stat_key(self.path), "fasta_sample": _sample_digest(self.path)}
        if self._bgzf:
            index = self._build_bgzf()
        else:
            with _FastaBytes(self.path) as fasta:
                index = _fast_build(self.path, fasta, self.cache_path)
                if index is None:  # anything unusual: the exact compiled scan
                    index = _scan_fasta(self.path, fasta.buf, lambda end: fasta.release(0, end))
                    _write_codes(self.path, fasta, index, self.cache_path)
            _atomic_write(self.fai_path, lambda fh: fh.write(index.fai_text().encode()))
        offsets = np.concatenate([[0], np.cumsum(index.lengths)[:-1]]).astype(np.int64)
        _settle(self.cache_path)
        meta = {
            "version": CACHE_VERSION,
            **key,
            "fasta": str(self.path),
            "names": index.names,
            "sizes": index.lengths.tolist(),
            "offsets": offsets.tolist(),
            "total": int(index.lengths.sum()),
            "codes_sample": _sample_digest(self.cache_path),
        }
        meta["digest"] = _meta_digest(meta)
        _atomic_write(self._meta_path, lambda fh: fh.write(json.dumps(meta).encode()))
        return meta

    def _build_bgzf(self) -> _Index:
        """bgzip FASTA: pyfaidx indexes and reads it (one contig in memory at a time).

        The ``.fai`` / ``.gzi`` are built afresh into a temporary folder and renamed into
        place: pyfaidx trusts index files that are newer than the FASTA, so a stale pair
        beside it (copied, or left from an earlier version of the file) would cut contigs.
        """
        if not self.path.name.lower().endswith((".gz", ".bgz")):
            raise GenomeError(f"{self.path}: bgzip-compressed FASTA must be named *.gz or *.bgz")
        folder = self.fai_path.parent
        fresh = Path(tempfile.mkdtemp(dir=folder, prefix=f".{self.fai_path.name}."))
        try:
            index = self._read_bgzf(fresh / "index.fai")
            os.replace(fresh / "index.gzi", self._gzi_path)
            os.replace(fresh / "index.fai", self.fai_path)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        return index

    def _read_bgzf(self, fai: Path) -> _Index:
        """Index the bgzip FASTA into ``fai`` (+ ``.gzi``) and write its code cache."""
        try:
            fasta = self._open_pyfaidx(fai)
            return self._write_bgzf_codes(fasta)
        except GenomeError:
            raise
        except (struct.error, EOFError, zlib.error, OSError, ValueError) as err:
            raise GenomeError(_truncated_bgzf(self.path, f"{type(err).__name__}: {err}")) from None

    def _write_bgzf_codes(self, fasta) -> _Index:
        names = list(fasta.keys())
        lengths = np.array([len(fasta[n]) for n in names], dtype=np.int64)

        def write(fh) -> None:
            for name in names:
                raw = np.frombuffer(str(fasta[name][:]).encode("ascii", "replace"), np.uint8)
                codes = BYTE_TO_CODE[raw]
                if np.any(codes == INVALID):
                    pos = int(np.argmax(codes == INVALID))
                    raise GenomeError(
                        f"{self.path}: sequence {name!r}, position {pos}: invalid letter "
                        f"{chr(raw[pos])!r}: expected A, C, G, T, N or an IUPAC code"
                    )
                fh.write(codes.tobytes())

        _atomic_write(self.cache_path, write)
        rec = np.zeros((len(names), 7), dtype=np.int64)
        rec[:, 3] = lengths
        return _Index(names, rec)

    @property
    def _gzi_path(self) -> Path:
        return self.fai_path.with_suffix(".gzi")

    def _open_pyfaidx(self, fai: Path | None = None):
        import pyfaidx

        fai = fai or self.fai_path
        try:
            return pyfaidx.Fasta(
                str(self.path),
                indexname=str(fai),
                gzi_indexname=str(fai.with_suffix(".gzi")),
                as_raw=True,
            )
        except ImportError as err:
            raise GenomeError(
                f"{self.path}: reading a bgzip-compressed FASTA needs biopython ({err}): "
                f"`pip install biopython`, or decompress it with `gunzip -c {self.path.name}`"
            ) from None
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat) as err:
            raise GenomeError(f"{self.path}: pyfaidx cannot index it: {err}") from None

    # ------------------------------------------------------------------ access
    @property
    def codes(self) -> np.ndarray:
        """The whole genome as one read-only flat uint8 code array (memory-mapped)."""
        if self._codes is None:
            self._codes = self._map_codes()
        return self._codes

    def _read(self, first: np.ndarray, width: int) -> np.ndarray:
        """The (k, width) codes at the cache offsets ``first``: one ``pread`` per window.

        A window read this way is a copy out of the page cache: nothing is mapped, so the
        cost per window and the process's resident set stay flat in the genome's size (a
        mapped gather faults in a fresh page per window and holds what it mapped: measured
        with 1M random 1-kb windows, 229k windows/s over a 0.1 Gb cache and 71k over 3.1 Gb,
        against 569k and 482k read this way). The loop runs once per window of a batch but
        each step is the system call itself; without ``os.pread`` (Windows) the windows come
        from the memory map.
        """
        if not hasattr(os, "pread"):
            return self._windows(width)[first]
        if self._reader is None:
            self._reader = open(self.cache_path, "rb", buffering=0)  # noqa: SIM115 (kept open)
        fd = self._reader.fileno()
        data = bytearray(b"".join([os.pread(fd, width, offset) for offset in first.tolist()]))
        if len(data) != len(first) * width:
            raise GenomeError(
                f"{self.cache_path}: the code cache is shorter than its index says (truncated "
                f"or replaced while open); open the Genome again to rebuild it"
            )
        return np.frombuffer(data, dtype=np.uint8).reshape(len(first), width)

    def _map_codes(self) -> np.ndarray:
        if self._lengths.sum() == 0:
            return np.zeros(0, dtype=np.uint8)
        try:
            with open(self.cache_path, "rb") as fh:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as err:
            raise GenomeError(
                f"{self.cache_path}: cannot map the code cache ({err}); open the "
                f"Genome again to rebuild it"
            ) from None
        # a plain read-only ndarray over the map (np.memmap's subclass costs time in every
        # call that takes it)
        return np.frombuffer(mapped, dtype=np.uint8)

    @property
    def fasta(self):
        """The FASTA opened through pyfaidx (``pyfaidx.Fasta``, raw strings) with this index."""
        if self._fasta is None:
            fasta = self._open_pyfaidx()
            if {name: len(fasta[name]) for name in fasta.keys()} != self.sizes:
                raise GenomeError(
                    f"{self.fai_path}: this index does not match the FASTA's contigs (a stale "
                    f"copy?): delete it and {self._meta_path.name}, then open the Genome again"
                )
            self._fasta = fasta
        return self._fasta

    def _windows(self, length: int) -> np.ndarray:
        """``sliding_window_view(codes, length)``, kept for the last width asked for."""
        view = self._window_view
        if view is None or view.shape[-1] != length:
            if length <= 0 or len(self.codes) < length:
                return np.zeros((0, max(length, 0)), dtype=np.uint8)
            view = np.lib.stride_tricks.sliding_window_view(self.codes, length)
            self._window_view = view
        return view

    def __getstate__(self) -> dict:
        # Open maps and file handles stay behind; a worker maps the cache file again.
        gone = ("_codes", "_reader", "_fasta", "_window_view")
        return {**self.__dict__, **dict.fromkeys(gone)}

    def __contains__(self, chrom: object) -> bool:
        return chrom in self._index

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {len(self)} contigs, {int(self._lengths.sum()):,} bp)"

    def contig_codes(self, chrom: str) -> np.ndarray:
        """A read-only view (size,) of one contig's codes."""
        i = self._contig_index([chrom])[0]
        return self.codes[self._offsets[i] : self._offsets[i] + self._lengths[i]]

    def release_codes(self, chrom: str, start: int, end: int) -> None:
        """Drop the pages of ``chrom``'s codes ``[start, end)`` from this process's resident
        set; they stay in the page cache and a later read maps them back. A scan of the whole
        genome (e.g. for N runs) then holds a chunk of it, not 3 GB, in its resident set."""
        mapped = getattr(self.codes.base, "obj", None)
        if not isinstance(mapped, mmap.mmap) or not hasattr(mapped, "madvise"):
            return
        i = self._contig_index([chrom])[0]
        base = int(self._offsets[i])
        lo = -(-(base + start) // mmap.PAGESIZE) * mmap.PAGESIZE
        hi = min(base + end, len(mapped)) // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo:
            mapped.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> str:
        """One interval as upper-case letters, N past the contig ends.

        Args:
            chrom: contig name.
            start, end: 0-based half-open coordinates; may reach past either contig end.
            strand: ``"-"`` gives the reverse complement.

        Returns:
            A string of ``end - start`` letters (soft-masking is not kept).
        """
        if end < start:
            raise GenomeError(f"{self.path}: fetch({chrom!r}, {start}, {end}): end < start")
        codes = self.fetch_codes([chrom], [start], [end], [strand])
        return CODE_TO_BYTE[codes[0]].tobytes().decode("ascii")

    def fetch_codes(
        self,
        chroms: Sequence[str] | np.ndarray | pd.Series,
        starts: Sequence[int] | np.ndarray | pd.Series,
        ends: Sequence[int] | np.ndarray | pd.Series,
        strands: Sequence[str] | np.ndarray | pd.Series | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fetch many equal-length intervals at once as uint8 codes.

        Args:
            chroms: (B,) contig names, or integer contig indices (positions in ``names``).
            starts, ends: (B,) 0-based half-open coordinates, all with one width L; bases
                past either contig end are N (code 4).
            strands: (B,) ``"+"``/``"-"``/``"."`` strings, +1/-1 integers or booleans
                (True = reverse); ``"-"`` intervals are reverse-complemented. None: all ``+``.
            out: optional (B, L) uint8 buffer to fill (reused between batches).

        Returns:
            (B, L) uint8 codes.
        """
        contig, starts, length, reverse = self._request(chroms, starts, ends, strands)
        return self.fetch_batch(contig, starts, length, reverse, out=out)

    def fetch_one_hot(
        self,
        chroms: Sequence[str] | np.ndarray | pd.Series,
        starts: Sequence[int] | np.ndarray | pd.Series,
        ends: Sequence[int] | np.ndarray | pd.Series,
        strands: Sequence[str] | np.ndarray | pd.Series | None = None,
        policy: EncodingPolicy = DEFAULT_POLICY,
    ) -> np.ndarray:
        """Fetch many equal-length intervals at once as float32 one-hot (B, 4, L).

        The same as ``one_hot(fetch_codes(...), policy=policy)`` in one compiled pass.
        Arguments as in :meth:`fetch_codes`; ``policy`` says how N and IUPAC codes are encoded.
        """
        contig, starts, length, reverse = self._request(chroms, starts, ends, strands)
        return self.fetch_batch(contig, starts, length, reverse, policy=policy)

    def fetch_batch(
        self,
        contig: np.ndarray,
        starts: np.ndarray,
        length: int,
        reverse: np.ndarray | None = None,
        policy: EncodingPolicy | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The per-batch path of datasets: contig indices, starts and one width, no name lookup.

        Args:
            contig: (B,) int64 contig indices (positions in ``names``), range-checked.
            starts: (B,) int64 0-based starts; windows are [start, start + length), N-padded
                past either contig end.
            length: the window width L.
            reverse: (B,) bool, True to reverse-complement; None: none.
            policy: None for uint8 codes (B, L); an :class:`EncodingPolicy` for float32
                one-hot (B, 4, L) written in the same pass (a fresh array every call: a
                caller may keep the batches it was given).
            out: codes only: an optional (B, L) uint8 buffer to fill.

        Returns:
            (B, L) uint8 codes, or (B, 4, L) float32 one-hot.
        """
        contig = np.asarray(contig, dtype=np.int64)
        starts = np.asarray(starts, dtype=np.int64)
        if reverse is None:
            reverse = np.zeros(len(starts), dtype=np.bool_)
        bad = (contig < 0) | (contig >= len(self.names))
        if bad.any():
            raise GenomeError(
                f"{self.path}: contig index {contig[np.argmax(bad)]} is out of range "
                f"0..{len(self) - 1}"
            )
        codes = _fetch_codes(
            self._read,
            self._offsets,
            self._lengths,
            contig,
            starts,
            reverse,
            length,
        )
        if policy is not None:
            return codes_to_one_hot(codes, policy)
        if out is not None and out.shape == codes.shape and out.dtype == np.uint8:
            out[...] = codes
            return out
        return codes

    def soft_masked_fraction(
        self, contig: np.ndarray, starts: np.ndarray, length: int, chunk: int = 1 << 22
    ) -> np.ndarray:
        """(B,) fraction of lower-case (soft-masked, e.g. RepeatMasker) letters in the windows
        ``[start, start + length)`` of the contigs ``contig`` (indices into ``names``), over
        the bases inside the contig (NaN for a window wholly outside it).

        The code cache drops case, so the letters are read from the FASTA itself: a plain
        FASTA is mapped and each window's bytes gathered through the ``.fai`` line layout, a
        batch of about ``chunk`` bases at a time (their pages leave the resident set after
        each batch); a bgzip FASTA through pyfaidx a span of nearby windows at a time (up to
        ``chunk`` bases a read).
        """
        contig = np.asarray(contig, np.int64)
        starts = np.asarray(starts, np.int64)
        out = np.full(len(starts), np.nan)
        if not len(starts) or length <= 0:
            return out
        if self._bgzf:
            return self._soft_masked_bgzf(contig, starts, length, chunk, out)
        fai = pd.read_csv(self.fai_path, sep="\t", header=None, usecols=[2, 3, 4])
        offset, line_bases, line_width = (fai[c].to_numpy(np.int64) for c in (2, 3, 4))
        rows = max(chunk // length, 1)
        with _FastaBytes(self.path) as fasta:
            for a in range(0, len(starts), rows):
                c, s = contig[a : a + rows], starts[a : a + rows]
                pos = s[:, None] + np.arange(length)[None, :]  # (b, L) contig positions
                inside = (pos >= 0) & (pos < self._lengths[c][:, None])
                pos = np.clip(pos, 0, np.maximum(self._lengths[c] - 1, 0)[:, None])
                lb = np.maximum(line_bases[c], 1)[:, None]  # 0 for an empty contig
                byte = offset[c][:, None] + pos // lb * line_width[c][:, None] + pos % lb
                lower = (fasta.buf[byte] >= ord("a")) & inside
                with np.errstate(invalid="ignore"):
                    out[a : a + rows] = lower.sum(1) / inside.sum(1)
                fasta.release(0, fasta.buf.size)
        return out

    def _soft_masked_bgzf(self, contig, starts, length: int, chunk: int, out: np.ndarray):
        """:meth:`soft_masked_fraction` of a bgzip FASTA: the windows in genome order are
        cut into spans (a new one at a contig change, a gap of more than 64 kb: a bgzip
        block's worth, or every ``chunk`` bases), each span read through pyfaidx once and
        its windows counted on the span's cumulative lower-case count: one read per span,
        not per window."""
        a = np.maximum(starts, 0)
        b = np.minimum(starts + length, self._lengths[contig])
        order = np.lexsort((a, contig))
        a, b, c = a[order], b[order], contig[order]
        near = np.r_[False, (c[1:] == c[:-1]) & (a[1:] <= b[:-1] + (1 << 16))]
        segment = np.cumsum(~near)
        head = np.flatnonzero(~near)
        piece = (a - a[head][segment - 1]) // max(chunk, length)  # spans of <= chunk bases
        new = np.r_[True, (segment[1:] != segment[:-1]) | (piece[1:] != piece[:-1])]
        edges = np.r_[np.flatnonzero(new), len(a)]
        for i, j in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            lo, hi = int(a[i:j].min()), int(b[i:j].max())
            if hi <= lo:
                continue  # windows wholly outside their contig: NaN
            text = self.fasta[self.names[c[i]]][lo:hi]
            lower = np.frombuffer(str(text).encode(), np.uint8) >= ord("a")
            cum = np.r_[0, np.cumsum(lower)]
            x, y = np.clip(a[i:j] - lo, 0, hi - lo), np.clip(b[i:j] - lo, 0, hi - lo)
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = (cum[y] - cum[x]) / (y - x)
            out[order[i:j]] = np.where(y > x, frac, np.nan)
        return out

    def _request(
        self, chroms, starts, ends, strands
    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """Check a fetch request: (contig indices, starts, width, reverse flags)."""
        starts = np.atleast_1d(np.asarray(starts, dtype=np.int64))
        ends = np.atleast_1d(np.asarray(ends, dtype=np.int64))
        contig = self._contig_index(chroms)
        if not len(contig) == len(starts) == len(ends):
            raise GenomeError(
                f"fetch_codes: {len(contig)} chroms, {len(starts)} starts, {len(ends)} ends: "
                "give one of each per interval"
            )
        length = int(ends[0] - starts[0]) if len(starts) else 0
        if np.any(ends - starts != length) or length < 0:
            i = int(np.argmax(ends - starts != length)) if length >= 0 else 0
            raise GenomeError(
                f"fetch_codes: interval {i} ({starts[i]}-{ends[i]}) has width "
                f"{ends[i] - starts[i]}, interval 0 has {length}: a batch needs one width "
                "(resize the intervals first, seqnn.data.intervals.resize)"
            )
        return contig, starts, length, _reverse_flags(strands, len(starts))

    def _contig_index(self, chroms) -> np.ndarray:
        """Contig names (or indices) -> (B,) int64 contig indices, a dict lookup in C per name."""
        if isinstance(chroms, str):
            chroms = [chroms]
        if isinstance(chroms, pd.Series) and isinstance(chroms.dtype, pd.CategoricalDtype):
            lookup = self._contig_index(np.asarray(chroms.cat.categories, dtype=object))
            return lookup[chroms.cat.codes.to_numpy()]
        arr = np.asarray(chroms) if not isinstance(chroms, np.ndarray) else chroms
        if arr.dtype.kind in "iu":  # indices: the fetch kernels check the range
            return arr.astype(np.int64, copy=False).reshape(-1)
        values = arr.reshape(-1).tolist()
        try:
            return np.fromiter(map(self._index.__getitem__, values), np.int64, len(values))
        except KeyError as err:
            raise GenomeError(self.unknown_contig_message(err.args[0])) from None

    def unknown_contig_message(self, chrom: object) -> str:
        """``'<fasta>: no contig 'chr1' (did you mean '1'?)...'``: for error messages."""
        near = suggest_contig(str(chrom), self.names)
        hint = f" (did you mean {near!r}?)" if near else ""
        shown = ", ".join(self.names[:5]) + (", ..." if len(self) > 5 else "")
        return f"{self.path.name}: no contig {chrom!r}{hint}; its contigs are {shown}"


def suggest_contig(chrom: str, names: Iterable[str]) -> str | None:
    """The contig name ``chrom`` most likely meant: the same name with or without a ``chr``
    prefix, or in another case, else the closest spelling (difflib); None if nothing is close."""
    import difflib

    names = list(names)
    by_key = {n.lower().removeprefix("chr"): n for n in names}
    key = chrom.lower().removeprefix("chr")
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(chrom, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _reverse_flags(strands, n: int) -> np.ndarray:
    """(B,) bool: which intervals to reverse-complement."""
    if strands is None:
        return np.zeros(n, dtype=np.bool_)
    arr = np.atleast_1d(np.asarray(strands))
    if arr.shape != (n,):
        raise GenomeError(f"fetch_codes: {arr.size} strands for {n} intervals")
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind in "iuf":
        return arr < 0
    reverse = arr == "-"
    bad = ~(reverse | (arr == "+") | (arr == "."))
    if bad.any():
        i = int(np.argmax(bad))
        raise GenomeError(
            f"fetch_codes: strand {str(arr[i])!r} of interval {i} is not '+', '-' or '.'"
        )
    return np.asarray(reverse, dtype=np.bool_)
