"""Reproduce the CNNProm promoter benchmarks (Umarov & Solovyev 2017) with seqnn.

The CNNProm rows of ``scripts/reproduce.py``: runs ``experiment=cnnprom_ecoli`` and
``experiment=cnnprom_bsubtilis`` exactly as ``seqnn-train experiment=...`` would (same configs,
same seed, same fixed stratified held-out fifth as the test set), then prints our test
sensitivity, specificity, MCC (threshold 0.5) and AUROC next to the published CNNProm figures,
and one JSON line per figure, ``{"bench": "cnnprom_<org>_<metric>", "value": X, "unit": "",
"published": Y}``, plus ``cnnprom_<org>_wall_s`` (seconds, fit + test). It writes no results
file (``scripts/reproduce.py --only cnnprom_ecoli`` updates docs/results.md).

Usage: python scripts/reproduce_cnnprom.py [--out DIR] [--organisms ecoli bsubtilis]
       [--overrides trainer=gpu ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reproduce import main as reproduce

ORGANISMS = ("ecoli", "bsubtilis")


def main() -> None:
    """Parse arguments and run the chosen organisms' rows of scripts/reproduce.py."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: temp)")
    parser.add_argument("--organisms", nargs="+", default=list(ORGANISMS), choices=ORGANISMS)
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    argv = [arg for organism in args.organisms for arg in ("--only", f"cnnprom_{organism}")]
    argv += ["--out", "-", "--overrides", *args.overrides]
    if args.out is not None:
        argv += ["--runs", str(args.out)]
    reproduce(argv)


if __name__ == "__main__":
    main()
