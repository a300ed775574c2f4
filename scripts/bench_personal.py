"""Cohort-scale speed: haplotype windows per second through seqnn's PersonalDataset and through
GenVarLoader, on the same cohort and regions, in the same run.

The cohort: ``--samples`` diploid people, ``--regions`` regions of ``--region-length`` bp tiled
end to end, a variant every ~``--variant-spacing`` bp, simulated with msprime
(:func:`seqnn.data.simulate_cohort.simulate_cohort`, no motif planted) and written as a
bgzipped, tabix-indexed phased VCF. Its reference is a piece of the shipped E. coli genome
(4.6 Mb; a longer contig repeats E. coli, then its reverse complement). The issue's size is
1,000 samples x 10,000 regions of 1 kb; this shared 2-core machine runs it at 100 x 1,000.

Per engine, each figure in a fresh process (so VmHWM is its own):

- ``*_prepare_s``: from files to a dataset, cold: seqnn builds the reference code cache and
  reads the regions' records into genotype arrays (``Cohort`` + ``PersonalDataset``);
  GenVarLoader indexes the VCF (genoray) and writes its dataset (``gvl.write``) and opens it.
- ``personal_windows_per_s`` / ``genvarloader_windows_per_s``: every (sample, haplotype,
  region) window of ``--region-length`` bp once per pass, as uint8 codes (seqnn,
  ``output="codes"``) or S1 bytes (GenVarLoader ``with_seqs("haplotypes")``), 0 and 4
  DataLoader workers (persistent, as in training), the median of ``--repeats`` passes after
  one warm-up pass (every worker started, its kernels compiled or loaded). ``--max-windows N``
  ends each pass (the warm-up too) after the first N windows in the dataset's order, the same
  N for both engines, so that a slow engine can be timed at the issue's size in minutes; the
  line then says ``windows_per_pass``.
  Each line also gives ``cpu_us_per_window``: the CPU time of the process and its workers
  (all threads) per window, the median over the passes. On a shared machine windows/s
  mostly measures the share of the cores a run got; the CPU per window does not.
- ``*_peak_rss_mb``: the process's VmHWM.
- ``engines_agree_fraction``: the share of 500 random windows that both engines build the same.

    python scripts/bench_personal.py [--samples 100] [--regions 1000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
MODULES = {
    "seqnn": ["seqnn.data.personal", "cyvcf2"],
    "genvarloader": ["genvarloader", "genoray", "polars"],
}


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(float(value), 4), "unit": unit, **extra}))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes ``pids`` (all their threads) so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def make_cohort(args: argparse.Namespace, folder: Path) -> dict:
    """Simulate and write the cohort once (reused by later runs of the same size)."""
    from seqnn.data.encoding import reverse_complement
    from seqnn.data.simulate_cohort import COHORT_FILES, ecoli_piece, simulate_cohort, write_cohort

    files = {key: folder / name for key, name in COHORT_FILES.items()}
    if folder.exists():
        return files
    length = args.regions * args.region_length + 2 * args.region_length
    ecoli = ecoli_piece(4_600_000, offset=0)
    reference = (ecoli + reverse_complement(ecoli)) * (1 + length // (2 * len(ecoli)))
    t0 = time.perf_counter()
    sim = simulate_cohort(
        "ACGTTGCAACGTTGCAACGT",  # planted nowhere; the trait plays no part here
        reference=reference[:length],
        n_samples=args.samples,
        n_regions=args.regions,
        region_length=args.region_length,
        spacing=args.region_length,
        copies=(0, 0),
        near_copies=(0, 0),
        variant_spacing=args.variant_spacing,
        seed=0,
    )
    write_cohort(sim, folder)
    emit(
        "cohort_simulate_s",
        time.perf_counter() - t0,
        "s",
        samples=args.samples,
        regions=args.regions,
        variants=len(sim.variants),
        bp_per_variant=round(len(sim.reference) / max(len(sim.variants), 1), 1),
    )
    return files


def clear_caches(files: dict) -> None:
    """Remove what either engine built beside the inputs, so that preparing starts cold."""
    for path in files["fasta"].parent.iterdir():
        cached = path.name.startswith(files["fasta"].name + ".") or ".gvi" in path.name
        if cached or path.suffix == ".gvl":
            if path.is_dir():
                for inner in sorted(path.rglob("*"), reverse=True):
                    inner.unlink() if inner.is_file() else inner.rmdir()
                path.rmdir()
            else:
                path.unlink()


def seqnn_dataset(files: dict, length: int):
    from seqnn.data.cohort_vcf import Cohort
    from seqnn.data.personal import PersonalDataset

    cohort = Cohort(files["fasta"], files["vcf"])
    return PersonalDataset(cohort, files["regions"], seq_len=length, output="codes")


def gvl_dataset(files: dict, length: int, prepare: bool):
    import genoray
    import genvarloader as gvl
    import polars as pl
    from loguru import logger

    logger.disable("genvarloader")  # its INFO lines would mix with the JSON lines

    store = files["fasta"].parent / "cohort.gvl"
    if prepare:
        bed = pl.read_csv(
            files["regions"],
            separator="\t",
            has_header=False,
            new_columns=["chrom", "chromStart", "chromEnd", "name"],
        )
        bed = bed.select("chrom", "chromStart", "chromEnd")
        gvl.write(store, bed, variants=genoray.VCF(files["vcf"]), overwrite=True)
    dataset = gvl.Dataset.open(store, reference=files["fasta"])
    return dataset.with_seqs("haplotypes").with_len(length)


def worker_settings(workers: int) -> dict:
    """Workers that live across passes, as in training: a pass times the batches, not the
    workers' start (each would otherwise load the variants and compile kernels anew)."""
    return {"num_workers": workers, "persistent_workers": workers > 0}


def child(args: argparse.Namespace) -> None:
    """One engine, one worker count: prepare (timed when cold), then timed passes."""
    files = json.loads(args.child_files)
    files = {key: Path(p) for key, p in files.items()}
    workers = args.workers[0]
    for module in MODULES[args.engine]:  # imported before the clock starts
        importlib.import_module(module)
    t0 = time.perf_counter()
    if args.engine == "seqnn":
        dataset = seqnn_dataset(files, args.region_length)
        loader = dataset.loader(batch_size=args.batch_size, **worker_settings(workers))
        n_windows = len(dataset)
    else:
        dataset = gvl_dataset(files, args.region_length, prepare=args.cold)
        # a GenVarLoader item is a (region, sample) pair: both haplotypes, so half the batch
        loader = dataset.to_dataloader(batch_size=args.batch_size // 2, **worker_settings(workers))
        n_windows = 2 * dataset.shape[0] * dataset.shape[1]
    prepare = time.perf_counter() - t0
    limit = min(n_windows, args.max_windows or n_windows)
    one_pass(loader, limit)  # warm-up: every worker started, kernels compiled
    workers = getattr(loader._iterator, "_workers", []) if workers else []
    pids = [os.getpid(), *(w.pid for w in workers)]
    passes, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), cpu_seconds(pids)
        n = one_pass(loader, limit)
        passes.append(time.perf_counter() - t0)
        cpu.append(cpu_seconds(pids) - c0)
        assert n >= limit, (n, limit)
    result = {"prepare_s": prepare, "passes_s": passes, "windows": n}
    result["cpu_us_per_window"] = 1e6 * statistics.median(cpu) / n
    print(json.dumps(result | {"peak_rss_mb": peak_rss_mb()}))


def one_pass(loader, limit: int) -> int:
    """Read batches until ``limit`` windows (a whole pass when it is the dataset's size)."""
    n = 0
    for batch in loader:
        n += int(np.prod(batch.shape[:-1]))
        if n >= limit:
            break
    return n


def agreement(files: dict, length: int, n: int = 500) -> float:
    """Share of random (sample, haplotype, region) windows both engines build alike."""
    ours = seqnn_dataset(files, length)
    theirs = gvl_dataset(files, length, prepare=False)
    rng = np.random.default_rng(0)
    index = rng.choice(len(ours), size=min(n, len(ours)), replace=False)
    region, sample, hap = ours.locate(index)
    mine = ours._codes(index)  # (n, L) uint8 codes
    names = np.asarray(ours.samples)[sample]
    columns = np.searchsorted(np.asarray(theirs.samples), names)  # GVL sorts samples by name
    other = theirs[region, columns][np.arange(len(index)), hap]  # (n, L) S1
    from seqnn.data.encoding import BYTE_TO_CODE

    other_codes = BYTE_TO_CODE[other.view(np.uint8)]
    return float((mine == other_codes).all(axis=1).mean())


def run_child(args, files: dict, engine: str, workers: int, cold: bool) -> dict:
    command = [sys.executable, str(HERE), "--engine", engine, "--workers", str(workers)]
    command += ["--child-files", json.dumps({k: str(v) for k, v in files.items()})]
    command += ["--region-length", str(args.region_length), "--repeats", str(args.repeats)]
    command += ["--batch-size", str(args.batch_size)] + (["--cold"] if cold else [])
    if args.max_windows:
        command += ["--max-windows", str(args.max_windows)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{engine} with {workers} workers failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--region-length", type=int, default=1000)
    parser.add_argument("--variant-spacing", type=float, default=100.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 4])
    parser.add_argument("--batch-size", type=int, default=256, help="windows per batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=["seqnn", "genvarloader"])
    parser.add_argument(
        "--max-windows", type=int, help="end each pass after this many windows (both engines)"
    )
    parser.add_argument("--workdir", default=os.environ.get("TMPDIR", "/tmp"))
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-files", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        child(args)
        return
    size = f"{args.samples}x{args.regions}x{args.region_length}_{args.variant_spacing:g}"
    files = make_cohort(args, Path(args.workdir) / f"bench_personal_{size}")
    about = {"samples": args.samples, "regions": args.regions, "bp": args.region_length}
    about["loadavg"] = Path("/proc/loadavg").read_text().split()[0]
    names = {"seqnn": "personal", "genvarloader": "genvarloader"}
    clear_caches(files)
    for engine in args.engines:
        for i, workers in enumerate(args.workers):
            got = run_child(args, files, engine, workers, cold=i == 0)
            if i == 0:
                emit(f"{names[engine]}_prepare_s", got["prepare_s"], "s", **about)
            rate = got["windows"] / statistics.median(got["passes_s"])
            emit(
                f"{names[engine]}_windows_per_s",
                rate,
                "windows/s",
                workers=workers,
                passes_s=[round(p, 3) for p in got["passes_s"]],
                cpu_us_per_window=round(got["cpu_us_per_window"], 2),
                **about,
                **({"windows_per_pass": got["windows"]} if args.max_windows else {}),
            )
            emit(f"{names[engine]}_peak_rss_mb", got["peak_rss_mb"], "MB", workers=workers)
    if set(args.engines) == {"seqnn", "genvarloader"}:
        emit("engines_agree_fraction", agreement(files, args.region_length), "fraction")


if __name__ == "__main__":
    main()
