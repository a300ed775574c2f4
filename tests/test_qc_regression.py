"""The composition baseline of regression targets: a ridge regression on the composition
features, cross-validated on the training rows (baseline_pearson / baseline_r2), and the
margin a regression model has over it (training's test step and seqnn-evaluate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_qc import simulate

from seqnn.cli.data_qc import test_margins as margins_of
from seqnn.data.encoding import encode
from seqnn.inference.evaluate import regression_figures
from seqnn.qc import QCSettings, run_qc, table_data
from seqnn.qc.report import markdown


def values_table(tied_to_gc: bool, n: int = 600) -> pd.DataFrame:
    """Sequences of GC 0.3..0.7; the value is 10 x GC + noise (tied) or noise alone."""
    rng = np.random.default_rng(0)
    frames = [simulate(n // 6, seed=s, gc=g) for s, g in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.5))]
    table = pd.concat(frames, ignore_index=True).drop(columns="label")
    gc = np.array([np.isin(encode(s), (1, 2)).mean() for s in table["sequence"]])
    noise = rng.normal(size=len(table))
    return table.assign(value=10 * gc + 0.1 * noise if tied_to_gc else noise)


def checked(table: pd.DataFrame):
    data = table_data(table, ["value"])
    data.target_kind = "regression"
    return run_qc(data, QCSettings(near=False))


def test_a_value_tied_to_gc_has_a_high_baseline_r_and_is_a_shortcut():
    result = checked(values_table(tied_to_gc=True))
    f = result.figures
    assert f["baseline_pearson"]["value"] > 0.9
    assert f["low_order_pearson"]["value"] > 0.9
    assert f["baseline_r2"]["value"] > 0.8
    assert f["baseline_test_pearson"]["value"] > 0.9
    assert "auroc" not in str(f["baseline_auroc"])  # no classifier figures for values
    assert {x.check for x in result.findings} == {"shortcut"}
    assert "Pearson r, cv on train" in markdown(result, [])


def test_a_value_that_is_noise_has_a_baseline_r_near_zero_and_no_finding():
    result = checked(values_table(tied_to_gc=False))
    f = result.figures
    # out-of-fold predictions of noise lean negative (each fold's mean is off the held-out
    # rows'): near 0, nowhere near a shortcut
    assert abs(f["baseline_pearson"]["value"]) < 0.3
    assert abs(f["low_order_pearson"]["value"]) < 0.3
    assert result.findings == []


def test_the_test_step_margin_is_the_models_pearson_minus_the_baselines():
    result = checked(values_table(tied_to_gc=True))
    base = result.figures["baseline_test_pearson"]["value"]
    out = margins_of(result, {"test/pearson": 0.99, "test/r2": 0.9})
    assert out == {"test/margin_over_baseline": pytest.approx(0.99 - base, abs=1e-6)}
    assert result.figures["model_test_pearson"] == {"value": 0.99}


class _Regression:
    """The parts of a PretrainedModel that regression_figures reads."""

    targets = ["a", "b"]


def test_evaluate_margin_for_a_regression_model():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(400, 10))
    truth = np.c_[features[:, 0], rng.normal(size=400)]  # a: composition; b: noise
    predicted = truth + rng.normal(scale=0.5, size=truth.shape)
    out = regression_figures(_Regression(), features, truth, predicted)
    assert out["baseline_pearson/a"] > 0.95 and abs(out["baseline_pearson/b"]) < 0.2
    model_a = np.corrcoef(truth[:, 0], predicted[:, 0])[0, 1]
    assert out["margin_over_baseline/a"] == pytest.approx(model_a - out["baseline_pearson/a"])
    assert out["margin_over_baseline/b"] > 0.5  # the model knows what composition cannot
