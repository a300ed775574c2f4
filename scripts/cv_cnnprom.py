"""Stratified 5-fold cross-validation of CNNProm candidates through ``seqnn-train`` sweeps.

How the CNNProm experiment configs chose their network: each candidate (Hydra overrides) runs
as ``seqnn-train -m experiment=cnnprom_<org> data.folds=5 data.fold=0,1,2,3,4 <overrides>``,
the protocol of the experiments' reported 5-fold figures (their Lightning loop, monitor,
scheduler, early stopping, ``data.extra_train`` and callbacks such as ``TuneThreshold``). The
folds are seqnn's own (:func:`seqnn.data.splits.fold_split`, the ``data.folds`` of
``TableDataModule``); this script only writes the CV's table, starts the sweep and sums up its
runs.

``--dev`` leaves out the held-out test fifth that ``seqnn-train experiment=cnnprom_<org>``
reports on (the same seeded stratified split, :func:`seqnn.data.splits.stratified_split`) and
cross-validates on the other rows only, so a choice made with it has not seen the test set.

Prints one JSON line per candidate: the means over the test folds of seqnn-train's test Sn /
Sp / MCC / AUROC; per training seed, from the pooled out-of-fold scores, the TPR at a 4 %
false-positive rate and the threshold of the highest MCC (how the experiments'
``task.threshold`` is chosen: on the ``--dev`` rows); and (``ensemble_val_threshold``) how the
experiments report: per test fold the training seeds' models averaged, the threshold chosen
on the fold's validation rows by the runs' ``TuneThreshold`` rule (the best-MCC cut if they
have none).

Usage:
    python scripts/cv_cnnprom.py --organism ecoli --dev --out cv/ \
        --candidate "model=cnn model.dropout=0.3" --candidate "model=kmer_cnn model.periods=[3]"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_matthews_corrcoef,
    binary_recall,
    binary_specificity,
)

from seqnn.callbacks import threshold_rule
from seqnn.data.embedded import cnnprom_table
from seqnn.data.splits import stratified_split
from seqnn.inference.ensemble import ensemble_pretrained
from seqnn.inference.evaluate import best_threshold
from seqnn.inference.predict import predict_sequences
from seqnn.inference.pretrained import load_pretrained
from seqnn.tasks.threshold import best_mcc_threshold

FOLDS = 5


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (torchmetrics)."""
    return float(binary_auroc(torch.as_tensor(np.array(p)), torch.as_tensor(np.array(y)).long()))


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Sensitivity, specificity and Matthews correlation at ``threshold``: the torchmetrics
    functions behind seqnn-train's ``test/sensitivity``, ``test/specificity``, ``test/mcc``."""
    # np.array: a copy, since the arrays may be read-only views of a table
    preds, target = torch.as_tensor(np.array(p)), torch.as_tensor(np.array(y)).long()
    return {
        name: float(metric(preds, target, threshold=threshold))
        for name, metric in (
            ("sn", binary_recall),
            ("sp", binary_specificity),
            ("mcc", binary_matthews_corrcoef),
        )
    }


def tpr_at_fpr(y: np.ndarray, p: np.ndarray, fpr: float) -> float:
    """The true-positive rate at the lowest threshold that lets through at most ``fpr`` of
    the negatives (scores above it are called positive)."""
    negatives = np.sort(p[y == 0])[::-1]
    threshold = negatives[min(int(fpr * len(negatives)), len(negatives) - 1)]
    return float((p[y == 1] > threshold).mean())


def dev_rows(labels: np.ndarray) -> np.ndarray:
    """The train + val rows of ``seqnn-train experiment=cnnprom_<org>``: its data/table.yaml
    split (seeded stratified, val 10 %, test 20 %, seed 0) without the test rows."""
    split = stratified_split(len(labels), labels[:, None].astype(np.float32), 0.1, 0.2, 0)
    return np.setdiff1d(np.arange(len(labels)), split["test"])


def cross_validate_seqnn_train(
    organism: str,
    overrides: list[str],
    dev: bool,
    out_dir: Path,
    folds: Sequence[int] = tuple(range(FOLDS)),
    oof: str | None = None,
) -> dict:
    """The candidate through ``seqnn-train`` itself: ``seqnn-train -m
    experiment=cnnprom_<organism> data.folds=5 data.fold=0,1,2,3,4 <overrides>`` on a table of
    the ``--dev`` rows (or all rows), i.e. the protocol of the experiments' reported 5-fold
    figures (Lightning loop, the experiment's monitor, scheduler and early stopping), with the
    held-out fifth left out. Means over the test folds of seqnn-train's test metrics, and per
    training seed the best-MCC threshold of the pooled out-of-fold scores
    (:func:`out_of_fold_scores`; saved to ``oof`` when given)."""

    table = pd.read_csv(cnnprom_table(organism))
    rows = dev_rows(table["label"].to_numpy()) if dev else np.arange(len(table))
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    table.iloc[rows].to_csv(out_dir / "rows.csv", index=False)
    command = [
        sys.executable, "-m", "seqnn.cli.train", "-m", f"experiment=cnnprom_{organism}",
        "~data.table", f"+data.table={out_dir / 'rows.csv'}", f"data.folds={FOLDS}",
        f"data.fold={','.join(str(k) for k in folds)}", f"hydra.sweep.dir={out_dir / 'runs'}",
        "~callbacks.progress_bar", "+trainer.enable_progress_bar=false", *overrides,
    ]  # fmt: skip
    start = time.perf_counter()
    # run from out_dir, as a user of the installed seqnn would: from a source checkout the
    # checkout's seqnn/ would shadow the installed package (and its seqnn.configs)
    done = subprocess.run(command, capture_output=True, text=True, cwd=out_dir)
    if done.returncode != 0:
        raise SystemExit(f"seqnn-train failed ({done.returncode}):\n{done.stderr[-3000:]}")
    seconds = round(time.perf_counter() - start)
    runs = sorted((out_dir / "runs").glob("*/metrics.json"))
    per_fold = [json.loads(path.read_text()) for path in runs]
    keys = {"auroc": "test/auroc", "sn": "test/sensitivity", "sp": "test/specificity",
            "mcc": "test/mcc"}  # fmt: skip
    labels = table["label"].to_numpy()[rows]
    scores = out_of_fold_scores(out_dir / "runs", table["sequence"].iloc[rows].tolist(), labels)
    if oof is not None:  # one row per training seed, one column per row of the CV's table
        np.save(oof, np.stack([scores[seed] for seed in sorted(scores)]))
    for seed, p in scores.items():
        if len(folds) == FOLDS and np.isnan(p).any():
            raise SystemExit(f"{out_dir}: seed {seed}: {np.isnan(p).sum()} rows in no test fold")
    tested = {seed: ~np.isnan(p) for seed, p in scores.items()}
    pooled = {
        seed: best_mcc_threshold(labels[tested[seed]], p[tested[seed]])
        for seed, p in sorted(scores.items())
    }
    return {
        "organism": organism,
        "candidate": " ".join(overrides) or "(experiment default)",
        "rows": "train+val only (held-out fifth left out)" if dev else "all",
        "protocol": "seqnn-train",
        "folds": len(per_fold),
        **{k: round(float(np.mean([m[key] for m in per_fold])), 4) for k, key in keys.items()},
        "pooled_best_mcc": [round(mcc, 4) for _, mcc in pooled.values()],
        "pooled_best_mcc_threshold": [round(t, 4) for t, _ in pooled.values()],
        "tpr_at_fpr_0.04": [
            round(tpr_at_fpr(labels[tested[seed]], p[tested[seed]], 0.04), 4)
            for seed, p in sorted(scores.items())
        ],
        "seeds": list(pooled),
        "ensemble_val_threshold": fold_ensembles(out_dir / "runs"),
        "seconds": seconds,
    }


def fold_ensembles(runs: Path) -> dict[str, float]:
    """How the experiments report: each test fold's models (one per training seed) averaged
    into one (``seqnn-ensemble``), its threshold chosen on that fold's validation rows by the
    runs' ``TuneThreshold`` rule (the best-MCC cut if they have none), as the callback does for
    one model, scored on the fold's test rows. Fold means of Sn / Sp / MCC / AUROC and of the
    threshold."""

    by_fold: dict[int, list[Path]] = defaultdict(list)
    configs = {}
    for run in sorted(p.parent for p in runs.glob("*/metrics.json")):
        cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
        by_fold[int(cfg.data.fold)].append(run)
        configs.setdefault(int(cfg.data.fold), cfg)
    scored = []
    for fold, members in sorted(by_fold.items()):
        data = instantiate(configs[fold].data)
        models = [load_pretrained(r / "model") for r in members]
        # one seed: that model (seqnn-ensemble needs two); the threshold is set below
        ensemble = models[0] if len(models) == 1 else ensemble_pretrained(models, 0.5)
        rule = threshold_rule(configs[fold]) or "best_mcc"
        threshold = best_threshold(ensemble, data.split_frame("val"), rule=rule)
        test = data.split_frame("test")
        test_y = test["label"].to_numpy()
        test_p = predict_sequences(ensemble, test["sequence"].tolist()).to_numpy()[:, 0].copy()
        scored.append(
            at_threshold(test_y, test_p, threshold)
            | {"auroc": auroc(test_y, test_p), "threshold": threshold}
        )
    return {k: round(float(np.mean([s[k] for s in scored])), 4) for k in scored[0]}


def out_of_fold_scores(
    runs: Path, sequences: list[str], labels: np.ndarray
) -> dict[int, np.ndarray]:
    """Each row's test-fold probability from a ``seqnn-train -m`` CV sweep under ``runs``, per
    training seed: every run's exported model (``<run>/model``) predicts the rows of its test
    fold, the fold as the run's own data config dealt it; NaN for rows in no run's test fold
    (a sweep over some folds only). Checks each fold's AUROC and MCC against the run's logged
    ``test/auroc`` / ``test/mcc`` (the same rows, the same model)."""

    scores: dict[int, np.ndarray] = {}
    for run in sorted(p.parent for p in runs.glob("*/metrics.json")):
        cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
        # the run's table is the CV's rows.csv: its row index is the position in `labels`
        held = instantiate(cfg.data).split_frame("test").index.to_numpy()
        model = load_pretrained(run / "model")
        p = predict_sequences(model, [sequences[i] for i in held]).to_numpy()[:, 0].copy()
        logged = json.loads((run / "metrics.json").read_text())
        # the run's threshold: task.threshold, or tuned on its validation rows
        ours = at_threshold(labels[held], p, model.threshold)
        ours["auroc"] = auroc(labels[held], p)
        for key, name in (("auroc", "test/auroc"), ("mcc", "test/mcc")):
            if abs(ours[key] - logged[name]) > 1e-3:
                raise SystemExit(
                    f"{run}: out-of-fold {key} {ours[key]:.4f} != its logged {name} {logged[name]}"
                )
        seed = int(cfg.seed)
        scores.setdefault(seed, np.full(len(labels), np.nan))[held] = p
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organism", choices=("ecoli", "bsubtilis"), default="ecoli")
    parser.add_argument(
        "--candidate",
        action="append",
        default=None,
        help='Hydra overrides of one candidate, e.g. "model=kmer_cnn model.periods=[3]" '
        "(repeatable; default: the experiment's own model)",
    )
    parser.add_argument("--dev", action="store_true", help="leave out the held-out test fifth")
    parser.add_argument(
        "--out",
        "--seqnn-train",
        dest="out",
        metavar="DIR",
        required=True,
        help="folder of the runs: DIR/<candidate index>/runs/<fold run>",
    )
    parser.add_argument(
        "--oof",
        default=None,
        help="save the out-of-fold scores to this .npy: one row per training seed (each fold's "
        "exported model's), one column per row of the CV's table (with several candidates: "
        "<stem>.<index>.npy)",
    )
    args = parser.parse_args()
    candidates = args.candidate or [""]
    for i, candidate in enumerate(candidates):
        oof = args.oof
        if oof is not None and len(candidates) > 1:
            oof = f"{oof.removesuffix('.npy')}.{i}.npy"
        out_dir = Path(args.out) / str(i)
        result = cross_validate_seqnn_train(
            args.organism, candidate.split(), args.dev, out_dir, oof=oof
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
