"""What a finished training run leaves behind and tells its user: metrics.json, the best
network's weights, and a summary of where the logs, checkpoints and metrics went."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import save_file

SUMMARY_KEYS = ("auroc", "auprc", "mcc", "accuracy", "f1", "pearson", "loss")


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to a temp file in the same folder, then rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(payload, tmp, indent=2, sort_keys=True)
    os.replace(tmp.name, path)


def export_best(
    trainer: L.Trainer, module: L.LightningModule, cfg: DictConfig, metrics: dict[str, float]
) -> Path | None:
    """Save the best network's weights (safetensors) and its resolved config next to the
    checkpoints: ``<run>/model/model.safetensors`` + ``config.yaml``. Weights load without
    unpickling anything."""
    callback = trainer.checkpoint_callback
    best = getattr(callback, "best_model_path", "") if callback else ""
    if not best:
        return None
    # weights_only=True: a checkpoint never runs code when read back.
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    net_state = {
        k.removeprefix("net."): v.contiguous() for k, v in state.items() if k.startswith("net.")
    }
    folder = Path(cfg.paths.output_dir) / "model"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "model.safetensors.tmp"
    save_file(net_state, str(tmp))
    os.replace(tmp, folder / "model.safetensors")
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(cfg.model, resolve=True))
    return folder


def report_run(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Write metrics.json and print where the run's outputs went and how to look at them."""
    out = Path(cfg.paths.output_dir)
    write_json_atomic(out / "metrics.json", metrics)
    lines = ["", f"seqnn run finished: {out}"]
    tests = {k: v for k, v in metrics.items() if k.startswith("test/")}
    shown = {k: v for k, v in tests.items() if k.split("/")[-1] in SUMMARY_KEYS} or tests
    for name, value in sorted(shown.items()):
        lines.append(f"  {name:<28} {value:.4f}")
    callback = trainer.checkpoint_callback
    if callback is not None and callback.best_model_path:
        lines.append(f"  best checkpoint : {callback.best_model_path}")
        lines.append(f"  last checkpoint : {Path(callback.dirpath) / 'last.ckpt'}")
    if (out / "model" / "model.safetensors").exists():
        lines.append(f"  exported model  : {out / 'model'}")
    lines.append(f"  metrics         : {out / 'metrics.json'}")
    for lg in trainer.loggers:
        lines.append(f"  {type(lg).__name__:<16}: {lg.log_dir}")
        if type(lg).__name__ == "TensorBoardLogger":
            lines.append(f"  open TensorBoard: tensorboard --logdir {Path(lg.log_dir).parent}")
    print("\n".join(lines), flush=True)
