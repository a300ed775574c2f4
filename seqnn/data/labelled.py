"""Labelled sequence tables: positives (label 1) against negatives (label 0), or against
dinucleotide shuffles of the positives when no negatives are given.

Many published sets, and a researcher's own peaks, come as FASTA files rather than tables:
promoters and non-promoters, or the sequences under a factor's ChIP-seq peaks with no
background at all. :func:`fasta_table` turns them into the table that ``data=table`` trains
on (``sequence``, ``label``, ``name``); the ``data=fasta`` config does it from the command
line::

    seqnn-train recipe=tf_binding data=fasta data.table.positives=peaks.fa
    seqnn-train recipe=promoter data=fasta data.table.positives=promoters.fa \\
        data.table.negatives=background.fa

A dinucleotide shuffle keeps its sequence's dinucleotide counts (so its GC and CpG content)
exactly, so a model has to find the motifs, not composition, to tell the classes apart
(:func:`~seqnn.data.background.dinucleotide_shuffle`). Each positive is followed by its
shuffles, so any slice of the table holds both classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from seqnn.data.background import SeedLike, shuffled_negatives
from seqnn.data.datasets import DatasetError, read_fasta_records

Paths = str | Path | Iterable[str | Path]


def labelled_table(
    positives: pd.DataFrame,
    negatives: pd.DataFrame | None = None,
    negative_ratio: int = 1,
    seed: SeedLike = 0,
) -> pd.DataFrame:
    """Positives labelled 1, negatives labelled 0 (or shuffles of the positives).

    Args:
        positives: a ``sequence`` column and any others (kept; a shuffle copies its
            positive's).
        negatives: the same columns, or None: ``negative_ratio`` dinucleotide shuffles of
            every positive, each placed right after its positive.
        negative_ratio: shuffles per positive (used only without ``negatives``).
        seed: an int or numpy Generator: the shuffles' seed.

    Returns:
        The positives' columns and ``label``, with a fresh index.
    """
    if negative_ratio < 1:
        raise ValueError(f"negative_ratio={negative_ratio} must be >= 1 (shuffles per positive)")
    positives = positives.assign(label=1).reset_index(drop=True)
    if negatives is not None:
        negatives = negatives.assign(label=0)
        return pd.concat([positives, negatives], ignore_index=True)[list(positives.columns)]
    index = np.repeat(np.arange(len(positives)), negative_ratio)
    shuffles = positives.iloc[index].reset_index(drop=True)
    shuffles["sequence"] = shuffled_negatives(positives["sequence"].tolist(), negative_ratio, seed)
    shuffles["label"] = 0
    # positive i sorts before its shuffles: every slice of the table holds both classes
    order = np.r_[np.arange(len(positives)), index]
    table = pd.concat([positives, shuffles], ignore_index=True)
    return table.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def read_fasta_table(paths: Paths, argument: str = "fasta") -> pd.DataFrame:
    """The records of one or several FASTA files (gzip ok) as ``name`` and ``sequence``.

    Raises:
        DatasetError: no file given, a missing file, a file with no records, a record with
            no sequence (each named by file and record).
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise DatasetError(f"{argument}: no FASTA file given: give a path (or a list of paths)")
    frames = []
    for path in map(Path, paths):
        if not path.is_file():
            raise DatasetError(
                f"{path}: no such FASTA file ({argument}): check the path (a relative path "
                "starts from the folder you run in)"
            )
        names, seqs = read_fasta_records(path)
        if not seqs:
            raise DatasetError(f"{path}: no FASTA records ({argument}): is the file empty?")
        empty = next((i for i, s in enumerate(seqs) if not s.strip()), None)
        if empty is not None:
            raise DatasetError(
                f"{path}: record {names[empty]!r} (number {empty + 1}) has no sequence: "
                "remove it or fill it in"
            )
        frames.append(pd.DataFrame({"sequence": seqs, "name": names}))
    return pd.concat(frames, ignore_index=True)


def fasta_table(
    positives: Paths,
    negatives: Paths | None = None,
    negative_ratio: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """A labelled table from FASTA files: ``sequence``, ``label`` (1 / 0) and ``name``.

    Args:
        positives: the FASTA file(s) of the positive class (label 1).
        negatives: the FASTA file(s) of the negative class (label 0); None: dinucleotide
            shuffles of the positives (``negative_ratio`` each), named after their positive.
        negative_ratio: shuffles per positive when there are no ``negatives``.
        seed: the shuffles' seed (the same arguments give the same table).

    Raises:
        DatasetError: a missing or empty file, a record with no sequence.
        ValueError: ``negative_ratio`` < 1.
    """
    table = read_fasta_table(positives, "positives")
    background = None if negatives is None else read_fasta_table(negatives, "negatives")
    return labelled_table(table, background, negative_ratio, seed)[["sequence", "label", "name"]]
