"""Inference speed: a pretrained default CNN (1 kb input) on FASTA regions and genome scans.

Synthetic and seeded: the ~100 Mb FASTA of bench_data.py, 1,000-bp regions in a BED file, CPU,
batch 256. Figures (JSON lines, medians of --repeats runs):

- ``predict_tensors_per_s``: the model on pre-encoded uint8 code tensors (no data loading);
- ``predict_regions_per_s`` / ``predict_regions_per_s_rc``: ``predict_regions`` from the FASTA
  + BED (rc=false / rc=true);
- ``loader_keeps_up``: predict_regions_per_s / predict_tensors_per_s (target >= 0.80);
- ``scan_mbase_per_s``: ``scan_genome`` over a 4 Mb synthetic genome, stride 1,000 bp.

``--zoo`` measures the published architectures instead, each in its FULL published
configuration with random weights (nothing is downloaded): ``zoo_<family>`` lines with the
parameters, input length, output shape and windows/s on random windows for each
``--zoo-batches`` size (Enformer reads 196,608 bp and Borzoi 524,288 bp per window: batch 8
of those takes minutes and several GB on a CPU, so it is opt-in: ``--zoo-batches 1 8``).

Usage: python scripts/bench_predict.py [--repeats 3] [--regions 2048] [--workdir DIR]
       python scripts/bench_predict.py --zoo [--zoo-families chrombpnet] [--zoo-batches 1 8]
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
from seqnn.inference.pretrained import (  # noqa: E402
    ModelSpec,
    PretrainedModel,
    load_pretrained,
    save_pretrained,
)
from seqnn.inference.scan import scan_genome  # noqa: E402
from seqnn.models import BassetCNN, borzoi, enformer  # noqa: E402
from seqnn.models.spec import build_network  # noqa: E402

LENGTH, BATCH = 1_000, 256


def median_rate(fn, n: int, repeats: int) -> float:
    fn()  # warm-up: caches, page cache, kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def zoo_model(family: str) -> PretrainedModel:
    """A published architecture at full size with random weights (the package layout that
    seqnn-convert writes, minus the weights file)."""
    if family == "chrombpnet":
        # the official defaults: bias 128 filters x 4 layers, accessibility 512 x 8
        bias = {"n_filters": 128, "n_layers": 4, "n_outputs": 1, "n_control_tracks": 0}
        network = {
            "_target_": "bpnetlite.chrombpnet.ChromBPNet",
            "bias": {"_target_": "bpnetlite.bpnet.BPNet", **bias, "verbose": False},
            "accessibility": {
                "_target_": "bpnetlite.bpnet.BPNet",
                **{**bias, "n_filters": 512, "n_layers": 8},
                "verbose": False,
            },
        }
        spec = ModelSpec(network=network, input_length=2114, task="profile", targets=["acc"])
    else:
        module = enformer if family == "enformer" else borzoi
        network = {"_target_": f"seqnn.models.{family}.{family.capitalize()}"}
        if family == "enformer":
            network.update(enformer.PUBLISHED)
        spec = ModelSpec(network=network, input_length=module.INPUT_LENGTH, task="regression")
    return PretrainedModel(build_network(spec.network), spec).eval()


def bench_zoo(families: list[str], batches: list[int], repeats: int) -> None:
    threads = torch.get_num_threads()
    for family in families:
        torch.manual_seed(0)
        model = zoo_model(family)
        length = model.input_length
        n_params = sum(p.numel() for p in model.parameters())
        for batch in batches:
            codes = np.random.default_rng(0).integers(0, 4, (batch, length), dtype=np.uint8)
            x = torch.from_numpy(codes)
            with torch.inference_mode():
                out = model.net(model.one_hot(x))
                shape = [list(o.shape) for o in out] if isinstance(out, tuple) else list(out.shape)
                rate = median_rate(lambda x=x, m=model: m(x), batch, repeats)
            emit(
                f"zoo_{family}_windows_per_s",
                rate,
                "windows/s",
                batch=batch,
                params=n_params,
                input_length=length,
                output_shape=shape,
                threads=threads,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zoo", action="store_true", help="the published architectures")
    parser.add_argument("--zoo-families", nargs="+", default=["chrombpnet", "enformer", "borzoi"])
    parser.add_argument("--zoo-batches", nargs="+", type=int, default=[1])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--regions", type=int, default=2048)
    parser.add_argument("--genome-mb", type=int, default=100)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    if args.zoo:
        bench_zoo(args.zoo_families, args.zoo_batches, args.repeats)
        return
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
