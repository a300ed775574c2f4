"""Data-layer speed: one-hot of strings, of one long string, and interval batches from a FASTA.

Prints one JSON line per figure, ``{"bench": NAME, "value": X, "unit": U, ...}``. Inputs are
synthetic and seeded: a ~100 Mb FASTA of 3 chromosomes with N runs and lowercase stretches,
100,000 random 1,000-bp intervals in a BED file, 100,000 random 1,000-bp strings.

Interval figures (``intervals_float_per_s``: float32 one-hot (256, 4, 1000) batches,
``intervals_codes_per_s``: uint8 (256, 1000) code batches), through ``dataset.loader`` with
0 workers. Each pass is a fresh process. Its clock starts after the imports (torch, pandas,
seqnn.data: every process pays them once), reported on their own as ``process_startup_s``;
this path loads no numba (its fetches are numpy; see seqnn/data/jit.py). The timed part
is everything else: opening the genome (building its
index and code cache if absent), reading the BED file, building the dataset and iterating
every batch. Per output, the first pass starts with no .fai and no code cache (cold: it
builds them); the later passes reuse the cache the first one built, as every later run does.
The named figure is the median of the passes (``passes_s`` lists them all); the cold pass is
also reported alone as ``intervals_*_cold_per_s``.

Peak RSS is the process's VmHWM (/proc/self/status), the max over all passes, and the cold and
warm passes separately. Not ``getrusage(...).ru_maxrss``: Linux carries the parent's peak over
fork + exec into it, so a child started by this (~1 GB) script reported ~1 GB whatever it did.

Before the timed passes, one untimed pass per output over a 1 Mb genome warms the files the
imports read. ``intervals_peak_rss_mb`` has a ``breakdown``: the resident set after the
imports alone, which the 300 MB allowance of the target must also cover, and the part of it
that is shared-library file pages. That part depends on how the libraries came into the page
cache, not on this code: the kernel maps a whole cached folio around each touched page, and
freshly written files (right after ``pip install``) sit in large folios, so ``import torch``
shows ~160 MB of library pages then and ~77 MB once they have been read back from disk
(measured on this machine, same anonymous memory, ~146 MB).

``tile_label_windows_per_s``: :func:`seqnn.data.tiling.label_windows` over a synthetic genome
(1 kb windows, stride 100: ~1,000,000 windows for 100 Mb) and 3 seeded BED files of 50,000
peaks each; the median of the passes, in tiled windows per second (``label_only_per_s``: the
labelling step alone, ``peak_labels`` on the already tiled windows).
``intervals_bigwig_per_s``: the 100,000 intervals through ``IntervalDataset(targets=
CoverageTargets(...))`` with a profile binned to 8 bp from a bigWig covering the genome (50-bp
runs of random values), 0 workers; one pyBigWig read per interval bounds it (~0.2 ms each).

Usage: python scripts/bench_data.py [--repeats 3] [--genome-mb 100] [--workdir DIR]
       [--only strings|intervals|tile_label|bigwig]
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

N_INTERVALS = 100_000
LENGTH = 1_000
BATCH = 256


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def make_fasta(path: Path, total_mb: int, seed: int = 0) -> dict[str, int]:
    """Write a seeded FASTA of 3 chromosomes (50/30/20 %) with N runs and lowercase stretches."""
    rng = np.random.default_rng(seed)
    sizes = {f"chr{i + 1}": int(total_mb * 1e6 * f) for i, f in enumerate((0.5, 0.3, 0.2))}
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as fh:
        for name, size in sizes.items():
            seq = letters[rng.integers(0, 4, size, dtype=np.uint8)]
            for start in rng.integers(0, size - 50_000, 20):  # N runs (gaps)
                seq[start : start + rng.integers(100, 50_000)] = ord("N")
            for start in rng.integers(0, size - 20_000, 200):  # soft-masked repeats
                seq[start : start + rng.integers(100, 20_000)] |= 32
            width = 60
            full = size // width * width
            body = np.concatenate(
                [seq[:full].reshape(-1, width), np.full((full // width, 1), 10, np.uint8)], axis=1
            ).tobytes()
            tail = seq[full:].tobytes() + b"\n" if size > full else b""
            fh.write(f">{name}\n".encode() + body + tail)
    return sizes


def make_intervals(sizes: dict[str, int], path: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    names = np.array(list(sizes))
    lengths = np.array(list(sizes.values()))
    chrom = rng.choice(len(names), N_INTERVALS, p=lengths / lengths.sum())
    start = (rng.random(N_INTERVALS) * (lengths[chrom] - LENGTH)).astype(np.int64)
    rows = np.column_stack([names[chrom], start, start + LENGTH])
    np.savetxt(path, rows, fmt="%s", delimiter="\t")


def bench_strings(repeats: int) -> None:
    """100,000 strings of 1,000 bp and one 10 Mb string -> int8 one-hot (reused output buffer)."""
    from seqnn.data.encoding import one_hot

    rng = np.random.default_rng(2)
    table = np.frombuffer(b"ACGT", dtype=np.uint8)
    codes = rng.integers(0, 4, (N_INTERVALS, LENGTH), dtype=np.uint8)
    strings = [row.tobytes().decode() for row in table[codes]]
    long = table[rng.integers(0, 4, 10_000_000, dtype=np.uint8)].tobytes().decode()
    one_hot(strings[:2], dtype=np.int8)  # compile the kernel outside the timing
    for name, data, mbase in (
        ("onehot_strings_mbase_s", strings, N_INTERVALS * LENGTH / 1e6),
        ("onehot_long_mbase_s", long, 10.0),
    ):
        out, times = None, []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = one_hot(data, dtype=np.int8, out=out)
            times.append(time.perf_counter() - t0)
        emit(name, mbase / statistics.median(times), "Mbase/s", dtype="int8")


def status_mb(key: str) -> float:
    """A /proc/self/status memory figure in MB: ``VmHWM`` (this process's peak resident set)
    or ``RssFile`` (its resident file-backed pages: shared libraries, mapped files)."""
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith(f"{key}:"))
    return int(line.split()[1]) / 1024


def interval_pass(fasta: Path, bed: Path, output: str, cold: bool) -> None:
    """One pass (child process): start-up untimed, then open, read, build and iterate."""
    if cold:
        for stale in fasta.parent.glob(fasta.name + ".*"):
            stale.unlink()
    t0 = time.perf_counter()
    from seqnn.data.datasets import IntervalDataset
    from seqnn.data.genome import Genome

    t_import = time.perf_counter() - t0
    rss_imports, file_imports = status_mb("VmHWM"), status_mb("RssFile")
    t0 = time.perf_counter()
    genome = Genome(fasta)
    dataset = IntervalDataset(genome, bed, output=output)
    n = 0
    for x in dataset.loader(batch_size=BATCH, num_workers=0):
        n += len(x[0] if isinstance(x, list | tuple) else x)
    elapsed = time.perf_counter() - t0
    assert n == N_INTERVALS, n
    assert "numba" not in sys.modules  # the interval path is numpy + torch
    result = {"seconds": elapsed, "import_s": t_import, "rss_imports_mb": rss_imports}
    result["rss_imports_file_mb"] = file_imports
    print(json.dumps({**result, "rss_mb": status_mb("VmHWM")}))


def run_pass(fasta: Path, bed: Path, output: str, cold: bool) -> dict:
    cmd = [sys.executable, __file__, "--pass", output, str(fasta), str(bed), str(int(cold))]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)


def bench_intervals(workdir: Path, genome_mb: int, repeats: int) -> None:
    small_fa, small_bed = workdir / "small.fa", workdir / "small.bed"
    make_intervals(make_fasta(small_fa, 1), small_bed)
    for output in ("one_hot", "codes"):  # warm-up, untimed
        run_pass(small_fa, small_bed, output, cold=True)
    fasta, bed = workdir / "bench.fa", workdir / "bench.bed"
    make_intervals(make_fasta(fasta, genome_mb), bed)
    genome_mb = fasta.stat().st_size / 1e6
    emit("genome_mb", genome_mb, "MB")
    runs = []
    for output, name in (("one_hot", "intervals_float"), ("codes", "intervals_codes")):
        passes = [run_pass(fasta, bed, output, cold=i == 0) for i in range(max(repeats, 3))]
        seconds = [r["seconds"] for r in passes]
        shape = {"batch": BATCH, "length": LENGTH, "workers": 0}
        per_s = N_INTERVALS / statistics.median(seconds)
        emit(
            f"{name}_per_s", per_s, "intervals/s", **shape, passes_s=[round(x, 3) for x in seconds]
        )
        emit(f"{name}_cold_per_s", N_INTERVALS / seconds[0], "intervals/s", **shape)
        runs += passes
    emit("process_startup_s", statistics.median(r["import_s"] for r in runs), "s")
    n = max(repeats, 3)
    cold = [r["rss_mb"] for i, r in enumerate(runs) if i % n == 0]
    warm = [r["rss_mb"] for i, r in enumerate(runs) if i % n != 0]
    imports = max(r["rss_imports_mb"] for r in runs)
    peak = max(cold + warm)
    libraries = max(r["rss_imports_file_mb"] for r in runs)
    split = {
        "imports": round(imports, 1),
        "of_which_library_files": round(libraries, 1),
        "genome_and_data": round(peak - imports, 1),
    }
    target = round(1.2 * genome_mb + 300, 1)
    emit("intervals_peak_rss_mb", peak, "MB", target=target, breakdown=split)
    emit("intervals_peak_rss_cold_mb", max(cold), "MB")
    emit("intervals_peak_rss_warm_mb", max(warm), "MB")


def make_peaks(sizes: dict[str, int], path: Path, seed: int, n: int = 50_000) -> None:
    """A BED file of n seeded peaks (100-1,000 bp, uniform over the genome)."""
    rng = np.random.default_rng(seed)
    names = np.array(list(sizes))
    lengths = np.array(list(sizes.values()))
    chrom = rng.choice(len(names), n, p=lengths / lengths.sum())
    width = rng.integers(100, 1_000, n)
    start = (rng.random(n) * (lengths[chrom] - width)).astype(np.int64)
    rows = np.column_stack([names[chrom], start, start + width])
    np.savetxt(path, rows, fmt="%s", delimiter="\t")


def bench_tile_label(workdir: Path, genome_mb: int, repeats: int) -> None:
    """label_windows: tile a genome into 1 kb windows at stride 100 (~1,000,000 windows for
    100 Mb), drop N-rich ones, label them against 3 files of 50,000 peaks (read from BED).
    The genome's index and code cache are built before the clock starts."""
    from seqnn.data.genome import Genome
    from seqnn.data.peaks import peak_labels
    from seqnn.data.tiling import label_windows, tile_genome

    fasta = workdir / "tile.fa"
    sizes = make_fasta(fasta, genome_mb, seed=3)
    peaks = [workdir / f"peaks{i}.bed" for i in range(3)]
    for i, path in enumerate(peaks):
        make_peaks(sizes, path, seed=10 + i)
    genome = Genome(fasta)
    window, stride = 1_000, 100
    n_windows = sum((size - window) // stride + 1 for size in sizes.values())
    times, label_times, n_out = [], [], 0
    for _ in range(max(repeats, 3)):
        t0 = time.perf_counter()
        n_out = len(label_windows(genome, peaks, window, stride, max_n_fraction=0.1))
        times.append(time.perf_counter() - t0)
    tiled = tile_genome(genome, window, stride, max_n_fraction=1.0)
    for _ in range(max(repeats, 3)):
        t0 = time.perf_counter()
        peak_labels(tiled, peaks)
        label_times.append(time.perf_counter() - t0)
    emit(
        "tile_label_windows_per_s",
        n_windows / statistics.median(times),
        "windows/s",
        windows=n_windows,
        windows_kept=n_out,
        peak_files=len(peaks),
        peaks_per_file=50_000,
        window=window,
        stride=stride,
        passes_s=[round(x, 3) for x in times],
        label_only_per_s=round(len(tiled) / statistics.median(label_times), 1),
    )


def make_bigwig(sizes: dict[str, int], path: Path, seed: int = 4, span: int = 50) -> None:
    """A bigWig covering the whole genome: seeded random values in runs of ``span`` bp."""
    import pyBigWig

    rng = np.random.default_rng(seed)
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(sizes.items()))
    for chrom, size in sizes.items():
        values = rng.gamma(1.0, 2.0, size // span).astype(np.float64)
        bw.addEntries(chrom, 0, values=values, span=span, step=span)
    bw.close()


def bench_bigwig(workdir: Path, genome_mb: int, repeats: int) -> None:
    """IntervalDataset over 100,000 1-kb intervals with a coverage profile binned to 8 bp
    (125 bins) read from a bigWig covering the genome: (codes, profile) batches per second."""
    from seqnn.data.coverage import CoverageTargets
    from seqnn.data.datasets import IntervalDataset
    from seqnn.data.genome import Genome

    fasta, bed, bigwig = workdir / "cov.fa", workdir / "cov.bed", workdir / "cov.bw"
    sizes = make_fasta(fasta, genome_mb, seed=5)
    make_intervals(sizes, bed)
    make_bigwig(sizes, bigwig)
    genome = Genome(fasta)
    times = []
    for _ in range(max(repeats, 3)):
        # direct reads (random starts are off an 8-bp grid); the store: bench_coverage.py
        targets = CoverageTargets(bigwig, mode="profile", bin_size=8, cache=False)
        t0 = time.perf_counter()
        dataset = IntervalDataset(genome, bed, output="codes", targets=targets)
        n = sum(len(x) for x, _ in dataset.loader(batch_size=BATCH, num_workers=0))
        times.append(time.perf_counter() - t0)
    assert n == N_INTERVALS, n
    emit(
        "intervals_bigwig_per_s",
        N_INTERVALS / statistics.median(times),
        "intervals/s",
        length=LENGTH,
        bins=LENGTH // 8,
        workers=0,
        passes_s=[round(x, 3) for x in times],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--genome-mb", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--only",
        choices=["strings", "intervals", "tile_label", "bigwig"],
        help="run one group of figures",
    )
    parser.add_argument("--pass", dest="one_pass", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_pass:
        output, fasta, bed, cold = args.one_pass
        interval_pass(Path(fasta), Path(bed), output, cold=cold == "1")
        return
    run = {args.only} if args.only else {"strings", "intervals", "tile_label", "bigwig"}
    if "strings" in run:
        bench_strings(args.repeats)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        if "intervals" in run:
            bench_intervals(Path(tmp), args.genome_mb, args.repeats)
        if "tile_label" in run:
            bench_tile_label(Path(tmp), args.genome_mb, args.repeats)
        if "bigwig" in run:
            bench_bigwig(Path(tmp), args.genome_mb, args.repeats)


if __name__ == "__main__":
    main()
