"""Data-layer speed: one-hot of strings, of one long string, and interval batches from a FASTA.

Prints one JSON line per figure, ``{"bench": NAME, "value": X, "unit": U}``, each the median of
``--repeats`` passes. Inputs are synthetic and seeded: a ~100 Mb FASTA of 3 chromosomes with N
runs and lowercase stretches, 100,000 random 1,000-bp intervals, 100,000 random 1,000-bp strings.

Each interval pass runs in a fresh process that deletes the FASTA's index and code cache first, so
its time includes opening the genome and building both; its peak RSS is that process's.

Usage: python scripts/bench_data.py [--repeats 3] [--genome-mb 100] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
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


def interval_pass(fasta: Path, bed: Path, output: str) -> None:
    """One cold pass (child process): open the genome, build index + cache, iterate batches."""
    for stale in fasta.parent.glob(fasta.name + ".*"):
        stale.unlink()
    t0 = time.perf_counter()
    from torch.utils.data import DataLoader

    from seqnn.data.datasets import IntervalDataset
    from seqnn.data.genome import Genome

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    genome = Genome(fasta)
    dataset = IntervalDataset(genome, bed, output=output)
    n = 0
    for x in DataLoader(dataset, batch_size=BATCH, num_workers=0):
        n += len(x[0] if isinstance(x, list | tuple) else x)
    elapsed = time.perf_counter() - t0
    assert n == N_INTERVALS, n
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "import_s": t_import, "rss_mb": rss_mb}))


def bench_intervals(workdir: Path, genome_mb: int, repeats: int) -> None:
    fasta, bed = workdir / "bench.fa", workdir / "bench.bed"
    make_intervals(make_fasta(fasta, genome_mb), bed)
    emit("genome_mb", fasta.stat().st_size / 1e6, "MB")
    rss = []
    for output, name in (("one_hot", "intervals_float_per_s"), ("codes", "intervals_codes_per_s")):
        runs = []
        for _ in range(repeats):
            cmd = [sys.executable, __file__, "--pass", output, str(fasta), str(bed)]
            runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout))
        seconds = statistics.median(r["seconds"] for r in runs)
        emit(name, N_INTERVALS / seconds, "intervals/s", batch=BATCH, length=LENGTH, workers=0)
        rss += [r["rss_mb"] for r in runs]
    emit("intervals_peak_rss_mb", max(rss), "MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--genome-mb", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--pass", dest="one_pass", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_pass:
        output, fasta, bed = args.one_pass
        interval_pass(Path(fasta), Path(bed), output)
        return
    bench_strings(args.repeats)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        bench_intervals(Path(tmp), args.genome_mb, args.repeats)


if __name__ == "__main__":
    main()
