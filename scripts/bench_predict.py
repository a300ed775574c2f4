"""Inference speed: a pretrained default CNN (1 kb input) on FASTA regions and genome scans.

Synthetic and seeded: the ~100 Mb FASTA of bench_data.py, 1,000-bp regions in a BED file, CPU,
batch 256. Figures (JSON lines, medians of --repeats runs):

- ``predict_tensors_per_s``: the model on pre-encoded uint8 code tensors (no data loading);
- ``predict_regions_per_s`` / ``predict_regions_per_s_rc``: ``predict_regions`` from the FASTA
  + BED (rc=false / rc=true);
- ``loader_keeps_up``: predict_regions_per_s / predict_tensors_per_s (target >= 0.80);
- ``scan_mbase_per_s``: ``scan_genome`` over a 4 Mb synthetic genome, stride 1,000 bp.

Fully convolutional scans (issue 29), both strands (``rc=max``), fast and plain (the window
path, on the first ``--plain-kb`` kb of the same genome: its rate per bp does not depend on
the length) in the same run with the same model:

- ``scan_fast_kbase_per_s`` / ``scan_plain_kbase_per_s`` and ``scan_speedup_stride1`` /
  ``scan_speedup_stride10``: the shipped ``ecoli-sigma70`` (valid-padded, 81 bp, kernels
  19/9/5, pools 3/2/1) over the first ``--sigma-mb`` Mb of the E. coli genome (4.6: all of it),
  the window path over its first ``--plain-kb`` kb;
- ``scan_speedup_1kb_stride50``: the default 1-kb BassetCNN, valid-padded, over
  ``--cnn-mb`` Mb at stride 50, and ``scan_speedup_1kb_stride1`` over ``--cnn1-mb`` Mb at
  stride 1 (plain on a 20x shorter stretch);
- ``scan_writer_lines_per_s``: the bedGraph (and bigWig, with pyBigWig) writer alone.

``--zoo`` measures the published architectures instead, each in its FULL published
configuration with random weights (nothing is downloaded): ``zoo_<family>`` lines with the
parameters, input length, output shape and windows/s on random windows for each
``--zoo-batches`` size (Enformer reads 196,608 bp and Borzoi 524,288 bp per window: batch 8
of those takes minutes and several GB on a CPU, so it is opt-in: ``--zoo-batches 1 8``).

Usage: python scripts/bench_predict.py [--repeats 3] [--regions 2048] [--workdir DIR]
           [--only-scan] [--sigma-mb 4.6] [--cnn-mb 10] [--cnn1-mb 0.5] [--plain-kb 200]
       python scripts/bench_predict.py --zoo [--zoo-families chrombpnet] [--zoo-batches 1 8]
"""

from __future__ import annotations

import argparse
import functools
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

from seqnn.data.embedded import ecoli_fasta  # noqa: E402
from seqnn.data.genome import Genome, write_fasta  # noqa: E402
from seqnn.inference.predict import predict_codes, predict_regions  # noqa: E402
from seqnn.inference.pretrained import (  # noqa: E402
    ModelSpec,
    PretrainedModel,
    load_pretrained,
    save_pretrained,
)
from seqnn.inference.scan import TrackWriter, scan_genome  # noqa: E402
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
                # warm up on one window (a full warm-up batch of 8 costs minutes on a CPU)
                out = model.net(model.one_hot(x[:1]))
                outs = out if isinstance(out, tuple) else (out,)
                shape = [[batch, *o.shape[1:]] for o in outs]
                shape = shape if isinstance(out, tuple) else shape[0]
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
    parser.add_argument("--only-scan", action="store_true", help="only the scan figures")
    parser.add_argument("--sigma-mb", type=float, default=4.6)
    parser.add_argument("--cnn-mb", type=float, default=10.0)
    parser.add_argument("--cnn1-mb", type=float, default=0.5)
    parser.add_argument("--plain-kb", type=float, default=200.0)
    args = parser.parse_args()
    if args.zoo:
        bench_zoo(args.zoo_families, args.zoo_batches, args.repeats)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        scan_figures(args, work)
        if args.only_scan:
            return
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


def random_genome(path: Path, mb: float, seed: int) -> Genome:
    """One seeded random contig of ``mb`` Mb."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, int(mb * 1e6))]
    return Genome(write_fasta(path, {"chr1": letters.tobytes().decode()}))


def ecoli_stretch(path: Path, mb: float) -> Genome:
    """The first ``mb`` Mb of the embedded E. coli genome (4.6: all of it) as a FASTA."""
    ecoli = Genome(ecoli_fasta())
    name = ecoli.names[0]
    return Genome(
        write_fasta(path, {name: ecoli.fetch(name, 0, min(ecoli.sizes[name], int(mb * 1e6)))})
    )


def scan_rates(model, genome, plain, stride, work, repeats) -> tuple[float, float]:
    """Mbase/s of the fast path over ``genome`` and of the window path over ``plain``."""
    rates = []
    for method, g in (("auto", genome), ("windows", plain)):
        run = functools.partial(
            scan_genome, model, g, work / "t.bedgraph", stride, 256, "max", method=method
        )
        mb = sum(g.sizes.values()) / 1e6
        rates.append(median_rate(lambda run=run: run(progress=False), mb, repeats))
    return rates[0], rates[1]


def compare(name: str, model, genome, plain, stride: int, work: Path, repeats: int, **extra):
    """Emit the fast and plain Mbase/s and their ratio as ``name``."""
    fast, slow = scan_rates(model, genome, plain, stride, work, repeats)
    extra = {"stride": stride, "threads": torch.get_num_threads(), "rc": "max", **extra}
    # kbase/s: emit() rounds to 3 decimals, and a loaded 2-core machine scans ~1 kbase/s
    emit("scan_fast_kbase_per_s", fast * 1000, "kbase/s", **extra)
    emit("scan_plain_kbase_per_s", slow * 1000, "kbase/s", **extra)
    emit(name, fast / slow, "x", **extra)


def scan_figures(args, work: Path) -> None:
    """Fast vs plain scans (same run, same model) and the writer alone."""
    torch.manual_seed(0)
    plain = random_genome(work / "plain.fa", args.plain_kb / 1000, seed=3)
    sigma = load_pretrained("ecoli-sigma70")  # shipped, valid-padded: the default model's scans
    genome, ecoli_plain = (
        ecoli_stretch(work / "sigma.fa", args.sigma_mb),
        ecoli_stretch(work / "sigma_plain.fa", args.plain_kb / 1000),
    )
    for stride, target in ((1, 50), (10, 10)):
        extra = {"network": "ecoli-sigma70", "genome_mb": args.sigma_mb, "target": target}
        name = f"scan_speedup_stride{stride}"
        compare(name, sigma, genome, ecoli_plain, stride, work, args.repeats, **extra)
    cnn = BassetCNN(1, LENGTH, padding="valid")
    cnn = load_pretrained(save_pretrained(cnn, work / "cnn", input_length=LENGTH))
    extra = {"network": "valid BassetCNN 1 kb", "genome_mb": args.cnn_mb}
    genome = random_genome(work / "cnn.fa", args.cnn_mb, seed=5)
    compare("scan_speedup_1kb_stride50", cnn, genome, plain, 50, work, args.repeats, **extra)
    # at stride 1 the window path costs a full 1-kb pass per base: a 20x shorter plain stretch
    plain = random_genome(work / "plain1.fa", args.plain_kb / 20_000, seed=6)
    genome = random_genome(work / "cnn1.fa", args.cnn1_mb, seed=7)
    extra = {"network": "valid BassetCNN 1 kb", "genome_mb": args.cnn1_mb}
    compare("scan_speedup_1kb_stride1", cnn, genome, plain, 1, work, args.repeats, **extra)
    writer_figures(args, work)


def writer_figures(args, work: Path) -> None:
    """The track writer alone: 1 M bins of 10 bp."""
    n = 1_000_000
    starts = np.arange(n, dtype=np.int64) * 10
    values = np.random.default_rng(0).random(n).astype(np.float32)
    genome = random_genome(work / "w.fa", n * 10 / 1e6, seed=8)  # a header that holds the bins
    formats = [("bedGraph", ".bedgraph")]
    try:
        import pyBigWig  # noqa: F401

        formats.append(("bigWig", ".bw"))
    except ImportError:
        pass
    for name, suffix in formats:

        def write(suffix=suffix) -> None:
            with TrackWriter(work / f"w{suffix}", genome, ["chr1"]) as writer:
                writer.write("chr1", starts, starts + 10, values)

        rate = median_rate(write, n, args.repeats)
        emit("scan_writer_lines_per_s", rate, "lines/s", format=name)


if __name__ == "__main__":
    main()
