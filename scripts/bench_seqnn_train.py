"""Training speed of a whole ``seqnn-train`` run: the default CNN at 1 kb on the embedded data.

Runs ``python -m seqnn.cli.train`` (the real app: Lightning Trainer, the data module's loaders, the
task's on-device one-hot, checkpoints, validation) once per ``--output`` and ``--batch``, with
the E. coli promoter windows resized to ``--length`` bp (padded with N past the genome's ends)
and ``--negative-ratio`` background windows per promoter, so an epoch has enough steps to time.
The :class:`seqnn.callbacks.Throughput` callback logs ``train/samples_per_s`` (data loading
included, validation left out) and, on CUDA, ``train/gpu_util_pct`` each epoch; this script
reads them from the run's CSV log and prints one JSON line per figure, the median over the
epochs after the first (which holds cuDNN's autotuning and the workers' start):

    {"bench": "seqnn_train_samples_s_<output>_b<batch>", "value": X, "unit": "samples/s", ...}
    {"bench": "seqnn_train_gpu_util_pct_<output>_b<batch>", "value": X, "unit": "%", ...}

``--output codes``: uint8 codes (B, L) travel to the device and the task one-hot encodes them
there; ``one_hot``: float32 (B, 4, L) made by the loader on the CPU, 16x the bytes.

``--experiment basset_genome bpnet_coverage --workload DIR`` times the two human-scale set-ups
instead, on a folder written by ``scripts/scale_workload.py`` (its genome, its first
``--peak-files`` peak files as labels for ``basset_genome``; its first peak file as the windows
and its first ``--tracks`` bigWigs through the coverage store for ``bpnet_coverage``); the
figures are then named ``seqnn_train_samples_s_<experiment>_b<batch>``.

Usage: python scripts/bench_seqnn_train.py [--trainer gpu] [--output codes one_hot]
       [--batch 64 256] [--epochs 4] [--workers 4] [--length 1000] [--negative-ratio 30]
       [--limit-batches N] [--keep DIR]
       [--experiment basset_genome bpnet_coverage --workload DIR [--peak-files 10] [--tracks 2]]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def epoch_values(metrics_csv: Path, key: str) -> list[float]:
    """One value of ``key`` per epoch, in epoch order, from a Lightning CSV log."""
    with metrics_csv.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get(key)]
    return [float(r[key]) for r in sorted(rows, key=lambda r: int(r["epoch"]))]


def data_overrides(args, experiment: str | None) -> list[str]:
    """The data settings of one run: the embedded promoters resized, or an experiment on the
    scale workload's files."""
    if experiment is None:
        return [
            f"data.input_length={args.length}",
            "data.on_invalid=pad",
            f"data.intervals.negative_ratio={args.negative_ratio}",
        ]
    work = args.workload.resolve()
    peaks = sorted(work.glob("peaks_*.narrowPeak"), key=lambda p: int(p.stem.split("_")[1]))
    bigwigs = sorted(work.glob("signal_*.bw"), key=lambda p: int(p.stem.split("_")[1]))
    common = [f"experiment={experiment}", f"data.genome={work / 'genome.fa'}"]
    if experiment == "basset_genome":
        chosen = peaks[: args.peak_files]
        listed = ",".join(str(p) for p in chosen)
        return [*common, f"data.targets.peaks=[{listed}]", f"data.n_targets={len(chosen)}"]
    chosen = bigwigs[: args.tracks]
    listed = ",".join(str(p) for p in chosen)
    return [
        *common,
        f"data.intervals={peaks[0]}",
        f"data.targets.paths=[{listed}]",
        f"data.n_targets={len(chosen)}",
    ]


def run(args, output: str, batch: int, run_dir: Path, experiment: str | None = None) -> Path:
    """One seqnn-train run; returns its CSV metrics file."""
    overrides = [
        *data_overrides(args, experiment),
        f"trainer={args.trainer}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.min_epochs=" + str(args.epochs),  # no early stop: every epoch is timed
        f"data.output={output}",
        f"data.batch_size={batch}",
        f"data.num_workers={args.workers}",
        f"++data.persistent_workers={str(args.workers > 0).lower()}",
        "logger=csv",
        "test=false",
        f"hydra.run.dir={run_dir}",
    ]
    if args.limit_batches:
        overrides += [
            f"+trainer.limit_train_batches={args.limit_batches}",
            f"+trainer.limit_val_batches={args.limit_batches}",
        ]
    cmd = [sys.executable, "-m", "seqnn.cli.train", *overrides]
    # run from the run's folder, as a user of an installed seqnn would (in a source checkout
    # the repository's seqnn/ would shadow the installed package and its shipped configs)
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=run_dir.parent)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"bench_seqnn_train: seqnn-train failed ({done.returncode}): {cmd}")
    return run_dir / "csv" / "metrics.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainer", default="gpu", help="trainer config (gpu, cpu, ...)")
    parser.add_argument("--output", nargs="+", default=["codes", "one_hot"])
    parser.add_argument("--batch", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--negative-ratio", type=int, default=30)
    parser.add_argument("--limit-batches", type=int, default=0, help="0: whole epochs")
    parser.add_argument("--keep", type=Path, help="keep the runs under this folder")
    parser.add_argument("--experiment", nargs="+", choices=["basset_genome", "bpnet_coverage"])
    parser.add_argument("--workload", type=Path, help="a scale_workload.py folder (g<gb>_s<seed>)")
    parser.add_argument("--peak-files", type=int, default=10, help="basset_genome's label files")
    parser.add_argument("--tracks", type=int, default=2, help="bpnet_coverage's bigWigs")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch is not timed)")
    if args.experiment and not (args.workload and (args.workload / "genome.fa").is_file()):
        parser.error("--experiment needs --workload: a folder made by scripts/scale_workload.py")

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        cases = [(e, "codes") for e in args.experiment or []] or [(None, o) for o in args.output]
        for batch in args.batch:
            for experiment, output in cases:
                name = f"{experiment or output}_b{batch}"
                (root / name).mkdir(parents=True, exist_ok=True)
                metrics = run(args, output, batch, root / name, experiment)
                extra = dict(
                    experiment=experiment,
                    trainer=args.trainer,
                    batch=batch,
                    length=None if experiment else args.length,
                    workers=args.workers,
                    epochs_timed=args.epochs - 1,
                )
                rates = epoch_values(metrics, "train/samples_per_s")[1:]
                if not rates:
                    raise SystemExit(f"bench_seqnn_train: no train/samples_per_s in {metrics}")
                rate = statistics.median(rates)
                emit(f"seqnn_train_samples_s_{name}", rate, "samples/s", **extra)
                utils = epoch_values(metrics, "train/gpu_util_pct")[1:]
                if utils:
                    util = statistics.median(utils)
                    emit(f"seqnn_train_gpu_util_pct_{name}", util, "%", **extra)


if __name__ == "__main__":
    main()
