"""Real data shipped inside seqnn: the E. coli K-12 MG1655 genome and its σ70 promoters.

The genome ships gzip-compressed; the first use decompresses it once into the seqnn cache folder
(``$SEQNN_CACHE_DIR``, else ``~/.cache/seqnn``), written to a temp file and renamed. Provenance:
``seqnn/resources/PROVENANCE.md``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import pandas as pd

ECOLI_FASTA = "ecoli/ecoli_K12_MG1655.fa.gz"
ECOLI_PROMOTERS = "ecoli/ecoli_K12_MG1655.sigma70_promoters_81bp.bed.gz"
CNNPROM_TABLES = {
    "ecoli": "promoters/ecoli_sigma70.csv.gz",
    "bsubtilis": "promoters/bsubtilis.csv.gz",
}


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
    """The decompressed E. coli K-12 MG1655 FASTA (4,639,675 bp, contig ``K-12-MG1655``)."""
    target = cache_dir() / "ecoli_K12_MG1655.fa"
    source = resource_path(ECOLI_FASTA)
    if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
        with (
            gzip.open(source, "rb") as src,
            tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=target.name, suffix=".tmp", delete=False
            ) as tmp,
        ):
            shutil.copyfileobj(src, tmp)
        os.replace(tmp.name, target)
    return target


def ecoli_promoters() -> pd.DataFrame:
    """The 839 σ70 promoter windows (TSS −60..+20, 81 bp) on MG1655 as a BED6 table."""
    from seqnn.data.intervals import read_intervals

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
    import numpy as np

    from seqnn.data.background import random_background_intervals
    from seqnn.data.genome import Genome

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
