"""seqnn-train hparams_search=...: Hydra's Optuna sweeper, a cross-validated objective per
trial, the best trial's package exported (seqnn.cli.search)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_recipes import write_table

from seqnn.cli.search import held_out_metric
from seqnn.cli.train import main

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")


def test_held_out_metric_names_the_test_figure():
    assert held_out_metric("val/auroc") == "test/auroc" and held_out_metric("loss") == "loss"


@pytest.mark.slow
def test_two_trials_of_one_step_export_the_best_package(tmp_path, monkeypatch):
    """seqnn-train's own entry point, in this process (Hydra's basic launcher runs the trials
    here too)."""
    table = write_table(tmp_path / "mine.csv", n=60)
    sweep = tmp_path / "sweep"
    args = [
        "hparams_search=tf_binding",
        "data=table",
        f"data.table={table}",
        "data.target_columns=[label]",
        "hydra.sweeper.n_trials=2",
        "search_folds=2",
        f"hydra.sweep.dir={sweep}",
        "model.net.n_hidden=[8]",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        "~callbacks.progress_bar",
        "+trainer.enable_progress_bar=false",
    ]
    monkeypatch.setenv("SEQNN_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["seqnn-train", *args])
    main()
    objectives = sorted(sweep.glob("*/objective.json"))
    assert len(objectives) == 2  # two trials, each its two folds' mean
    values = [json.loads(p.read_text()) for p in objectives]
    assert all(len(v["folds"]) == 2 and v["metric"] == "test/auroc" for v in values)
    best = json.loads((sweep / "best_model" / "search_best.json").read_text())
    assert best["objective"] == max(v["value"] for v in values)
    assert (sweep / "best_model" / "seqnn.json").exists()
    assert any(s.startswith("task.optimizer.lr=") for s in best["settings"])
    assert (Path(best["trial"]) / "fold1" / "model").is_dir()
