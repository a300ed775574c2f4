"""The best-MCC decision threshold (seqnn.tasks.threshold) and SupervisedModule.set_threshold."""

import numpy as np
import pytest
import torch
from torch import nn

from seqnn.tasks.supervised import SupervisedModule
from seqnn.tasks.threshold import best_mcc_threshold


def test_best_mcc_threshold_matches_a_brute_force_search(rng):
    from sklearn.metrics import matthews_corrcoef

    for _ in range(5):
        y = rng.integers(0, 2, 200)
        p = np.round(np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1), 2)  # ties included
        threshold, mcc = best_mcc_threshold(y, p)
        brute = max(matthews_corrcoef(y, p > t) for t in np.unique(p))
        assert mcc == pytest.approx(brute, abs=1e-9)
        assert matthews_corrcoef(y, p > threshold) == pytest.approx(mcc, abs=1e-9)


def test_shifted_probabilities_get_a_shifted_threshold(rng):
    y = rng.integers(0, 2, 500)
    logits = 3.0 * (y - 0.5) + rng.normal(size=500) + 2.0  # every row pushed towards positive
    p = 1 / (1 + np.exp(-logits))
    threshold, mcc = best_mcc_threshold(y, p)
    assert threshold > 0.75
    at_half = np.corrcoef(y, p > 0.5)[0, 1]
    assert mcc > at_half + 0.1


def test_several_targets_pool_into_one_threshold_and_masked_rows_drop_out(rng):
    y = rng.integers(0, 2, (100, 3)).astype(float)
    p = np.clip(0.4 * y + 0.6 * rng.random((100, 3)), 0, 1)
    masked = y.copy()
    masked[:10, 0] = np.nan
    assert best_mcc_threshold(y, p) == best_mcc_threshold(y.ravel(), p.ravel())
    keep = ~np.isnan(masked)
    assert best_mcc_threshold(masked, p) == best_mcc_threshold(masked[keep], p[keep])


def test_soft_labels_count_as_positive_above_half(rng):
    y = rng.integers(0, 2, 100)
    p = np.clip(0.4 * y + 0.6 * rng.random(100), 0, 1)
    soft = np.where(y == 1, 0.8, 0.1)
    assert best_mcc_threshold(soft, p) == best_mcc_threshold(y, p)


def test_bad_input():
    with pytest.raises(ValueError, match="hold only negatives: a threshold needs rows of both"):
        best_mcc_threshold(np.zeros(5), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match=r"target \(3,\) vs probs \(4,\)"):
        best_mcc_threshold(np.zeros(3), np.zeros(4))


def module(task="binary", **kwargs) -> SupervisedModule:
    return SupervisedModule(
        nn.Linear(4, 1), nn.BCEWithLogitsLoss(), torch.optim.Adam, task=task, **kwargs
    )


def test_set_threshold_rebuilds_the_test_calls():
    m = module()
    preds, target = torch.tensor([0.6, 0.7, 0.9, 0.2]), torch.tensor([0, 1, 1, 0])
    m.test_metrics.update(preds, target)
    assert m.test_metrics.compute()["test/sensitivity"] == 1.0
    m.set_threshold(0.8)
    assert m.hparams.threshold == 0.8
    m.test_metrics.update(preds, target)
    calls = m.test_metrics.compute()
    assert calls["test/sensitivity"] == 0.5 and calls["test/specificity"] == 1.0
    with pytest.raises(ValueError, match="regression tasks make no thresholded calls"):
        module("regression").set_threshold(0.3)
    from torchmetrics import MetricCollection
    from torchmetrics.classification import BinaryAUROC

    with pytest.raises(ValueError, match="given its own metrics="):
        module(metrics=MetricCollection({"auroc": BinaryAUROC()})).set_threshold(0.3)


def test_tune_threshold_without_validation_rows_says_so():
    from types import SimpleNamespace

    from seqnn.callbacks import TuneThreshold

    empty = SimpleNamespace(datamodule=SimpleNamespace(val_dataloader=lambda: []))
    with pytest.raises(ValueError, match="no validation rows to tune the threshold on"):
        TuneThreshold().on_test_start(empty, module())
