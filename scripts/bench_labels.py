"""Tiling + peak labels at genome scale, and the memory of a streaming epoch over windows.

Prints one JSON line per figure, ``{"bench": NAME, "value": X, "unit": U, ...}``, medians of
``--repeats`` passes, each pass a fresh process (so its peak RSS is its own: VmHWM).

- ``tile_label_s``: :func:`seqnn.data.tiling.tile_windows` over the whole genome (seeded,
  hg38-shaped: 24 contigs of hg38's relative sizes, N runs at the ends and in the middle,
  soft-masked) (1-kb windows,
  stride 200) + :class:`~seqnn.data.peaks.PeakLabels` over T peak files (read from BED) +
  :func:`~seqnn.data.tiling.label_tiles` (bit-packed labels); ``tile_label_windows_per_s``;
  ``tile_label_peak_rss_mb`` (the pass's VmHWM, imports included, with ``imports_mb``);
  ``label_storage_bytes`` (the packed labels: N x ceil(T / 8)) and ``windows_storage_bytes``
  (the runs). The genome's index and code cache are built before the clock starts.
- ``stream_epoch_peak_rss_mb`` at 10,000 and ~15,000,000 windows (1-kb windows at stride 1 on
  a 0.01 / 15 Mb genome: the window count of hg38 at stride 200 without its 3 GB of FASTA):
  an ``IntervalDataModule`` over ``tile_windows`` + ``PeakLabels`` set up and 100 training
  batches of 256 drawn (0 workers); ``stream_rss_growth_mb`` is the difference.

``measure(genome, peaks, window, stride)`` runs the tile_label passes on given files (what
scripts/bench_scale.py calls with its hg38-like workload); ``main()`` makes its own seeded
genome and peak files.

Usage: python scripts/bench_labels.py [--genome-mb 100] [--tracks 100] [--peaks 50000]
       [--repeats 3] [--stride 200] [--workdir DIR] [--no-stream]
(``--genome-mb 300 --stride 20`` gives hg38's 15 million windows from a tenth of its FASTA,
with 10x more windows per peak than at stride 200.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_data import emit, make_peaks, status_mb  # noqa: E402

# hg38's primary contigs (Mb), scaled to --genome-mb
HG38_MB = [248.96, 242.19, 198.3, 190.21, 181.54, 170.81, 159.35, 145.14, 138.39, 133.8,
           135.09, 133.28, 114.36, 107.04, 101.99, 90.34, 83.26, 80.37, 58.62, 64.44, 46.71,
           50.82, 156.04, 57.23]  # fmt: skip


def make_genome(path: Path, total_mb: float, seed: int = 3) -> dict[str, int]:
    """A seeded hg38-shaped FASTA written 8 Mb at a time (so 3.1 Gb fits in memory): 24 contigs
    with hg38's relative sizes, N runs at both ends (10 kb) and one in the middle (1 % of the
    contig, a centromere), 50 % soft-masked (lowercase runs of 10 kb)."""
    rng = np.random.default_rng(seed)
    scale = total_mb / sum(HG38_MB)
    names = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]
    sizes = {n: max(int(mb * 1e6 * scale), 30_000) for n, mb in zip(names, HG38_MB, strict=True)}
    letters, width, piece = np.frombuffer(b"ACGTacgt", np.uint8), 60, 8_000_020 // 60 * 60
    with open(path, "wb") as fh:
        for name, size in sizes.items():
            fh.write(f">{name}\n".encode())
            mid, gap = size // 2, max(size // 100, 1)
            for a in range(0, size, piece):
                b = min(a + piece, size)
                codes = rng.integers(0, 4, b - a, dtype=np.uint8)
                codes += 4 * ((np.arange(a, b) // 10_000) % 2 == 1).astype(np.uint8)  # masked
                seq = letters[codes]
                pos = np.arange(a, b)
                seq[(pos < 10_000) | (pos >= size - 10_000) | (abs(pos - mid) < gap // 2)] = 78
                lines = np.full((len(seq) + width - 1) // width * (width + 1), 10, np.uint8)
                full = len(seq) // width * width
                body = lines[: full // width * (width + 1)].reshape(-1, width + 1)
                body[:, :width] = seq[:full].reshape(-1, width)
                tail = seq[full:].tobytes() + (b"\n" if full < len(seq) else b"")
                fh.write(body.tobytes() + tail)
    return sizes


def tile_label_pass(genome: Path, peaks: list[Path], window: int, stride: int) -> dict:
    """One pass in this process: tile, read the peak files, label; seconds and peak RSS."""
    from seqnn.data.genome import Genome
    from seqnn.data.peaks import PeakLabels
    from seqnn.data.tiling import label_tiles, tile_windows

    imports = status_mb("VmHWM")
    fasta = Genome(genome)  # the index and code cache exist (built by the parent)
    t0 = time.perf_counter()
    windows = tile_windows(fasta, window, stride)
    t_tile = time.perf_counter() - t0
    labels = PeakLabels(peaks)
    labels.check(fasta)
    t_read = time.perf_counter() - t0 - t_tile
    bits = label_tiles(windows, labels)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "tile_s": t_tile,
        "read_peaks_s": t_read,
        "label_s": seconds - t_tile - t_read,
        "windows": len(windows),
        "positives": int(np.unpackbits(bits[:100_000]).sum()),
        "label_bytes": bits.nbytes,
        "windows_bytes": windows.nbytes,
        "rss_mb": status_mb("VmHWM"),
        "imports_mb": imports,
    }


def _child(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, *args]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)


def measure(genome: Path, peaks: list[Path], window: int = 1000, stride: int = 200) -> list[dict]:
    """The tile_label figures for a genome and peak files (3 fresh-process passes)."""
    from seqnn.data.genome import Genome

    Genome(genome)  # build the index and code cache outside the clock
    args = ["--tile-pass", str(genome), str(window), str(stride), *map(str, peaks)]
    passes = [_child(args) for _ in range(3)]
    seconds = statistics.median(p["seconds"] for p in passes)
    n, last = passes[0]["windows"], passes[-1]
    shape = {"windows": n, "peak_files": len(peaks), "window": window, "stride": stride}
    parts = {
        k: round(statistics.median(p[k] for p in passes), 3)
        for k in ("tile_s", "read_peaks_s", "label_s")
    }
    return [
        {
            "bench": "tile_label_s",
            "value": round(seconds, 3),
            "unit": "s",
            **shape,
            **parts,
            "passes_s": [round(p["seconds"], 3) for p in passes],
        },
        {"bench": "tile_label_windows_per_s", "value": round(n / seconds, 1), "unit": "windows/s"},
        {
            "bench": "tile_label_peak_rss_mb",
            "value": round(max(p["rss_mb"] for p in passes), 1),
            "unit": "MB",
            "imports_mb": round(last["imports_mb"], 1),
        },
        {
            "bench": "label_storage_bytes",
            "value": last["label_bytes"],
            "unit": "bytes",
            "per_window": round(last["label_bytes"] / max(n, 1), 2),
        },
        {"bench": "windows_storage_bytes", "value": last["windows_bytes"], "unit": "bytes"},
    ]


def stream_pass(genome: Path, peaks: list[Path], window: int, stride: int) -> dict:
    """Set up the data module over tiled windows and draw 100 training batches."""
    from seqnn.data.datamodule import IntervalDataModule
    from seqnn.data.peaks import PeakLabels
    from seqnn.data.tiling import tile_windows

    imports = status_mb("VmHWM")
    windows = tile_windows(genome, window, stride)
    data = IntervalDataModule(
        genome, windows, targets=PeakLabels(peaks), batch_size=256, output="codes", n_blocks=3
    )
    data.setup()
    for i, _ in enumerate(data.train_dataloader()):
        if i == 99:
            break
    return {"windows": len(windows), "rss_mb": status_mb("VmHWM"), "imports_mb": imports}


def bench_stream(workdir: Path, repeats: int) -> None:
    results = {}
    from seqnn.data import write_fasta

    rng = np.random.default_rng(7)
    for name, size in (("small", 10_999), ("large", 15_000_999)):  # 10k and 15M windows
        fasta = workdir / f"stream_{name}.fa"
        sizes = {"chr1": size}
        write_fasta(
            fasta,
            {
                "chr1": np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, size)]
                .tobytes()
                .decode()
            },
        )
        mb = size / 1e6
        peaks = [workdir / f"stream_{name}_{i}.bed" for i in range(3)]
        for i, path in enumerate(peaks):
            make_peaks(sizes, path, seed=20 + i, n=max(int(mb * 200), 10))
        args = ["--stream-pass", str(fasta), "1000", "1", *map(str, peaks)]
        passes = [_child(args) for _ in range(repeats)]
        results[name] = statistics.median(p["rss_mb"] for p in passes)
        emit(
            "stream_epoch_peak_rss_mb",
            results[name],
            "MB",
            windows=passes[0]["windows"],
            imports_mb=round(passes[0]["imports_mb"], 1),
            batches=100,
            batch=256,
        )
    emit(
        "stream_rss_growth_mb",
        results["large"] - results["small"],
        "MB",
        note="15M vs 10k windows; the sampler's int32 order is 4 bytes a window",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome-mb", type=float, default=100)
    parser.add_argument("--tracks", type=int, default=100)
    parser.add_argument("--peaks", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stride", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-stream", action="store_true")
    parser.add_argument("--tile-pass", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--stream-pass", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for flag, run in ((args.tile_pass, tile_label_pass), (args.stream_pass, stream_pass)):
        if flag:
            genome, window, stride, *peaks = flag
            print(
                json.dumps(run(Path(genome), [Path(p) for p in peaks], int(window), int(stride)))
            )
            return
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        fasta = work / "genome.fa"
        sizes = make_genome(fasta, args.genome_mb)
        peaks = [work / f"peaks{i}.bed" for i in range(args.tracks)]
        for i, path in enumerate(peaks):
            make_peaks(sizes, path, seed=10 + i, n=args.peaks)
        for line in measure(fasta, peaks, stride=args.stride):
            print(json.dumps({**line, "genome_mb": args.genome_mb}), flush=True)
        if not args.no_stream:
            bench_stream(work, args.repeats)


if __name__ == "__main__":
    main()
