"""VCF files as tables of sequence variants: CHROM POS ID REF ALT, one row per ALT allele.

Layout everywhere in seqnn: one-hot tensors are (batch, 4, length), channels A, C, G, T; the
variants here say which bases of a genome window change (see :mod:`seqnn.inference.variants`).

:func:`read_vcf` reads plain, gzip and bgzip files (told apart by their first bytes, not
their name), skips the ``##`` meta lines, requires the ``#CHROM POS ID REF ALT`` header and
ignores the columns after ALT (QUAL, FILTER, INFO, samples). A multi-allelic line becomes one
row per ALT allele; each row keeps its file line in ``line`` so that messages say
``calls.vcf:12: ...``. Alleles that are not sequences (``<DEL>``, ``*``, breakends such as
``G]17:198982]``, a missing ``.`` ALT) are skipped with one warning that counts them; any other
letter than A C G T N (any case) is an error naming the line.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.errors import SeqnnInputError

VARIANT_COLUMNS = ["chrom", "pos", "id", "ref", "alt"]
LINE = "line"
_HEADER = ["#CHROM", "POS", "ID", "REF", "ALT"]
_DNA = r"[ACGTN]+"


class VCFError(SeqnnInputError):
    """A VCF file (or a table of variants) that cannot be read; names the file and line."""


def read_vcf(path: str | Path) -> pd.DataFrame:
    """Read the variants of a VCF file (plain, gzip or bgzip).

    Args:
        path: the VCF file.

    Returns:
        DataFrame with chrom (str), pos (int64, 1-based as in the file), id, ref, alt
        (upper case, one ALT allele per row) and ``line`` (the 1-based line in the file);
        ``attrs["source"]`` is the file name and ``attrs["skipped_alleles"]`` the number of
        non-sequence alleles left out.

    Raises:
        VCFError: a missing or unreadable file, no ``#CHROM`` header, an empty body, or
            ``file:line: ...`` for a short line, a bad POS or a REF/ALT that is not DNA.
    """
    path = Path(path)
    source = _check_path(path)
    try:
        with _open_text(path) as text:
            n_header = _skip_meta(text, source)
            body = _read_body(text)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise VCFError(f"{path}: cannot read it as a (gzipped) text VCF ({err})") from None
    if body is None:  # pandas refuses a first line with fewer than 5 fields
        raise _first_line_error(path, n_header)
    body = _finish_body(body, n_header + 1, source)
    if body is None:
        raise VCFError(f"{source}: no variants after the #CHROM header line (an empty VCF)")
    return normalize_variants(body, source)


def iter_vcf(path: str | Path, chunk_rows: int = 100_000) -> Iterator[pd.DataFrame]:
    """:func:`read_vcf` ``chunk_rows`` lines at a time, for VCFs of millions of variants.

    The file is read once, as a stream: memory holds one chunk whatever the file's size.
    Each table is :func:`read_vcf`'s for its lines (``line`` counts from the start of the
    file; the warning for skipped alleles counts those of the chunk). A VCF of fewer than
    ``chunk_rows`` lines gives exactly :func:`read_vcf`'s table.

    Args:
        path: the VCF file (plain, gzip or bgzip).
        chunk_rows: the lines per table.

    Yields:
        DataFrames as :func:`read_vcf` returns them, in file order.

    Raises:
        VCFError: as :func:`read_vcf`.
    """
    path = Path(path)
    source = _check_path(path)
    found = False
    try:
        with _open_text(path) as text:
            n_header = _skip_meta(text, source)
            line = n_header + 1
            for body in _body_chunks(text, chunk_rows):
                if body is None:  # pandas refuses a first line with fewer than 5 fields
                    raise _first_line_error(path, n_header)
                n_rows = len(body)
                body = _finish_body(body, line, source)
                line += n_rows
                if body is not None:
                    found = True
                    yield normalize_variants(body, source)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise VCFError(f"{path}: cannot read it as a (gzipped) text VCF ({err})") from None
    if not found:
        raise VCFError(f"{source}: no variants after the #CHROM header line (an empty VCF)")


def _check_path(path: Path) -> str:
    """The file's name for messages, after checking that it is a file."""
    if not path.exists():
        raise VCFError(f"{path}: no such VCF file")
    if path.is_dir():
        raise VCFError(f"{path}: is a folder, expected a VCF file")
    return path.name


def _finish_body(body: pd.DataFrame, first_line: int, source: str) -> pd.DataFrame | None:
    """Number the lines from ``first_line``, drop blank ones, refuse short ones (None: no
    variant in ``body``)."""
    body[LINE] = first_line + np.arange(len(body), dtype=np.int64)
    body = body[(body[VARIANT_COLUMNS] != "").any(axis=1)]  # blank lines
    if body.empty:
        return None
    short = (body[["pos", "ref", "alt"]] == "").any(axis=1).to_numpy()
    if short.any():
        raise VCFError(
            f"{source}:{body[LINE].iloc[int(np.argmax(short))]}: fewer than 5 tab-separated "
            "columns (a VCF line holds CHROM POS ID REF ALT ...)"
        )
    return body


def _open_text(path: Path) -> io.TextIOWrapper:
    """The file as text, gunzipped when its first bytes say gzip (bgzip is gzip too); opened
    once, so that a pipe such as ``<(zcat calls.vcf.gz)`` loses no bytes to the check."""
    raw = open(path, "rb")  # noqa: SIM115 - the wrapper closes it
    if raw.peek(2)[:2] == b"\x1f\x8b":
        file = raw
        raw = gzip.GzipFile(fileobj=file, mode="rb")
        raw.myfileobj = file  # GzipFile closes the file it holds here (not a fileobj= one)
    # utf-8-sig: an editor's byte-order mark before '##fileformat' is dropped, not a header
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline=None)


def _first_line_error(path: Path, n_header: int) -> VCFError:
    """Why pandas refused the body: the error for its first line (blank or short)."""
    blank = n_header + 1
    with _open_text(path) as text:
        for number, line in enumerate(text, start=1):
            if number <= n_header:
                continue
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip():
                blank = number
                continue
            if len(fields) < len(VARIANT_COLUMNS):
                return VCFError(
                    f"{path.name}:{number}: fewer than 5 tab-separated columns (a VCF line "
                    "holds CHROM POS ID REF ALT ...)"
                )
            return VCFError(f"{path.name}:{blank}: a blank line after the header: remove it")
    return VCFError(f"{path.name}: no variants after the #CHROM header line (an empty VCF)")


def _skip_meta(text: io.TextIOBase, source: str) -> int:
    """Read up to and including the ``#CHROM`` header line; returns its line number."""
    n = 0
    for line in iter(text.readline, ""):
        n += 1
        if line.startswith("##"):
            continue
        fields = [f.strip().upper() for f in line.rstrip("\r\n").split("\t")]
        if fields[:5] != _HEADER:
            raise VCFError(
                f"{source}:{n}: expected the tab-separated header line "
                f"'#CHROM POS ID REF ALT ...' after the '##' meta lines, found {line[:60]!r}"
            )
        return n
    raise VCFError(
        f"{source}: no '#CHROM POS ID REF ALT' header line: not a VCF file (or an empty one)"
    )


_BODY_OPTIONS = {
    "sep": "\t",
    "header": None,
    "names": VARIANT_COLUMNS,
    "usecols": range(len(VARIANT_COLUMNS)),
    "dtype": str,
    "na_filter": False,
    "skip_blank_lines": False,  # keeps the row index == line offset
    "quoting": csv.QUOTE_NONE,
    "engine": "c",
}


def _read_body(text: io.TextIOBase) -> pd.DataFrame | None:
    """The first five columns of every line after the header, as strings ('' when absent);
    None when the first line has fewer than five (pandas then cannot name the columns)."""
    try:
        return pd.read_csv(text, **_BODY_OPTIONS)
    except pd.errors.EmptyDataError:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in VARIANT_COLUMNS})
    except pd.errors.ParserError as err:
        if "Too many columns specified" in str(err):
            return None
        raise


def _body_chunks(text: io.TextIOBase, chunk_rows: int) -> Iterator[pd.DataFrame | None]:
    """:func:`_read_body` ``chunk_rows`` lines at a time (None first: a short first line)."""
    try:
        yield from pd.read_csv(text, chunksize=chunk_rows, **_BODY_OPTIONS)
    except pd.errors.EmptyDataError:
        return
    except pd.errors.ParserError as err:
        if "Too many columns specified" not in str(err):
            raise
        yield None


def normalize_variants(variants: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Check a table of variants and split multi-allelic rows, one row per ALT allele.

    Args:
        variants: chrom, pos (1-based), ref, alt (comma-separated alleles) and optionally id
            and ``line`` (default: the 1-based row number).
        source: the name used in messages (default ``attrs["source"]`` or ``"variants"``).

    Returns:
        chrom, pos (int64), id, ref, alt (upper case), ``line``; ``attrs`` as in
        :func:`read_vcf`.

    Raises:
        VCFError: ``source:line: ...`` for a bad POS or a REF/ALT that is not DNA.
    """
    source = source or variants.attrs.get("source", "variants")
    missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in variants.columns]
    if missing:
        raise VCFError(f"{source}: no column(s) {missing}: a variant table has {VARIANT_COLUMNS}")
    plain = _plain_variants(variants)
    if plain is not None:  # the usual VCF: no regex or Python call per row
        frame = pd.DataFrame(
            {
                "chrom": variants["chrom"].astype(str).to_numpy(),
                "pos": plain[0],
                "id": variants["id"].astype(str).to_numpy() if "id" in variants else ".",
                "ref": plain[1],
                "alt": plain[2],
                LINE: _lines(variants),
            }
        )
        frame.attrs.update(source=source, skipped_alleles=0)
        return frame
    frame = pd.DataFrame(
        {
            "chrom": variants["chrom"].astype(str).to_numpy(),
            "pos": _positions(variants, source),
            "id": variants["id"].astype(str).to_numpy() if "id" in variants else ".",
            "ref": variants["ref"].astype(str).str.strip().str.upper().to_numpy(),
            "alt": variants["alt"].astype(str).str.strip().to_numpy(),
            LINE: _lines(variants),
        }
    )
    _check_dna(frame, "ref", source, "REF")
    frame = frame.assign(alt=frame["alt"].str.split(",")).explode("alt", ignore_index=True)
    frame["alt"] = frame["alt"].str.upper()
    keep = _sequence_alleles(frame, source)
    frame = frame[keep].reset_index(drop=True)
    _check_dna(frame, "alt", source, "ALT allele")
    frame.attrs.update(source=source, skipped_alleles=int((~keep).sum()))
    return frame


_DNA_BYTES = np.zeros(256, dtype=bool)
_DNA_BYTES[np.frombuffer(b"ACGTNacgtn", dtype=np.uint8)] = True
_DIGITS = np.zeros(256, dtype=bool)
_DIGITS[np.frombuffer(b"0123456789", dtype=np.uint8)] = True
_MAX_PLAIN_BYTES = 1 << 26  # a column wider than this (long indels) takes the general path


def _plain_variants(variants: pd.DataFrame) -> tuple[np.ndarray, ...] | None:
    """(pos, REF, ALT upper case) when every POS is digits (>= 1, at most 18) and every
    REF / ALT one plain DNA allele (A C G T N, any case, no comma or space): checked in a
    few numpy passes over the bytes. None: anything else, for the general path (which
    splits alleles, skips symbolic ones and names bad lines)."""
    pos = _byte_matrix(variants["pos"])
    if pos is None or pos.shape[1] > 18 or not _all_of(pos, _DIGITS):
        return None
    position = pos.view(f"S{pos.shape[1]}").ravel().astype(np.int64)
    if len(position) and position.min() < 1:
        return None
    alleles = []
    for column in ("ref", "alt"):
        codes = _byte_matrix(variants[column])
        if codes is None or not _all_of(codes, _DNA_BYTES):
            return None
        upper = codes & np.uint8(0xDF)  # a -> A ...; the 0 padding stays 0
        alleles.append(upper.view(f"S{codes.shape[1]}").ravel().astype(str))
    return position, *alleles


def _byte_matrix(column: pd.Series) -> np.ndarray | None:
    """(n, width) uint8: an ASCII text column's bytes, 0 after each value's end (None: not
    all ASCII text, or too wide)."""
    values = column.to_numpy(dtype=object)
    if len(values) and not isinstance(values[0], str):
        return None
    try:
        fixed = values.astype("S")
    except (UnicodeEncodeError, ValueError, TypeError):
        return None
    if fixed.nbytes > _MAX_PLAIN_BYTES or fixed.dtype.itemsize == 0:
        return None
    return fixed.view(np.uint8).reshape(len(fixed), fixed.dtype.itemsize)


def _all_of(codes: np.ndarray, allowed: np.ndarray) -> bool:
    """Every value non-empty and made only of ``allowed`` bytes (then 0 padding)."""
    if not len(codes):
        return True
    filled = codes != 0
    # a 0 byte only after the value's end: the filled bytes are a prefix of each row
    prefix = filled.sum(axis=1)
    if prefix.min() == 0 or (np.cumprod(filled, axis=1).sum(axis=1) != prefix).any():
        return False
    return bool((allowed[codes] | ~filled).all())


def _lines(variants: pd.DataFrame) -> np.ndarray:
    if LINE in variants.columns:
        return variants[LINE].to_numpy(np.int64)
    return np.arange(1, len(variants) + 1, dtype=np.int64)


def _positions(variants: pd.DataFrame, source: str) -> np.ndarray:
    """POS as int64; a POS that is not a whole number >= 1 is an error naming its line."""
    if pd.api.types.is_integer_dtype(variants["pos"]):
        text = variants["pos"].astype(str)
        ok, pos = np.ones(len(text), dtype=bool), variants["pos"].to_numpy(np.int64)
    else:
        text = variants["pos"].astype(str).str.strip()
        ok = text.str.fullmatch(r"\d+").to_numpy(bool)
        # 18 digits fit in int64; no genome comes near 10^18 bases
        huge = ok & (text.str.lstrip("0").str.len() > 18).to_numpy(bool)
        if huge.any():
            i = int(np.argmax(huge))
            raise VCFError(
                f"{source}:{_lines(variants)[i]}: POS {text.iloc[i]!r} is too large to be a "
                "position (more than 18 digits): fix the line or drop it"
            )
        pos = pd.to_numeric(text.where(ok, "0")).to_numpy(np.int64)
    bad = ~ok | (pos < 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise VCFError(
            f"{source}:{_lines(variants)[i]}: POS {text.iloc[i]!r} is not a position "
            "(a whole number >= 1, 1-based)"
        )
    return pos


def _check_dna(frame: pd.DataFrame, column: str, source: str, what: str) -> None:
    bad = ~frame[column].str.fullmatch(_DNA).to_numpy(bool)
    if bad.any():
        i = int(np.argmax(bad))
        raise VCFError(
            f"{source}:{frame[LINE].iloc[i]}: {what} {frame[column].iloc[i]!r} is not a DNA "
            "sequence (letters A, C, G, T, N; symbolic alleles such as <DEL> are skipped)"
        )


def _sequence_alleles(frame: pd.DataFrame, source: str) -> np.ndarray:
    """(n,) bool: the ALT alleles that are sequences; one warning counts the others."""
    alt = frame["alt"]
    kinds = {
        "symbolic <...>": alt.str.startswith("<"),
        "'*' (overlapping deletion)": alt == "*",
        # A[chr2:321[ and the like, or a single breakend .A / A.
        "breakend": alt.str.contains(r"[\[\]]|^\..|.\.$"),
        "missing '.'": alt == ".",
    }
    skipped = np.zeros(len(frame), dtype=bool)
    counts = []
    for kind, mask in kinds.items():
        mask = mask.to_numpy(bool) & ~skipped
        if mask.any():
            counts.append(f"{int(mask.sum())} {kind}")
        skipped |= mask
    if not skipped.any():
        return ~skipped
    first = frame[LINE].iloc[int(np.argmax(skipped))]
    if skipped.all():
        raise VCFError(
            f"{source}:{first}: none of its {len(frame)} ALT alleles is a DNA sequence "
            f"({', '.join(counts)}): nothing to score; give ALT alleles as bases (A, C, G, T, N)"
        )
    warnings.warn(
        f"{source}: skipped {int(skipped.sum())} of {len(frame)} ALT alleles that are not "
        f"sequences ({', '.join(counts)}; the first on line {first})",
        stacklevel=3,
    )
    return ~skipped
