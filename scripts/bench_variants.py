"""Variant scoring speed: the shared path (one reference pass per window, SNV alleles by fast
ISM) vs plain full passes, in one run.

Prints one JSON line per figure, ``{"bench": NAME, "value": X, "unit": U, ...}``. A seeded
random genome of ``--contig`` bp and two synthetic VCFs of SNVs, dense (one per
``--dense-step`` bp) and sparse (one per ``--sparse-step`` bp), are written under
``--scratch``; the default CNN (BassetCNN, random weights, eval) at ``--length`` bp scores
them through :func:`seqnn.inference.variants.variant_effects_to_file` (the seqnn-variants
path) with ``method=plain`` and ``method=auto``, centred and region-anchored (regions of
``--region`` bp tiling the genome), ``--repeats`` passes each:

* ``variants_<mode>_<density>_<method>``: variants per second, the median of the passes;
* ``variants_speedup_<mode>_<density>``: shared over plain (ratio of the medians);
* ``variants_peak_rss``: the process's peak resident memory at the end.

Usage: python scripts/bench_variants.py [--contig 200000] [--length 1000] [--repeats 3]
       [--dense-step 100] [--sparse-step 10000] [--region 600] [--scratch DIR] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from seqnn.data.genome import write_fasta
from seqnn.inference.pretrained import ModelSpec, PretrainedModel
from seqnn.inference.variants import variant_effects_to_file
from seqnn.models import BassetCNN

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def write_inputs(folder: Path, size: int, steps: dict[str, int], region: int) -> dict:
    """A random genome, one SNV VCF per density and a BED tiling it with regions."""
    rng = np.random.default_rng(0)
    bases = np.frombuffer(b"ACGT", np.uint8)
    index = rng.integers(0, 4, size)
    seq = bases[index]
    fasta = write_fasta(folder / "genome.fa", {"chr1": seq.tobytes().decode()})
    paths = {"fasta": fasta}
    for density, step in steps.items():
        pos = np.arange(step // 2, size, step)  # 0-based
        ref, alt = seq[pos], bases[(index[pos] + 1) % 4]
        lines = [
            f"chr1\t{p + 1}\t.\t{chr(r)}\t{chr(a)}\t.\t.\t.\n"
            for p, r, a in zip(pos, ref, alt, strict=True)
        ]  # a benchmark fixture, written once
        paths[density] = folder / f"{density}.vcf"
        paths[density].write_text(HEADER + "".join(lines))
    starts = np.arange(0, size - region, region)
    bed = "".join(f"chr1\t{s}\t{s + region}\n" for s in starts)
    paths["regions"] = folder / "regions.bed"
    paths["regions"].write_text(bed)
    return paths


def rate(model, paths: dict, density: str, method: str, regions, repeats: int) -> float:
    """Median variants per second of ``repeats`` runs."""
    n = sum(1 for line in open(paths[density]) if not line.startswith("#"))
    out = paths[density].with_suffix(f".{method}.tsv")
    passes = []
    for _ in range(repeats):
        t = time.perf_counter()
        variant_effects_to_file(
            model, paths["fasta"], paths[density], out, method=method, regions=regions,
            progress=False, batch_size=256,
        )  # fmt: skip
        passes.append(n / (time.perf_counter() - t))
    return statistics.median(passes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contig", type=int, default=200_000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dense-step", type=int, default=100)
    parser.add_argument("--sparse-step", type=int, default=10_000)
    parser.add_argument("--region", type=int, default=600)
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = BassetCNN(1, args.length).eval()
    spec = ModelSpec(network={}, input_length=args.length, task="binary", targets=["score"])
    model = PretrainedModel(net, spec).eval()
    # the genome's tail past the last tiled region warns each pass: counted, not news here
    warnings.filterwarnings("ignore", message=".*lie in no region's window")
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        steps = {"dense": args.dense_step, "sparse": args.sparse_step}
        paths = write_inputs(Path(tmp), args.contig, steps, args.region)
        for mode, regions in (("centred", None), ("regions", paths["regions"])):
            for density in steps:
                rates = {
                    m: rate(model, paths, density, m, regions, args.repeats)
                    for m in ("plain", "auto")
                }
                for method, value in rates.items():
                    name = f"variants_{mode}_{density}_{'shared' if method == 'auto' else method}"
                    figure = {"bench": name, "value": round(value, 1), "unit": "variants/s"}
                    print(json.dumps(figure))
                speedup = rates["auto"] / rates["plain"]
                print(
                    json.dumps(
                        {
                            "bench": f"variants_speedup_{mode}_{density}",
                            "value": round(speedup, 2),
                            "unit": "x",
                        }  # fmt: skip
                    )
                )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": "variants_peak_rss", "value": round(peak, 1), "unit": "MiB"}))


if __name__ == "__main__":
    main()
