"""Genome-scale targets against ground truth: coverage profiles and peak sets from simulation.

``seqnn.data.simulate.simulate_coverage`` implants three JASPAR CORE motifs (400 instances each)
in a random 700-kb genome; each instance leaves a footprint-shaped coverage profile (Poisson
counts, written to a real bigWig with pyBigWig) and a 100-bp peak in its motif's BED file.

1. ``seqnn-train experiment=coverage_profile`` (DilatedResNet, two heads, BPNet loss) learns the
   profiles from FASTA + windows (one per instance: BPNet trains on peaks) + bigWig; held-out
   chr3: ``profile_pearson`` and ``count_pearson`` (targets >= 0.8).
2. ``seqnn-train experiment=peaks_multilabel`` labels tiled 200-bp windows by the 3 peak files;
   held-out chr3 per-target AUROC: ``peaks_auroc_min`` (target >= 0.9).

    python scripts/validate_profiles.py [--out outputs/validate_profiles]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from sklearn.metrics import roc_auc_score

import seqnn
from seqnn.data import PeakLabels, tile_genome
from seqnn.data.simulate import simulate_coverage
from seqnn.inference.predict import predict_regions
from seqnn.interpret import jaspar_core

MOTIFS = ("MA1155.1", "MA0407.1", "MA0163.1")  # ZSCAN4, THI2, PLAG1
SPLIT = ["data.val_chroms=[chr2]", "data.test_chroms=[chr3]"]


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"bench": name, "value": round(float(value), 4), "unit": unit, **extra}))


def train(overrides: list[str], run: Path) -> dict[str, float]:
    """``seqnn-train`` as a user runs it; returns the run's metrics.json."""
    command = [sys.executable, "-m", "seqnn.cli.train", *overrides, *SPLIT, "logger=csv",
               "callbacks.progress_bar=null", f"hydra.run.dir={run}"]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["seconds"] = time.perf_counter() - t0
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("outputs/validate_profiles"))
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    database = {m.id: m for m in jaspar_core()}
    sim = simulate_coverage(args.out / "data", [database[i].trim(0.5) for i in MOTIFS], seed=0)

    profile = train(
        ["experiment=coverage_profile", f"data.genome={sim.fasta}",
         f"data.intervals={sim.windows}", f"data.targets.paths=[{sim.bigwig}]",
         f"trainer.max_epochs={args.epochs}"],
        args.out / "profile_run",
    )  # fmt: skip
    seconds = round(profile["seconds"], 1)
    emit("profile_pearson", profile["test/profile_pearson"], "pearson", target=0.8,
         split="held-out chr3", seconds=seconds)  # fmt: skip
    emit("count_pearson", profile["test/count_pearson"], "pearson", target=0.8)
    emit("count_spearman", profile["test/count_spearman"], "spearman")
    emit("profile_jsd", profile["test/profile_jsd"], "JS distance")

    peaks = ",".join(str(p) for p in sim.peaks)
    run = args.out / "peaks_run"
    labelled = train(
        ["experiment=peaks_multilabel", f"data.genome={sim.fasta}",
         f"data.targets.peaks=[{peaks}]", f"data.n_targets={len(sim.peaks)}"],
        run,
    )  # fmt: skip
    model = seqnn.load_pretrained(run / "model")
    windows = tile_genome(sim.fasta, 200, 100, contigs=["chr3"])  # the held-out chromosome
    truth = PeakLabels(sim.peaks, min_overlap=0.5)(
        windows.chrom.to_numpy(), windows.start.to_numpy(), windows.end.to_numpy()
    )
    predictions = predict_regions(model, str(sim.fasta), windows)[
        [f"{t}_pred" for t in model.targets]
    ]
    predictions = predictions.to_numpy()
    aurocs = [roc_auc_score(truth[:, k], predictions[:, k]) for k in range(truth.shape[1])]
    per_target = [round(a, 4) for a in aurocs]
    emit("peaks_auroc_min", min(aurocs), "AUROC", target=0.9, per_target=per_target,
         windows=len(windows), seconds=round(labelled["seconds"], 1))  # fmt: skip


if __name__ == "__main__":
    main()
