"""Sequence files read a block at a time: a FASTA file of records (designed sequences, a
library of candidate promoters) or a CSV/TSV table with a sequence column.

``seqnn-predict sequences=<file>`` streams them through a model: memory holds one block, so a
file of 10 million sequences needs what one of 10,000 does. Which kind a file is comes from its
first byte (``>``: FASTA), not from its name; gzip is read either way.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from seqnn.data.datasets import DatasetError, table_separator

#: a block of rows and what names row i in an error message
Block = tuple[pd.DataFrame, Callable[[int], str]]
#: names that promise a FASTA file (a file that is not one is refused, not read as a table)
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
#: rows per block (a block of 200-bp sequences is ~15 MB of strings)
BLOCK_ROWS = 1 << 16


def _open_text(path: Path):
    with open(path, "rb") as fh:
        gzipped = fh.peek(2)[:2] == b"\x1f\x8b"
    return gzip.open(path, "rt") if gzipped else open(path)


def _first_line(path: Path) -> str | None:
    """The first non-blank line (gzip or plain), or None for a file of blanks."""
    try:
        with _open_text(path) as fh:
            return next((line.strip() for line in fh if line.strip()), None)
    except UnicodeDecodeError:
        raise DatasetError(
            f"{path}: not a text file: give a FASTA or CSV/TSV of sequences (plain or gzip)"
        ) from None


def is_fasta(path: str | Path) -> bool:
    """The file's first non-blank character is ``>`` (gzip or plain)."""
    return (_first_line(Path(path)) or "").startswith(">")


def iter_sequence_blocks(
    path: str | Path, sequence_column: str = "sequence", block_rows: int = BLOCK_ROWS
) -> Iterator[Block]:
    """The rows of a FASTA or CSV/TSV file, ``block_rows`` at a time.

    Yields:
        (block, where): a FASTA block has ``name`` (the header up to its first space) and
        ``sequence`` columns, a table block the table's columns; ``where(i)`` names row ``i``
        of the block for error messages (``lib.fa: record 'x'``, ``lib.csv:12``).

    Raises:
        DatasetError: a missing or empty file, a table without ``sequence_column``, a row
            with no sequence (named by file and record or line).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"{path}: no such sequence file: check the path (a relative path starts from the "
            "folder you run in)"
        )
    first = _first_line(path)
    if first is None:
        raise DatasetError(f"{path}: no sequences (an empty file?)")
    fasta = first.startswith(">")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if not fasta and suffixes and suffixes[-1] in FASTA_SUFFIXES:
        raise DatasetError(
            f"{path.name}:1: a FASTA file must start with a '>name' line (for a table of "
            "sequences, name it .csv or .tsv)"
        )
    rows = 0
    for block, where in (
        _fasta_blocks(path, block_rows)
        if fasta
        else _table_blocks(path, sequence_column, block_rows)
    ):
        rows += len(block)
        if len(block):
            yield block, where
    if not rows:
        raise DatasetError(f"{path}: only a header row, no sequences: add one row per sequence")


def _fasta_blocks(path: Path, block_rows: int) -> Iterator[Block]:
    names: list[str] = []
    seqs: list[str] = []
    parts: list[str] | None = None

    def block() -> Block:
        rows = names
        return pd.DataFrame(
            {"name": names, "sequence": seqs}
        ), lambda i: f"{path.name}: record {rows[i]!r}"

    def close_record() -> None:
        seq = "".join(parts)
        if not seq:
            raise DatasetError(
                f"{path.name}: record {names[-1]!r} has no sequence: remove it or fill it in"
            )
        seqs.append(seq)

    with _open_text(path) as fh:
        for line in fh:
            if line.startswith(">"):
                if parts is not None:
                    close_record()
                    if len(seqs) == block_rows:
                        yield block()
                        names, seqs = [], []
                header = line[1:].split(maxsplit=1)
                names.append(header[0] if header else "")
                parts = []
            elif parts is not None:
                parts.append(line.strip())
            elif line.strip():
                raise DatasetError(f"{path.name}:1: a FASTA file must start with a '>name' line")
    if parts is not None:
        close_record()
        yield block()


def _table_blocks(path: Path, sequence_column: str, block_rows: int) -> Iterator[Block]:
    sep = table_separator(path)
    try:
        reader = pd.read_csv(
            path, sep=sep, engine="python" if sep is None else "c", chunksize=block_rows
        )
        first_line = 2  # line 1 is the header
        for block in reader:
            if sequence_column not in block.columns:
                raise DatasetError(
                    f"{path.name}: no column {sequence_column!r} (columns are "
                    f"{list(block.columns)}): name the sequence column with sequence_column="
                )
            start = first_line
            where = lambda i, start=start: f"{path.name}:{start + i}"  # noqa: E731
            column = block[sequence_column]
            missing = (column.isna() | (column.astype(str).str.len() == 0)).to_numpy()
            if missing.any():
                raise DatasetError(
                    f"{where(int(missing.argmax()))}: sequence is missing: fill it or drop the row"
                )
            first_line += len(block)
            yield block.reset_index(drop=True), where
    except pd.errors.EmptyDataError:
        raise DatasetError(
            f"{path}: the table is empty (not even a header row): write a header row naming "
            f"the columns (e.g. {sequence_column}), then one row per sequence"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DatasetError(
            f"{path}: cannot read it as a table ({err}): is it a CSV/TSV?"
        ) from None
