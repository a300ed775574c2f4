"""Stratified 5-fold cross-validation of seqnn networks on a CNNProm set (model choice).

How the CNNProm experiment configs chose their network. Each network is built from the
packaged configs exactly as ``seqnn-train experiment=cnnprom_<org> <overrides>`` would build it
(``hydra.utils.instantiate(cfg.model)``), then trained by a short plain loop per fold: AdamW
(lr 1e-3, weight decay 0.01), batches of 64, up to 60 epochs (``--max-epochs``), early
stopping (patience 8) on the AUROC of a validation ninth of the training folds, best weights
kept. It trains on the table's rows only: an experiment's ``data.extra_train`` rows and
callbacks (``TuneThreshold``) act in ``--seqnn-train`` runs, not here.

``--dev`` leaves out the held-out test fifth that ``seqnn-train experiment=cnnprom_<org>``
reports on (the same seeded stratified split) and cross-validates on the other rows only, so a
choice made with it has not seen the test set.

Prints one JSON line per candidate: mean over folds of AUROC, and of Sn, Sp and MCC at the
experiment's decision threshold (``task.threshold``), plus, from the pooled out-of-fold
scores, the TPR at a 4 % false-positive rate and the threshold of the highest MCC (how the
experiments' ``task.threshold`` is chosen: on the ``--dev`` rows).

``--seqnn-train DIR`` runs each candidate through ``seqnn-train -m`` instead (the experiments'
own Lightning loop, monitor, scheduler and early stopping: the protocol of their reported
5-fold figures) on a table of the same rows, and prints the means of its test Sn / Sp / MCC /
AUROC, and (``ensemble_val_threshold``) how the experiments report: per test fold the training
seeds' models averaged, the threshold chosen on the fold's validation rows by the runs'
``TuneThreshold`` rule (the best-MCC cut if they have none).

Usage:
    python scripts/cv_cnnprom.py --organism ecoli --dev \
        --candidate "model=cnn model.dropout=0.3" --candidate "model=kmer_cnn model.periods=[3]"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqnn.tasks.threshold import best_mcc_threshold

BATCH, PATIENCE, FOLDS = 64, 8, 5


def experiment_config(organism: str, overrides: list[str]):
    """The config of ``seqnn-train experiment=cnnprom_<organism> <overrides>``."""
    from hydra import compose, initialize_config_module

    with initialize_config_module("seqnn.configs", version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment=cnnprom_{organism}", *overrides])
    return cfg


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (torchmetrics)."""
    from torchmetrics.functional.classification import binary_auroc

    return float(binary_auroc(torch.from_numpy(p), torch.from_numpy(y).long()))


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Sensitivity, specificity and Matthews correlation at ``threshold``: the torchmetrics
    functions behind seqnn-train's ``test/sensitivity``, ``test/specificity``, ``test/mcc``."""
    from torchmetrics.functional.classification import (
        binary_matthews_corrcoef,
        binary_recall,
        binary_specificity,
    )

    preds, target = torch.from_numpy(p), torch.from_numpy(y).long()
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


def balanced_weight(loss_config, labels: np.ndarray) -> dict:
    """``pos_weight: balanced`` as seqnn-train resolves it: negatives / positives of the
    training rows ``labels``; nothing for any other loss setting."""
    if loss_config.get("pos_weight") != "balanced":
        return {}
    return {"pos_weight": float((labels == 0).sum() / (labels == 1).sum())}


def fit(make, loss_fn, x, y, train, val, seed: int, max_epochs: int) -> nn.Module:
    """Train one network on rows ``train`` with ``loss_fn`` (the experiment's
    ``task.loss``); keep the weights of its best validation AUROC."""
    torch.manual_seed(seed)
    net = make()
    optimizer = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=0.01)
    best, state, stale = -1.0, None, 0
    for _ in range(max_epochs):
        net.train()
        order = train[torch.randperm(len(train))]
        for i in range(0, len(order), BATCH):
            rows = order[i : i + BATCH]
            # an Ensemble's members each learn from their own loss, as in seqnn-train
            members = getattr(net, "has_members", False)
            outputs = net(x[rows], members=True) if members else [net(x[rows])]
            losses = [loss_fn(out[:, 0], y[rows]) for out in outputs]
            loss = torch.stack(losses).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score = auroc(y[val].numpy(), predict(net, x[val]))
        if score > best:
            best, state, stale = score, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            stale += 1
            if stale >= PATIENCE:
                break
    net.load_state_dict(state)
    return net


@torch.no_grad()
def predict(net: nn.Module, x: torch.Tensor) -> np.ndarray:
    net.eval()
    return torch.sigmoid(net(x)[:, 0]).numpy()


def folds_of(labels: np.ndarray, rows: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Stratified folds of ``rows``: each class shuffled, then dealt round-robin."""
    rng = np.random.default_rng(seed)
    dealt = [[] for _ in range(FOLDS)]
    for label in (1, 0):
        members = rng.permutation(rows[labels[rows] == label])
        for k in range(FOLDS):
            dealt[k].append(members[k::FOLDS])
    return [np.concatenate(parts) for parts in dealt]


def dev_rows(labels: np.ndarray) -> np.ndarray:
    """The train + val rows of ``seqnn-train experiment=cnnprom_<org>``: its data/table.yaml
    split (seeded stratified, val 10 %, test 20 %, seed 0) without the test rows."""
    from seqnn.data.datamodule import _stratified_split

    split = _stratified_split(len(labels), labels[:, None].astype(np.float32), 0.1, 0.2, 0)
    return np.setdiff1d(np.arange(len(labels)), split["test"])


def cross_validate(
    organism: str, overrides: list[str], dev: bool, max_epochs: int = 60, oof: str | None = None
) -> dict:
    import pandas as pd
    from hydra.utils import instantiate

    from seqnn.data.embedded import cnnprom_table
    from seqnn.data.encoding import one_hot

    table = pd.read_csv(cnnprom_table(organism))
    labels = table["label"].to_numpy()
    x = torch.from_numpy(one_hot(table["sequence"].tolist()))
    y = torch.tensor(labels, dtype=torch.float32)
    rows = dev_rows(labels) if dev else np.arange(len(table))
    cfg = experiment_config(organism, overrides)
    config, threshold = cfg.model, float(cfg.task.threshold)
    rng = np.random.default_rng(0)
    out_of_fold = np.full(len(table), np.nan)
    per_fold, start = [], time.perf_counter()
    folds = folds_of(labels, rows)
    for k, held in enumerate(folds):
        rest = rng.permutation(np.concatenate([f for j, f in enumerate(folds) if j != k]))
        n_val = len(rest) // 9
        val, train = torch.from_numpy(rest[:n_val]), torch.from_numpy(rest[n_val:])
        weight = balanced_weight(cfg.task.loss, labels[rest[n_val:]])
        loss_fn = instantiate(cfg.task.loss, **weight)
        net = fit(lambda: instantiate(config), loss_fn, x, y, train, val, 100 * k, max_epochs)
        p = predict(net, x[held])
        out_of_fold[held] = p
        per_fold.append(
            {"auroc": auroc(labels[held], p), **at_threshold(labels[held], p, threshold)}
        )
    mean = {key: round(float(np.mean([f[key] for f in per_fold])), 4) for key in per_fold[0]}
    pooled = out_of_fold[rows]
    best_threshold, best_mcc = best_mcc_threshold(labels[rows], pooled)
    if oof is not None:  # rows outside the CV (the held-out fifth under --dev) stay NaN
        np.save(oof, out_of_fold)
    return {
        "organism": organism,
        "candidate": " ".join(overrides) or "(experiment default)",
        "rows": "train+val only (held-out fifth left out)" if dev else "all",
        "folds": FOLDS,
        "threshold": threshold,
        **mean,
        "tpr_at_fpr_0.04": round(tpr_at_fpr(labels[rows], pooled, 0.04), 4),
        "pooled_best_mcc": round(best_mcc, 4),
        "pooled_best_mcc_threshold": round(best_threshold, 4),
        "seconds": round(time.perf_counter() - start),
    }


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
    import pandas as pd

    from seqnn.data.embedded import cnnprom_table

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
    from collections import defaultdict

    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from seqnn import load_pretrained
    from seqnn.callbacks import threshold_rule
    from seqnn.inference.ensemble import ensemble_pretrained
    from seqnn.inference.evaluate import best_threshold
    from seqnn.inference.predict import predict_sequences

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
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from seqnn import load_pretrained
    from seqnn.inference.predict import predict_sequences

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
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--max-epochs", type=int, default=60, help="per fold (early stopping)")
    parser.add_argument(
        "--seqnn-train",
        metavar="DIR",
        default=None,
        help="run each candidate through seqnn-train -m (the experiments' own training loop "
        "and reported protocol) with its runs under DIR/<index>, instead of the plain loop",
    )
    parser.add_argument(
        "--oof",
        default=None,
        help="save the out-of-fold scores, one per table row, to this .npy (with several "
        "candidates: <stem>.<index>.npy; with --seqnn-train one row per training seed, "
        "predicted by each fold's exported model)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    candidates = args.candidate or [""]
    for i, candidate in enumerate(candidates):
        if args.seqnn_train is not None:
            out_dir = Path(args.seqnn_train) / str(i)
            overrides = candidate.split()
            oof = args.oof
            if oof is not None and len(candidates) > 1:
                oof = f"{oof.removesuffix('.npy')}.{i}.npy"
            result = cross_validate_seqnn_train(
                args.organism, overrides, args.dev, out_dir, oof=oof
            )
            print(json.dumps(result), flush=True)
            continue
        oof = args.oof
        if oof is not None and len(candidates) > 1:
            oof = f"{oof.removesuffix('.npy')}.{i}.npy"
        result = cross_validate(args.organism, candidate.split(), args.dev, args.max_epochs, oof)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
