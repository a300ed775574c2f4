"""Recipes (configs/recipe/: model, task, callbacks and budget, no data) on a user's own table,
the threshold tuned on the validation rows by default, and the training budget that scales
with the data."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from genome_files import coverage_overrides
from hydra_run import compose_train, options, seqnn_cache  # noqa: F401
from omegaconf import DictConfig, open_dict
from torch.utils.data import DataLoader, TensorDataset

from seqnn.callbacks import TrainingBudget
from seqnn.cli.train import train
from seqnn.inference.pretrained import read_spec

QUIET = ["~callbacks.progress_bar", "+trainer.enable_progress_bar=false"]
ONE_STEP = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=1",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
]
TINY = {  # each recipe's network cut down (the recipe's own choice of network stays)
    "promoter": [
        f"model.members.{m}.{k}"
        for m in ("learned", "learned_wide", "learned2", "learned_wide2")
        for k in ("n_filters=8", "n_hidden=[8]")
    ]
    + ["model.members.spectrum.ks=[1,2,3]", "model.members.spectrum.n_hidden=[8]"],
    "tf_binding": ["model.net.n_filters=[8,8,8]", "model.net.n_hidden=[8]"],
    "enhancer": ["model.net.n_filters=[8,8,8]", "model.net.n_hidden=[8]"],
    "profile": ["model.n_filters=8", "model.n_layers=2", "model.crop=0"],
}


def write_table(path: Path, n: int = 60, length: int = 100, seed: int = 0) -> Path:
    """A table whose positives hold a motif (lengths vary by a few bp: resize=centre)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        seq = "".join(rng.choice(list("ACGT"), length - i % 3))
        label = i % 3 == 0
        if label:
            seq = seq[:40] + "CCGCGNGGNGGCAG".replace("N", "A") + seq[54:]
        rows.append((seq, int(label)))
    pd.DataFrame(rows, columns=["sequence", "label"]).to_csv(path, index=False)
    return path


def run(overrides: list[str], out: Path) -> dict[str, float]:
    cfg = compose_train([*overrides, *QUIET], out)
    with open_dict(cfg):
        del cfg["hydra"]
    return train(cfg)


def compose(overrides: list[str], out: Path) -> DictConfig:
    return compose_train(overrides, out)


def test_every_recipe_is_tested_here():
    assert options("recipe") == sorted(TINY)


@pytest.mark.parametrize("recipe", ["promoter", "tf_binding", "enhancer"])
def test_recipe_trains_one_step_on_a_table(recipe, tmp_path):
    """seqnn-train recipe=X data=table data.table=mine.csv: no other setting needed (the
    sequence length is taken from the table, its mixed lengths centred)."""
    table = write_table(tmp_path / "mine.csv")
    data = ["data=table", f"data.table={table}", "data.target_columns=[label]"]
    metrics = run([f"recipe={recipe}", *data, *TINY[recipe], *ONE_STEP], tmp_path)
    assert np.isfinite(metrics["test/auroc"]) and "test/threshold" in metrics
    spec = read_spec(tmp_path / "model" / "seqnn.json")
    assert spec.input_length == 100 and spec.threshold == pytest.approx(metrics["test/threshold"])


def test_profile_recipe_trains_one_step_on_coverage(tmp_path):
    """The profile recipe needs per-base targets (a table has one value per row): the tiny
    genome + bigWig of the coverage tests."""
    data = ["data=coverage", *coverage_overrides(tmp_path), "data.input_length=120"]
    metrics = run(["recipe=profile", *data, *TINY["profile"], *ONE_STEP], tmp_path)
    assert np.isfinite(metrics["val/loss"]) and "test/threshold" not in metrics


@pytest.mark.parametrize(
    ("recipe", "model", "task"),
    [
        ("promoter", "seqnn.models.Ensemble", "binary"),
        ("tf_binding", "seqnn.models.ReverseComplementAverage", "binary"),
        ("profile", "seqnn.models.DilatedResNet", None),
    ],
)
def test_recipe_sets_no_data_and_the_command_line_wins(recipe, model, task, tmp_path):
    base = compose(["data=table", "data.table=x.csv", "data.target_columns=[y]"], tmp_path)
    cfg = compose([f"recipe={recipe}", "data=table", "data.table=x.csv"], tmp_path)
    assert cfg.model._target_ == model and cfg.task.get("task") == task
    assert cfg.data.keys() == base.data.keys() and cfg.data.table == "x.csv"
    mine = compose([f"recipe={recipe}", "model=cnn"], tmp_path)
    assert mine.model._target_ == "seqnn.models.BassetCNN"


def test_experiments_are_their_recipe_plus_data_and_keep_their_choices(tmp_path):
    ecoli = compose(["experiment=cnnprom_ecoli"], tmp_path)
    assert ecoli.model.members.keys() >= {"learned2", "learned_wide2"}  # the recipe's five
    assert ecoli.callbacks.tune_threshold.rule == "fixed"  # its rows were called at 0.5
    bsub = compose(["experiment=cnnprom_bsubtilis"], tmp_path)
    assert bsub.model.members.keys() == {"learned", "spectrum"}  # its own model=ensemble_cnn
    assert bsub.data.extra_train is not None and bsub.task.loss.pos_weight == "balanced"
    ctcf = compose(["experiment=ctcf_peaks"], tmp_path)
    assert ctcf.model._target_ == "seqnn.models.BassetCNN" and ctcf.trainer.max_epochs == 10


# ----------------------------------------------------------------------------- threshold
def test_threshold_is_tuned_by_default_and_fixed_only_when_asked(tmp_path):
    table = write_table(tmp_path / "mine.csv", n=90)
    data = ["data=table", f"data.table={table}", "data.target_columns=[label]"]
    small = ["model.n_filters=[8,8,8]", "model.n_hidden=[8]", *ONE_STEP]
    assert compose([], tmp_path).callbacks.tune_threshold.rule == "calibrated"
    tuned = run([*data, *small], tmp_path / "tuned")
    spec = read_spec(tmp_path / "tuned" / "model" / "seqnn.json")
    assert spec.threshold == pytest.approx(tuned["test/threshold"])
    assert tuned["test/threshold"] != pytest.approx(0.5)
    fixed = ["callbacks.tune_threshold.rule=fixed", "task.threshold=0.5"]
    metrics = run([*data, *small, *fixed], tmp_path / "fixed")
    assert "test/threshold" not in metrics
    assert read_spec(tmp_path / "fixed" / "model" / "seqnn.json").threshold == 0.5


def test_tasks_without_calls_keep_the_default_callbacks(tmp_path):
    table = write_table(tmp_path / "mine.csv")
    data = ["data=table", f"data.table={table}", "data.target_columns=[label]"]
    small = ["task=regression", "model.n_filters=[8,8,8]", "model.n_hidden=[8]", *ONE_STEP]
    metrics = run([*data, *small], tmp_path)
    assert "test/threshold" not in metrics and np.isfinite(metrics["test/loss"])


# ----------------------------------------------------------------------------- budget
def test_budget_scales_the_epochs_to_the_data_and_says_what_ended_the_run(tmp_path, capsys):
    table = write_table(tmp_path / "mine.csv", n=90)
    data = ["data=table", f"data.table={table}", "data.target_columns=[label]"]
    small = ["model.n_filters=[8,8,8]", "model.n_hidden=[8]", "trainer.max_epochs=50"]
    budget = ["callbacks.budget.samples=120", "callbacks.budget.min_epochs=2"]
    run([*data, *small, *budget, "callbacks.early_stopping.patience=100"], tmp_path)
    # 90 rows: 63 train -> ceil(120 / 63) = 2 epochs of the trainer's 50
    summary = capsys.readouterr().out.split("seqnn run finished")[-1]
    assert "budget 2 epochs (ceil(120 samples / 63 training rows), at least 2)" in summary
    assert "ended by the epoch count (2)" in summary
    assert len(list((tmp_path / "checkpoints").glob("*.ckpt"))) >= 1
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2  # epochs done


def test_budget_wall_time_stops_the_run(tmp_path, capsys):
    table = write_table(tmp_path / "mine.csv", n=90)
    data = ["data=table", f"data.table={table}", "data.target_columns=[label]"]
    small = ["model.n_filters=[8,8,8]", "model.n_hidden=[8]", "trainer.max_epochs=50"]
    run([*data, *small, "callbacks.budget.max_minutes=0.000001"], tmp_path)
    summary = capsys.readouterr().out.split("seqnn run finished")[-1]
    assert "ended by the wall-time limit (1e-06 min)" in summary


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self.w(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_budget_wall_time_stops_inside_a_first_epoch_longer_than_the_limit(tmp_path):
    """trainer.min_epochs=1 (seqnn-train's default) made Lightning finish the first epoch
    past the limit; the clock (fake: 10 s more at each reading, every 8 batches) now stops the
    run inside it: the 7th reading (70 s > 1 min) is at batch 56 of 100."""
    budget = TrainingBudget(max_minutes=1)
    now = iter(range(0, 10**6, 10))
    budget.clock = lambda: next(now)
    trainer = L.Trainer(
        accelerator="cpu",
        min_epochs=1,
        max_epochs=3,
        limit_train_batches=100,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[budget],
        default_root_dir=tmp_path,
    )
    trainer.fit(Tiny(), DataLoader(TensorDataset(torch.ones(400, 4)), batch_size=4))
    assert trainer.global_step == 56
    assert budget.summary.endswith(
        "ended by the wall-time limit (1 min) in epoch 1, at batch 56 of 100 after 1.3 min"
    )


def test_tune_threshold_scores_at_most_max_rows_validation_rows():
    """A genome's validation split is not held whole: the first max_rows rows set the cut."""
    from types import SimpleNamespace

    from seqnn.callbacks import TuneThreshold

    seen = []

    class Module(torch.nn.Module):
        device = torch.device("cpu")

        def predict_step(self, x, batch_idx):
            seen.append(len(x))
            return x.float()

        def set_threshold(self, threshold):
            self.threshold = threshold

    rng = np.random.default_rng(0)
    batches = [
        (torch.tensor(rng.random((10, 1))), torch.tensor(rng.integers(0, 2, (10, 1))))
        for _ in range(10)
    ]
    trainer = SimpleNamespace(datamodule=SimpleNamespace(val_dataloader=lambda: iter(batches)))
    module = Module()
    TuneThreshold("best_mcc", max_rows=25).on_test_start(trainer, module)
    assert sum(seen) == 30 and 0 <= module.threshold <= 1  # three batches of 10
    seen.clear()
    TuneThreshold("best_mcc", max_rows=None).on_test_start(trainer, module)
    assert sum(seen) == 100
