"""Genome intervals: read BED / narrowPeak / TSV / CSV tables, validate them against a genome,
resize, tile, and split them into train / val / test sets.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; the
intervals here say which genome windows become those sequences.

An interval table is a pandas DataFrame with ``chrom``, ``start``, ``end`` (0-based,
half-open, int64) and any other columns. :func:`read_intervals` adds a ``line`` column (the
1-based line of each row in its file) and ``attrs["source"]`` (the file name), so that errors
say ``regions.bed:12: ...``. All operations are vectorised over the table.
"""

from __future__ import annotations

import gzip
import io
import re
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from seqnn.data.genome import Genome, suggest_contig
from seqnn.errors import SeqnnInputError

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]
NARROWPEAK_COLUMNS = BED_COLUMNS + ["signal_value", "p_value", "q_value", "peak"]
_ALIASES = {
    "chrom": ("chrom", "chr", "chromosome", "seqname", "seqnames", "contig", "#chrom"),
    "start": ("start", "chromstart", "start0", "begin"),
    "end": ("end", "chromend", "stop"),
}
_SKIP = ("#", "track", "browser")
_MAX_COORDINATE = 2**53  # read exactly as a float; no genome comes near it
LINE = "line"


class IntervalError(SeqnnInputError):
    """An interval table that cannot be read, or intervals that do not fit the genome."""


# ----------------------------------------------------------------------------- reading
def read_intervals(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a BED, narrowPeak, TSV or CSV table of intervals (plain or gzip).

    BED-like files (no header row) get the BED names ``chrom, start, end, name, score,
    strand`` (narrowPeak: ``+ signal_value, p_value, q_value, peak``); further columns take
    their names from a ``#`` comment line just above the data, else ``col7``, ``col8``, ...
    A header row (its start/end fields are not numbers) names the columns instead; ``chr`` /
    ``chromosome`` / ``chromStart`` / ``chromEnd`` and the like are read as chrom/start/end.
    ``#`` comments, UCSC ``track`` and ``browser`` lines (the word, then a space or the end
    of the line: a contig named ``trackA`` is data) and blank lines are skipped.

    Args:
        path: the file; ``.csv`` is comma-separated, anything else tab-separated.
        columns: names for the columns in order (overrides the names above).

    Returns:
        DataFrame with chrom (str), start, end (int64), the other columns, and ``line`` (the
        1-based line in the file); ``attrs["source"]`` is the file name.

    Raises:
        IntervalError: ``file:line: ...`` for spaces instead of tabs, fewer than 3 columns,
            non-integer start/end, or a file without intervals.
    """
    path = Path(path)
    reader = _TableReader(path, columns)
    frame = reader.parse(_read_bytes(path), final=True)
    if frame is None:
        raise reader.empty_error()
    return frame


def iter_intervals(
    path: str | Path, columns: Sequence[str] | None = None, chunk_bytes: int = 1 << 22
) -> Iterator[pd.DataFrame]:
    """:func:`read_intervals` a block of lines at a time, for files of millions of rows.

    The file is read once, in blocks of about ``chunk_bytes`` bytes cut at line ends
    (gunzipped on the fly), so memory holds one block's rows whatever the file's size. The
    header row or ``#`` names and the column names come from the first block with data and
    hold for the whole file; ``line`` counts from the start of the file. A file that fits in
    one block gives exactly :func:`read_intervals`' table (in a longer file, a column whose
    blocks parse to different types, e.g. integers and blanks, may print differently).

    Args:
        path: the file (as in :func:`read_intervals`).
        columns: names for the columns in order.
        chunk_bytes: the size of a block (rows per table: about this / the line length).

    Yields:
        DataFrames as :func:`read_intervals` returns them, in file order.

    Raises:
        IntervalError: as :func:`read_intervals`, naming the file's line.
    """
    path = Path(path)
    reader = _TableReader(path, columns)
    found = False
    for block, last in _byte_blocks(path, chunk_bytes):
        frame = reader.parse(block, final=last)
        if frame is not None:
            found = True
            yield frame
    if not found:
        raise reader.empty_error()


class _TableReader:
    """Parses a table's blocks of whole lines in file order: the first block with data
    decides the separator's columns and their names; later blocks reuse them."""

    def __init__(self, path: Path, columns: Sequence[str] | None) -> None:
        self.path, self.columns, self.source = path, columns, path.name
        self.sep = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
        self.names: list[str] | None = None
        self.offset = 0  # lines before the current block
        self.carry = b""  # leading blocks with no data yet (comments only)
        self.header_only = False

    def empty_error(self) -> IntervalError:
        what = "only a header row" if self.header_only else "the file is empty or only comments"
        return IntervalError(f"{self.source}: no intervals ({what})")

    def parse(self, raw: bytes, final: bool) -> pd.DataFrame | None:
        """The block's rows as a table (None: no data rows in it)."""
        raw, self.carry = self.carry + raw, b""
        text = _Lines(raw)
        keep = ~text.skipped()
        if self.names is None and not self._first_block(text, keep, final):
            self.carry = raw if not final else b""
            return None
        rows = np.flatnonzero(keep)  # 0-based line of each data row, in this block
        lines = self.offset + rows  # ... in the file
        self.offset += len(text.starts)
        if not len(rows):
            return None
        frame = _parse(text.select(keep), self.sep, self.names, lines, self.source)
        if not (frame["start"].dtype == frame["end"].dtype == np.int64):
            _check_fields(text, rows, self.sep, self.source, self.offset - len(text.starts))
        frame = _coordinates(frame, lines + 1, self.source)
        frame.attrs["source"] = self.source
        return frame

    def _first_block(self, text: _Lines, keep: np.ndarray, final: bool) -> bool:
        """Find the header and column names (False: not yet, no data row in the block)."""
        self.header_only = False
        if not keep.any():
            return False
        first = int(np.argmax(keep))
        header = _header_names(text.line(first), self.sep)
        if header is not None:
            if not keep[first + 1 :].any():
                self.header_only = True
                return False
            keep[first] = False
        elif first > 0 and text.line(first - 1).strip().startswith("#"):
            header = _comment_names(text.line(first - 1), self.sep)
        rows = np.flatnonzero(keep)
        n = text.line(int(rows[0])).count(self.sep) + 1
        if n < 3:
            _check_fields(text, rows, self.sep, self.source, self.offset)
        self.names = _column_names(n, self.columns, header, self.path)
        return True


def _byte_blocks(path: Path, chunk_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """(block, is_last): the file's bytes (gunzipped) in blocks of whole lines."""
    if not path.exists():
        raise IntervalError(f"{path}: no such interval file")
    try:
        with open(path, "rb") as raw:
            fh = gzip.GzipFile(fileobj=raw) if raw.peek(2)[:2] == b"\x1f\x8b" else raw
            rest, first = b"", True
            while True:
                data = fh.read(chunk_bytes)
                if first:
                    data, first = data.removeprefix(b"\xef\xbb\xbf"), False
                if not data:
                    yield rest, True
                    return
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest += data
                    continue
                block, rest = rest + data[:cut], data[cut:]
                yield block, False
    except (OSError, EOFError, zlib.error) as err:  # a truncated or corrupt .gz
        raise IntervalError(f"{path}: cannot read it ({err}): is the file complete?") from None


def _read_bytes(path: Path) -> bytes:
    """The file's bytes (gunzipped), read once: a pipe such as ``<(cat r.bed)`` can be read
    only once."""
    if not path.exists():
        raise IntervalError(f"{path}: no such interval file")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:  # a truncated or corrupt .gz
        raise IntervalError(f"{path}: cannot read it ({err}): is the file complete?") from None
    return data.removeprefix(b"\xef\xbb\xbf")  # an editor's UTF-8 byte-order mark


def _ucsc_header(line: str) -> bool:
    """Whether a (stripped) line is a UCSC ``track`` or ``browser`` line: the word alone or
    followed by a space."""
    return any(line == word or line.startswith(f"{word} ") for word in _SKIP[1:])


class _Lines:
    """A text file's bytes with the start and end (before ``\\r\\n`` / ``\\n``) of every
    line, found in a few numpy passes rather than a Python object per line."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        buf = np.frombuffer(raw, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        self.starts = np.concatenate([[0], newlines + 1])
        self.ends = np.concatenate([newlines, [buf.size]])
        if buf.size and buf[-1] == 10:  # no line after the final newline
            self.starts, self.ends = self.starts[:-1], self.ends[:-1]
        if buf.size:
            cr = buf[np.maximum(self.ends - 1, 0)] == 13
            self.ends = self.ends - (cr & (self.ends > self.starts))
        self.buf = buf

    def line(self, i: int) -> str:
        return self.raw[self.starts[i] : self.ends[i]].decode("utf-8", "replace")

    def skipped(self) -> np.ndarray:
        """(n_lines,) bool: blank lines, ``#`` comments, ``track`` and ``browser`` lines."""
        buf, starts, ends = self.buf, self.starts, self.ends
        if not buf.size:
            return np.ones(starts.size, dtype=bool)
        first = np.where(ends > starts, buf[np.minimum(starts, max(buf.size - 1, 0))], 0)
        skip = (ends == starts) | (first == ord("#"))
        for prefix in _SKIP[1:]:
            word = np.frombuffer(prefix.encode(), dtype=np.uint8)
            # only lines that start with the word's first letter (rare in data) are compared
            lines = np.flatnonzero((first == word[0]) & (ends - starts >= word.size))
            match = np.ones(lines.size, dtype=bool)
            for k, byte in enumerate(word[1:], 1):
                match &= buf[starts[lines] + k] == byte
            # the word alone or followed by a space (UCSC's form): a contig named 'trackA'
            # or 'track' (tab-separated) is data
            after = starts[lines] + word.size
            alone = after >= ends[lines]
            match &= alone | (buf[np.minimum(after, buf.size - 1)] == ord(" "))
            skip[lines[match]] = True
        # Lines that start with white space (rare): decided on the stripped text.
        for i in np.flatnonzero(np.isin(first, (9, 11, 12, 13, 32))):
            stripped = self.line(i).strip()
            skip[i] = not stripped or stripped.startswith("#") or _ucsc_header(stripped)
        return skip

    def select(self, keep: np.ndarray) -> bytes:
        """The bytes of the kept lines (newline-terminated), in one vectorised pass."""
        first = int(np.argmax(keep))
        if keep[first:].all():  # the usual case: only a header block to skip
            return self.raw[self.starts[first] :]
        spans = np.concatenate([self.starts[1:], [self.buf.size]]) - self.starts
        mask = np.repeat(keep, spans)
        return self.buf[mask].tobytes()


def _parse(data: bytes, sep: str, names: list[str], rows: np.ndarray, source: str) -> pd.DataFrame:
    """pandas' C parser over the data lines; its errors name the file's line."""
    try:
        return pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            header=None,
            names=names,
            dtype={"chrom": str},
            encoding_errors="replace",
        )
    except pd.errors.ParserError as err:
        found = re.search(r"line (\d+)", str(err))
        i = int(found.group(1)) - 1 if found else -1
        where = f"{source}:{rows[i] + 1}" if 0 <= i < len(rows) else source
        raise IntervalError(
            f"{where}: more columns than the first data row ({len(names)}): every row needs "
            f"the same columns ({err})"
        ) from None


def _header_names(line: str, sep: str) -> list[str] | None:
    """The fields of ``line`` if it is a header row (it names start and end columns)."""
    fields = [f.strip() for f in line.split(sep)]
    named = {_canonical(f) for f in fields}
    return fields if {"start", "end"} <= named else None


def _comment_names(line: str, sep: str) -> list[str]:
    return [f.strip() for f in line.lstrip("#").split(sep)]


def _check_fields(text: _Lines, rows: np.ndarray, sep: str, source: str, offset: int = 0) -> None:
    """Raise for the first data row with fewer than three fields (spaces instead of tabs?);
    ``offset``: the lines of the file before ``text``."""
    hits = np.concatenate([[0], np.cumsum(text.buf == ord(sep))])
    n_fields = hits[text.ends[rows]] - hits[text.starts[rows]] + 1
    bad = n_fields < 3
    if not bad.any():
        return
    k = int(np.argmax(bad))
    line = text.line(int(rows[k]))
    where = f"{source}:{offset + rows[k] + 1}"
    if sep == "\t" and len(line.split()) >= 3:
        raise IntervalError(
            f"{where}: fields are separated by spaces, not tabs: BED files need tabs "
            "(convert with `sed 's/  */\\t/g'`)"
        )
    raise IntervalError(
        f"{where}: {int(n_fields[k])} column(s), an interval needs at least 3 "
        f"(chrom, start, end) separated by {'tabs' if sep == chr(9) else 'commas'}"
    )


def _column_names(
    n: int, columns: Sequence[str] | None, header: list[str] | None, path: Path
) -> list[str]:
    """Names of the n columns: explicit, from a header row, or BED/narrowPeak positions."""
    if columns is not None:
        if len(columns) != n:
            raise IntervalError(f"{path.name}: columns= names {len(columns)} columns, found {n}")
        return list(columns)
    if header is not None and len(header) == n:
        named = [_canonical(h) for h in header]
        if {"chrom", "start", "end"} <= set(named):
            return named
    narrow = "narrowpeak" in path.name.lower() or (n == 10 and header is None)
    standard = NARROWPEAK_COLUMNS if narrow else BED_COLUMNS
    extra = header[len(standard) :] if header is not None and len(header) == n else []
    names = standard[:n] + extra
    return names + [f"col{i + 1}" for i in range(len(names), n)]


def _canonical(name: str) -> str:
    low = name.strip().lower()
    return next((key for key, names in _ALIASES.items() if low in names), name.strip())


def _coordinates(frame: pd.DataFrame, lines: np.ndarray, source: str) -> pd.DataFrame:
    """chrom as str, start/end as int64 (naming the first bad line), plus the ``line`` column."""
    for col in ("start", "end"):
        if frame[col].dtype == np.int64:  # the parser found only integers
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        huge = values.abs() >= _MAX_COORDINATE
        if huge.any():  # int64 would wrap it round to a negative number
            i = int(np.argmax(huge.to_numpy()))
            raise IntervalError(
                f"{source}:{lines[i]}: {col} {str(frame[col].iloc[i])!r} is beyond any "
                "genome coordinate (2^53 or more in size): fix the line or drop it"
            )
        bad = values.isna() | (values != np.floor(values))
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            header = (
                "; if this line is a header, name its columns chrom, start, end or start it "
                "with '#'"
                if i == 0 and np.isnan(values.iloc[i])
                else ""
            )
            raise IntervalError(
                f"{source}:{lines[i]}: {col} {str(frame[col].iloc[i])!r} is not an integer "
                f"(BED coordinates are 0-based integers){header}"
            )
        frame[col] = values.astype(np.int64)
    if not pd.api.types.is_string_dtype(frame["chrom"]):
        frame["chrom"] = frame["chrom"].astype(str)
    if LINE not in frame.columns:
        frame[LINE] = lines
    return frame


# ----------------------------------------------------------------------------- validation
def validate_intervals(
    df: pd.DataFrame,
    genome: Genome | Mapping[str, int],
    on_invalid: Literal["error", "drop", "pad"] = "error",
    source: str | None = None,
) -> pd.DataFrame:
    """Check intervals against a genome's contigs and sizes.

    Problems: an unknown contig (the message suggests the likely name, e.g. ``1`` for
    ``chr1``), start < 0, start >= end, end past the contig end.

    Args:
        df: intervals (chrom, start, end, ...).
        genome: a Genome or a {contig: size} mapping.
        on_invalid: ``"error"`` raises for the first problem; ``"drop"`` drops every bad
            interval with one warning counting them by reason; ``"pad"`` keeps intervals
            that reach past a contig end (fetches pad them with N) but still raises for
            unknown contigs and start >= end.
        source: file name for messages (default ``df.attrs["source"]``).

    Returns:
        The valid intervals (a filtered copy for ``"drop"``, else ``df``).

    Raises:
        IntervalError: ``file:line: message``, e.g.
            ``regions.bed:12: end 5000 is past the end of chr2 (length 4000)``.
    """
    return checked_intervals(df, genome, on_invalid, source)[0]


def checked_intervals(
    df: pd.DataFrame,
    genome: Genome | Mapping[str, int],
    on_invalid: Literal["error", "drop", "pad"] = "error",
    source: str | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`validate_intervals`, also returning each kept row's contig index (its position
    in the genome's contig order), which the check computes anyway."""
    if on_invalid not in ("error", "drop", "pad"):
        raise IntervalError(f"on_invalid={on_invalid!r}: give on_invalid=error, drop or pad")
    sizes = genome.sizes if isinstance(genome, Genome) else dict(genome)
    source = source or df.attrs.get("source", "intervals")
    contig = contig_indices(df["chrom"], list(sizes))
    size = np.append(np.array(list(sizes.values()), dtype=np.float64), np.nan)[contig]
    start, end = df["start"].to_numpy(np.int64), df["end"].to_numpy(np.int64)
    problems = {
        "unknown contig": np.isnan(size),
        "start >= end": start >= end,
        "negative start": start < 0,
        "past the contig end": end > size,
    }
    fatal = ("unknown contig", "start >= end") if on_invalid == "pad" else tuple(problems)
    if on_invalid != "drop":
        for reason in fatal:
            if problems[reason].any():
                i = int(np.argmax(problems[reason]))
                raise IntervalError(_problem_message(df, i, reason, sizes, source, problems))
        return df, contig
    bad = np.logical_or.reduce(list(problems.values()))
    if bad.any():
        counts = ", ".join(f"{int(m.sum())} {r}" for r, m in problems.items() if m.any())
        warnings.warn(
            f"{source}: dropped {int(bad.sum())} of {len(df)} intervals ({counts})", stacklevel=3
        )
    return df[~bad], contig[~bad]


def strand_flags(
    df: pd.DataFrame, column: str = "strand", source: str | None = None
) -> np.ndarray:
    """(n,) bool: which intervals are on the reverse strand (``-``).

    The spellings of BED's strand column are ``+``, ``-`` and ``.`` (no strand, read as
    ``+``); anything else (``-1``, ``minus``, ``?``, a blank) is refused rather than read as
    ``+``.

    Args:
        df: intervals with a strand column.
        column: its name.
        source: file name for messages (default ``df.attrs["source"]``).

    Raises:
        IntervalError: ``file:line: strand '-1' is not '+', '-' or '.' ...``.
    """
    source = source or df.attrs.get("source", "intervals")
    if column not in df.columns:
        raise IntervalError(
            f"{source}: no strand column {column!r} (columns are {list(df.columns)})"
        )
    strands = df[column].astype(str).to_numpy(dtype=object)
    bad = ~np.isin(strands, ("+", "-", "."))
    if bad.any():
        i = int(np.argmax(bad))
        where = f"{source}:{df[LINE].iloc[i]}" if LINE in df.columns else f"{source}: row {i}"
        more = f" ({int(bad.sum()) - 1} more like this)" if bad.sum() > 1 else ""
        raise IntervalError(
            f"{where}: strand {strands[i]!r} is not '+', '-' or '.'{more}: write '-' for the "
            "reverse strand, '+' or '.' for the forward one"
        )
    return strands == "-"


def contig_indices(chrom: pd.Series | Sequence[str], names: Sequence[str]) -> np.ndarray:
    """(n,) int64 position of each interval's contig in ``names``, -1 where it is not there.

    One hash pass over the column (``pd.factorize``) and a dict lookup per distinct contig,
    so it costs a few ms for 100,000 intervals.
    """
    if isinstance(chrom, pd.Series) and isinstance(chrom.dtype, pd.CategoricalDtype):
        codes, uniques = chrom.cat.codes.to_numpy(np.int64), chrom.cat.categories
    else:
        values = chrom.to_numpy(dtype=object) if isinstance(chrom, pd.Series) else chrom
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    position = {name: i for i, name in enumerate(names)}
    lookup = [position.get(str(u), -1) for u in uniques]
    return np.array([*lookup, -1], dtype=np.int64)[codes]  # code -1 (missing) -> -1


def _problem_message(df, i: int, reason: str, sizes, source: str, problems) -> str:
    row = df.iloc[i]
    where = f"{source}:{row[LINE]}" if LINE in df.columns else f"{source}: row {i}"
    chrom, start, end = str(row["chrom"]), int(row["start"]), int(row["end"])
    n_more = int(problems[reason].sum()) - 1
    more = f" ({n_more} more interval(s) like this)" if n_more else ""
    fix = "; pass on_invalid='drop' (seqnn-train: data.on_invalid=drop) to drop such intervals"
    if reason == "unknown contig":
        near = suggest_contig(chrom, sizes)
        hint = f" (did you mean {near!r}? rename the contigs to match the FASTA)" if near else ""
        return f"{where}: contig {chrom!r} is not in the genome{hint}{more}{fix}"
    if reason == "start >= end":
        return f"{where}: start {start} is not before end {end}{more}{fix}"
    if reason == "negative start":
        msg = f"{where}: start {start} is negative{more}"
    else:
        msg = f"{where}: end {end} is past the end of {chrom} (length {sizes[chrom]}){more}"
    return msg + (
        "; pass on_invalid='pad' to pad with N or 'drop' to drop such intervals "
        "(seqnn-train: data.on_invalid=pad)"
    )


# ----------------------------------------------------------------------------- reshaping
def centred_start(start, end, length: int):
    """Start of the window of ``length`` centred on ``[start, end)``: the one centring rule.

    The centre is ``(start + end) // 2`` (rounded down) and the window starts
    ``length // 2`` before it, so an interval of width ``w`` keeps ``(length - w) // 2``
    bases to the left of it when growing (the extra odd base goes to the right). Intervals
    (:func:`resize`), sequences cut to a model's input length, scan bins and variant alleles
    are all centred this way.

    Args:
        start, end: 0-based half-open bounds: ints or integer numpy arrays.
        length: the window width.

    Returns:
        The window start(s), same type as ``start``; the window is ``[s, s + length)``.
    """
    return (start + end) // 2 - length // 2


def resize(df: pd.DataFrame, length: int) -> pd.DataFrame:
    """Resize intervals to ``length`` around their centres (:func:`centred_start`).

    Intervals may then reach past contig ends (see :func:`validate_intervals`).

    Args:
        df: intervals (chrom, start, end, ...).
        length: the new width, > 0.

    Returns:
        A copy with new start / end; other columns unchanged.
    """
    if length <= 0:
        raise ValueError(f"resize: length must be positive, got {length}")
    out = df.copy()
    out["start"] = centred_start(
        df["start"].to_numpy(np.int64), df["end"].to_numpy(np.int64), length
    )
    out["end"] = out["start"] + length
    return out


def tile(
    regions: pd.DataFrame | Genome | Mapping[str, int],
    window: int,
    stride: int | None = None,
    keep_last: bool = False,
) -> pd.DataFrame:
    """Tile regions (or whole contigs) into windows.

    Windows start at ``start, start + stride, ...``. With ``keep_last=False`` only full
    windows are made (a region shorter than ``window`` gives none); with ``keep_last=True`` one
    last, shorter window covers the rest of the region, so the windows cover it all.

    Args:
        regions: intervals (chrom, start, end, ...), or a Genome / {contig: size} for whole
            contigs.
        window: window width.
        stride: step between window starts (default ``window``: adjacent windows).
        keep_last: keep a short last window.

    Returns:
        Windows (chrom, start, end, the region's other columns), in region order.
    """
    stride = stride or window
    if window <= 0 or stride <= 0:
        raise ValueError(f"tile: window and stride must be positive, got {window}, {stride}")
    if not isinstance(regions, pd.DataFrame):
        sizes = regions.sizes if isinstance(regions, Genome) else dict(regions)
        regions = pd.DataFrame(
            {"chrom": list(sizes), "start": 0, "end": np.array(list(sizes.values()), np.int64)}
        )
    start, end = regions["start"].to_numpy(np.int64), regions["end"].to_numpy(np.int64)
    width = np.maximum(end - start, 0)
    if keep_last:
        n = np.where(width > 0, -(-np.maximum(width - window, 0) // stride) + 1, 0)
    else:
        n = np.where(width >= window, (width - window) // stride + 1, 0)
    rows = np.repeat(np.arange(len(regions)), n)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(n) - n, n)  # window number in its region
    out = regions.iloc[rows].reset_index(drop=True)
    out["start"] = start[rows] + step * stride
    out["end"] = np.minimum(out["start"].to_numpy() + window, end[rows])
    return out


# ----------------------------------------------------------------------------- splits
def split_by_chromosome(
    df: pd.DataFrame, val: Sequence[str] = (), test: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """Split intervals by contig: ``val`` and ``test`` contigs, the rest for training.

    Args:
        df: intervals (chrom, start, end, ...).
        val, test: contig names of the validation and test sets (disjoint).

    Returns:
        {"train": ..., "val": ..., "test": ...}, each a subset of ``df`` (index kept).
    """
    both = set(val) & set(test)
    if both:
        raise IntervalError(f"split_by_chromosome: {sorted(both)} are in both val and test")
    chrom = df["chrom"].astype(str)
    present = set(chrom.unique())
    missing = [c for c in [*val, *test] if c not in present]
    if missing:
        near = {c: suggest_contig(c, present) for c in missing}
        warnings.warn(
            f"split_by_chromosome: no intervals on {missing}"
            + "".join(f" ({c!r}: did you mean {n!r}?)" for c, n in near.items() if n),
            stacklevel=2,
        )
    is_val, is_test = chrom.isin(list(val)), chrom.isin(list(test))
    return {"train": df[~(is_val | is_test)], "val": df[is_val], "test": df[is_test]}


def split_by_blocks(
    df: pd.DataFrame,
    sizes: Genome | Mapping[str, int],
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    n_blocks: int = 100,
    seed: int = 0,
    straddling: Literal["drop", "centre"] = "drop",
) -> dict[str, pd.DataFrame]:
    """Split intervals by contiguous genome blocks, for genomes with few contigs (bacteria).

    The genome is cut into blocks of ``ceil(total size / n_blocks)`` bases (each contig on its
    own; a contig's last block may be shorter). A seeded shuffle of the blocks gives
    ``round(test_fraction * n)`` blocks (at least 1 if the fraction is > 0) to test, as many
    for ``val_fraction`` to val, and the rest to train. An interval goes with the block that
    holds it; one that straddles a block boundary is dropped (``straddling="drop"``, the
    default, so no bases are shared between splits) or goes with the block of its centre
    (``straddling="centre"``). A window reaching past its contig's ends (N-padded) goes by
    the part of it inside the contig.

    Args:
        df: intervals (chrom, start, end, ...) on the contigs of ``sizes``.
        sizes: a Genome or {contig: size}.
        val_fraction, test_fraction: fractions of the blocks for val and test.
        n_blocks: about how many blocks to cut the genome into.
        seed: seed of the block shuffle (same seed, same split).
        straddling: ``"drop"`` or ``"centre"``, see above.

    Returns:
        {"train": ..., "val": ..., "test": ...}, each a subset of ``df`` (index kept).
    """
    sizes = sizes.sizes if isinstance(sizes, Genome) else dict(sizes)
    block_size = _block_size(sizes, n_blocks)
    per_contig = {c: -(-s // block_size) for c, s in sizes.items()}
    first_block = dict(zip(per_contig, np.cumsum([0, *per_contig.values()])[:-1], strict=True))
    assignment = _assign_blocks(sum(per_contig.values()), val_fraction, test_fraction, seed)
    chrom = df["chrom"].astype(str)
    unknown = ~chrom.isin(list(sizes))
    if unknown.any():
        raise IntervalError(
            f"split_by_blocks: contig {chrom[unknown].iloc[0]!r} is not in the genome "
            "(validate_intervals first)"
        )
    base = chrom.map(first_block).to_numpy(np.int64)
    # a window reaching past its contig's ends (N-padded, on_invalid="pad") is placed by the
    # bases it holds
    size = chrom.map(sizes).to_numpy(np.int64)
    start = np.clip(df["start"].to_numpy(np.int64), 0, size)
    end = np.clip(df["end"].to_numpy(np.int64), 0, size)
    first, last = start // block_size, np.maximum(end - 1, start) // block_size
    if straddling == "centre":
        n_own = chrom.map(per_contig).to_numpy(np.int64)
        block = np.clip((start + end) // 2 // block_size, 0, n_own - 1)
        keep = np.ones(len(df), dtype=bool)
    else:
        block, keep = first, first == last
    label = assignment[base + np.clip(block, 0, None)]
    return {s: df[keep & (label == k)] for k, s in enumerate(("train", "val", "test"))}


def _block_size(sizes: Mapping[str, int], n_blocks: int) -> int:
    if n_blocks < 1:
        raise ValueError(f"split_by_blocks: n_blocks must be >= 1, got {n_blocks}")
    return max(-(-int(sum(sizes.values())) // n_blocks), 1)


def _assign_blocks(n: int, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """(n,) int8 split of each block: 0 train, 1 val, 2 test, by a seeded shuffle."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"split_by_blocks: fractions {val_fraction}, {test_fraction} must be >= 0 and sum < 1"
        )
    n_test = max(round(test_fraction * n), int(test_fraction > 0))
    n_val = max(round(val_fraction * n), int(val_fraction > 0))
    if n_test + n_val >= n:
        raise ValueError(
            f"split_by_blocks: {n} blocks are too few for val and test and train: raise n_blocks"
        )
    order = np.random.default_rng(seed).permutation(n)
    label = np.zeros(n, dtype=np.int8)
    label[order[:n_test]] = 2
    label[order[n_test : n_test + n_val]] = 1
    return label
