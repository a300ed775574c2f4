"""Genome-wide scan check: does the shipped σ70 model's track peak at the known promoters?

Scans the whole E. coli genome (and phage lambda) with ``seqnn-predict``'s scan path, then
scores each of the 839 promoter windows by the track's maximum over it, and as many background
windows (81 bp, >= 500 bp from any promoter, seeded) the same way. Prints JSON lines:
``scan_promoter_auroc`` (target >= 0.90), ``scan_mbase_per_s`` and bin counts.

    python scripts/validate_scan.py [--stride 10] [--rc] [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import seqnn
from seqnn.data.background import random_background_intervals
from seqnn.data.embedded import ecoli_fasta, ecoli_promoters
from seqnn.data.genome import Genome
from seqnn.inference.scan import scan_genome


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(float(value), 4), "unit": unit, **extra}))


def window_max(track: pd.DataFrame, windows: pd.DataFrame, stride: int) -> np.ndarray:
    """Max of the (single-contig, gap-free) track over bins overlapping each window."""
    values = track["value"].to_numpy()
    first = windows["start"].to_numpy() // stride
    last = (windows["end"].to_numpy() - 1) // stride
    return np.array([values[a : b + 1].max() for a, b in zip(first, last, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stride", type=int, default=10)
    parser.add_argument("--rc", default="max", help="strand pair: false, mean or max")
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    args.rc = False if args.rc == "false" else args.rc
    model = seqnn.load_pretrained("ecoli-sigma70")
    genome = Genome(ecoli_fasta())
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ecoli.bedgraph"
        t0 = time.perf_counter()
        scan_genome(model, genome, out, args.stride, batch_size=args.batch_size, rc=args.rc)
        seconds = time.perf_counter() - t0
        track = pd.read_csv(out, sep="\t", header=None, names=["chrom", "start", "end", "value"])
        emit(
            "scan_mbase_per_s",
            sum(genome.sizes.values()) / 1e6 / seconds,
            "Mbase/s",
            genome="E. coli K-12",
            stride=args.stride,
            rc=args.rc,
            bins=len(track),
        )
        promoters = ecoli_promoters()
        background = random_background_intervals(
            genome, n=len(promoters), length=81, exclude=promoters, min_distance=500, seed=0
        )
        pos = window_max(track, promoters, args.stride)
        neg = window_max(track, background, args.stride)
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        emit(
            "scan_promoter_auroc",
            roc_auc_score(labels, np.r_[pos, neg]),
            "AUROC",
            promoters=len(pos),
            background=len(neg),
            target=0.90,
        )
        lam = Path(args.shared) / "genomes" / "phage_lambda_NC_001416.fa.gz"
        if lam.exists():
            fasta = Path(tmp) / "lambda.fa"
            with gzip.open(lam, "rb") as src, open(fasta, "wb") as dst:
                shutil.copyfileobj(src, dst)
            (path,) = scan_genome(model, fasta, Path(tmp) / "lambda.bedgraph", stride=args.stride)
            bins = sum(1 for _ in open(path))
            emit("scan_lambda_bins", bins, "bins", genome_bp=sum(Genome(fasta).sizes.values()))


if __name__ == "__main__":
    main()
