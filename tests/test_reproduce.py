"""scripts/reproduce.py: its command line and the results table it writes (no training)."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "reproduce.py"


@pytest.fixture(scope="module")
def reproduce():
    spec = importlib.util.spec_from_file_location("reproduce", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["reproduce"]


def fake_result(reproduce, metrics):
    return reproduce.Result(
        metrics=metrics,
        wall_s=61.4,
        cpu_s=118.9,
        load=2.04,
        seed=12345,
        split="stratified random, val 10% / test 20% (seed 0)",
        command="seqnn-train experiment=cnnprom_ecoli",
        date="2026-01-02",
    )


def test_help_lists_every_row():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("default", "cnnprom_ecoli", "cnnprom_bsubtilis", "ctcf_peaks", "--out"):
        assert name in out


def test_format_row_from_fake_metrics(reproduce):
    metrics = {"test/sensitivity": 0.71428, "test/specificity": 0.96349, "test/mcc": 0.7221}
    line = reproduce.format_row(reproduce.ROWS["cnnprom_ecoli"], fake_result(reproduce, metrics))
    assert line == (
        "| cnnprom_ecoli | `seqnn-train experiment=cnnprom_ecoli` "
        "| Sn 0.714 / Sp 0.963 / MCC 0.722 / AUROC n/a | Sn 0.90 / Sp 0.96 / MCC 0.84 "
        "| 12345 | stratified random, val 10% / test 20% (seed 0) | 61 s (CPU 119 s, load 2.0) "
        "| 2026-01-02 |"
    )


def test_bootstrap_intervals_reach_the_row_and_the_bench_lines(reproduce):
    metrics = {"test/sensitivity": 0.9, "test/mcc": 0.85, "test/mcc/ci_low": 0.8212,
               "test/mcc/ci_high": 0.8834}  # fmt: skip
    row, result = reproduce.ROWS["cnnprom_ecoli"], fake_result(reproduce, metrics)
    assert "Sn 0.900 / Sp n/a / MCC 0.850 / AUROC n/a (95% CI: MCC 0.821-0.883) |" in (
        reproduce.format_row(row, result)
    )
    lines = {json.loads(s)["bench"]: json.loads(s) for s in reproduce.bench_lines(row, result)}
    assert lines["cnnprom_ecoli_mcc"]["ci95"] == [0.8212, 0.8834]
    assert "ci95" not in lines["cnnprom_ecoli_sn"]


def test_bench_lines_keep_the_cnnprom_names(reproduce):
    metrics = {"test/sensitivity": 0.71428, "test/specificity": 0.9, "test/auroc": 0.95}
    row = reproduce.ROWS["cnnprom_ecoli"]
    lines = [json.loads(s) for s in reproduce.bench_lines(row, fake_result(reproduce, metrics))]
    by_name = {line["bench"]: line for line in lines}
    assert by_name["cnnprom_ecoli_sn"] == {
        "bench": "cnnprom_ecoli_sn",
        "value": 0.7143,
        "unit": "",
        "published": 0.90,
    }
    assert by_name["cnnprom_ecoli_mcc"]["value"] is None  # not logged
    assert by_name["cnnprom_ecoli_wall_s"] == {
        "bench": "cnnprom_ecoli_wall_s",
        "value": 61.4,
        "unit": "s",
    }


def test_rerunning_one_row_keeps_the_others(reproduce, tmp_path):
    path = tmp_path / "results.md"
    old = {"default": "| default | `seqnn-train` | AUROC 0.900 | — | 1 | x | 5 s | d |"}
    path.write_text(reproduce.results_markdown(old))
    new = reproduce.format_row(reproduce.ROWS["cnnprom_ecoli"], fake_result(reproduce, {}))
    text = reproduce.results_markdown({**reproduce.existing_lines(path), "cnnprom_ecoli": new})
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[1:] == [old["default"], new]  # ROWS order, after the header


def test_rerunning_keeps_the_hand_written_sections(reproduce, tmp_path):
    path = tmp_path / "results.md"
    story = "\n## How the recipes were found\n\nAUROC 0.984 / 0.850 / 0.914\n"
    path.write_text(reproduce.results_markdown({}) + story)
    new = reproduce.format_row(reproduce.ROWS["cnnprom_ecoli"], fake_result(reproduce, {}))
    text = reproduce.results_markdown({"cnnprom_ecoli": new}, reproduce.existing_sections(path))
    assert text.endswith(story) and new in text and text.count("## How the recipes") == 1


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"table": "x.csv", "val_fraction": 0.1, "test_fraction": 0.2, "seed": 0}, "stratified"),
        ({"val_fraction": 0.15, "test_fraction": 0.15, "n_blocks": 60}, "genome blocks (60)"),
        ({"val_chroms": ["chr8"], "test_chroms": ["chr9"]}, "test ['chr9']"),
    ],
)
def test_describe_split(reproduce, data, expected):
    assert expected in reproduce.describe_split(data)


def test_cross_validation_row_runs_every_fold_and_averages(reproduce, monkeypatch, tmp_path):
    seen = []

    def fake_run_one(row, run_dir, overrides):
        fold = int(overrides[1].split("=")[1])
        seen.append((run_dir.name, overrides))
        return fake_result(reproduce, {"test/sensitivity": 0.8 + 0.02 * fold, "test/mcc": 0.5})

    monkeypatch.setattr(reproduce, "run_one", fake_run_one)
    row = reproduce.ROWS["cnnprom_bsubtilis_cv5"]
    result = reproduce.run_row(row, tmp_path, ["trainer=gpu"])
    assert seen == [
        (f"fold_{k}", ["data.folds=5", f"data.fold={k}", "trainer=gpu"]) for k in range(5)
    ]
    assert result.metrics["test/sensitivity"] == pytest.approx(0.84)  # mean of 0.80 .. 0.88
    assert result.wall_s == pytest.approx(5 * 61.4)
    assert result.command == (
        "seqnn-train -m experiment=cnnprom_bsubtilis data.folds=5 data.fold=0,1,2,3,4 trainer=gpu"
    )
    names = [json.loads(line)["bench"] for line in reproduce.bench_lines(row, result)]
    assert names[0] == "cnnprom_bsubtilis_cv5_sn"


def test_describe_cross_validation_split(reproduce):
    data = {"table": "x.csv", "val_fraction": 0.1, "folds": 5, "fold": 2, "seed": 0}
    assert reproduce.describe_split(data) == "stratified 5-fold CV, val 10% (seed 0)"


def test_seeds_rerun_the_row_per_seed_and_average(reproduce, monkeypatch, tmp_path):
    seen = []

    def fake_run_one(row, run_dir, overrides):
        seed = int(overrides[-1].split("=")[1])
        seen.append((run_dir.relative_to(tmp_path).as_posix(), overrides))
        mcc = {7: 0.80, 8: 0.86}[seed]
        result = fake_result(reproduce, {"test/mcc": mcc, "test/sensitivity": 0.9})
        result.command = " ".join(("seqnn-train", *row.overrides, *overrides))  # as run_one
        return result

    monkeypatch.setattr(reproduce, "run_one", fake_run_one)
    row = reproduce.ROWS["cnnprom_ecoli_cv5"]
    result = reproduce.run_seeds(row, tmp_path, [], [7, 8])
    assert seen == [
        (f"seed_{s}/cnnprom_ecoli_cv5/fold_{k}", ["data.folds=5", f"data.fold={k}", f"seed={s}"])
        for s in (7, 8)
        for k in range(5)
    ]
    assert result.metrics["test/mcc"] == pytest.approx(0.83)
    assert [m["test/mcc"] for m in result.per_seed] == pytest.approx([0.80, 0.86])
    assert result.seed == "7, 8 (mean)"
    assert result.wall_s == pytest.approx(10 * 61.4)
    assert result.command == (
        "seqnn-train -m experiment=cnnprom_ecoli data.folds=5 data.fold=0,1,2,3,4 seed=7,8"
    )
    by_name = {line["bench"]: line for line in map(json.loads, reproduce.bench_lines(row, result))}
    assert by_name["cnnprom_ecoli_cv5_mcc"]["value"] == 0.83
    assert by_name["cnnprom_ecoli_cv5_mcc"]["per_seed"] == [0.8, 0.86]
    assert "| 7, 8 (mean) |" in reproduce.format_row(row, result)
    held_out = reproduce.run_seeds(reproduce.ROWS["cnnprom_ecoli"], tmp_path, [], [7, 8])
    assert held_out.command == "seqnn-train -m experiment=cnnprom_ecoli seed=7,8"


def test_mcc_of_rates_matches_torchmetrics_on_a_whole_confusion(reproduce):
    import torch
    from torchmetrics.functional.classification import binary_matthews_corrcoef

    # 373 positives / 1,000 negatives, 340 and 950 of them called right: rates 340/373, 0.95
    target = torch.tensor([1] * 373 + [0] * 1000)
    preds = torch.tensor([1] * 340 + [0] * 33 + [0] * 950 + [1] * 50)
    expected = float(binary_matthews_corrcoef(preds, target))
    got = reproduce.mcc_of_rates(340 / 373, 0.95, 373, 1000)
    assert got == pytest.approx(expected, abs=1e-6)
    assert got == pytest.approx(0.8498, abs=1e-4)


def test_cnnprom_class_counts_are_the_embedded_tables(reproduce):
    import pandas as pd

    from seqnn.data.embedded import cnnprom_table

    for organism, (n_pos, n_neg) in reproduce.CNNPROM_CLASSES.items():
        labels = pd.read_csv(cnnprom_table(organism))["label"]
        assert (int((labels == 1).sum()), int((labels == 0).sum())) == (n_pos, n_neg)
    source = reproduce.ROWS["cnnprom_bsubtilis_cv5"].source
    assert "give MCC 0.849 (0.837-0.861 over their rounding; printed: 0.86)" in source


TINY = ["model=cnn", "model.n_filters=[4]", "model.kernel_sizes=[5]", "model.pool_sizes=[4]",
        "model.n_hidden=[4]", "trainer.max_epochs=1",
        "+trainer.limit_train_batches=3"]  # fmt: skip


@pytest.mark.slow
def test_seed_ensemble_and_reuse_from_real_runs(reproduce, monkeypatch, tmp_path):
    row = reproduce.ROWS["cnnprom_bsubtilis"]
    trained = reproduce.run_seeds(row, tmp_path, TINY, [7, 8])
    assert (tmp_path / "seed_7" / row.name / "reproduce.json").is_file()
    result = reproduce.ensemble_seeds(row, tmp_path, TINY, [7, 8], trained)
    assert result.seed == "7, 8 (ensemble)" and result.seed_mean == trained.metrics
    assert result.wall_s == trained.wall_s and result.per_seed == trained.per_seed
    for key in ("test/auroc", "test/mcc", "test/sensitivity", "test/specificity"):
        assert 0 <= abs(result.metrics[key]) <= 1
    # the experiment tunes its threshold: the ensemble's own, from the validation rows
    assert 0 < result.metrics["test/threshold"] < 1 and result.metrics["test/threshold"] != 0.5
    # the two models differ, so their average is neither (on 275 test rows)
    assert result.metrics["test/auroc"] not in [m["test/auroc"] for m in trained.per_seed]
    line = json.loads(reproduce.bench_lines(row, result)[0])
    assert line["seed_mean"] == round(trained.metrics["test/sensitivity"], 4)
    # each figure's bootstrap interval (the test rows resampled) holds the figure
    for key in ("test/auroc", "test/mcc", "test/sensitivity", "test/specificity"):
        low, high = result.metrics[f"{key}/ci_low"], result.metrics[f"{key}/ci_high"]
        assert low <= result.metrics[key] <= high, key
    assert result.metrics["test/auroc/ci_low"] < result.metrics["test/auroc/ci_high"]
    assert line["ci95"] == [
        round(result.metrics[f"test/sensitivity/ci_{e}"], 4) for e in ("low", "high")
    ]
    assert "(95% CI: Sn " in reproduce.format_row(row, result)
    # ... by the rule of the experiment's TuneThreshold (calibrated; a stand-in rule here)
    from seqnn.tasks import threshold as rules

    with monkeypatch.context() as patch:
        patch.setitem(rules.RULES, "calibrated", lambda target, probs: 0.4242)
        stand_in = reproduce.ensemble_seeds(row, tmp_path, TINY, [7, 8], trained)
    assert stand_in.metrics["test/threshold"] == 0.4242

    # --reuse reads the runs back (no training) with the same figures
    def no_training(*args):
        raise AssertionError("--reuse trained again")

    monkeypatch.setattr(reproduce, "run_one", no_training)
    reused = reproduce.run_seeds(row, tmp_path, TINY, [7, 8], reuse=True)
    assert reused.metrics == pytest.approx(trained.metrics)
    assert reused.wall_s == pytest.approx(trained.wall_s)
    # a run made with other overrides is not taken for this one
    with pytest.raises(SystemExit, match="made by `seqnn-train experiment=cnnprom_bsubtilis"):
        reproduce.run_seeds(row, tmp_path, [*TINY, "data.batch_size=32"], [7, 8], reuse=True)
    # a run without reproduce.json (made before it existed): metrics, unknown time
    (tmp_path / "seed_8" / row.name / "reproduce.json").unlink()
    older = reproduce.run_seeds(row, tmp_path, TINY, [7, 8], reuse=True)
    assert older.metrics == pytest.approx(trained.metrics) and math.isnan(older.wall_s)
    assert "n/a (earlier runs, reused)" in reproduce.format_row(row, older)

    # scoring on another split than the runs' is caught
    with pytest.raises(SystemExit, match="not the run's test set"):
        reproduce.ensemble_seeds(row, tmp_path, [*TINY, "data.seed=5"], [7, 8], trained)


def test_ensemble_needs_two_seeds(reproduce, capsys):
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--ensemble", "--seeds", "1"])
    assert "--ensemble needs --seeds with two seeds or more" in capsys.readouterr().err


def test_reproduce_cnnprom_passes_seeds_and_ensemble_on(reproduce, monkeypatch):
    script = SCRIPT.with_name("reproduce_cnnprom.py")
    spec = importlib.util.spec_from_file_location("reproduce_cnnprom", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its `from reproduce import main` finds the fixture's
    seen = []
    monkeypatch.setattr(module, "reproduce", seen.append)
    argv = ["--organisms", "bsubtilis", "--protocol", "cv5", "--seeds", "1", "2", "--ensemble"]
    monkeypatch.setattr(sys, "argv", ["reproduce_cnnprom.py", *argv])
    module.main()
    assert seen == [
        [
            "--only",
            "cnnprom_bsubtilis_cv5",
            "--out",
            "-",
            "--overrides",
            "--seeds",
            "1",
            "2",
            "--ensemble",
        ]  # fmt: skip
    ]
    reproduce.parse_args(seen[0])  # and reproduce.py takes them
