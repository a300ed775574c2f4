"""Reproduce the CNNProm promoter benchmarks (Umarov & Solovyev 2017) with seqnn.

The CNNProm rows of ``scripts/reproduce.py``: runs ``experiment=cnnprom_ecoli`` and
``experiment=cnnprom_bsubtilis`` exactly as ``seqnn-train experiment=...`` would (same configs,
same seed), under both protocols (``--protocol``):

- ``holdout``: the experiment's fixed, seeded, stratified held-out fifth is the test set;
- ``cv5``: CNNProm's own, stratified 5-fold cross-validation over all rows, one run per fold
  (``seqnn-train -m experiment=cnnprom_<org> data.folds=5 data.fold=0,1,2,3,4``), each figure
  the mean over the five test folds.

It prints our test sensitivity, specificity, MCC (at the experiment's ``task.threshold``, or
the cut its ``TuneThreshold`` rule chose on the validation rows) and AUROC next to the
published CNNProm figures, one JSON line per figure, ``{"bench": "cnnprom_<org>_<metric>",
"value": X, "unit": "", "published": Y}`` (``cnnprom_<org>_cv5_<metric>``
for the cross-validation), plus ``..._wall_s`` (seconds, fit + test). It writes no results file
(``scripts/reproduce.py --only cnnprom_ecoli_cv5`` updates docs/results.md). On 2 CPU cores
the E. coli cross-validation takes ~7 min per training seed, B. subtilis' (with its extra
E. coli training rows) ~7.5 min.

``--seeds S1 S2 ...`` trains each row once per seed and reports the mean, ``--ensemble`` the
ensemble of the seeds' models (see ``scripts/reproduce.py``).

Usage: python scripts/reproduce_cnnprom.py [--out DIR] [--organisms ecoli bsubtilis]
       [--protocol holdout cv5] [--overrides trainer=gpu ...] [--seeds 12345 1 2 [--ensemble]]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reproduce import main as reproduce

ORGANISMS = ("ecoli", "bsubtilis")
PROTOCOLS = {"holdout": "", "cv5": "_cv5"}  # the row-name suffix of each


def main() -> None:
    """Parse arguments and run the chosen organisms' rows of scripts/reproduce.py."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: temp)")
    parser.add_argument("--organisms", nargs="+", default=list(ORGANISMS), choices=ORGANISMS)
    parser.add_argument("--protocol", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    parser.add_argument("--seeds", nargs="+", default=None, help="training seeds: their mean")
    parser.add_argument(
        "--ensemble", action="store_true", help="with --seeds: the ensemble of their models"
    )
    args = parser.parse_args()
    rows = [f"cnnprom_{o}{PROTOCOLS[p]}" for p in args.protocol for o in args.organisms]
    argv = [arg for row in rows for arg in ("--only", row)]
    argv += ["--out", "-", "--overrides", *args.overrides]
    if args.out is not None:
        argv += ["--runs", str(args.out)]
    if args.seeds:
        argv += ["--seeds", *args.seeds] + (["--ensemble"] if args.ensemble else [])
    reproduce(argv)


if __name__ == "__main__":
    main()
