"""Inference speed: a pretrained default CNN (1 kb input) on FASTA regions and genome scans.

Synthetic and seeded: the ~100 Mb FASTA of bench_data.py, 1,000-bp regions in a BED file, CPU,
batch 256. Figures (JSON lines, medians of --repeats runs):

- ``predict_tensors_per_s``: the model on pre-encoded uint8 code tensors (no data loading);
- ``predict_regions_per_s`` / ``predict_regions_per_s_rc``: ``predict_regions`` from the FASTA
  + BED (rc=false / rc=true);
- ``loader_keeps_up``: predict_regions_per_s / predict_tensors_per_s (target >= 0.80);
- ``scan_mbase_per_s``: ``scan_genome`` over a 4 Mb synthetic genome, stride 1,000 bp.

Usage: python scripts/bench_predict.py [--repeats 3] [--regions 2048] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_data import emit, make_fasta  # noqa: E402

from seqnn.data.genome import Genome  # noqa: E402
from seqnn.inference.predict import predict_codes, predict_regions  # noqa: E402
from seqnn.inference.pretrained import load_pretrained, save_pretrained  # noqa: E402
from seqnn.inference.scan import scan_genome  # noqa: E402
from seqnn.models import BassetCNN  # noqa: E402

LENGTH, BATCH = 1_000, 256


def median_rate(fn, n: int, repeats: int) -> float:
    fn()  # warm-up: caches, page cache, kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--regions", type=int, default=2048)
    parser.add_argument("--genome-mb", type=int, default=100)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        torch.manual_seed(0)
        model = load_pretrained(save_pretrained(BassetCNN(), work / "m", input_length=LENGTH))
        sizes = make_fasta(work / "g.fa", args.genome_mb)
        genome = Genome(work / "g.fa")
        rng = np.random.default_rng(1)
        names = np.array(list(sizes))
        chrom = rng.choice(len(names), args.regions)
        start = rng.random(args.regions) * (np.array(list(sizes.values()))[chrom] - LENGTH)
        regions = pd.DataFrame({"chrom": names[chrom], "start": start.astype(np.int64)}).assign(
            end=lambda d: d.start + LENGTH
        )
        bed = work / "regions.bed"
        regions.to_csv(bed, sep="\t", header=False, index=False)
        codes = genome.fetch_codes(regions.chrom, regions.start, regions.end)
        batches = [codes[i : i + BATCH] for i in range(0, len(codes), BATCH)]
        n = args.regions
        common = {"batch": BATCH, "length": LENGTH, "threads": torch.get_num_threads()}

        tensors = median_rate(lambda: [predict_codes(model, b) for b in batches], n, args.repeats)
        emit("predict_tensors_per_s", tensors, "regions/s", **common)
        regions_rate = median_rate(
            lambda: predict_regions(model, genome, bed, batch_size=BATCH), n, args.repeats
        )
        emit("predict_regions_per_s", regions_rate, "regions/s", rc=False, **common)
        rc_rate = median_rate(
            lambda: predict_regions(model, genome, bed, batch_size=BATCH, rc=True), n, args.repeats
        )
        emit("predict_regions_per_s_rc", rc_rate, "regions/s", rc=True, **common)
        emit("loader_keeps_up", regions_rate / tensors, "ratio", target=0.80)

        make_fasta(work / "small.fa", 4, seed=2)
        small = Genome(work / "small.fa")
        scan_rate = median_rate(
            lambda: scan_genome(model, small, work / "t.bedgraph", stride=LENGTH),
            sum(small.sizes.values()) / 1e6,
            args.repeats,
        )
        emit("scan_mbase_per_s", scan_rate, "Mbase/s", stride=LENGTH, **common)


if __name__ == "__main__":
    main()
