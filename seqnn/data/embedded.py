"""Real data shipped inside seqnn: the E. coli K-12 MG1655 genome and its σ70 promoters, the
CNNProm promoter tables, and 10,000 human CTCF ChIP-seq peak sequences.

The command-line tools take the shipped files by name wherever a path goes, as
``embedded:<name>`` (:data:`EMBEDDED_FILES`, resolved by :func:`embedded_file`)::

    seqnn-predict model=ecoli-sigma70 fasta=embedded:ecoli regions=embedded:ecoli_promoters \\
        out=preds.tsv

The genome ships gzip-compressed; the first use decompresses it once into the seqnn cache folder
(``$SEQNN_CACHE_DIR``, else ``~/.cache/seqnn``), written to a temp file and renamed, and every
use checks that copy against the shipped checksum (``ECOLI_SHA256``). Provenance:
``seqnn/resources/PROVENANCE.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import zlib
from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.atomic import atomic_open
from seqnn.data.background import random_background_intervals
from seqnn.data.datasets import read_table
from seqnn.data.genome import Genome
from seqnn.data.intervals import read_intervals
from seqnn.data.labelled import labelled_table
from seqnn.errors import SeqnnInputError

ECOLI_FASTA = "ecoli/ecoli_K12_MG1655.fa.gz"
ECOLI_PROMOTERS = "ecoli/ecoli_K12_MG1655.sigma70_promoters_81bp.bed.gz"
CNNPROM_TABLES = {
    "ecoli": "promoters/ecoli_sigma70.csv.gz",
    "bsubtilis": "promoters/bsubtilis.csv.gz",
}
CTCF_PEAKS = "tf_peaks/ctcf_positives_10k.csv.gz"
EMBEDDED_PREFIX = "embedded:"
# SHA-256 of the decompressed E. coli FASTA (seqnn/resources/PROVENANCE.md)
ECOLI_SHA256 = "3d70cf9dee928a6bf8f4763a3db0e0f8bf0ae32d25123a73f7a5bf2fe4d16828"


class EmbeddedDataError(SeqnnInputError):
    """seqnn's shipped data is damaged or missing: reinstall seqnn."""


def resource_path(name: str) -> Path:
    """Path of a file shipped in ``seqnn/resources``."""
    path = Path(str(resources.files("seqnn") / "resources" / name))
    if not path.exists():
        raise FileNotFoundError(f"{path}: seqnn's shipped data is missing; reinstall seqnn")
    return path


def cache_dir() -> Path:
    """The folder seqnn writes caches to: ``$SEQNN_CACHE_DIR`` or ``~/.cache/seqnn``."""
    folder = Path(os.environ.get("SEQNN_CACHE_DIR") or Path.home() / ".cache" / "seqnn")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ecoli_fasta() -> Path:
    """The decompressed E. coli K-12 MG1655 FASTA (4,639,675 bp, contig ``K-12-MG1655``).

    The copy in the cache folder is checked against the shipped checksum on every call (a
    few ms) and written again from the shipped file when it differs: a truncated copy, or
    another genome of the same length, would otherwise be used without a word.

    Raises:
        EmbeddedDataError: the shipped file itself is damaged (reinstall seqnn).
    """
    target = cache_dir() / "ecoli_K12_MG1655.fa"
    if _sha256(target) != ECOLI_SHA256:
        source = resource_path(ECOLI_FASTA)
        try:
            with gzip.open(source, "rb") as src, atomic_open(target, "wb") as out:
                shutil.copyfileobj(src, out)  # no stray temp file if it fails
        except (OSError, EOFError, zlib.error) as err:
            raise EmbeddedDataError(_damaged(source, f"cannot decompress it: {err}")) from None
        if _sha256(target) != ECOLI_SHA256:
            raise EmbeddedDataError(_damaged(source, "its content does not match its checksum"))
    return target


def _sha256(path: Path) -> str | None:
    """The SHA-256 of a file, None if there is none."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _damaged(source: Path, why: str) -> str:
    return f"{source}: seqnn's shipped E. coli genome is damaged ({why}): reinstall seqnn"


def ecoli_promoters() -> pd.DataFrame:
    """The 839 σ70 promoter windows (TSS −60..+20, 81 bp) on MG1655 as a BED6 table."""
    return read_intervals(resource_path(ECOLI_PROMOTERS))


def cnnprom_table(organism: str) -> Path:
    """Path of a CNNProm table (``sequence,label,id,file``): ``ecoli`` or ``bsubtilis``."""
    if organism not in CNNPROM_TABLES:
        raise ValueError(
            f"unknown CNNProm organism {organism!r}: use one of {list(CNNPROM_TABLES)}"
        )
    return resource_path(CNNPROM_TABLES[organism])


def ecoli_promoter_intervals(
    negative_ratio: int = 3, min_distance: int = 200, seed: int = 0
) -> pd.DataFrame:
    """The embedded default dataset: σ70 promoters vs random E. coli background windows.

    Positives are the 839 promoter windows (81 bp, their own strand); negatives are
    ``negative_ratio`` times as many random 81-bp windows of the genome, on a random strand,
    at least ``min_distance`` bp from any promoter. Seeded: the same table every time.

    Returns:
        DataFrame with chrom, start, end, name, strand and ``label`` (1 promoter, 0 background).
    """
    positives = ecoli_promoters()[["chrom", "start", "end", "name", "strand"]].assign(label=1)
    length = int((positives.end - positives.start).iloc[0])
    negatives = random_background_intervals(
        Genome(ecoli_fasta()),
        n=negative_ratio * len(positives),
        length=length,
        exclude=positives,
        min_distance=min_distance,
        seed=seed,
    )
    strands = np.random.default_rng(seed).choice(["+", "-"], len(negatives))
    negatives = negatives[["chrom", "start", "end", "name"]].assign(strand=strands, label=0)
    table = pd.concat([positives, negatives], ignore_index=True)
    return table.sort_values(["chrom", "start"], kind="stable", ignore_index=True)


def ctcf_table(
    n: int | None = None, negative_ratio: int = 1, seed: int = 0, peaks: str | None = None
) -> pd.DataFrame:
    """CTCF ChIP-seq peaks (label 1) vs dinucleotide-shuffled copies of them (label 0), 100 bp.

    A shuffle keeps its peak's dinucleotide counts (and so its GC content and CpG count)
    exactly, so a model must find the CTCF motif and its context, not composition, to separate
    the classes. Seeded: the same arguments give the same table.

    Args:
        n: peaks to use, a seeded random subset of the 10,000 shipped; None for all.
        negative_ratio: shuffles per peak.
        seed: seed of the subset and of the shuffles.
        peaks: a CSV/TSV of peak sequences (``sequence`` and ``region`` columns) instead of
            the 10,000 shipped, e.g. all 39,184 of the demo's peaks
            (``../shared/data/tf_peaks/ctcf_positives.csv.gz`` beside a project checkout).

    Returns:
        DataFrame with ``sequence``, ``label`` (1 peak, 0 shuffle) and ``region`` (the peak's
        hg19 region, or for a shuffle the region of the peak it was shuffled from); each peak
        is followed by its ``negative_ratio`` shuffles.
    """
    peaks = read_table(peaks) if peaks is not None else pd.read_csv(resource_path(CTCF_PEAKS))
    if n is not None and not 1 <= n <= len(peaks):
        raise ValueError(f"ctcf_table: n={n} must be between 1 and {len(peaks)} (or None: all)")
    if negative_ratio < 1:
        raise ValueError(f"ctcf_table: negative_ratio={negative_ratio} must be >= 1")
    rng = np.random.default_rng(seed)
    if n is not None:
        peaks = peaks.iloc[np.sort(rng.choice(len(peaks), size=n, replace=False))]
    # each peak followed by its shuffles: every slice of the table holds both classes
    table = labelled_table(peaks[["sequence", "region"]], None, negative_ratio, rng)
    return table[["sequence", "label", "region"]]


# what embedded:<name> names on a command line: (what it is, its path on first use)
EMBEDDED_FILES: dict[str, tuple[str, Callable[[], Path]]] = {
    "ecoli": ("the E. coli K-12 MG1655 genome, FASTA", ecoli_fasta),
    "ecoli_promoters": (
        "its 839 sigma70 promoters, 81 bp on their strand, BED",
        partial(resource_path, ECOLI_PROMOTERS),
    ),
    "cnnprom_ecoli": (
        "CNNProm's E. coli promoters and non-promoters, CSV with sequence and label",
        partial(cnnprom_table, "ecoli"),
    ),
    "cnnprom_bsubtilis": (
        "CNNProm's B. subtilis promoters and non-promoters, CSV with sequence and label",
        partial(cnnprom_table, "bsubtilis"),
    ),
}


def embedded_file(value: str) -> Path:
    """The shipped file that ``embedded:<name>`` names (the E. coli FASTA is decompressed
    into the cache on first use).

    Raises:
        ValueError: an unknown name; the message lists the names and what each file is.
    """
    name = value.removeprefix(EMBEDDED_PREFIX)
    if name not in EMBEDDED_FILES:
        entries = EMBEDDED_FILES.items()
        listed = "; ".join(f"{EMBEDDED_PREFIX}{n} ({what})" for n, (what, _) in entries)
        raise ValueError(f"{value}: seqnn ships no file of that name; name one of: {listed}")
    return EMBEDDED_FILES[name][1]()
