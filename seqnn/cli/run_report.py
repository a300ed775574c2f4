"""What a finished training run leaves behind and tells its user: metrics.json, the best
network's weights, and a summary of where the logs, checkpoints and metrics went."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from seqnn.atomic import atomic_open
from seqnn.callbacks import TrainingBudget
from seqnn.inference.pretrained import save_pretrained

SUMMARY_KEYS = ("auroc", "auprc", "mcc", "accuracy", "f1", "pearson", "loss")


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to a temp file in the same folder, then rename (never half-written)."""
    with atomic_open(path) as fh:
        json.dump(payload, fh, indent=2, sort_keys=True)


def export_best(
    trainer: L.Trainer,
    module: L.LightningModule,
    cfg: DictConfig,
    metrics: dict[str, float],
    datamodule: L.LightningDataModule,
    card: dict | None = None,
) -> Path | None:
    """Export the best checkpoint's network as a pretrained package, ``<run>/model/``
    (``model.safetensors`` + ``seqnn.json`` with a model card holding the test metrics), so
    that ``seqnn.load_pretrained(<run>/model)`` and ``seqnn-predict model=<run>/model`` work.
    The input length and the N/IUPAC policy are the ones of ``datamodule``, which measured
    the length (when the config leaves ``data.input_length`` null) and encoded the batches.
    ``card``: more model-card fields (the data QC figures)."""
    callback = trainer.checkpoint_callback
    best = getattr(callback, "best_model_path", "") if callback else ""
    if not best:
        return None
    # weights_only=True: a checkpoint never runs code when read back.
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state)
    folder = Path(cfg.paths.output_dir) / "model"
    targets = module.hparams.get("target_names") or cfg.data.get("target_columns")
    # an autoencoder has no targets: its outputs are the 4 base channels
    n_outputs = getattr(module.net, "n_targets", None)
    # windows read on their feature's strand make a strand-specific model (rc=true warns)
    use_strand = getattr(trainer.datamodule, "hparams", {}).get("use_strand")
    return save_pretrained(
        module,
        folder,
        input_length=datamodule.input_length,
        policy=getattr(datamodule, "policy", None),  # what the batches were encoded with
        targets=list(targets) if targets and len(targets) == n_outputs else None,
        card=model_card(cfg, metrics, best) | (card or {}),
        strand_specific=None if use_strand is None else bool(use_strand),
    )


def model_card(cfg: DictConfig, metrics: dict[str, float], checkpoint: str) -> dict:
    """Where a model came from: data and split (the resolved data config), its metrics."""
    data = OmegaConf.to_container(cfg.data, resolve=True)
    return {
        "trained_with": f"seqnn-train (seed {cfg.seed})",
        "training_data": data,
        "split": {k: data[k] for k in ("val_fraction", "test_fraction", "n_blocks") if k in data}
        | ({"folds": data["folds"], "fold": data["fold"]} if data.get("folds") else {}),
        "test_metrics": {k: v for k, v in sorted(metrics.items()) if k.startswith("test/")},
        "val_metrics": {k: v for k, v in sorted(metrics.items()) if k.startswith("val/")},
        # scans run a bf16-trained model under bf16 autocast on a GPU (inference.predict)
        "precision": str(cfg.get("trainer", {}).get("precision", "32-true")),
        "checkpoint": str(checkpoint),
        **({"init_from": str(cfg.init_from)} if cfg.get("init_from") else {}),
        "run": str(cfg.paths.output_dir),
    }


def report_run(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Write metrics.json and print where the run's outputs went and how to look at them."""
    out = Path(cfg.paths.output_dir)
    write_json_atomic(out / "metrics.json", metrics)
    lines = ["", f"seqnn run finished: {out}"]
    tests = {k: v for k, v in metrics.items() if k.startswith("test/")}
    shown = {k: v for k, v in tests.items() if k.split("/")[-1] in SUMMARY_KEYS} or tests
    for name, value in sorted(shown.items()):
        lines.append(f"  {name:<28} {value:.4f}")
    for budget in (c for c in trainer.callbacks if isinstance(c, TrainingBudget)):
        lines.append(f"  {budget.summary}")
    callback = trainer.checkpoint_callback
    if callback is not None and callback.best_model_path:
        lines.append(f"  best checkpoint : {callback.best_model_path}")
        lines.append(f"  last checkpoint : {Path(callback.dirpath) / 'last.ckpt'}")
    if (out / "model" / "seqnn.json").exists():
        lines.append(f"  exported model  : {out / 'model'}  (load_pretrained, seqnn-predict)")
    lines.append(f"  metrics         : {out / 'metrics.json'}")
    for lg in trainer.loggers:
        if lg.log_dir is None:  # fast_dev_run's DummyLogger writes nothing
            continue
        lines.append(f"  {type(lg).__name__:<16}: {lg.log_dir}")
        if type(lg).__name__ == "TensorBoardLogger":
            lines.append(f"  open TensorBoard: tensorboard --logdir {Path(lg.log_dir).parent}")
    print("\n".join(lines), flush=True)
