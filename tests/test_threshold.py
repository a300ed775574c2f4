"""The decision-threshold rules (seqnn.tasks.threshold: best MCC, Platt-calibrated), the
TuneThreshold callback's rule and SupervisedModule.set_threshold."""

import numpy as np
import pytest
import torch
from torch import nn

from seqnn.tasks.supervised import SupervisedModule
from seqnn.tasks.threshold import (
    UncalibratedScores,
    best_mcc_threshold,
    calibrated_threshold,
    check_rule,
    tune_threshold,
)


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


@pytest.mark.parametrize("rule", ["best_mcc", "calibrated"])
def test_several_targets_pool_into_one_threshold_and_masked_rows_drop_out(rng, rule):
    y = rng.integers(0, 2, (100, 3)).astype(float)
    p = np.clip(0.4 * y + 0.6 * rng.random((100, 3)), 0.01, 0.99)
    masked = y.copy()
    masked[:10, 0] = np.nan
    p[:10, 0] = np.nan  # a masked row's score is never read
    keep = ~np.isnan(masked)
    pooled = tune_threshold(masked, p, rule)
    assert pooled == tune_threshold(masked[keep], p[keep], rule)
    assert pooled != tune_threshold(masked[:, 0][keep[:, 0]], p[:, 0][keep[:, 0]], rule)


@pytest.mark.parametrize("rule", ["best_mcc", "calibrated"])
def test_soft_labels_count_as_positive_above_half(rng, rule):
    y = rng.integers(0, 2, 100)
    p = np.clip(0.4 * y + 0.6 * rng.random(100), 0, 1)
    soft = np.where(y == 1, 0.8, 0.1)
    assert tune_threshold(soft, p, rule) == tune_threshold(y, p, rule)


def test_bad_input():
    with pytest.raises(ValueError, match="hold only negatives: a threshold needs rows of both"):
        best_mcc_threshold(np.zeros(5), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match=r"target \(3,\) vs probs \(4,\)"):
        best_mcc_threshold(np.zeros(3), np.zeros(4))


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def test_calibrated_threshold_is_platt_scalings_half_point(rng):
    """The logistic fit of logit(p) with Platt's targets, as sklearn fits it (each row split
    into a positive and a negative copy weighted by its soft target), cut at 0.5."""
    from sklearn.linear_model import LogisticRegression

    y = rng.integers(0, 2, 300).astype(bool)
    p = 1 / (1 + np.exp(-(1.5 * y - 0.2 + rng.normal(size=300))))
    soft = np.where(y, (y.sum() + 1) / (y.sum() + 2), 1 / ((~y).sum() + 2))
    z = logit(p)[:, None]
    fit = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(
        np.r_[z, z], np.r_[np.ones(300), np.zeros(300)], sample_weight=np.r_[soft, 1 - soft]
    )
    a, b = fit.coef_[0, 0], fit.intercept_[0]
    assert calibrated_threshold(y, p) == pytest.approx(1 / (1 + np.exp(b / a)), abs=1e-5)
    assert tune_threshold(y, p, "calibrated") == calibrated_threshold(y, p)
    assert tune_threshold(y, p) == best_mcc_threshold(y, p)[0]


def test_calibrated_threshold_finds_the_shift_of_shifted_probabilities(rng):
    """Rows drawn from calibrated probabilities cut near 0.5; the same scores pushed up by 2
    in logit space cut near sigmoid(2)."""
    z = rng.normal(scale=2.5, size=20_000)
    y = rng.random(20_000) < 1 / (1 + np.exp(-z))
    assert calibrated_threshold(y, 1 / (1 + np.exp(-z))) == pytest.approx(0.5, abs=0.02)
    shifted = calibrated_threshold(y, 1 / (1 + np.exp(-(z + 2))))
    assert shifted == pytest.approx(1 / (1 + np.exp(-2)), abs=0.02)


def test_calibrated_threshold_of_separable_rows_cuts_between_them():
    """(Platt's smoothed targets keep the fit finite; the cut lands at or near the gap.)"""
    y = np.r_[np.zeros(50), np.ones(20)]
    cuts = []
    for low, high in ((0.4, 0.6), (0.2, 0.3), (0.85, 0.9)):
        p = np.r_[np.linspace(0.01, low, 50), np.linspace(high, 0.99, 20)]
        cuts.append(calibrated_threshold(y, p))
        assert ((p > cuts[-1]) == y).mean() >= 0.95
    assert cuts[1] < cuts[0] < cuts[2]


def test_calibrated_threshold_bad_input():
    y = np.r_[np.zeros(50), np.ones(20)]
    with pytest.raises(ValueError, match="all 70 rows have the same score"):
        calibrated_threshold(y, np.full(70, 0.3))
    falling = np.r_[np.linspace(0.6, 0.99, 50), np.linspace(0.01, 0.4, 20)]
    with pytest.raises(ValueError, match="scores do not rise with the positive class"):
        calibrated_threshold(y, falling)
    with pytest.raises(ValueError, match="calibrated_threshold: the 5 rows hold only negatives"):
        calibrated_threshold(np.zeros(5), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match=r"'platt' is not one of \['best_mcc', 'calibrated'\]"):
        tune_threshold(y, np.linspace(0, 1, 70), "platt")
    assert check_rule("calibrated") == "calibrated"


def test_a_cut_outside_the_scores_is_uncalibrated():
    """Scores that barely separate the classes: the logistic fit's 0.5 point lies above every
    score, which would call every row negative."""
    y = np.r_[np.zeros(70), np.ones(40)]
    p = 0.5 + 0.21 * np.random.default_rng(3).random(110)
    p[70:] += 0.01
    with pytest.raises(UncalibratedScores, match="falls outside the scores"):
        calibrated_threshold(y, p)
    with pytest.warns(UserWarning, match="the best-MCC cut is used instead"):
        assert p.min() < tune_threshold(y, p, "calibrated") < p.max()


@pytest.mark.parametrize("rule", ["best_mcc", "calibrated"])
def test_scores_that_are_not_finite_are_an_error(rule):
    y = np.r_[np.zeros(50), np.ones(20)]
    p = np.r_[np.linspace(0.01, 0.4, 50), np.linspace(0.6, 0.99, 20)]
    p[3] = np.nan
    with pytest.raises(ValueError, match="1 of the 70 labelled rows have a NaN or infinite"):
        tune_threshold(y, p, rule)


def test_scores_with_nothing_to_calibrate_get_the_best_mcc_cut_with_a_warning():
    """A model that has not learnt the target (a 1-epoch run) still gets a threshold."""
    y = np.r_[np.zeros(50), np.ones(20)]
    falling = np.r_[np.linspace(0.6, 0.99, 50), np.linspace(0.01, 0.4, 20)]
    for scores in (falling, np.full(70, 0.3)):
        with pytest.warns(UserWarning, match="little better than chance; the best-MCC cut"):
            assert tune_threshold(y, scores, "calibrated") == best_mcc_threshold(y, scores)[0]
    with pytest.raises(ValueError, match="hold only negatives"):  # no threshold at all
        tune_threshold(np.zeros(5), np.linspace(0, 1, 5), "calibrated")


def test_tune_threshold_callback_checks_its_rule_and_a_run_config_names_it():
    from omegaconf import OmegaConf

    from seqnn.callbacks import TuneThreshold, threshold_rule

    assert TuneThreshold().rule == "best_mcc"
    assert TuneThreshold(rule="calibrated").rule == "calibrated"
    with pytest.raises(ValueError, match="callbacks.tune_threshold.rule=calibrated"):
        TuneThreshold(rule="Calibrated")
    tune = {"_target_": "seqnn.callbacks.TuneThreshold"}
    assert threshold_rule(OmegaConf.create({"callbacks": {"t": tune}})) == "best_mcc"
    calibrated = {"callbacks": {"e": None, "t": {**tune, "rule": "calibrated"}}}
    assert threshold_rule(OmegaConf.create(calibrated)) == "calibrated"
    assert threshold_rule(OmegaConf.create({"callbacks": {"e": {"_target_": "x.Y"}}})) is None
    assert threshold_rule(OmegaConf.create({})) is None


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
