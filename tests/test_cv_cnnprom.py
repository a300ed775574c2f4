"""scripts/cv_cnnprom.py: the --dev split, its metrics and one seqnn-train sweep (tiny nets)."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from hydra_run import compose_train

from seqnn.data.embedded import cnnprom_table
from seqnn.data.encoding import encode
from seqnn.data.splits import fold_split

SCRIPT = Path(__file__).parents[1] / "scripts" / "cv_cnnprom.py"


@pytest.fixture(scope="module")
def cv():
    spec = importlib.util.spec_from_file_location("cv_cnnprom", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_at_threshold_and_tpr_at_fpr(cv):
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.1, 0.05])
    m = cv.at_threshold(y, p)
    assert m["sn"] == pytest.approx(2 / 3) and m["sp"] == pytest.approx(4 / 5)
    assert m["mcc"] == pytest.approx((2 * 4 - 1 * 1) / np.sqrt(3 * 3 * 5 * 5))
    assert cv.tpr_at_fpr(y, p, 0.2) == 1.0  # one false positive (0.6) allowed
    assert cv.tpr_at_fpr(y, p, 0.1) == pytest.approx(2 / 3)  # none allowed: above 0.6
    assert cv.auroc(y, p) == pytest.approx(14 / 15)


@pytest.mark.parametrize("organism", ["ecoli", "bsubtilis"])
def test_dev_rows_are_the_experiments_train_and_val_rows(cv, organism, tmp_path):
    # --dev must leave out exactly the rows seqnn-train experiment=... tests on
    table = pd.read_csv(cnnprom_table(organism))
    rows = cv.dev_rows(table["label"].to_numpy())
    cfg = compose_train([f"experiment=cnnprom_{organism}"], tmp_path / "run")
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup()
    test_rows = np.setdiff1d(np.arange(len(table)), rows)
    assert len(test_rows) == len(datamodule.datasets["test"]) > 0
    expected = encode(table["sequence"].iloc[test_rows].tolist())
    np.testing.assert_array_equal(datamodule.datasets["test"].codes, expected)


@pytest.mark.slow
def test_seqnn_train_protocol_runs_on_the_dev_rows(cv, tmp_path, monkeypatch):
    tiny = ["model=cnn", "model.n_filters=[4]", "model.kernel_sizes=[5]", "model.pool_sizes=[4]",
            "model.n_hidden=[4]", "trainer.max_epochs=1", "+trainer.limit_train_batches=2",
            "logger=csv"]  # fmt: skip
    oof = tmp_path / "oof.npy"
    result = cv.cross_validate_seqnn_train(
        "bsubtilis", tiny, True, tmp_path, folds=[0, 3], oof=str(oof)
    )
    table = pd.read_csv(cnnprom_table("bsubtilis"))
    written = pd.read_csv(tmp_path / "rows.csv")
    assert len(written) == len(cv.dev_rows(table["label"].to_numpy())) < len(table)
    assert result["folds"] == 2 and result["protocol"] == "seqnn-train"
    assert 0 <= result["sn"] <= 1 and 0 <= result["auroc"] <= 1
    # each fold's run trained on that table, and tested on its own fold of it
    from omegaconf import OmegaConf

    configs = sorted((tmp_path / "runs").glob("*/.hydra/config.yaml"))
    assert [OmegaConf.load(c).data.fold for c in configs] == [0, 3]
    assert all(OmegaConf.load(c).data.table == str(tmp_path / "rows.csv") for c in configs)
    # out-of-fold scores: the rows of the two test folds (as seqnn-train dealt them) and no
    # others, probabilities that reproduced each run's logged AUROC and MCC
    scores = np.load(oof)
    labels = written["label"].to_numpy()
    in_tested = np.zeros(len(written), bool)
    for fold in (0, 3):
        in_tested[fold_split(len(written), labels[:, None], 0.1, 5, fold, 0)["test"]] = True
    assert scores.shape == (1, len(written))
    assert np.array_equal(~np.isnan(scores[0]), in_tested)
    assert ((scores[0][in_tested] >= 0) & (scores[0][in_tested] <= 1)).all()
    assert result["seeds"] == [12345] and 0 < result["pooled_best_mcc_threshold"][0] < 1
    assert 0 <= result["tpr_at_fpr_0.04"][0] <= 1
    # the reported protocol: each fold's seeds averaged (here one), the threshold tuned on the
    # fold's validation rows, scored on its test rows
    import json

    from seqnn import load_pretrained
    from seqnn.callbacks import threshold_rule
    from seqnn.inference.predict import predict_sequences
    from seqnn.tasks.threshold import tune_threshold

    ensemble = result["ensemble_val_threshold"]
    assert set(ensemble) == {"sn", "sp", "mcc", "auroc", "threshold"}
    runs = [c.parents[1] for c in configs]
    logged = [json.loads((run / "metrics.json").read_text()) for run in runs]
    assert ensemble["auroc"] == pytest.approx(np.mean([m["test/auroc"] for m in logged]), abs=1e-3)
    thresholds = []
    for run in runs:
        cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
        assert threshold_rule(cfg) == "calibrated"  # the experiment's TuneThreshold rule
        val = instantiate(cfg.data).split_frame("val")
        p = predict_sequences(load_pretrained(run / "model"), val["sequence"].tolist())
        truth, scores = val["label"].to_numpy(), p.to_numpy()[:, 0]
        thresholds.append(tune_threshold(truth, scores, "calibrated"))
    assert ensemble["threshold"] == pytest.approx(np.mean(thresholds), abs=1e-3)
    # the rule is the runs' own (a model this small falls back to the best-MCC cut under the
    # real calibrated rule, so a stand-in rule shows which one is asked)
    from seqnn.tasks import threshold as rules

    monkeypatch.setitem(rules.RULES, "calibrated", lambda target, probs: 0.4242)
    assert cv.fold_ensembles(tmp_path / "runs")["threshold"] == 0.4242


def test_the_cv_is_seqnn_trains_own():
    """No training loop, k-fold or private seqnn name of its own: the folds are data.folds
    of a seqnn-train sweep."""
    import ast

    tree = ast.parse(SCRIPT.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for alias in node.names}  # fmt: skip
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert not [name for name in names if name.startswith("_")]
    assert not {"fit", "folds_of", "cross_validate"} & functions
