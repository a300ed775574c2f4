"""Reproduce the CNNProm promoter benchmarks (Umarov & Solovyev 2017) with seqnn.

Runs ``experiment=cnnprom_ecoli`` and ``experiment=cnnprom_bsubtilis`` one after the other,
exactly as ``seqnn-train experiment=...`` would (same configs, same seed, same fixed stratified
held-out fifth as the test set), then prints a table of our test sensitivity, specificity,
MCC (threshold 0.5) and AUROC next to the published CNNProm figures, and one JSON line per
figure, ``{"bench": "cnnprom_<org>_<metric>", "value": X, "unit": "", "published": Y}``, for
sn, sp and mcc, plus ``cnnprom_<org>_wall_s`` (seconds, fit + test).

Runs go under ``--out`` (default: a fresh temporary directory), one sub-directory per organism,
with CSV logs. Extra Hydra overrides (e.g. ``trainer=gpu``) apply to both runs.

Usage: python scripts/reproduce_cnnprom.py [--out DIR] [--organisms ecoli bsubtilis]
       [--overrides trainer=gpu ...]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig

from seqnn.train import train

# Umarov & Solovyev 2017, CNNProm, Table 2 (sn, sp, mcc).
PUBLISHED = {
    "ecoli": {"sn": 0.90, "sp": 0.96, "mcc": 0.84},
    "bsubtilis": {"sn": 0.91, "sp": 0.95, "mcc": 0.86},
}
METRICS = {
    "sn": "test/sensitivity",
    "sp": "test/specificity",
    "mcc": "test/mcc",
    "auroc": "test/auroc",
}


def run_organism(organism: str, out: Path, overrides: list[str]) -> tuple[dict[str, float], float]:
    """Train and test one CNNProm experiment; returns (our test metrics, wall seconds)."""
    run_dir = out / organism
    run_dir.mkdir(parents=True, exist_ok=True)
    with initialize_config_module("seqnn.configs", version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                f"experiment=cnnprom_{organism}",
                "logger=csv",
                "~callbacks.progress_bar",
                f"hydra.run.dir={run_dir}",
                f"hydra.runtime.output_dir={run_dir}",
                "hydra.job.num=0",
                *overrides,
            ],
            return_hydra_config=True,
        )
        HydraConfig().set_config(cfg)
        start = time.perf_counter()
        metrics = train(cfg)
        wall = time.perf_counter() - start
    ours = {short: float(metrics.get(key, float("nan"))) for short, key in METRICS.items()}
    return ours, wall


def print_table(results: dict[str, dict[str, float]]) -> None:
    """Print ours vs published, one row per organism and metric."""
    print(f"{'organism':<10} {'metric':<6} {'ours':>7} {'published':>9} {'beats':>6}")
    for organism, ours in results.items():
        for short, value in ours.items():
            pub = PUBLISHED[organism].get(short)
            pub_s = f"{pub:9.2f}" if pub is not None else f"{'-':>9}"
            beats = "-" if pub is None else ("yes" if value > pub else "no")
            print(f"{organism:<10} {short:<6} {value:7.4f} {pub_s} {beats:>6}")


def bench_lines(organism: str, ours: dict[str, float], wall: float) -> list[str]:
    """JSON lines for one organism: sn, sp, mcc with the published value, and wall time."""
    lines = [
        json.dumps(
            {
                "bench": f"cnnprom_{organism}_{short}",
                "value": None if math.isnan(ours[short]) else round(ours[short], 4),
                "unit": "",
                "published": PUBLISHED[organism][short],
            }
        )
        for short in ("sn", "sp", "mcc")
    ]
    wall_line = {"bench": f"cnnprom_{organism}_wall_s", "value": round(wall, 1), "unit": "s"}
    lines.append(json.dumps(wall_line))
    return lines


def main() -> None:
    """Parse arguments, run the experiments, print the table and the JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: temp)")
    parser.add_argument("--organisms", nargs="+", default=list(PUBLISHED), choices=list(PUBLISHED))
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="cnnprom_"))
    results, lines = {}, []
    for organism in args.organisms:
        results[organism], wall = run_organism(organism, out.resolve(), args.overrides)
        lines += bench_lines(organism, results[organism], wall)
    print_table(results)
    for line in lines:
        print(line)
    print(f"runs under {out}")


if __name__ == "__main__":
    main()
