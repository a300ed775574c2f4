"""DNA motifs: read JASPAR and MEME files, write MEME, and find which known motif a motif is.

A motif matrix is (4, W): rows A, C, G, T (the channel order of seqnn's one-hot layout
(batch, 4, length)), one column per motif position. :class:`Motif` holds counts (or
probabilities: columns that already sum to 1 are counts of one site).

:func:`match_motifs` ranks database motifs by Tomtom's p-value (memelite), with q-values;
:func:`motif_similarity` is a plain similarity (mean column-wise Pearson correlation over the
longer motif's width, both strands, every offset) with no significance attached.
``seqnn`` ships the 4,279 JASPAR 2024 CORE matrices (:func:`jaspar_core`) and the E. coli σ70
−10/−35 box PWMs (:func:`sigma70_boxes`); provenance in ``seqnn/resources/PROVENANCE.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from seqnn.atomic import atomic_open
from seqnn.errors import SeqnnInputError

BASES = "ACGT"
JASPAR_CORE = "JASPAR2024_CORE.jaspar.gz"
SIGMA70_BOXES = "ecoli_sigma70_boxes.meme"
MATCH_COLUMNS = [
    "query", "rank", "target_id", "target_name", "p_value", "q_value", "score", "offset", "strand"
]  # fmt: skip
_MEME_DEFAULT_NSITES = 20  # what MEME itself assumes when a matrix gives no nsites
_MATRIX = ["letter-probability"]


class MotifError(SeqnnInputError):
    """A motif file that cannot be read, or a motif matrix that is not a (4, W) matrix."""


# ----------------------------------------------------------------------------- the motif
@dataclass(frozen=True, eq=False, repr=False)
class Motif:
    """A DNA motif: an identifier, a name and a (4, W) count matrix, rows A, C, G, T.

    Equality is identity (two motifs with equal matrices are still two motifs); the matrix is
    a read-only float64 copy of what was passed.

    Attributes:
        id: identifier without whitespace, e.g. ``MA0139.2``.
        name: display name, e.g. ``CTCF``.
        counts: (4, W) non-negative counts (or probabilities), rows A, C, G, T.
    """

    id: str
    name: str
    counts: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or re.search(r"\s", self.id):
            raise MotifError(
                f"motif id {self.id!r}: ids must be non-empty text without whitespace "
                "(MEME files split on it); use e.g. 'my_motif'"
            )
        counts = np.array(self.counts, dtype=np.float64)  # a copy: the caller's array may change
        if counts.ndim != 2 or counts.shape[0] != 4 or counts.shape[1] == 0:
            raise MotifError(
                f"motif {self.id}: counts have shape {counts.shape}; expected (4, W), W >= 1, "
                "rows A, C, G, T (transpose a (W, 4) matrix with .T)"
            )
        if not np.isfinite(counts).all() or (counts < 0).any():
            raise MotifError(f"motif {self.id}: counts must be finite and >= 0")
        counts.flags.writeable = False
        object.__setattr__(self, "counts", counts)

    def __repr__(self) -> str:
        return f"Motif(id={self.id!r}, name={self.name!r}, width={self.width})"

    @property
    def width(self) -> int:
        """The number of motif positions W."""
        return self.counts.shape[1]

    def probabilities(self, pseudocount: float = 0.0) -> np.ndarray:
        """Base probabilities per position.

        Args:
            pseudocount: total pseudocount per column, spread evenly over the four bases.

        Returns:
            (4, W) float64, each column summing to 1 (an all-zero column becomes uniform).
        """
        if pseudocount < 0:
            raise MotifError(f"motif {self.id}: pseudocount {pseudocount} must be >= 0")
        counts = self.counts + pseudocount / 4
        total = counts.sum(axis=0)
        return np.divide(counts, total, out=np.full_like(counts, 0.25), where=total > 0)

    def information_content(self, pseudocount: float = 0.0) -> np.ndarray:
        """Information content per position against a uniform background.

        Returns:
            (W,) bits in [0, 2]: 2 for a single certain base, 0 for a uniform column.
        """
        p = self.probabilities(pseudocount)
        plogp = p * np.log2(np.where(p > 0, p, 1.0))  # 0 log 0 = 0
        return np.maximum(2.0 + plogp.sum(axis=0), 0.0)

    def consensus(self) -> str:
        """The most probable base at each position (ties go to the first of A, C, G, T)."""
        return "".join(BASES[i] for i in self.counts.argmax(axis=0))

    def reverse_complement(self) -> Motif:
        """The motif on the other strand: positions reversed, A<->T and C<->G swapped."""
        return dataclasses.replace(self, counts=self.counts[::-1, ::-1])  # rows ACGT -> TGCA

    def trim(self, min_ic: float = 0.25) -> Motif:
        """Drop the uninformative end columns (information content below ``min_ic`` bits).

        Inner columns are kept whatever their information content.
        """
        ic = self.information_content()
        keep = np.flatnonzero(ic >= min_ic)
        if keep.size == 0:
            raise MotifError(
                f"motif {self.id}: no column carries {min_ic} bits (the most informative "
                f"carries {ic.max():.2f}); lower min_ic"
            )
        return dataclasses.replace(self, counts=self.counts[:, keep[0] : keep[-1] + 1])


# ----------------------------------------------------------------------------- reading files
def _read_lines(path_or_file: str | os.PathLike | IO) -> tuple[str, list[str]]:
    """The name to cite in errors and the text lines of a plain or gzipped file or stream."""
    if hasattr(path_or_file, "read"):
        source = str(getattr(path_or_file, "name", "<stream>"))
        data = path_or_file.read()
    else:
        source = str(path_or_file)
        if not Path(path_or_file).is_file():
            raise MotifError(f"{source}: no such motif file")
        data = Path(path_or_file).read_bytes()
    if isinstance(data, bytes):
        data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        data = data.decode("utf-8")
    return source, data.splitlines()


def read_jaspar(path_or_file: str | os.PathLike | IO) -> list[Motif]:
    """Read count matrices in JASPAR format (plain or gzipped).

    Each motif is a header ``>ID NAME ...`` (more fields are ignored; NAME defaults to ID)
    followed by one row per base, ``A [ 3 0 12 ]`` or ``A 3 0 12``, the four bases in any
    order. Blank lines and ``#`` comments are skipped.

    Args:
        path_or_file: a path, or an open text or binary file.

    Returns:
        The motifs in file order.

    Raises:
        MotifError: naming ``file:line`` for a row outside a motif, a missing, repeated or
            unknown base row, a non-number, or rows of unequal length.
    """
    source, lines = _read_lines(path_or_file)
    motifs: list[Motif] = []
    header: tuple[int, list[str]] | None = None
    rows: dict[str, tuple[int, list[float]]] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith(">"):
            if header is not None:
                motifs.append(_jaspar_motif(source, header, rows))
            header, rows = (number, text[1:].split()), {}
            if not header[1]:
                raise MotifError(f"{source}:{number}: a header without an ID; write '>ID NAME'")
            continue
        if header is None:
            raise MotifError(f"{source}:{number}: a matrix row before any '>ID NAME' header")
        base, values = _jaspar_row(source, number, text)
        if base in rows:
            raise MotifError(f"{source}:{number}: a second {base} row for motif {header[1][0]}")
        rows[base] = (number, values)
    if header is None:
        raise MotifError(f"{source}: no motifs (expected '>ID NAME' headers, then A/C/G/T rows)")
    motifs.append(_jaspar_motif(source, header, rows))
    return motifs


def _jaspar_row(source: str, number: int, text: str) -> tuple[str, list[float]]:
    """``A [ 1 2 3 ]`` or ``A 1 2 3`` -> ("A", [1.0, 2.0, 3.0])."""
    base = text[0].upper()
    if base not in BASES or (len(text) > 1 and not (text[1].isspace() or text[1] in "[:")):
        raise MotifError(
            f"{source}:{number}: expected a base row like 'A [ 3 0 12 ]', got {text[:30]!r}"
        )
    values = []
    for token in text[1:].replace("[", " ").replace("]", " ").lstrip(":").split():
        try:
            values.append(float(token))
        except ValueError:
            raise MotifError(
                f"{source}:{number}: {token!r} in the {base} row is not a number"
            ) from None
    if not values:
        raise MotifError(f"{source}:{number}: the {base} row has no values")
    return base, values


def _jaspar_motif(
    source: str, header: tuple[int, list[str]], rows: dict[str, tuple[int, list[float]]]
) -> Motif:
    """Check one record's rows and build its motif."""
    line, fields = header
    motif_id = fields[0]
    missing = [base for base in BASES if base not in rows]
    if missing:
        raise MotifError(
            f"{source}:{line}: motif {motif_id} has no {', '.join(missing)} row; each motif "
            "needs one row per base A, C, G, T"
        )
    width = len(rows["A"][1])
    for base in BASES:
        number, values = rows[base]
        if len(values) != width:
            raise MotifError(
                f"{source}:{number}: the {base} row of motif {motif_id} has {len(values)} "
                f"values, the A row {width}; every row needs one value per motif position"
            )
    try:
        return Motif(motif_id, fields[1] if len(fields) > 1 else motif_id, _rows(rows))
    except MotifError as err:
        raise MotifError(f"{source}:{line}: {err}") from None


def _rows(rows: dict[str, tuple[int, list[float]]]) -> np.ndarray:
    return np.array([rows[base][1] for base in BASES])  # (4, W), rows A, C, G, T


@functools.lru_cache(maxsize=1)
def _jaspar_core() -> tuple[Motif, ...]:
    ref = resources.files("seqnn") / "resources" / "motifs" / JASPAR_CORE
    with resources.as_file(ref) as path:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: seqnn's shipped motifs are missing; reinstall seqnn")
        return tuple(read_jaspar(path))


def jaspar_core() -> list[Motif]:
    """The 4,279 JASPAR 2024 CORE count matrices shipped with seqnn (read once, then cached)."""
    return list(_jaspar_core())


def sigma70_boxes() -> list[Motif]:
    """The E. coli σ70 −10 (TATAAT-like) and −35 (TTGACA-like) box PWMs shipped with seqnn.

    Counts from the 839 shipped σ70 promoters aligned by their TSS, each box re-placed within
    ±3 bp of its canonical offset (``scripts/make_sigma70_boxes.py``). JASPAR CORE has no
    bacterial σ70 matrix: these are the reference for σ70 models' motifs and designs.
    """
    return read_meme(_resource(SIGMA70_BOXES))


def _resource(name: str) -> Path:
    path = Path(str(resources.files("seqnn") / "resources" / "motifs" / name))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: seqnn's shipped motifs are missing; reinstall seqnn")
    return path


# ----------------------------------------------------------------------------- MEME format
def write_meme(motifs: Iterable[Motif], path: str | os.PathLike) -> Path:
    """Write motifs in the MEME minimal motif format (version 4), atomically.

    Each motif becomes ``MOTIF id name`` and a ``letter-probability matrix`` of W rows
    (positions) by 4 columns (A, C, G, T), with ``nsites`` the mean column total (rounded,
    at least 1) so that :func:`read_meme` recovers the counts of equal-total columns.
    Whitespace in names becomes ``_``. The background is uniform.

    Returns:
        The path written.
    """
    with atomic_open(path) as fh:
        fh.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
        fh.write("Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n")
        for motif in motifs:
            name = re.sub(r"\s+", "_", motif.name.strip()) or motif.id
            nsites = max(1, round(float(motif.counts.sum(axis=0).mean())))
            fh.write(f"\nMOTIF {motif.id} {name}\n")
            fh.write(f"letter-probability matrix: alength= 4 w= {motif.width} ")
            fh.write(f"nsites= {nsites} E= 0\n")
            for column in motif.probabilities().T:  # (4, W) -> (W, 4): one row per position
                fh.write(" ".join(f"{p:.6f}" for p in column) + "\n")
    return Path(path)


def read_meme(path_or_file: str | os.PathLike | IO) -> list[Motif]:
    """Read the motifs of a MEME motif file (plain or gzipped; DNA alphabet only).

    Counts are probabilities x ``nsites`` (20 where the matrix gives none). Everything other
    than ``ALPHABET``, ``MOTIF`` and letter-probability matrices (URLs, log-odds matrices) is
    skipped.

    Raises:
        MotifError: naming ``file:line`` for a non-DNA alphabet, a motif without a matrix,
            or a matrix row that is not four numbers or a row count that disagrees with ``w``.
    """
    source, lines = _read_lines(path_or_file)
    motifs: list[Motif] = []
    number = 0
    while number < len(lines):
        text = lines[number].strip()
        number += 1
        if text.startswith("ALPHABET") and text.partition("=")[2].strip() != BASES:
            raise MotifError(
                f"{source}:{number}: alphabet {text!r}: only DNA motifs ('ALPHABET= ACGT') "
                "can be read"
            )
        if text.split(maxsplit=1)[:1] == ["MOTIF"]:
            motif, number = _meme_motif(source, lines, number)
            motifs.append(motif)
    if not motifs:
        raise MotifError(f"{source}: no motifs (expected 'MOTIF id name' lines)")
    return motifs


def _meme_motif(source: str, lines: list[str], number: int) -> tuple[Motif, int]:
    """The motif whose ``MOTIF`` line is ``lines[number - 1]``, and the line after it."""
    start, fields = number, lines[number - 1].split()[1:]
    if not fields:
        raise MotifError(f"{source}:{start}: 'MOTIF' without an id; write 'MOTIF id name'")
    while number < len(lines) and lines[number].split()[:1] not in (["MOTIF"], _MATRIX):
        number += 1
    if number == len(lines) or lines[number].split()[:1] != _MATRIX:
        raise MotifError(f"{source}:{start}: motif {fields[0]} has no letter-probability matrix")
    info = dict(re.findall(r"(\w+)\s*=\s*(\S+)", lines[number]))
    rows, number = _meme_rows(source, lines, number + 1)
    width = int(float(info.get("w", len(rows))))
    if len(rows) != width:
        raise MotifError(
            f"{source}:{start}: motif {fields[0]} says w= {width} but has {len(rows)} rows"
        )
    nsites = float(info.get("nsites", _MEME_DEFAULT_NSITES))
    counts = np.array(rows).T * nsites  # (W, 4) -> (4, W)
    try:
        return Motif(fields[0], fields[1] if len(fields) > 1 else fields[0], counts), number
    except MotifError as err:
        raise MotifError(f"{source}:{start}: {err}") from None


def _meme_rows(source: str, lines: list[str], number: int) -> tuple[list[list[float]], int]:
    """The consecutive numeric rows from ``lines[number]`` on (leading blank lines skipped)."""
    while number < len(lines) and not lines[number].strip():
        number += 1
    rows = []
    while number < len(lines) and lines[number].strip():
        tokens = lines[number].split()
        row = _numbers(tokens)
        if row is None and rows:
            break  # the matrix has ended; what follows is another section
        if row is None or len(row) != 4:
            raise MotifError(
                f"{source}:{number + 1}: expected 4 probabilities (A C G T), got {tokens}"
            )
        rows.append(row)
        number += 1
    return rows, number


def _numbers(tokens: list[str]) -> list[float] | None:
    try:
        return [float(token) for token in tokens]
    except ValueError:
        return None


# ----------------------------------------------------------------------------- similarity
def _standardised(motif: Motif) -> np.ndarray:
    """(W, 4) probability columns centred and scaled to unit norm; a constant column -> 0.

    The dot product of two such columns is their Pearson correlation.
    """
    p = motif.probabilities().T  # (4, W) -> (W, 4)
    centred = p - p.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 1e-12)


def _check_overlap(min_overlap: int) -> None:
    if min_overlap < 1:
        raise MotifError(f"min_overlap={min_overlap}: need at least 1 aligned column")


def motif_similarity(query: Motif, target: Motif, min_overlap: int = 5) -> tuple[float, int, str]:
    """How well ``query`` matches ``target``, and where.

    Definition: the target (strand ``+``) and its reverse complement (``-``) are aligned to
    the query at every offset, query column ``i`` facing target column ``i - offset``, that
    overlaps in at least ``min(min_overlap, query width, target width)`` columns. Each aligned
    pair of columns scores the Pearson correlation of their 4 base probabilities (0 if either
    column is constant); the alignment scores the sum over the overlap divided by
    ``max(query width, target width)``, so a short generic motif cannot fully match a long
    one. A motif scores 1 against itself. Ties go to ``+`` and then to the smallest offset.

    This is the plain loop that defines the score; :func:`match_motifs` computes the same,
    vectorised over a database.

    Returns:
        ``(score, offset, strand)``: score in [-1, 1], offset the query column facing the
        (strand-oriented) target's first column, strand ``"+"`` or ``"-"``.
    """
    _check_overlap(min_overlap)
    zq = _standardised(query)  # (m, 4)
    m, n = query.width, target.width
    need = min(min_overlap, m, n)
    best = (-np.inf, 0, "+")
    for strand, oriented in (("+", target), ("-", target.reverse_complement())):
        zt = _standardised(oriented)  # (n, 4)
        for offset in range(-(n - 1), m):
            lo, hi = max(0, offset), min(m, offset + n)  # the overlapping query columns
            if hi - lo < need:
                continue
            score = float(np.sum(zq[lo:hi] * zt[lo - offset : hi - offset])) / max(m, n)
            if score > best[0]:
                best = (score, offset, strand)
    return best


@functools.lru_cache(maxsize=1)
def _jaspar_probabilities() -> tuple[np.ndarray, ...]:
    return tuple(motif.probabilities() for motif in _jaspar_core())


def match_motifs(
    queries: Motif | Iterable[Motif],
    database: Sequence[Motif] | None = None,
    top_k: int = 3,
    min_overlap: int = 5,
) -> pd.DataFrame:
    """The ``top_k`` database motifs most significantly similar to each query, by Tomtom.

    Tomtom (Gupta et al. 2007, Genome Biology 8:R24; memelite's implementation, the one
    tangermeme and gReLU use) scores every alignment of the query's probability columns with
    each target and its reverse complement (the complete score, negated Euclidean distance),
    and turns the best into a p-value against the null of the query's columns scored against
    every database column; q-values are Benjamini-Hochberg over the query's matches to the
    whole database (as Tomtom reports them). The first call compiles memelite's kernels
    (cached on disk after).

    Args:
        queries: one motif or several (e.g. learned filters or TF-MoDISco patterns).
        database: motifs to search; default :func:`jaspar_core`. Tomtom's p-values use the
            database's columns as background: a database of fewer than ~25 motifs gives
            unstable p-values (memelite warns).
        top_k: matches reported per query (fewer if the database is smaller).
        min_overlap: alignments overlapping fewer columns (capped at the shorter width) are
            left out (p-value 1).

    Returns:
        One row per (query, rank): ``query`` (query id), ``rank`` (1 = smallest p-value),
        ``target_id``, ``target_name``, ``p_value``, ``q_value``, ``score`` (Tomtom's),
        ``offset`` (the query column facing the strand-oriented target's first column) and
        ``strand`` (``+``, or ``-`` for the target's reverse complement); ties keep
        database order.
    """
    from memelite import tomtom

    _check_overlap(min_overlap)
    if top_k < 1:
        raise MotifError(f"top_k={top_k}: report at least 1 match per query")
    queries = [queries] if isinstance(queries, Motif) else list(queries)
    targets = _jaspar_core() if database is None else tuple(database)
    if not targets:
        raise MotifError("match_motifs: the database has no motifs")
    if not queries:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    columns = _jaspar_probabilities() if database is None else [t.probabilities() for t in targets]
    p, scores, offsets, overlaps, strands = tomtom(
        [q.probabilities() for q in queries], list(columns)
    )  # each (Q, M)
    widths = np.array([t.width for t in targets])
    for k, query in enumerate(queries):  # one row per query: a few queries, not a genome loop
        p[k, overlaps[k] < np.minimum(min_overlap, np.minimum(query.width, widths))] = 1.0
    q = benjamini_hochberg(p)
    rows = []
    for k, query in enumerate(queries):
        for rank, t in enumerate(np.argsort(p[k], kind="stable")[:top_k], 1):
            rows.append((query.id, rank, targets[t].id, targets[t].name, float(p[k, t]),
                         float(q[k, t]), float(scores[k, t]), -int(offsets[k, t]),
                         "+-"[int(strands[k, t])]))  # fmt: skip
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis: (..., M) p-values -> (..., M)."""
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, -1) * p.shape[-1] / np.arange(1, p.shape[-1] + 1)
    monotone = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p, dtype=np.float64)
    np.put_along_axis(q, order, np.minimum(monotone, 1.0), -1)
    return q
