"""``seqnn-evaluate model=<m> (table=<csv|tsv> | fasta=<fa> regions=<bed>) ...``: a pretrained
model's metrics against truth columns (settings and their documentation:
``configs/evaluate.yaml``).

Bad input prints one ``seqnn-evaluate: error: ...`` line and exits with status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seqnn.atomic import atomic_open
from seqnn.cli.settings import run_cli, split_names
from seqnn.inference.evaluate import evaluate_regions, evaluate_table
from seqnn.inference.predict import PredictError
from seqnn.inference.pretrained import load_pretrained

RC_SETTINGS = {"true": True, "false": False, "mean": "mean", "max": "max"}


def run(cfg) -> list[Path]:
    """``seqnn-evaluate`` with its settings (``configs/evaluate.yaml``): prints the metrics;
    the JSON file written, if ``out`` is set."""

    has_table = cfg.table is not None
    region_keys = {key for key in ("fasta", "regions") if cfg[key] is not None}
    if has_table == bool(region_keys) or len(region_keys) == 1:
        raise PredictError(
            "give table=<csv|tsv> (sequences with truth columns) or fasta=<fa> and "
            "regions=<bed> (regions with truth columns), not both"
        )
    if region_keys and cfg.sequence_column != "sequence":
        raise PredictError(
            "sequence_column= is for table=; regions take their sequences from the FASTA"
        )
    truth = None if cfg.truth is None else split_names(cfg.truth)
    if truth is not None and not all(truth):
        raise PredictError(f"truth={cfg.truth}: give column names, comma-separated")
    rc = RC_SETTINGS.get(str(cfg.rc).lower())
    if rc is None:
        raise PredictError(f"rc={cfg.rc}: give true, false, mean or max")
    ci = cfg.ci
    if ci is not None and (
        isinstance(ci, bool) or not isinstance(ci, int | float) or not 0 < ci < 1
    ):  # checked before the model runs
        raise PredictError(f"ci={ci}: give the interval's level in (0, 1), e.g. ci=0.95")
    if cfg.gc_matched and has_table:
        raise PredictError("gc_matched=true: give fasta= and regions= (random genome windows)")
    model = load_pretrained(cfg.model)
    figures = dict(baseline=bool(cfg.baseline), by=cfg.by)
    if has_table:
        metrics = evaluate_table(
            model, cfg.table, truth, str(cfg.sequence_column), rc, cfg.batch_size, ci,
            cfg.progress, **figures,
        )  # fmt: skip
    else:
        metrics = evaluate_regions(
            model, cfg.fasta, cfg.regions, truth, rc, cfg.batch_size, ci=ci,
            progress=cfg.progress, gc_matched=bool(cfg.gc_matched), **figures,
        )  # fmt: skip
    for name, value in metrics.items():
        print(f"{name}\t{value:.4f}")
    if cfg.out is None:
        return []
    with atomic_open(cfg.out) as fh:
        # an undefined metric (e.g. AUROC of one class) is NaN: null in JSON
        json.dump({k: None if np.isnan(v) else v for k, v in metrics.items()}, fh, indent=2)
        fh.write("\n")
    return [Path(cfg.out)]


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``seqnn-evaluate model=<m> (table=<csv|tsv> | fasta=<fa>
    regions=<bed>) ...`` (settings: ``configs/evaluate.yaml``); bad input prints one error line
    and exits with status 2."""
    run_cli("seqnn-evaluate", argv, "evaluate.yaml", run, PredictError, (ValueError, OSError))


if __name__ == "__main__":
    main()
